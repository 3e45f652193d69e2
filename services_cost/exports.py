"""The CSV file of an estimate, written for spreadsheets and for re-reading by programs.

Amounts use `common.money.format_money` (a dot, no grouping, two decimals), so
the file does not depend on the active locale or on USE_THOUSAND_SEPARATOR.
Text cells that a spreadsheet would run as a formula are escaped.
"""

import csv
from decimal import Decimal

from common.csvexport import escape_text_cell
from common.money import format_money, format_percentage

from .models import CostEstimate
from .selectors import EstimateCosting

ESTIMATE_COLUMNS = [
    "estimate_id",
    "title",
    "account_id",
    "account_name",
    "estimate_date",
    "fiscal_quarter",
    "status",
    "line",
    "role",
    "description",
    "hours",
    "hourly_cost",
    "line_cost",
    "price",
    "total_cost",
    "margin",
    "margin_pct",
]


def _money(value: Decimal | None) -> str:
    return "" if value is None else format_money(value)


def estimate_rows(estimate: CostEstimate, costing: EstimateCosting) -> list[list[str]]:
    """Return one row per line; the estimate's columns and totals repeat on each row.

    Totals are empty while a line's role has no rate in the estimate's quarter.
    """
    head = [
        str(estimate.pk),
        escape_text_cell(estimate.title),
        escape_text_cell(estimate.account.external_id),
        escape_text_cell(estimate.account.name),
        estimate.estimate_date.isoformat(),
        costing.quarter.label,
        estimate.status,
    ]
    totals = [
        format_money(estimate.price),
        _money(costing.total_cost),
        _money(costing.margin),
        format_percentage(costing.margin_pct) or "",
    ]
    return [
        [
            *head,
            str(number),
            escape_text_cell(item.line.role.name),
            escape_text_cell(item.line.description),
            f"{item.line.hours:.2f}",
            _money(item.hourly_cost),
            _money(item.cost),
            *totals,
        ]
        for number, item in enumerate(costing.lines, start=1)
    ]


def write_estimate(out, estimate: CostEstimate, costing: EstimateCosting) -> None:
    """Write the header and the estimate's rows to the file-like `out`."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ESTIMATE_COLUMNS)
    writer.writerows(estimate_rows(estimate, costing))
