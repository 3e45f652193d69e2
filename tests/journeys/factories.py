import datetime

import factory

from journeys.models import Journey, JourneyKind, Playbook, PlaybookTask, Product
from tests.factories import AccountFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("name",)

    name = "Premium"


class JourneyFactory(factory.django.DjangoModelFactory):
    """A journey without tasks; use journeys.services.start_journey for one with playbook tasks."""

    class Meta:
        model = Journey

    account = factory.SubFactory(AccountFactory)
    kind = JourneyKind.NEW
    transaction_date = datetime.date(2024, 1, 1)
    licenses = 100
    tam = factory.LazyAttribute(lambda journey: journey.account.tam)


class FinishedJourneyFactory(JourneyFactory):
    """A journey of 2023 that reached every milestone."""

    transaction_date = datetime.date(2023, 1, 10)
    kickoff_date = datetime.date(2023, 1, 20)
    onboarding_date = datetime.date(2023, 2, 20)
    infrastructure_ready_date = datetime.date(2023, 3, 1)
    infrastructure_type = "saas"
    first_value_date = datetime.date(2023, 4, 1)
    first_value_basis = "team"
    outcome_achieved_date = datetime.date(2023, 9, 1)


class PlaybookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Playbook

    product = factory.SubFactory(ProductFactory)
    segment = ""


class PlaybookTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlaybookTask

    playbook = factory.SubFactory(PlaybookFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    due_offset_days = 7
    position = factory.Sequence(lambda n: n)
