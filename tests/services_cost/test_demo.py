"""The services-cost demo: roles, two quarters of rates, estimates on the demo TAM's accounts, loaded once."""

import datetime
import io

import pytest
import time_machine

from accounts.roles import Role
from services_cost import demo, selectors
from services_cost.models import CostEstimate, CostRate, EstimateStatus, ServiceRole
from tests.factories import AccountFactory, UserFactory


@pytest.mark.django_db
@time_machine.travel(datetime.datetime(2026, 5, 10, 12, tzinfo=datetime.UTC), tick=False)
def test_demo_loads_once():
    tam = UserFactory(username="tam", role=Role.TAM)
    UserFactory(username="csadmin", role=Role.CS_ADMIN)
    AccountFactory(tam=tam, name="Acme")
    AccountFactory(tam=tam, name="Bolt")
    AccountFactory(name="Cobalt")

    demo.load(io.StringIO())
    second = io.StringIO()
    demo.load(second)

    assert "not loaded again" in second.getvalue()
    assert ServiceRole.objects.count() == 4
    assert [str(quarter) for quarter in selectors.quarters_with_rates()] == ["FY2026-Q1", "FY2026-Q2"]
    assert CostRate.objects.count() == 8
    estimates = CostEstimate.objects.order_by("id")
    assert estimates.count() == 3
    assert [estimate.account.tam == tam for estimate in estimates] == [True, True, False]
    assert estimates[0].status == EstimateStatus.FINISHED
    for estimate in estimates:
        assert selectors.estimate_costing(estimate).missing == []
