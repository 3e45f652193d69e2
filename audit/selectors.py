"""Reads of the audit log."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from journeys.models import FirstValueBasis, InfrastructureType
from journeys.plan_models import ObjectiveStatus, PlanStatus
from retention.models import EndDateConvention, ImportKind

from .models import AuditEvent, ObjectType

# The label of each choice value that the recorders store in details, by object type and then by detail key.
# A key inside "changes" is looked up the same way. The details keep the codes, so stored events and the
# JSON in the CSV stay the same when a label is reworded.
DETAIL_CHOICES: dict[str, dict[str, dict[str, str]]] = {
    ObjectType.IMPORT: {
        # journeys.audit and services_cost.importing record their imports with kinds outside ImportKind.
        "kind": {**dict(ImportKind.choices), "journeys": "Journeys", "cost_rates": "Cost rates"},
        "end_date": dict(EndDateConvention.choices),
    },
    ObjectType.JOURNEY: {
        "infrastructure_type": dict(InfrastructureType.choices),
        "first_value_basis": dict(FirstValueBasis.choices),
    },
    ObjectType.SUCCESS_PLAN: {"status": dict(PlanStatus.choices)},
    ObjectType.OBJECTIVE: {"status": dict(ObjectiveStatus.choices)},
}


def events() -> QuerySet[AuditEvent]:
    """Return every audit event, newest first. The stored actor name saves a join to the users."""
    return AuditEvent.objects.order_by("-when", "-id")


def actors() -> QuerySet:
    """Return the users who appear as the actor of at least one event, by user name."""
    return get_user_model().objects.filter(audit_events__isnull=False).distinct().order_by("username")


def describe_details(details: dict, object_type: str) -> str:
    """Format the details of an event as one line, such as "kind: Monthly MRR lines; rows read: 12".

    Choice values show their labels from DETAIL_CHOICES for the event's object
    type. A code missing from there, such as one since removed, shows as stored.
    True and False show as yes and no.
    """
    labels = DETAIL_CHOICES.get(object_type, {})
    parts = []
    for key, value in details.items():
        if key == "changes" and isinstance(value, dict):
            for field, (old, new) in value.items():
                choices = labels.get(field, {})
                parts.append(f"{_name(field)}: {_value(old, choices)} → {_value(new, choices)}")
        else:
            parts.append(f"{_name(key)}: {_value(value, labels.get(key, {}))}")
    return "; ".join(parts)


def _name(key: str) -> str:
    return key.replace("_", " ")


def _value(value, choices: dict[str, str]) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value(item, choices) for item in value) or "–"
    if isinstance(value, str):
        return choices.get(value, value)
    return str(value)
