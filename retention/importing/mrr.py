"""Import of monthly MRR lines: one row per month, subscription, product and charge type."""

import logging
import os
import time

from common.csvimport import (
    ColumnSpec,
    CsvFile,
    ErrorCollector,
    ImportRejected,
    InvalidValue,
    ProgressCallback,
    parse_amount,
    parse_id,
    parse_month,
    parse_quantity,
    parse_row,
    parse_text,
)
from common.months import format_month
from retention.models import ChargeType

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
from .mrr_copy import Outcome, import_plain_mrr
from .staging import StagingTable

logger = logging.getLogger(__name__)

MRR_COLUMNS = ColumnSpec(
    required=("month", "account_id", "subscription_id", "product", "quantity", "mrr", "charge_type"),
)


CHARGE_TYPES = frozenset(ChargeType.values)


def parse_charge_type(text: str) -> str:
    value = text.lower()
    if value not in CHARGE_TYPES:
        raise InvalidValue("expected recurring or trueup")
    return value


PARSERS = {
    "month": parse_month,
    "account_id": parse_id,
    "subscription_id": parse_id,
    "product": parse_text(100),
    "quantity": parse_quantity,
    "mrr": parse_amount,
    "charge_type": parse_charge_type,
}

STAGE_COLUMNS = [
    ("line", "bigint"),
    ("month", "date"),
    ("account_ext", "varchar(100)"),
    ("subscription_ext", "varchar(100)"),
    ("product", "varchar(100)"),
    ("quantity", "bigint"),
    ("mrr_cents", "bigint"),
    ("charge_type", "varchar(10)"),
]


def _never_back(on_progress: ProgressCallback | None) -> ProgressCallback | None:
    """Return a callback that passes on only the reports beyond the furthest one so far."""
    if on_progress is None:
        return None
    furthest = -1

    def report(rows_read: int, bytes_read: int, total_bytes: int) -> None:
        nonlocal furthest
        if rows_read > furthest:
            furthest = rows_read
            on_progress(rows_read, bytes_read, total_bytes)

    return report


def import_mrr(
    path: str | os.PathLike,
    *,
    columns: dict[str, str] | None = None,
    import_run_id: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Import a file of monthly MRR lines; every month in the file is replaced as a whole.

    `columns` maps the product's column names to the file's. Return the summary:
    rows_read, lines_stored, lines_deleted (the stored lines of the replaced
    months before the import), months_replaced (YYYY-MM), subscriptions_created,
    uncovered_months, warnings and fast_path. Raise ImportRejected, with nothing
    stored, when any row is invalid.

    On PostgreSQL a plain file (see `import_plain_mrr`) is loaded with COPY and
    checked with SQL, and fast_path is true. Any other file, and any file that
    the SQL cannot prove valid, is read row by row.
    """
    started = time.monotonic()
    # The fast path may report the first half of the file and then give the file to the row-by-row
    # import, which counts from the first row again.
    on_progress = _never_back(on_progress)
    outcome = import_plain_mrr(path, MRR_COLUMNS, columns, import_run_id, on_progress)
    fast_path = outcome is not None
    if outcome is None:
        outcome = _import_rows(path, columns, import_run_id, on_progress)

    gaps = uncovered_months()
    summary = {
        "rows_read": outcome.rows_read,
        "lines_stored": outcome.counts["lines_stored"],
        "lines_deleted": outcome.counts.get("lines_deleted", 0),
        "months_replaced": [format_month(month) for month in outcome.months],
        "subscriptions_created": outcome.counts["subscriptions_created"],
        "uncovered_months": gaps,
        "warnings": [warning for warning in [uncovered_warning(gaps)] if warning],
        "fast_path": fast_path,
    }
    if not outcome.rows_read:
        summary["warnings"].append("The file has no data rows, so nothing was replaced.")
    removed_warning = removed_lines_warning(
        summary["lines_deleted"], summary["lines_stored"], outcome.counts.get("subscriptions_dropped", 0)
    )
    if removed_warning:
        summary["warnings"].insert(0, removed_warning)
    added_up = outcome.rows_read - outcome.counts["lines_stored"]
    if added_up > 0:
        rows = "1 row repeats" if added_up == 1 else f"{added_up} rows repeat"
        summary["warnings"].append(
            f"{rows} the month, subscription, product and charge type of an earlier row, so the amounts and"
            " quantities of such rows were added up into one line."
        )
    logger.info(
        "import run %s stored %d MRR lines from %d rows in %.1f s (%s)",
        import_run_id,
        outcome.counts["lines_stored"],
        outcome.rows_read,
        time.monotonic() - started,
        "COPY" if fast_path else "read row by row",
    )
    return summary


def _import_rows(
    path: str | os.PathLike,
    columns: dict[str, str] | None,
    import_run_id: int | None,
    on_progress: ProgressCallback | None,
) -> Outcome:
    """Read, check and store the file row by row; any invalid value raises ImportRejected naming it."""
    errors = ErrorCollector()
    csv_file = CsvFile(path, MRR_COLUMNS, columns, errors, on_progress)
    months = set()
    with StagingTable("tamarind_stage_mrr", STAGE_COLUMNS, indexes=("subscription_ext", "line")) as stage:
        for line, row in csv_file.rows():
            values, valid = parse_row(line, row, PARSERS, errors)
            if valid:
                months.add(values["month"])
            # Rows with invalid fields are staged too, so that the account and
            # subscription checks report them; any error prevents the write.
            stage.add(
                (
                    line,
                    values["month"],
                    values["account_id"],
                    values["subscription_id"],
                    values["product"],
                    values["quantity"],
                    None if values["mrr"] is None else int(values["mrr"] * 100),
                    values["charge_type"],
                )
            )
        stage.close_loading()
        check_accounts_and_subscriptions(stage, errors)
        if errors:
            logger.info(
                "import run %s rejected: %d invalid values in %d rows", import_run_id, errors.count, csv_file.rows_read
            )
            raise ImportRejected(errors)

        # Rows with the same month, subscription, product and charge type add up.
        sql = f"""
            INSERT INTO {MRR_LINE} (month, subscription_id, product, quantity, mrr, charge_type)
            SELECT st.month, sub.id, st.product, SUM(st.quantity), SUM(st.mrr_cents), st.charge_type
            FROM {stage.name} st JOIN {SUBSCRIPTION} sub ON sub.external_id = st.subscription_ext
            GROUP BY st.month, sub.id, st.product, st.charge_type"""
        ordered_months = sorted(months)
        counts = {"lines_stored": 0, "subscriptions_created": 0}
        if ordered_months:
            counts = replace_months(
                lambda: create_subscriptions(stage), ordered_months, insert_lines(sql), import_run_id
            )
    return Outcome(csv_file.rows_read, ordered_months, counts)
