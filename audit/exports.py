"""The audit log as CSV, in the order and with the filters of the page."""

import csv
import json
from collections.abc import Iterable

from django.core.serializers.json import DjangoJSONEncoder

from common.csvexport import escape_text_cell

from .models import AuditEvent
from .selectors import describe_details

EVENT_COLUMNS = [
    "when",
    "actor",
    "action",
    "action_label",
    "object_type",
    "object_type_label",
    "object_id",
    "label",
    "details",
    "details_label",
]


def write_events(out, events: Iterable[AuditEvent]) -> None:
    """Write one row per event, with the code and the label of its action, object type and details.

    The time is ISO 8601 in UTC. `details` is the stored JSON, with codes, and
    `details_label` is the line the page shows, with labels. Text that a
    spreadsheet would run as a formula is escaped. The codes, the labels of
    actions and object types, and the time cannot start with one.
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
                event.get_object_type_display(),
                event.object_id,
                escape_text_cell(event.label),
                escape_text_cell(json.dumps(event.details, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)),
                escape_text_cell(describe_details(event.details, event.object_type)),
            ]
        )
