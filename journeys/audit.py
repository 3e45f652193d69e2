"""Audit events of journeys and success plans: milestones, journey starts, plans and objectives.

Each function is called by a service in journeys.services or journeys.plan_services,
inside the transaction that stores the change.
"""

import os
import time

from audit.models import AuditAction, ObjectType
from audit.services import changes, record

from .models import Journey, Milestone
from .plan_models import Objective, ObjectiveStatus, PlanStatus, SuccessPlan

# Fields that describe a milestone beside its date. A change to them is a change of that milestone.
MILESTONE_DETAIL_FIELDS = {
    Milestone.INFRASTRUCTURE_READY: ("infrastructure_type",),
    Milestone.FIRST_VALUE: ("first_value_basis", "first_value_users"),
}

OBJECTIVE_FIELDS = ("business_outcome", "success_criteria", "target_date", "status", "achieved_date", "notes")
CLOSED_OBJECTIVE_STATUSES = (ObjectiveStatus.ACHIEVED, ObjectiveStatus.ABANDONED)


def journey_label(journey: Journey) -> str:
    return f"{journey.account.name}, {journey.get_kind_display()} of {journey.transaction_date.isoformat()}"


def record_journey_started(journey: Journey, tasks: int, objectives_flagged: int) -> None:
    record(
        AuditAction.JOURNEY_STARTED,
        object_type=ObjectType.JOURNEY,
        object_id=journey.pk,
        label=journey_label(journey),
        details={
            "licenses": journey.licenses,
            "tam": journey.tam.get_username() if journey.tam_id else None,
            "tasks": tasks,
            "objectives_flagged": objectives_flagged,
        },
    )


def record_milestone_changes(journey: Journey, before: dict) -> None:
    """Record one event per milestone whose date or describing fields differ from `before`.

    `before` maps field names to their stored values before the change. Fields
    missing from it did not change. The action follows the date: set when it was
    empty, cleared when it is empty now, changed otherwise.
    """
    for milestone in Milestone:
        fields = (milestone.date_field, *MILESTONE_DETAIL_FIELDS.get(milestone, ()))
        after = {field: getattr(journey, field) for field in fields if field in before}
        changed = changes(before, after)
        if not changed:
            continue
        old_date, new_date = changed.get(milestone.date_field, [True, True])
        if old_date is None:
            action = AuditAction.MILESTONE_SET
        elif new_date is None:
            action = AuditAction.MILESTONE_CLEARED
        else:
            action = AuditAction.MILESTONE_CHANGED
        record(
            action,
            object_type=ObjectType.JOURNEY,
            object_id=journey.pk,
            label=f"{journey_label(journey)}: {milestone.label}",
            details={"milestone": milestone.label, "changes": changed},
        )


def plan_values(plan: SuccessPlan) -> dict:
    return {"status": plan.status, "closing_summary": plan.closing_summary, "closed_on": plan.closed_on}


def record_plan_created(plan: SuccessPlan) -> None:
    record(
        AuditAction.PLAN_CREATED,
        object_type=ObjectType.SUCCESS_PLAN,
        object_id=plan.pk,
        label=str(plan),
        details={"status": plan.status, "owner": plan.owner.get_username() if plan.owner_id else None},
    )


def record_plan_change(plan: SuccessPlan, before: dict) -> None:
    """Record the change of a plan's status or closing summary. Closing the plan has its own action."""
    changed = changes(before, plan_values(plan))
    if not changed:
        return
    closed = plan.status == PlanStatus.CLOSED and before["status"] != PlanStatus.CLOSED
    record(
        AuditAction.PLAN_CLOSED if closed else AuditAction.PLAN_CHANGED,
        object_type=ObjectType.SUCCESS_PLAN,
        object_id=plan.pk,
        label=str(plan),
        details={"changes": changed},
    )


def objective_values(objective: Objective, stakeholders) -> dict:
    values = {field: getattr(objective, field) for field in OBJECTIVE_FIELDS}
    values["stakeholders"] = sorted(str(contact) for contact in stakeholders)
    return values


def objective_label(objective: Objective) -> str:
    return f"{objective.business_outcome} ({objective.plan.account.name})"


def record_objective_saved(objective: Objective, before: dict | None, after: dict) -> None:
    """Record a new objective or the changes of an existing one. Moving it to achieved or abandoned closes it."""
    if before is None:
        filled = {field: [None, value] for field, value in after.items() if value not in (None, "", [])}
        record(
            AuditAction.OBJECTIVE_CREATED,
            object_type=ObjectType.OBJECTIVE,
            object_id=objective.pk,
            label=objective_label(objective),
            details={"changes": filled},
        )
        return
    changed = changes(before, after)
    if not changed:
        return
    closed = after["status"] in CLOSED_OBJECTIVE_STATUSES and before["status"] not in CLOSED_OBJECTIVE_STATUSES
    record(
        AuditAction.OBJECTIVE_CLOSED if closed else AuditAction.OBJECTIVE_CHANGED,
        object_type=ObjectType.OBJECTIVE,
        object_id=objective.pk,
        label=objective_label(objective),
        details={"changes": changed},
    )


def record_original_intent(objective: Objective, old: bool) -> None:
    record(
        AuditAction.OBJECTIVE_CHANGED,
        object_type=ObjectType.OBJECTIVE,
        object_id=objective.pk,
        label=objective_label(objective),
        details={"changes": {"original_intent": [old, objective.original_intent]}},
    )


def record_journeys_import(action: str, path: str | os.PathLike, details: dict, started: float) -> None:
    """Record the outcome of a journeys import that began at `started`, a time.monotonic() value."""
    record(
        action,
        object_type=ObjectType.IMPORT,
        label=f"Journeys import of {os.path.basename(path)}",
        details={"kind": "journeys", **details, "seconds": round(time.monotonic() - started, 1)},
    )
