"""Import of subscription periods, turned into monthly recurring MRR lines.

A period counts in a month when it is active on the month's last day. With the
exclusive convention (the default) the end date is the first day without
service, so start <= last day < end. With the inclusive convention the end
date is the last day of service, so start <= last day <= end. An empty end
date leaves the period open.
"""

import datetime
import logging
import os
import time

from django.db import connection
from django.utils import timezone

from common.csvimport import (
    ColumnSpec,
    CsvFile,
    ErrorCollector,
    ImportRejected,
    ProgressCallback,
    parse_amount,
    parse_date,
    parse_id,
    parse_quantity,
    parse_row,
    parse_text,
)
from common.months import first_of_month, format_month, last_day, month_range
from retention.models import ChargeType, EndDateConvention

from .lines import (
    MRR_LINE,
    SUBSCRIPTION,
    check_accounts_and_subscriptions,
    create_subscriptions,
    insert_lines,
    removed_lines_warning,
    replace_months,
    uncovered_months,
    uncovered_warning,
)
from .staging import StagingTable

logger = logging.getLogger(__name__)

SUBSCRIPTION_COLUMNS = ColumnSpec(
    required=("subscription_id", "account_id", "product", "quantity", "mrr", "start_date", "end_date"),
)

PARSERS = {
    "subscription_id": parse_id,
    "account_id": parse_id,
    "product": parse_text(100),
    "quantity": parse_quantity,
    "mrr": parse_amount,
    "start_date": parse_date,
    "end_date": parse_date,
}

STAGE_COLUMNS = [
    ("line", "bigint"),
    ("account_ext", "varchar(100)"),
    ("subscription_ext", "varchar(100)"),
    ("product", "varchar(100)"),
    ("quantity", "bigint"),
    ("mrr_cents", "bigint"),
    ("start_date", "date"),
    ("end_date", "date"),
]
MONTHS_TABLE = "tamarind_stage_months"

# SQL conditions over a staged period `p` and a month `m` of the months table.
ACTIVE_ON_LAST_DAY = {
    EndDateConvention.EXCLUSIVE: "p.start_date <= m.last_day AND (p.end_date IS NULL OR m.last_day < p.end_date)",
    EndDateConvention.INCLUSIVE: "p.start_date <= m.last_day AND (p.end_date IS NULL OR m.last_day <= p.end_date)",
}
NON_EMPTY_PERIOD = {
    EndDateConvention.EXCLUSIVE: "(p.end_date IS NULL OR p.end_date > p.start_date)",
    EndDateConvention.INCLUSIVE: "(p.end_date IS NULL OR p.end_date >= p.start_date)",
}


def import_subscriptions(
    path: str | os.PathLike,
    *,
    columns: dict[str, str] | None = None,
    end_date: str = EndDateConvention.EXCLUSIVE,
    import_run_id: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Import subscription periods as monthly recurring lines up to the current month.

    Every month from the earliest start to the current month is replaced as a
    whole. `end_date` is an EndDateConvention value. Return the summary:
    rows_read, lines_stored, lines_deleted (the stored lines of the replaced
    months before the import), months_replaced (YYYY-MM), subscriptions_created,
    periods_without_lines, uncovered_months and warnings. Raise ImportRejected,
    with nothing stored, when any row is invalid.
    """
    started = time.monotonic()
    convention = EndDateConvention(end_date)
    errors = ErrorCollector()
    csv_file = CsvFile(path, SUBSCRIPTION_COLUMNS, columns, errors, on_progress)
    current_month = first_of_month(timezone.now().date())
    earliest_start = None
    with StagingTable("tamarind_stage_periods", STAGE_COLUMNS, indexes=("subscription_ext", "line")) as stage:
        for line, row in csv_file.rows():
            values, valid = parse_row(line, row, PARSERS, errors, optional=("end_date",))
            start, end = values["start_date"], values["end_date"]
            if start is not None and end is not None and end < start:
                errors.add(line, "end_date", row["end_date"], "end_date is before start_date")
            elif valid and (earliest_start is None or start < earliest_start):
                earliest_start = start
            # Rows with invalid fields are staged too, so that the account and
            # subscription checks report them; any error prevents the write.
            stage.add(
                (
                    line,
                    values["account_id"],
                    values["subscription_id"],
                    values["product"],
                    values["quantity"],
                    None if values["mrr"] is None else int(values["mrr"] * 100),
                    values["start_date"],
                    values["end_date"],
                )
            )
        stage.close_loading()
        check_accounts_and_subscriptions(stage, errors)
        if errors:
            logger.info(
                "import run %s rejected: %d invalid values in %d rows", import_run_id, errors.count, csv_file.rows_read
            )
            raise ImportRejected(errors)

        months = list(month_range(earliest_start, current_month)) if earliest_start else []
        with StagingTable(MONTHS_TABLE, [("month", "date"), ("last_day", "date")]) as months_table:
            for month in months:
                months_table.add((month, last_day(month)))
            months_table.close_loading()
            counts = {"lines_stored": 0, "subscriptions_created": 0}
            if months:
                write_lines = insert_lines(_insert_lines_sql(stage, convention))
                counts = replace_months(
                    lambda: create_subscriptions(stage),
                    months,
                    write_lines,
                    import_run_id,
                    details={"end_date": convention.value},
                )
            checks = _check_periods(stage, convention, last_day(current_month))

    gaps = uncovered_months()
    summary = {
        "rows_read": csv_file.rows_read,
        "lines_stored": counts["lines_stored"],
        "lines_deleted": counts.get("lines_deleted", 0),
        "months_replaced": [format_month(month) for month in months],
        "subscriptions_created": counts["subscriptions_created"],
        "end_date": convention.value,
        "periods_without_lines": checks["periods_without_lines"],
        "uncovered_months": gaps,
        "warnings": _warnings(convention, checks, counts["lines_stored"], gaps),
    }
    removed_warning = removed_lines_warning(
        summary["lines_deleted"], summary["lines_stored"], counts.get("subscriptions_dropped", 0)
    )
    if removed_warning:
        summary["warnings"].insert(0, removed_warning)
    logger.info(
        "import run %s stored %d MRR lines from %d periods in %.1f s",
        import_run_id,
        counts["lines_stored"],
        csv_file.rows_read,
        time.monotonic() - started,
    )
    return summary


def _insert_lines_sql(stage: StagingTable, convention: EndDateConvention) -> str:
    # Periods of one subscription and product that are active on the same month end add up.
    return f"""
        INSERT INTO {MRR_LINE} (month, subscription_id, product, quantity, mrr, charge_type)
        SELECT m.month, sub.id, p.product, SUM(p.quantity), SUM(p.mrr_cents), '{ChargeType.RECURRING.value}'
        FROM {stage.name} p
        JOIN {MONTHS_TABLE} m ON {ACTIVE_ON_LAST_DAY[convention]}
        JOIN {SUBSCRIPTION} sub ON sub.external_id = p.subscription_ext
        GROUP BY m.month, sub.id, p.product"""


def _check_periods(stage: StagingTable, convention: EndDateConvention, current_last_day: datetime.date) -> dict:
    """Count started, non-empty periods that produced no line, and lines that add up overlapping periods."""
    active = ACTIVE_ON_LAST_DAY[convention]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT COUNT(*), SUM(without_lines), SUM(CASE WHEN without_lines = 1 AND ends_on_last_day THEN 1 ELSE 0 END)
            FROM (
                SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM {MONTHS_TABLE} m WHERE {active}) THEN 1 ELSE 0 END
                           AS without_lines,
                       EXISTS (SELECT 1 FROM {MONTHS_TABLE} m WHERE m.last_day = p.end_date) AS ends_on_last_day
                FROM {stage.name} p WHERE p.start_date <= %s AND {NON_EMPTY_PERIOD[convention]}
            ) checked""",
            [current_last_day],
        )
        periods, without_lines, ending_on_last_day = cursor.fetchone()
        cursor.execute(
            f"""
            SELECT COUNT(*) FROM (
                SELECT m.month, p.subscription_ext, p.product FROM {stage.name} p JOIN {MONTHS_TABLE} m ON {active}
                GROUP BY m.month, p.subscription_ext, p.product HAVING COUNT(*) > 1
            ) overlapping"""
        )
        overlapping = cursor.fetchone()[0]
    return {
        "periods": periods or 0,
        "periods_without_lines": without_lines or 0,
        "without_lines_ending_on_last_day": ending_on_last_day or 0,
        "overlapping_lines": overlapping,
    }


def _warnings(convention: EndDateConvention, checks: dict, lines_stored: int, gaps: list[str]) -> list[str]:
    warnings = []
    if checks["periods_without_lines"]:
        if lines_stored == 0:
            opening = f"The file produced no monthly lines at all: none of its {checks['periods']} periods"
        else:
            opening = f"{checks['periods_without_lines']} of {checks['periods']} periods produced no monthly line:"
            opening += " none of them"
        # Only a period that ends on a month's last day gains a line under the inclusive convention.
        on_last_day = checks["without_lines_ending_on_last_day"]
        advice = (
            f" {on_last_day} of them end on the last day of a month. If the end dates are last days of service,"
            " import the file again with the inclusive end-date convention."
            if convention == EndDateConvention.EXCLUSIVE and on_last_day
            else ""
        )
        warnings.append(f"{opening} is active on the last day of any month up to the current month.{advice}")
    if checks["overlapping_lines"]:
        advice = (
            " If each end date is the next period's start date, import the file again with the exclusive convention."
            if convention == EndDateConvention.INCLUSIVE
            else ""
        )
        warnings.append(
            f"{checks['overlapping_lines']} monthly line(s) add up two or more periods of the same subscription "
            f"and product that are active on the same month end.{advice}"
        )
    gap_warning = uncovered_warning(gaps)
    if gap_warning:
        warnings.append(gap_warning)
    return warnings
