"""Tables of the retention pages."""

import datetime

import django_tables2 as tables

from common.money import percentage
from common.months import add_months, format_month

from .models import Level, SegmentKey
from .templatetags.retention_format import money, pct

NUMBER_ATTRS = {"th": {"class": "num"}, "td": {"class": "num"}}


def _ordered(*keys: str) -> tuple[str, ...]:
    """Return sort keys that end with the primary key, so that ties never move a row between pages."""
    return (*keys, "pk")


class MoneyColumn(tables.Column):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", NUMBER_ATTRS)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return money(value)


class MonthCustomerTable(tables.Table):
    """The customers behind one month's retention figure, with their own A, B and C.

    The per-customer percentages are for reading only. Totals are computed
    from the summed amounts, never from these percentages.
    """

    customer = tables.Column(accessor="account__name", verbose_name="Customer", order_by=_ordered("account__name"))
    external_id = tables.Column(
        accessor="account__external_id", verbose_name="Account ID", order_by=_ordered("account__external_id")
    )
    subscription = tables.Column(
        accessor="subscription__external_id",
        verbose_name="Subscription ID",
        order_by=_ordered("subscription__external_id"),
    )
    segment = tables.Column(verbose_name="Segment", order_by=_ordered("segment"))
    tam = tables.Column(accessor="tam__username", verbose_name="TAM", order_by=_ordered("tam__username"), default="–")
    a = MoneyColumn(verbose_name="A", order_by=_ordered("a"))
    b = MoneyColumn(verbose_name="B", order_by=_ordered("b"))
    c = MoneyColumn(verbose_name="C = min(A, B)", order_by=_ordered("c"))
    gross = tables.Column(
        accessor="gross_ratio", verbose_name="Gross", order_by=_ordered("gross_ratio"), attrs=NUMBER_ATTRS
    )
    net = tables.Column(accessor="net_ratio", verbose_name="Net", order_by=_ordered("net_ratio"), attrs=NUMBER_ATTRS)

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle mb-0", "id": "month-customers"}
        order_by = "customer"
        empty_text = "No customers in this month's cohort."

    def __init__(self, *args, month: datetime.date, level: str, show_tam: bool, **kwargs):
        exclude = [] if level == Level.SUBSCRIPTION else ["subscription"]
        if not show_tam:
            exclude.append("tam")
        super().__init__(*args, exclude=exclude, **kwargs)
        # Each instance works on its own copy of the columns, so the headers can name the months.
        self.columns["a"].column.verbose_name = f"A, {format_month(add_months(month, -12))}"
        self.columns["b"].column.verbose_name = f"B, {format_month(month)}"

    def render_segment(self, value):
        return SegmentKey(value).label if value in SegmentKey.values else value

    def render_gross(self, record):
        return pct(percentage(record.c, record.a, places=1))

    def render_net(self, record):
        return pct(percentage(record.b, record.a, places=1))
