"""CSV files of the retention pages, written for spreadsheets and for re-reading by programs.

Amounts use `common.money` formats (a dot, no grouping, two decimals), so the
output does not depend on the active locale or on USE_THOUSAND_SEPARATOR.
"""

import csv
import datetime
import itertools
from collections.abc import Iterable, Iterator

from common.csvexport import escape_text_cell
from common.money import format_money, format_percentage, percentage
from common.months import format_month

from .models import Category, Level, MrrLine, Reason, RetentionCustomer
from .reason_selectors import ReasonBreakdown, recurring_products

MONTH_CUSTOMER_COLUMNS = [
    "month",
    "level",
    "customer_id",
    "customer_name",
    "segment",
    "tam",
    "a",
    "b",
    "c",
    "gross_pct",
    "net_pct",
]


def customer_id(customer: RetentionCustomer, level: str) -> str:
    """Return the external id that names a customer at `level`: its subscription's at the subscription level."""
    if level == Level.SUBSCRIPTION and customer.subscription is not None:
        return customer.subscription.external_id
    return customer.account.external_id


def month_customer_rows(month: datetime.date, level: str, customers: Iterable[RetentionCustomer]) -> Iterator[list]:
    """Yield one CSV row per customer, with the username of its owning TAM.

    Ids and names are escaped but amounts are not, so a negative amount stays a number.
    """
    for customer in customers:
        yield [
            format_month(month),
            level,
            escape_text_cell(customer_id(customer, level)),
            escape_text_cell(customer.account.name),
            customer.segment,
            escape_text_cell(customer.tam.username) if customer.tam is not None else "",
            format_money(customer.a),
            format_money(customer.b),
            format_money(customer.c),
            format_percentage(percentage(customer.c, customer.a)) or "",
            format_percentage(percentage(customer.b, customer.a)) or "",
        ]


def write_month_customers(out, month: datetime.date, level: str, customers: Iterable[RetentionCustomer]) -> None:
    """Write the header and one row per customer to the file-like `out`."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(MONTH_CUSTOMER_COLUMNS)
    writer.writerows(month_customer_rows(month, level, customers))


# Customers per query of their products in the reason export.
PRODUCTS_CHUNK = 2000

REASON_COLUMNS = ["month", "level", "segment", "category", "reason", "customers", "mrr", "share_pct"]

REASON_CUSTOMER_COLUMNS = [
    "month",
    "level",
    "reason",
    "customer_id",
    "customer_name",
    "segment",
    "recurring_a",
    "recurring_b",
    "products_a",
    "products_b",
    "seats_a",
    "seats_b",
    "amount",
]

# The columns of the MRR line import, so that an exported file can be imported again.
LINE_COLUMNS = ["month", "account_id", "subscription_id", "product", "quantity", "mrr", "charge_type"]


def write_month_reasons(out, breakdown: ReasonBreakdown, level: str, segment: str) -> None:
    """Write one row per reason with customers: churn first, then expansion, in the order of the reasons table.

    An empty category has no rows. `share_pct` is the reason's percent of its category.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REASON_COLUMNS)
    for category in Category:
        for figure in breakdown.category(category):
            writer.writerow(
                [
                    format_month(breakdown.month),
                    level,
                    segment,
                    category.value,
                    figure.reason.label,
                    figure.customers,
                    format_money(figure.amount),
                    format_percentage(figure.share) or "",
                ]
            )


def write_reason_customers(out, reason: Reason, customers: Iterable[RetentionCustomer]) -> None:
    """Write one row per customer of a reason. Text cells are escaped; amounts and seat counts are plain numbers."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REASON_CUSTOMER_COLUMNS)
    for chunk in itertools.batched(customers, PRODUCTS_CHUNK):
        products = recurring_products(chunk)
        for customer in chunk:
            products_a, products_b = products[customer.pk]
            writer.writerow(
                [
                    format_month(customer.month),
                    customer.level,
                    reason.label,
                    escape_text_cell(customer_id(customer, customer.level)),
                    escape_text_cell(customer.account.name),
                    customer.segment,
                    format_money(customer.recurring_a),
                    format_money(customer.recurring_b),
                    escape_text_cell(", ".join(products_a)),
                    escape_text_cell(", ".join(products_b)),
                    customer.seats_a,
                    customer.seats_b,
                    format_money(customer.reason_amount),
                ]
            )


def write_customer_lines(out, lines: Iterable[MrrLine]) -> None:
    """Write MRR lines in the import's format, recurring lines and true-ups alike.

    NOTE: an id or product that starts with a formula character is written with a leading
    quote, and importing the file again stores that quote as part of the value.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LINE_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                format_month(line.month),
                escape_text_cell(line.subscription.account.external_id),
                escape_text_cell(line.subscription.external_id),
                escape_text_cell(line.product),
                line.quantity,
                format_money(line.mrr),
                line.charge_type,
            ]
        )
