"""Reads of the audit log."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from .models import AuditEvent


def events() -> QuerySet[AuditEvent]:
    """Return every audit event, newest first. The stored actor name saves a join to the users."""
    return AuditEvent.objects.order_by("-when", "-id")


def actors() -> QuerySet:
    """Return the users who appear as the actor of at least one event, by user name."""
    return get_user_model().objects.filter(audit_events__isnull=False).distinct().order_by("username")


def describe_details(details: dict) -> str:
    """Return the details of an event as one line, such as "ote: 100000.00 → 120000.00; rows read: 12"."""
    parts = []
    for key, value in details.items():
        if key == "changes" and isinstance(value, dict):
            for field, (old, new) in value.items():
                parts.append(f"{_name(field)}: {_value(old)} → {_value(new)}")
        else:
            parts.append(f"{_name(key)}: {_value(value)}")
    return "; ".join(parts)


def _name(key: str) -> str:
    return key.replace("_", " ")


def _value(value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value) or "–"
    return str(value)
