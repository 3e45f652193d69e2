"""The audit log as CSV, in the order and with the filters of the page."""

import csv
import json
from collections.abc import Iterable

from django.core.serializers.json import DjangoJSONEncoder

from common.csvexport import escape_text_cell

from .models import AuditEvent

EVENT_COLUMNS = ["when", "actor", "action", "action_label", "object_type", "object_id", "label", "details"]


def write_events(out, events: Iterable[AuditEvent]) -> None:
    """Write one row per event: the time in ISO 8601 UTC, the action's code and label, and the details as JSON.

    Text that a spreadsheet would run as a formula is escaped. The codes and the time cannot start with one.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EVENT_COLUMNS)
    for event in events:
        writer.writerow(
            [
                event.when.isoformat(),
                escape_text_cell(event.actor_name),
                event.action,
                event.get_action_display(),
                event.object_type,
                event.object_id,
                escape_text_cell(event.label),
                escape_text_cell(json.dumps(event.details, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)),
            ]
        )
