import datetime
from decimal import Decimal

import factory

from common.fiscal import FiscalQuarter
from services_cost.models import CostEstimate, CostRate, EstimateLine, ServiceRole
from tests.factories import AccountFactory


class ServiceRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceRole
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Role {n}")


class CostRateFactory(factory.django.DjangoModelFactory):
    """A rate; pass `quarter=FiscalQuarter(...)` instead of `quarter_start` to choose the quarter."""

    class Meta:
        model = CostRate
        exclude = ("quarter",)

    role = factory.SubFactory(ServiceRoleFactory)
    quarter = FiscalQuarter(2026, 1)
    quarter_start = factory.LazyAttribute(lambda rate: rate.quarter.start)
    ote = Decimal("150400.00")
    benefits = Decimal("37600.00")
    billable_hours = 1880


class CostEstimateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CostEstimate

    account = factory.SubFactory(AccountFactory)
    title = factory.Sequence(lambda n: f"Estimate {n}")
    estimate_date = datetime.date(2026, 2, 15)
    price = Decimal("10000.00")


class EstimateLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EstimateLine

    estimate = factory.SubFactory(CostEstimateFactory)
    role = factory.SubFactory(ServiceRoleFactory)
    hours = Decimal("10")
    description = ""
