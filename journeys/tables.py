"""Tables of the journey pages. Every ordering ends with a unique key, so ties never move a row between pages."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from common.tables import FixedPageSize

NUMBER_ATTRS = {"th": {"class": "num"}, "td": {"class": "num"}}


def _ordered(*keys: str) -> tuple[str, ...]:
    return (*keys, "journey__pk")


class OpenJourneyTable(FixedPageSize, tables.Table):
    """The rows of My accounts: `selectors.OpenJourneyRow` objects."""

    rows_per_page = 50

    account = tables.Column(
        accessor="journey__account__name", verbose_name="Account", order_by=_ordered("journey__account__name")
    )
    kind = tables.Column(accessor="journey__kind", verbose_name="Kind", order_by=_ordered("journey__kind"))
    transaction_date = tables.DateColumn(
        format="Y-m-d",
        accessor="journey__transaction_date",
        verbose_name="Transaction",
        order_by=_ordered("journey__transaction_date"),
    )
    days = tables.Column(
        accessor="days_since_transaction",
        verbose_name="Days since",
        order_by=_ordered("days_since_transaction"),
        attrs=NUMBER_ATTRS,
    )
    next_milestone = tables.Column(verbose_name="Next milestone", order_by=_ordered("next_milestone_position"))
    target = tables.DateColumn(
        format="Y-m-d", accessor="next_target_date", verbose_name="Target date", order_by=_ordered("next_target_date")
    )
    status = tables.Column(accessor="next_is_overdue", verbose_name="Past target", orderable=False)
    plan = tables.Column(empty_values=(), verbose_name="Success plan", orderable=False)
    tam = tables.Column(
        accessor="journey__tam__username", verbose_name="TAM", default="–", order_by=_ordered("journey__tam__username")
    )

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle mb-0 table-sortable", "id": "open-journeys"}
        row_attrs = {"data-journey": lambda record: record.journey.pk}
        order_by = ("transaction_date",)

    def __init__(self, *args, show_tam: bool, plan_states: dict | None = None, **kwargs):
        super().__init__(*args, exclude=[] if show_tam else ["tam"], **kwargs)
        # Account id to `plan_selectors.PlanState`.
        self.plan_states = plan_states or {}

    def render_account(self, value, record):
        url = reverse("journeys:journey", args=[record.journey.pk])
        return format_html('<a href="{}">{}</a>', url, value)

    def render_kind(self, record):
        return record.journey.get_kind_display()

    def render_next_milestone(self, value):
        return value.label

    def render_status(self, record):
        if record.next_is_overdue:
            return mark_safe('<span class="badge text-bg-danger">Past target</span>')
        if record.overdue:
            labels = ", ".join(milestone.label for milestone in record.overdue)
            return format_html('<span class="badge text-bg-warning">Earlier late: {}</span>', labels)
        return mark_safe('<span class="badge text-bg-success">On track</span>')

    def render_plan(self, record):
        state = self.plan_states.get(record.journey.account_id)
        if state is None:
            return "–"
        return format_html(
            '<span class="badge {} plan-state" data-state="{}" title="{}">{}</span>',
            state.badge,
            state.value,
            state.label,
            state.short_label,
        )


class PlaybookTable(tables.Table):
    product = tables.Column(accessor="product__name", verbose_name="Product", orderable=False)
    segment = tables.Column(verbose_name="Segment", orderable=False)
    tasks = tables.Column(empty_values=(), verbose_name="Tasks", orderable=False, attrs=NUMBER_ATTRS)

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle mb-0", "id": "playbooks"}

    def render_product(self, value, record):
        return format_html('<a href="{}">{}</a>', reverse("journeys:playbook", args=[record.pk]), value)

    def render_segment(self, record):
        return record.get_segment_display()

    def render_tasks(self, record):
        return len(record.tasks.all())
