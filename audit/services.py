"""Writes to the audit log. Other apps call `record` from their services, inside the change's transaction."""

from django.db import transaction
from django.utils.text import Truncator

from .context import current_user
from .models import SYSTEM_ACTOR_NAME, AuditEvent

_LABEL_LENGTH = AuditEvent._meta.get_field("label").max_length


def record(
    action: str,
    *,
    object_type: str,
    label: str,
    object_id: int | str | None = None,
    details: dict | None = None,
    user=None,
) -> AuditEvent:
    """Insert one audit event whose actor is `user`, or else the acting user of the request or task.

    Raise RuntimeError outside a transaction, because an event written in
    autocommit mode would stay even when the change it describes rolls back.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.services.record must run inside the transaction of the change it records.")
    actor = user if user is not None else current_user()
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else SYSTEM_ACTOR_NAME,
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        label=Truncator(label).chars(_LABEL_LENGTH),
        details=details or {},
    )


def changes(before: dict, after: dict) -> dict[str, list]:
    """Return {field: [old, new]} for each field of `after` whose value differs from `before`."""
    return {field: [before.get(field), value] for field, value in after.items() if before.get(field) != value}
