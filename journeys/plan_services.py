"""Writes to success plans, objectives and the timeline, and the milestones they complete.

Outcome Achieved and Kickoff are stored through journeys.services, so the
journey's history and overdue marks follow them as they follow the milestone form.
"""

import datetime
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Account, User
from common.edits import check_unchanged

from . import audit, services
from .models import Journey
from .plan_models import Activity, Objective, ObjectiveStatus, PlanStatus, SuccessPlan
from .plan_selectors import kickoff_offers, latest_journey, outcome_date
from .rules import completion_date_problem

logger = logging.getLogger(__name__)

# An objective identical to one the plan received this recently is taken for the same form sent again, as a
# double click, a reload after posting or a second tab does, and is not stored twice.
RESUBMIT_WINDOW = datetime.timedelta(minutes=10)


@transaction.atomic
def create_plan(account: Account, owner: User | None) -> SuccessPlan:
    """Start a draft plan for the account; raise ValidationError while another plan is still open."""
    Account.objects.select_for_update().get(pk=account.pk)
    if account.success_plans.exclude(status=PlanStatus.CLOSED).exists():
        raise ValidationError("This account already has an open success plan; close it before starting another.")
    plan = SuccessPlan.objects.create(account=account, owner=owner)
    audit.record_plan_created(plan)
    logger.info("success plan %s created for account %s", plan.pk, account.pk)
    return plan


@transaction.atomic
def update_plan(plan: SuccessPlan, *, status: str, closing_summary: str, today: datetime.date) -> SuccessPlan:
    """Change a plan's status; closing records today and needs a closing summary. A closed plan stays closed."""
    plan = SuccessPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.is_closed:
        raise ValidationError("A closed plan cannot be changed.")
    if status == PlanStatus.CLOSED and not closing_summary.strip():
        raise ValidationError("Enter a closing summary to close the plan.")
    if status == PlanStatus.CLOSED:
        _check_original_intent_settled(plan)
    before = audit.plan_values(plan)
    plan.status = status
    plan.closing_summary = closing_summary
    plan.closed_on = today if status == PlanStatus.CLOSED else None
    plan.save(update_fields=["status", "closing_summary", "closed_on"])
    audit.record_plan_change(plan, before)
    return plan


def _check_original_intent_settled(plan: SuccessPlan) -> None:
    """Reject closing a plan while an objective of the original purchase intent is planned or in progress.

    Those objectives decide the journey's Outcome Achieved milestone, and the
    objectives of a closed plan can no longer be edited.
    """
    open_objectives = list(
        plan.objectives.filter(
            original_intent=True, status__in=[ObjectiveStatus.PLANNED, ObjectiveStatus.IN_PROGRESS]
        ).values_list("business_outcome", flat=True)
    )
    if open_objectives:
        names = "; ".join(open_objectives)
        raise ValidationError(
            f"Mark each original purchase intent objective achieved or abandoned before closing the plan: {names}."
        )


@transaction.atomic
def save_objective(plan: SuccessPlan, values: dict, objective: Objective | None = None) -> Objective:
    """Create or update an objective from cleaned form values, then let its journey's Outcome Achieved follow.

    `values` contains business_outcome, success_criteria, target_date,
    stakeholders, status, achieved_date and notes. The achieved date is kept
    only for an achieved objective. An optional opened_version raises
    EditConflict when the objective was saved after the form opened it.
    """
    if objective is None:
        last = plan.objectives.aggregate(last=Max("position"))["last"]
        objective = Objective(plan=plan, position=0 if last is None else last + 1)
        before = None
    else:
        objective = Objective.objects.select_for_update().get(pk=objective.pk, plan=plan)
        check_unchanged(objective, values.get("opened_version"), f"The objective “{objective}”")
        before = audit.objective_values(objective, objective.stakeholders.all())
    for field in ["business_outcome", "success_criteria", "target_date", "status", "notes"]:
        setattr(objective, field, values[field])
    objective.achieved_date = values["achieved_date"] if values["status"] == ObjectiveStatus.ACHIEVED else None
    objective.save()
    objective.stakeholders.set(values["stakeholders"])
    audit.record_objective_saved(objective, before, audit.objective_values(objective, values["stakeholders"]))
    if objective.journey_id is not None:
        sync_outcome_achieved(objective.journey_id)
    return objective


@transaction.atomic
def add_objective(plan: SuccessPlan, values: dict) -> tuple[Objective, bool]:
    """Create an objective from cleaned form values unless the same one was created within RESUBMIT_WINDOW.

    Return the objective and whether it was created. The plan's row lock
    makes two identical requests that arrive together wait for each other,
    so the second finds the objective of the first.
    """
    SuccessPlan.objects.select_for_update().get(pk=plan.pk)
    achieved_date = values["achieved_date"] if values["status"] == ObjectiveStatus.ACHIEVED else None
    recent = plan.objectives.filter(
        created_at__gte=timezone.now() - RESUBMIT_WINDOW,
        business_outcome=values["business_outcome"],
        success_criteria=values["success_criteria"],
        target_date=values["target_date"],
        status=values["status"],
        achieved_date=achieved_date,
        notes=values["notes"],
    ).order_by("-created_at", "-id")
    stakeholders = {contact.pk for contact in values["stakeholders"]}
    for objective in recent:
        if set(objective.stakeholders.values_list("pk", flat=True)) == stakeholders:
            logger.info("objective %s sent again on plan %s, so no second copy was stored", objective.pk, plan.pk)
            return objective, False
    return save_objective(plan, values), True


@transaction.atomic
def set_original_intent(objective: Objective, value: bool) -> Objective:
    """Set or clear the original-intent flag, as a CS admin does; the history keeps the change.

    Setting the flag counts the objective for its own journey, or ties it to
    the account's latest journey when it has none. An account without a journey
    raises ValidationError, and so does an achieved date before that journey's
    transaction (the TAM may have entered one while the flag was cleared).
    """
    objective = Objective.objects.select_for_update().select_related("plan__account").get(pk=objective.pk)
    if objective.original_intent == value:
        return objective
    if value:
        journey = objective.journey or latest_journey(objective.plan.account)
        if journey is None:
            raise ValidationError("The account has no journey, so no objective can be original purchase intent.")
        if objective.status == ObjectiveStatus.ACHIEVED and objective.achieved_date < journey.transaction_date:
            raise ValidationError(
                f"The objective was achieved on {objective.achieved_date.isoformat()}, before the transaction "
                f"of {journey.transaction_date.isoformat()}."
            )
        objective.journey = journey
    objective.original_intent = value
    objective.save(update_fields=["original_intent", "journey"])
    audit.record_original_intent(objective, old=not value)
    logger.info("objective %s original intent set to %s", objective.pk, value)
    sync_outcome_achieved(objective.journey_id)
    return objective


def mark_original_intent(journey: Journey) -> int:
    """Flag the open objectives of the account's open plan that belong to no journey yet; return how many.

    Called when a journey starts, so the objectives that exist at its
    transaction become its original purchase intent. Achieved and abandoned
    objectives are not flagged.
    """
    objectives = Objective.objects.filter(
        plan__account_id=journey.account_id,
        journey__isnull=True,
        status__in=[ObjectiveStatus.PLANNED, ObjectiveStatus.IN_PROGRESS],
    ).exclude(plan__status=PlanStatus.CLOSED)
    flagged = 0
    for objective in objectives.select_for_update():
        objective.original_intent = True
        objective.journey = journey
        # One save per objective, so that each gets the change in its history.
        objective.save(update_fields=["original_intent", "journey"])
        flagged += 1
    if flagged:
        logger.info("journey %s: %d objectives flagged as original purchase intent", journey.pk, flagged)
    return flagged


def sync_outcome_achieved(journey_id: int) -> None:
    """Set the journey's Outcome Achieved from its original-intent objectives.

    It completes on the latest achieved date once every one of them is
    achieved, and clears while any is planned, in progress or abandoned. A
    journey without such objectives keeps the date entered on its page.
    """
    with transaction.atomic():
        journey = services.lock_journey(journey_id)
        rows = list(journey.intent_objectives.filter(original_intent=True).values_list("status", "achieved_date"))
        if rows:
            services.store_outcome_achieved(journey, outcome_date(rows))


@transaction.atomic
def log_activity(account: Account, values: dict, user: User | None, activity: Activity | None = None) -> Activity:
    """Create or update a timeline activity from cleaned form values (kind, date, attendees, summary)."""
    if activity is None:
        activity = Activity(account=account, logged_by=user)
    for field in ["kind", "date", "summary"]:
        setattr(activity, field, values[field])
    activity.save()
    activity.attendees.set(values["attendees"])
    return activity


@transaction.atomic
def accept_kickoff_offer(activity: Activity, journey: Journey, today: datetime.date) -> Journey:
    """Complete the journey's Kickoff on the meeting's date, after checking that the offer is still valid."""
    if journey.pk not in {offered.pk for offered in kickoff_offers(activity)}:
        raise ValidationError("This meeting no longer completes the journey's Kickoff: it is recorded already.")
    problem = completion_date_problem(activity.date, journey.transaction_date, today)
    if problem:
        raise ValidationError(problem)
    journey = services.record_milestones(journey, {"kickoff_date": activity.date})
    logger.info("journey %s kickoff completed from activity %s", journey.pk, activity.pk)
    return journey
