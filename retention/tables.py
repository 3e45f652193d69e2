"""Tables of the retention pages."""

import datetime

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from common.money import percentage
from common.months import add_months, format_month
from common.tables import FixedPageSize

from .models import Level, SegmentKey
from .templatetags.retention_format import money, pct

NUMBER_ATTRS = {"th": {"class": "num"}, "td": {"class": "num"}}
# Ids and segment names contain hyphens, where a narrow screen would otherwise break "A-43a9e3" over two lines.
UNBROKEN_ATTRS = {"td": {"class": "text-nowrap"}}


def _ordered(*keys: str) -> tuple[str, ...]:
    """Return sort keys that end with the primary key, so that ties never move a row between pages."""
    return (*keys, "pk")


class MoneyColumn(tables.Column):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", NUMBER_ATTRS)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return money(value)


class CohortCustomerTable(FixedPageSize, tables.Table):
    """Columns that name a stored cohort customer: name, ids, segment and, for readers of every account, the TAM."""

    rows_per_page = 25

    customer = tables.Column(accessor="account__name", verbose_name="Customer", order_by=_ordered("account__name"))
    external_id = tables.Column(
        accessor="account__external_id",
        verbose_name="Account ID",
        order_by=_ordered("account__external_id"),
        attrs=UNBROKEN_ATTRS,
    )
    subscription = tables.Column(
        accessor="subscription__external_id",
        verbose_name="Subscription ID",
        order_by=_ordered("subscription__external_id"),
        attrs=UNBROKEN_ATTRS,
    )
    segment = tables.Column(verbose_name="Segment", order_by=_ordered("segment"), attrs=UNBROKEN_ATTRS)
    tam = tables.Column(accessor="tam__username", verbose_name="TAM", order_by=_ordered("tam__username"), default="–")

    def __init__(self, *args, month: datetime.date, level: str, show_tam: bool, **kwargs):
        exclude = [] if level == Level.SUBSCRIPTION else ["subscription"]
        if not show_tam:
            exclude.append("tam")
        super().__init__(*args, exclude=exclude, **kwargs)
        self.month = month

    def name_months(self, baseline: dict[str, str], current: dict[str, str], month_below: bool = False) -> None:
        """Add M-12 to the headers in `baseline` and M to those in `current`, keyed by column name.

        With `month_below` the month goes on a second line, which keeps narrow columns narrow.
        Each instance works on its own copy of the columns, so this changes no other table.
        """
        for names, month in ((baseline, add_months(self.month, -12)), (current, self.month)):
            for name, header in names.items():
                if month_below:
                    label = format_html('{}<br><span class="month-below">{}</span>', header, format_month(month))
                else:
                    label = f"{header}, {format_month(month)}"
                self.columns[name].column.verbose_name = label

    def render_segment(self, value):
        return SegmentKey(value).label if value in SegmentKey.values else value


class MonthCustomerTable(CohortCustomerTable):
    """The customers behind one month's retention figure, with their own A, B and C.

    The per-customer percentages are for reading only. Totals are computed
    from the summed amounts, never from these percentages.
    """

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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name_months({"a": "A"}, {"b": "B"})

    def render_gross(self, record):
        return pct(percentage(record.c, record.a, places=1))

    def render_net(self, record):
        return pct(percentage(record.b, record.a, places=1))


class ProductsColumn(tables.Column):
    """A customer's products with recurring MRR above zero in M-12 (`index` 0) or M (1), sorted by name.

    The table's `products` maps each shown row's id to both lists, read from the lines for the page
    shown. The column cannot be sorted because the stored rows do not contain the products.
    """

    def __init__(self, index: int, *args, **kwargs):
        self.index = index
        kwargs.setdefault("accessor", "pk")
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("attrs", {"td": {"class": "text-wrap products"}})
        super().__init__(*args, **kwargs)

    def render(self, record, table):
        products = table.products.get(record.pk, ([], []))[self.index]
        return ", ".join(products) if products else "–"


class ReasonCustomerTable(CohortCustomerTable):
    """The customers of one reason in one month, with the recurring MRR, products and seats it compares."""

    customer = tables.Column(
        accessor="account__name",
        verbose_name="Customer",
        order_by=_ordered("account__name"),
        linkify=lambda record: reverse("retention:customer_lines", args=[record.pk]),
    )
    recurring_a = MoneyColumn(verbose_name="A", order_by=_ordered("recurring_a"))
    recurring_b = MoneyColumn(verbose_name="B", order_by=_ordered("recurring_b"))
    products_a = ProductsColumn(0, verbose_name="Products")
    products_b = ProductsColumn(1, verbose_name="Products")
    seats_a = tables.Column(verbose_name="Seats", order_by=_ordered("seats_a"), attrs=NUMBER_ATTRS)
    seats_b = tables.Column(verbose_name="Seats", order_by=_ordered("seats_b"), attrs=NUMBER_ATTRS)
    amount = MoneyColumn(accessor="reason_amount", verbose_name="Amount, USD", order_by=_ordered("reason_amount"))

    class Meta:
        attrs = {
            "class": "table table-sm table-hover align-middle text-nowrap table-sortable small mb-0",
            "id": "reason-customers",
        }
        order_by = "-amount"
        empty_text = "No customers with this reason in this month."
        # The amount comes next to A and B, so that it stays in view when the products make the table scroll.
        sequence = ("...", "recurring_a", "recurring_b", "amount", "seats_a", "seats_b", "products_a", "products_b")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Filled by the view for the rows of the page shown: row id to (products in M-12, products in M).
        self.products: dict[int, tuple[list[str], list[str]]] = {}
        self.name_months(
            {"recurring_a": "A", "products_a": "Products", "seats_a": "Seats"},
            {"recurring_b": "B", "products_b": "Products", "seats_b": "Seats"},
            month_below=True,
        )


class CustomerLineTable(tables.Table):
    """MRR lines of one customer and month, or its true-ups of both months. Short lists, so neither sorted nor paged."""

    month = tables.Column(verbose_name="Month")
    account = tables.Column(
        accessor="subscription__account__external_id", verbose_name="Account ID", attrs=UNBROKEN_ATTRS
    )
    subscription = tables.Column(
        accessor="subscription__external_id", verbose_name="Subscription ID", attrs=UNBROKEN_ATTRS
    )
    product = tables.Column(verbose_name="Product", attrs=UNBROKEN_ATTRS)
    quantity = tables.Column(verbose_name="Seats", attrs=NUMBER_ATTRS)
    mrr = MoneyColumn(verbose_name="MRR, USD")

    class Meta:
        orderable = False
        attrs = {"class": "table table-sm align-middle mb-0"}
        empty_text = "No lines."

    def __init__(self, *args, table_id: str, level: str, show_month: bool = False, **kwargs):
        exclude = [] if show_month else ["month"]
        # Below the parent level every line belongs to the account that the page's title names.
        if level != Level.PARENT:
            exclude.append("account")
        super().__init__(*args, exclude=exclude, **kwargs)
        self.attrs = {**self.attrs, "id": table_id}

    def render_month(self, value):
        return format_month(value)
