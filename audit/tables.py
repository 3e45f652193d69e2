"""The table of the audit log page."""

import re

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from common.tables import FixedPageSize

from .models import SYSTEM_ACTOR_NAME, AuditEvent, ObjectType
from .selectors import describe_details

# The page of each object type whose events name one row. Objectives and file imports without a run have none.
OBJECT_PAGES = {
    ObjectType.IMPORT: "retention:import_detail",
    ObjectType.JOURNEY: "journeys:journey",
    ObjectType.SUCCESS_PLAN: "journeys:plan",
    ObjectType.COST_RATE: "services_cost:rate_edit",
    ObjectType.ACCOUNT: "accounts:account",
}


NO_WRAP = {"td": {"class": "text-nowrap"}}
# An ISO date or month, which browsers would otherwise break after a hyphen.
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?\b")


class AuditEventTable(FixedPageSize, tables.Table):
    rows_per_page = 50

    when = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name="When (UTC)", attrs=NO_WRAP)
    actor_name = tables.Column(verbose_name="Who", attrs=NO_WRAP)
    action = tables.Column(verbose_name="Action")
    object_type = tables.Column(verbose_name="Object", attrs=NO_WRAP)
    label = tables.Column(verbose_name="What", attrs={"td": {"class": "audit-label"}})
    details = tables.Column(verbose_name="Details", empty_values=(), attrs={"td": {"class": "audit-details-cell"}})

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
        text = keep_dates_whole(value)
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    def render_details(self, record, value):
        if not value:
            return "–"
        text = describe_details(value, record.object_type)
        return format_html('<span class="audit-details">{}</span>', keep_dates_whole(text))


def keep_dates_whole(text: str) -> SafeString:
    """Escape `text` and wrap each ISO date or month in it in a span that does not break across lines."""
    escaped = conditional_escape(text)
    # The pattern matches digits and hyphens only, which escaping leaves alone, so no markup is split.
    return mark_safe(_ISO_DATE.sub(lambda match: f'<span class="text-nowrap">{match.group()}</span>', escaped))


def object_url(event: AuditEvent) -> str | None:
    """Return the page of the event's object, or None when its type has no page or the event names no row."""
    name = OBJECT_PAGES.get(event.object_type)
    if name is None or not event.object_id.isdigit():
        return None
    return reverse(name, args=[int(event.object_id)])
