"""Success plan rules: the original-intent flag, Outcome Achieved from objectives, plan state, the kickoff offer."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from journeys import plan_services
from journeys.forms import MilestoneForm
from journeys.plan_models import ActivityKind, Objective, ObjectiveStatus, PlanStatus
from journeys.plan_selectors import PlanState, kickoff_offers, outcome_statuses, plan_states
from journeys.services import record_milestones, start_journey
from tests.factories import AccountFactory

from .plan_factories import ActivityFactory, ObjectiveFactory, SuccessPlanFactory

D = datetime.date
TRANSACTION = D(2024, 6, 1)
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


@pytest.fixture
def account(tam):
    return AccountFactory(tam=tam, name="Globex")


@pytest.fixture
def plan(account):
    return SuccessPlanFactory(account=account)


def _start(account, day=TRANSACTION):
    return start_journey(account=account, transaction_date=day, licenses=100)


def _achieve(objective, day):
    values = {
        "business_outcome": objective.business_outcome,
        "success_criteria": objective.success_criteria,
        "target_date": objective.target_date,
        "stakeholders": [],
        "status": ObjectiveStatus.ACHIEVED if day else ObjectiveStatus.IN_PROGRESS,
        "achieved_date": day,
        "notes": "",
    }
    return plan_services.save_objective(objective.plan, values, objective)


def _set_status(objective, status, notes=""):
    values = {
        "business_outcome": objective.business_outcome,
        "success_criteria": objective.success_criteria,
        "target_date": objective.target_date,
        "stakeholders": [],
        "status": status,
        "achieved_date": None,
        "notes": notes,
    }
    return plan_services.save_objective(objective.plan, values, objective)


def test_flag_set_on_objectives_open_at_transaction(plan, account):
    first = ObjectiveFactory(plan=plan)
    second = ObjectiveFactory(plan=plan, status=ObjectiveStatus.IN_PROGRESS)
    abandoned = ObjectiveFactory(plan=plan, status=ObjectiveStatus.ABANDONED)

    journey = _start(account)

    first.refresh_from_db()
    second.refresh_from_db()
    abandoned.refresh_from_db()
    assert first.original_intent and first.journey == journey
    assert second.original_intent and second.journey == journey
    assert not abandoned.original_intent
    assert abandoned.journey is None


def test_flag_set_on_draft_plan_objectives(account):
    objective = ObjectiveFactory(plan=SuccessPlanFactory(account=account, status=PlanStatus.DRAFT))

    _start(account)

    objective.refresh_from_db()
    assert objective.original_intent


def test_objective_added_later_is_not_original(plan, account):
    _start(account)

    later = ObjectiveFactory(plan=plan)

    assert not later.original_intent
    assert later.journey is None


def test_journey_before_plan_has_no_original_objectives(account):
    journey = _start(account)
    objective = ObjectiveFactory(plan=SuccessPlanFactory(account=account))

    objective.refresh_from_db()
    assert not objective.original_intent
    [status] = outcome_statuses(account)
    assert status.journey == journey
    assert status.total == 0


def test_expansion_flags_only_objectives_without_journey(plan, account):
    first = ObjectiveFactory(plan=plan)
    new = _start(account, D(2024, 1, 10))
    later = ObjectiveFactory(plan=plan)

    expansion = start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=50, kind="expansion")

    first.refresh_from_db()
    later.refresh_from_db()
    assert first.journey == new
    assert later.journey == expansion
    assert later.original_intent


def test_flag_change_kept_in_history(plan, account):
    objective = ObjectiveFactory(plan=plan)
    _start(account)

    plan_services.set_original_intent(objective, False)

    objective.refresh_from_db()
    assert not objective.original_intent
    flags = list(objective.history.order_by("history_date", "history_id").values_list("original_intent", flat=True))
    assert flags == [False, True, False]


def test_flag_needs_a_journey(plan):
    objective = ObjectiveFactory(plan=plan)

    with pytest.raises(ValidationError):
        plan_services.set_original_intent(objective, True)


def test_flag_set_later_ties_latest_journey(plan, account):
    _start(account, D(2024, 1, 10))
    latest = start_journey(account=account, transaction_date=D(2024, 5, 1), licenses=5, kind="expansion")
    objective = ObjectiveFactory(plan=plan)

    plan_services.set_original_intent(objective, True)

    objective.refresh_from_db()
    assert objective.journey == latest


def test_flag_again_rejects_early_achievement(plan, account):
    objective = ObjectiveFactory(plan=plan)
    journey = _start(account)
    plan_services.set_original_intent(objective, False)
    _achieve(objective, D(2024, 1, 5))

    with pytest.raises(ValidationError, match="before the transaction"):
        plan_services.set_original_intent(objective, True)

    objective.refresh_from_db()
    journey.refresh_from_db()
    assert not objective.original_intent
    assert journey.outcome_achieved_date is None


def test_outcome_completes_on_last_original_achieved(plan, account):
    first = ObjectiveFactory(plan=plan)
    second = ObjectiveFactory(plan=plan)
    journey = _start(account)

    _achieve(first, D(2024, 6, 20))
    journey.refresh_from_db()
    assert journey.outcome_achieved_date is None

    _achieve(second, D(2024, 6, 12))
    journey.refresh_from_db()
    assert journey.outcome_achieved_date == D(2024, 6, 20)


def test_outcome_reopens_when_original_reopened(plan, account):
    first = ObjectiveFactory(plan=plan)
    second = ObjectiveFactory(plan=plan)
    journey = _start(account)
    _achieve(first, D(2024, 6, 20))
    _achieve(second, D(2024, 6, 25))

    _achieve(second, None)

    journey.refresh_from_db()
    assert journey.outcome_achieved_date is None
    changes = list(
        journey.history.order_by("history_date", "history_id").values_list("outcome_achieved_date", flat=True)
    )
    assert changes[-2:] == [D(2024, 6, 25), None]


def test_abandoned_original_keeps_outcome_open(plan, account):
    first = ObjectiveFactory(plan=plan)
    second = ObjectiveFactory(plan=plan)
    journey = _start(account)
    _achieve(first, D(2024, 6, 20))

    _set_status(second, ObjectiveStatus.ABANDONED, notes="Audit moved to next year")

    journey.refresh_from_db()
    assert journey.outcome_achieved_date is None
    [status] = outcome_statuses(account)
    assert [objective.pk for objective in status.abandoned] == [second.pk]
    assert not status.complete


def test_abandoned_original_unflagged_completes_outcome(plan, account):
    first = ObjectiveFactory(plan=plan)
    second = ObjectiveFactory(plan=plan)
    journey = _start(account)
    _achieve(first, D(2024, 6, 20))
    _set_status(second, ObjectiveStatus.ABANDONED)

    plan_services.set_original_intent(second, False)

    journey.refresh_from_db()
    assert journey.outcome_achieved_date == D(2024, 6, 20)


def test_later_objective_does_not_count(plan, account):
    original = ObjectiveFactory(plan=plan)
    journey = _start(account)
    later = ObjectiveFactory(plan=plan)

    _achieve(original, D(2024, 6, 15))

    journey.refresh_from_db()
    later.refresh_from_db()
    assert later.status == ObjectiveStatus.PLANNED
    assert journey.outcome_achieved_date == D(2024, 6, 15)


def test_milestone_form_cannot_override_governed_outcome(plan, account):
    ObjectiveFactory(plan=plan)
    journey = _start(account)

    form = MilestoneForm(journey=journey, today=D(2024, 6, 30), has_tasks=False)
    record_milestones(journey, {"outcome_achieved_date": D(2024, 6, 29)})

    journey.refresh_from_db()
    assert form.fields["outcome_achieved_date"].disabled
    assert journey.outcome_achieved_date is None


def test_journey_without_originals_keeps_typed_outcome(account):
    journey = _start(account)
    ObjectiveFactory(plan=SuccessPlanFactory(account=account))

    record_milestones(journey, {"outcome_achieved_date": D(2024, 6, 29)})

    journey.refresh_from_db()
    assert journey.outcome_achieved_date == D(2024, 6, 29)


@pytest.mark.parametrize(
    ("plan_status", "criteria", "expected"),
    [
        (None, None, PlanState.RED),
        (PlanStatus.ACTIVE, None, PlanState.RED),
        (PlanStatus.CLOSED, ["Criteria"], PlanState.RED),
        (PlanStatus.DRAFT, ["Criteria"], PlanState.YELLOW),
        (PlanStatus.ACTIVE, [""], PlanState.YELLOW),
        (PlanStatus.ACTIVE, ["", "Criteria"], PlanState.GREEN),
    ],
    ids=["no plan", "no objective", "closed plan", "draft", "no criteria", "active with criteria"],
)
def test_plan_state(account, plan_status, criteria, expected):
    if plan_status is not None:
        plan = SuccessPlanFactory(
            account=account,
            status=plan_status,
            closing_summary="Done" if plan_status == PlanStatus.CLOSED else "",
            closed_on=D(2024, 6, 1) if plan_status == PlanStatus.CLOSED else None,
        )
        for text in criteria or []:
            ObjectiveFactory(plan=plan, success_criteria=text)

    assert plan_states([account.pk]) == {account.pk: expected}


def test_plan_state_ignores_abandoned_objectives(plan, account):
    ObjectiveFactory(plan=plan, status=ObjectiveStatus.ABANDONED)

    assert plan_states([account.pk])[account.pk] == PlanState.RED


def test_second_open_plan_rejected(plan, account, tam):
    with pytest.raises(ValidationError):
        plan_services.create_plan(account, tam)


def test_closing_plan_needs_summary(plan):
    with pytest.raises(ValidationError):
        plan_services.update_plan(plan, status=PlanStatus.CLOSED, closing_summary=" ", today=D(2024, 6, 30))

    plan = plan_services.update_plan(plan, status=PlanStatus.CLOSED, closing_summary="Done.", today=D(2024, 6, 30))
    assert plan.closed_on == D(2024, 6, 30)


@pytest.mark.parametrize("status", [ObjectiveStatus.PLANNED, ObjectiveStatus.IN_PROGRESS])
def test_closing_plan_with_open_original_objective_rejected(plan, account, status):
    objective = ObjectiveFactory(plan=plan, business_outcome="Cut build time")
    _start(account)
    Objective.objects.filter(pk=objective.pk).update(status=status)

    with pytest.raises(ValidationError) as error:
        plan_services.update_plan(plan, status=PlanStatus.CLOSED, closing_summary="Done.", today=D(2024, 6, 30))

    assert "Cut build time" in error.value.messages[0]
    plan.refresh_from_db()
    assert plan.status != PlanStatus.CLOSED


def test_closing_plan_with_settled_original_objectives(plan, account):
    abandoned = ObjectiveFactory(plan=plan)
    achieved = ObjectiveFactory(plan=plan)
    _start(account)
    Objective.objects.filter(pk=abandoned.pk).update(status=ObjectiveStatus.ABANDONED)
    Objective.objects.filter(pk=achieved.pk).update(status=ObjectiveStatus.ACHIEVED, achieved_date=D(2024, 6, 1))
    ObjectiveFactory(plan=plan, status=ObjectiveStatus.IN_PROGRESS)

    plan = plan_services.update_plan(plan, status=PlanStatus.CLOSED, closing_summary="Done.", today=D(2024, 6, 30))

    assert Objective.objects.filter(plan=plan, original_intent=True).count() == 2
    assert plan.status == PlanStatus.CLOSED


def test_first_meeting_offers_kickoff(account, tam):
    journey = _start(account)
    ActivityFactory(account=account, kind=ActivityKind.MEETING, date=D(2024, 5, 20))
    ActivityFactory(account=account, kind=ActivityKind.CALL, date=D(2024, 6, 2))
    meeting = ActivityFactory(account=account, kind=ActivityKind.MEETING, date=D(2024, 6, 5))

    assert kickoff_offers(meeting, tam) == [journey]


def test_later_meeting_offers_no_kickoff(account, tam):
    _start(account)
    ActivityFactory(account=account, kind=ActivityKind.MEETING, date=D(2024, 6, 5))
    later = ActivityFactory(account=account, kind=ActivityKind.MEETING, date=D(2024, 6, 9))

    assert kickoff_offers(later, tam) == []


def test_call_or_reached_kickoff_offers_nothing(account, tam):
    journey = _start(account)
    call = ActivityFactory(account=account, kind=ActivityKind.CALL, date=D(2024, 6, 5))
    assert kickoff_offers(call, tam) == []

    record_milestones(journey, {"kickoff_date": D(2024, 6, 3)})
    meeting = ActivityFactory(account=account, kind=ActivityKind.MEETING, date=D(2024, 6, 5))
    assert kickoff_offers(meeting, tam) == []


def test_accepting_offer_completes_kickoff(account):
    journey = _start(account)
    meeting = ActivityFactory(account=account, kind=ActivityKind.MEETING, date=D(2024, 6, 5))

    plan_services.accept_kickoff_offer(meeting, journey, D(2024, 6, 30))

    journey.refresh_from_db()
    assert journey.kickoff_date == D(2024, 6, 5)
    assert journey.history.first().kickoff_date == D(2024, 6, 5)
    with pytest.raises(ValidationError):
        plan_services.accept_kickoff_offer(meeting, journey, D(2024, 6, 30))


def test_objective_rows_keep_achieved_date_only_when_achieved(plan):
    objective = ObjectiveFactory(plan=plan)
    _achieve(objective, D(2024, 6, 3))

    _set_status(objective, ObjectiveStatus.IN_PROGRESS)

    assert Objective.objects.get(pk=objective.pk).achieved_date is None
