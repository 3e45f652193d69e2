"""CSV files of the retention pages, written for spreadsheets and for re-reading by programs.

Amounts use `common.money` formats (a dot, no grouping, two decimals), so the
output does not depend on the active locale or on USE_THOUSAND_SEPARATOR.
"""

import csv
import datetime
from collections.abc import Iterable, Iterator

from common.money import format_money, format_percentage, percentage
from common.months import format_month

from .models import Level, RetentionCustomer

MONTH_CUSTOMER_COLUMNS = [
    "month",
    "level",
    "customer_id",
    "customer_name",
    "segment",
    "a",
    "b",
    "c",
    "gross_pct",
    "net_pct",
]

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_text_cell(value: str) -> str:
    """Prefix a text cell that a spreadsheet would read as a formula with a single quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def month_customer_rows(month: datetime.date, level: str, customers: Iterable[RetentionCustomer]) -> Iterator[list]:
    """Yield one CSV row per customer.

    Ids and names are escaped but amounts are not, so a negative amount stays a number.
    """
    for customer in customers:
        if level == Level.SUBSCRIPTION and customer.subscription is not None:
            customer_id = customer.subscription.external_id
        else:
            customer_id = customer.account.external_id
        yield [
            format_month(month),
            level,
            escape_text_cell(customer_id),
            escape_text_cell(customer.account.name),
            customer.segment,
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
