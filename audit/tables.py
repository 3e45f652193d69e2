"""The table of the audit log page."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from .models import SYSTEM_ACTOR_NAME, AuditEvent, ObjectType
from .selectors import describe_details

# The page of each object type whose events name one row. Objectives and file imports without a run have none.
OBJECT_PAGES = {
    ObjectType.IMPORT: "retention:import_detail",
    ObjectType.JOURNEY: "journeys:journey",
    ObjectType.SUCCESS_PLAN: "journeys:plan",
    ObjectType.COST_RATE: "services_cost:rate_edit",
}


class AuditEventTable(tables.Table):
    when = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name="When (UTC)")
    actor_name = tables.Column(verbose_name="Who")
    action = tables.Column(verbose_name="Action")
    object_type = tables.Column(verbose_name="Object")
    label = tables.Column(verbose_name="What")
    details = tables.Column(verbose_name="Details", empty_values=())

    class Meta:
        model = AuditEvent
        fields = ["when", "actor_name", "action", "object_type", "label", "details"]
        orderable = False
        attrs = {"class": "table table-hover align-middle mb-0", "id": "audit-events"}
        row_attrs = {"data-action": lambda record: record.action}

    def render_actor_name(self, record, value):
        if record.actor_id is not None:
            return value
        if value == SYSTEM_ACTOR_NAME:
            return format_html('<span class="text-secondary">{}</span>', value)
        return format_html('{} <span class="text-secondary">(deleted user)</span>', value)

    def render_label(self, record, value):
        url = object_url(record)
        return format_html('<a href="{}">{}</a>', url, value) if url else value

    def render_details(self, value):
        return format_html('<span class="audit-details">{}</span>', describe_details(value)) if value else "–"


def object_url(event: AuditEvent) -> str | None:
    """Return the page of the event's object, or None when its type has no page or the event names no row."""
    name = OBJECT_PAGES.get(event.object_type)
    if name is None or not event.object_id.isdigit():
        return None
    return reverse(name, args=[int(event.object_id)])
