import datetime

import factory

from accounts.models import Contact, Persona
from journeys.plan_models import Activity, ActivityKind, Objective, ObjectiveStatus, PlanStatus, SuccessPlan
from tests.factories import AccountFactory


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
    persona = Persona.CHAMPION


class SuccessPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuccessPlan

    account = factory.SubFactory(AccountFactory)
    status = PlanStatus.ACTIVE
    owner = factory.LazyAttribute(lambda plan: plan.account.tam)


class ObjectiveFactory(factory.django.DjangoModelFactory):
    """An open objective with success criteria; it belongs to no journey until one starts."""

    class Meta:
        model = Objective

    plan = factory.SubFactory(SuccessPlanFactory)
    business_outcome = factory.Sequence(lambda n: f"Outcome {n}")
    success_criteria = "Two teams in production"
    target_date = datetime.date(2024, 9, 30)
    status = ObjectiveStatus.PLANNED
    position = factory.Sequence(lambda n: n)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    account = factory.SubFactory(AccountFactory)
    kind = ActivityKind.MEETING
    date = datetime.date(2024, 6, 10)
    summary = "Met the team."
