"""Milestone dates, the order flag and the 10% basis, through the rules and the milestone form."""

import datetime

import pytest
import time_machine

from journeys.forms import MilestoneForm
from journeys.models import FirstValueBasis, InfrastructureType, Milestone
from journeys.rules import completion_date_problem, order_warnings, ten_percent_met, ten_percent_problem
from journeys.selectors import journey_order_warnings
from journeys.services import record_milestones
from tests.journeys.clock import NOW

from .factories import JourneyFactory

TODAY = datetime.date(2024, 6, 30)
D = datetime.date


def test_completion_date_before_transaction_rejected():
    problem = completion_date_problem(D(2024, 1, 31), D(2024, 2, 1), TODAY)

    assert problem == "The date 2024-01-31 is before the transaction date 2024-02-01."


def test_completion_date_in_future_rejected():
    problem = completion_date_problem(D(2024, 7, 1), D(2024, 2, 1), TODAY)

    assert problem == "The date 2024-07-01 is in the future; today is 2024-06-30."


@pytest.mark.parametrize("day", [D(2024, 2, 1), TODAY])
def test_completion_date_on_transaction_or_today_accepted(day):
    assert completion_date_problem(day, D(2024, 2, 1), TODAY) is None


@pytest.mark.parametrize(
    ("users", "licenses", "met"),
    [(10, 100, True), (9, 100, False), (1, 10, True), (1, 11, False), (2, 11, True), (0, 1, False), (500, 100, True)],
)
def test_ten_percent_basis(users, licenses, met):
    assert ten_percent_met(users, licenses) is met


def test_ten_percent_problem_names_counts():
    assert ten_percent_problem(9, 100) == (
        "10% not met: 9 users in production against 100 licenses; at least 10% are needed."
    )
    assert ten_percent_problem(None, 100) == "Enter the number of users in production for the 10% basis."


def test_order_warnings_flag_onboarding_before_kickoff():
    warnings = order_warnings({Milestone.KICKOFF: D(2024, 3, 10), Milestone.ONBOARDING: D(2024, 3, 1)})

    assert warnings == ["Onboarding (2024-03-01) is dated before Kickoff (2024-03-10)."]


def test_order_warnings_flag_first_value_before_onboarding():
    warnings = order_warnings({Milestone.ONBOARDING: D(2024, 4, 1), Milestone.FIRST_VALUE: D(2024, 3, 1)})

    assert warnings == ["First Value (2024-03-01) is dated before Onboarding (2024-04-01)."]


def test_order_warnings_none_in_usual_order_or_same_day():
    dates = {
        Milestone.KICKOFF: D(2024, 1, 5),
        Milestone.ONBOARDING: D(2024, 1, 5),
        Milestone.INFRASTRUCTURE_READY: D(2024, 2, 1),
        Milestone.FIRST_VALUE: D(2024, 3, 1),
        Milestone.OUTCOME_ACHIEVED: None,
    }

    assert order_warnings(dates) == []


def _form(journey, **data):
    return MilestoneForm(data, journey=journey, today=TODAY, has_tasks=False)


@pytest.mark.django_db
def test_form_rejects_kickoff_before_transaction():
    journey = JourneyFactory(transaction_date=D(2024, 2, 1))

    form = _form(journey, kickoff_date="2024-01-31")

    assert not form.is_valid()
    assert form.errors["kickoff_date"] == ["The date 2024-01-31 is before the transaction date 2024-02-01."]


@pytest.mark.django_db
def test_form_rejects_outcome_in_future():
    journey = JourneyFactory(transaction_date=D(2024, 2, 1))

    form = _form(journey, outcome_achieved_date="2024-07-01")

    assert not form.is_valid()
    assert list(form.errors) == ["outcome_achieved_date"]


@pytest.mark.django_db
def test_form_rejects_ten_percent_not_met():
    journey = JourneyFactory(transaction_date=D(2024, 2, 1), licenses=250)

    form = _form(
        journey, first_value_date="2024-05-01", first_value_basis=FirstValueBasis.LICENSES_10PCT, first_value_users="24"
    )

    assert not form.is_valid()
    assert list(form.errors) == ["first_value_users"]
    assert "24 users in production against 250 licenses" in form.errors["first_value_users"][0]


@pytest.mark.django_db
def test_form_accepts_ten_percent_met():
    journey = JourneyFactory(transaction_date=D(2024, 2, 1), licenses=250)

    form = _form(
        journey, first_value_date="2024-05-01", first_value_basis=FirstValueBasis.LICENSES_10PCT, first_value_users="25"
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_value_users"] == 25


@pytest.mark.django_db
def test_form_requires_infrastructure_type_with_date():
    journey = JourneyFactory(transaction_date=D(2024, 2, 1))

    form = _form(journey, infrastructure_ready_date="2024-03-01")

    assert not form.is_valid()
    assert list(form.errors) == ["infrastructure_type"]


@pytest.mark.django_db
def test_form_requires_basis_with_first_value():
    journey = JourneyFactory(transaction_date=D(2024, 2, 1))

    form = _form(journey, first_value_date="2024-03-01")

    assert not form.is_valid()
    assert list(form.errors) == ["first_value_basis"]


@pytest.mark.django_db
def test_out_of_order_dates_stored_and_flagged():
    journey = JourneyFactory(transaction_date=D(2024, 2, 1))
    form = _form(
        journey,
        kickoff_date="2024-03-10",
        onboarding_date="2024-03-01",
        infrastructure_ready_date="2024-03-02",
        infrastructure_type=InfrastructureType.SAAS,
    )
    assert form.is_valid(), form.errors

    with time_machine.travel(NOW, tick=False):
        journey = record_milestones(journey, form.cleaned_data)

    journey.refresh_from_db()
    assert journey.onboarding_date == D(2024, 3, 1)
    assert journey.kickoff_date == D(2024, 3, 10)
    assert journey_order_warnings(journey) == [
        "Onboarding (2024-03-01) is dated before Kickoff (2024-03-10).",
        "Infrastructure Ready (2024-03-02) is dated before Kickoff (2024-03-10).",
    ]


@pytest.mark.django_db
def test_clearing_first_value_clears_basis_and_users():
    journey = JourneyFactory(
        transaction_date=D(2024, 2, 1),
        first_value_date=D(2024, 4, 1),
        first_value_basis=FirstValueBasis.LICENSES_10PCT,
        first_value_users=20,
    )
    form = _form(journey, first_value_date="", first_value_basis=FirstValueBasis.TEAM, first_value_users="20")
    assert form.is_valid(), form.errors

    record_milestones(journey, form.cleaned_data)

    journey.refresh_from_db()
    assert journey.first_value_date is None
    assert journey.first_value_basis == ""
    assert journey.first_value_users is None
