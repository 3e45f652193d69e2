"""The journey demo: journeys over 18 months, finished, open and overdue, loaded once."""

import datetime
import io

import pytest
import time_machine

from accounts.roles import Role
from journeys import demo
from journeys.models import Journey, OverdueMark, Playbook
from journeys.selectors import DATE_FIELDS
from tests.factories import AccountFactory, UserFactory
from tests.journeys.clock import NOW


@pytest.mark.django_db
def test_demo_loads_once_with_mixed_journeys():
    tam = UserFactory(username="tam", role=Role.TAM)
    other = UserFactory(username="priya", role=Role.TAM)
    for index in range(12):
        AccountFactory(tam=tam if index % 2 else other)

    with time_machine.travel(NOW, tick=False):
        demo.load(io.StringIO())
        count = Journey.objects.count()
        second = io.StringIO()
        demo.load(second)

    assert count == 12
    assert Journey.objects.count() == 12
    assert "not loaded again" in second.getvalue()
    assert Playbook.objects.count() == 4
    own = Journey.objects.filter(tam=tam)
    assert own.count() == 6
    finished = [j for j in own if all(getattr(j, field) for field in DATE_FIELDS)]
    assert finished
    assert OverdueMark.objects.filter(journey__tam=tam).exists()
    oldest = Journey.objects.order_by("transaction_date").first().transaction_date
    assert oldest >= datetime.date(2022, 12, 30)
    assert all(j.transaction_date <= NOW.date() for j in Journey.objects.all())
