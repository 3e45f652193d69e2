"""Checks and the final write shared by the two imports that produce MRR lines.

Both stage their rows with the columns `line`, `account_ext` and
`subscription_ext`. Accounts are never created here: an account id must
already exist, exactly as written.
"""

import datetime
import itertools
import logging
from collections.abc import Callable, Sequence

from django.db import connection

from accounts.models import Account, Subscription
from common.csvimport import ErrorCollector, RowError
from common.months import LAST_YEAR, add_months, format_month, month_range
from common.queries import VALUES_PER_QUERY
from retention import partitions
from retention.locks import report_lock
from retention.models import CoveredMonth, MrrLine
from retention.services import mark_import_stored, schedule_recompute

from .staging import StagingTable

logger = logging.getLogger(__name__)

ACCOUNT = Account._meta.db_table
SUBSCRIPTION = Subscription._meta.db_table
MRR_LINE = MrrLine._meta.db_table
# Temporary table of the (month, subscription) pairs that the replaced months held before an import.
REPLACED_KEYS = "tamarind_replaced_keys"
# Replaced months that held at most this many lines are compared subscription by subscription after the
# import. On PostgreSQL at 20,000 parent accounts, comparing a whole history of 1.1 million lines took
# 3.8 s beside an import of 2.3 s, so larger imports compare line counts only.
COMPARED_LINES_MAX = 200_000


def check_accounts_and_subscriptions(stage: StagingTable, errors: ErrorCollector) -> None:
    """Reject rows with an unknown account and rows whose subscription belongs to another account."""
    unknown = f"""
        SELECT s.line, s.account_ext FROM {stage.name} s
        WHERE s.account_ext IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {ACCOUNT} a WHERE a.external_id = s.account_ext)"""
    errors.add_counted(
        *stage.fetch_errors(
            unknown,
            [],
            lambda row: RowError(
                row[0], "account_id", row[1], "unknown account; import it with the accounts file first"
            ),
        )
    )

    owned_elsewhere = f"""
        SELECT s.line, s.subscription_ext, s.account_ext, a.external_id FROM {stage.name} s
        JOIN {SUBSCRIPTION} sub ON sub.external_id = s.subscription_ext
        JOIN {ACCOUNT} a ON a.id = sub.account_id
        WHERE a.external_id <> s.account_ext"""
    errors.add_counted(
        *stage.fetch_errors(
            owned_elsewhere,
            [],
            lambda row: RowError(
                row[0], "subscription_id", row[1], f"subscription {row[1]} belongs to account {row[3]}, not {row[2]}"
            ),
        )
    )

    # A subscription new to the database takes the account of its first row in the file.
    conflicting_in_file = f"""
        SELECT s.line, s.subscription_ext, s.account_ext, f.account_ext, f.line FROM {stage.name} s
        JOIN (SELECT subscription_ext, MIN(line) AS line FROM {stage.name} GROUP BY subscription_ext) first_row
          ON first_row.subscription_ext = s.subscription_ext
        JOIN {stage.name} f ON f.line = first_row.line
        WHERE s.account_ext <> f.account_ext
          AND NOT EXISTS (SELECT 1 FROM {SUBSCRIPTION} sub WHERE sub.external_id = s.subscription_ext)"""
    errors.add_counted(
        *stage.fetch_errors(
            conflicting_in_file,
            [],
            lambda row: RowError(
                row[0],
                "subscription_id",
                row[1],
                f"subscription {row[1]} belongs to account {row[3]} (line {row[4]}), not {row[2]}",
            ),
        )
    )


def create_subscriptions(stage: StagingTable) -> int:
    """Create the subscriptions that are new to the database under their account; return how many.

    `stage` is any table with the columns subscription_ext and account_ext.
    The sort reads every new subscription before the first insert. Without it,
    a nested-loop plan chosen from the statistics of an empty table rescans the
    rows this statement adds once per row, which took 18 s for 62,248
    subscriptions on a fresh database.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {SUBSCRIPTION} (external_id, account_id)
            SELECT s.subscription_ext, a.id
            FROM (SELECT subscription_ext, MIN(account_ext) AS account_ext FROM {stage.name}
                  GROUP BY subscription_ext) s
            JOIN {ACCOUNT} a ON a.external_id = s.account_ext
            WHERE NOT EXISTS (SELECT 1 FROM {SUBSCRIPTION} sub WHERE sub.external_id = s.subscription_ext)
            ORDER BY s.subscription_ext"""
        )
        return max(cursor.rowcount, 0)


def insert_lines(sql: str, params: Sequence = ()) -> Callable[[], int]:
    """Return a `write_lines` for `replace_months` that runs one INSERT ... SELECT into the MRR line table."""

    def write() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return max(cursor.rowcount, 0)

    return write


def replace_months(
    new_subscriptions: Callable[[], int],
    months: list[datetime.date],
    write_lines: Callable[[], int],
    import_run_id: int | None,
    details: dict | None = None,
    *,
    into_partitions: bool = True,
) -> dict:
    """Replace every MRR line of `months` with the lines that `write_lines` stores.

    `new_subscriptions` creates the subscriptions new to the database and
    returns how many. `write_lines` stores the new lines and returns how many:
    with `into_partitions`, into empty month partitions made for it;
    without, it attaches partitions of its own. The months become covered
    months, and a recomputation of each month and of the month twelve months
    later is queued for when the transaction commits. The same transaction
    marks the import done and records its audit event, with the counts and
    `details`. Return the counts for the summary.
    """
    with report_lock():
        subscriptions_created = new_subscriptions()
        compared = _record_replaced_keys(months)
        deleted = partitions.remove_lines(months)
        if into_partitions:
            partitions.add_partitions(months)
        lines_stored = write_lines()
        subscriptions_dropped = _count_dropped_subscriptions() if compared else None
        CoveredMonth.objects.filter(month__in=months).delete()
        CoveredMonth.objects.bulk_create(CoveredMonth(month=month, import_run_id=import_run_id) for month in months)
        # No line can fall after LAST_YEAR, and the recomputation rejects such a month.
        later = {add_months(month, 12) for month in months}
        schedule_recompute(sorted(set(months) | {month for month in later if month.year <= LAST_YEAR}), import_run_id)
        counts = {
            "lines_stored": lines_stored,
            "lines_deleted": deleted,
            "subscriptions_dropped": subscriptions_dropped,
            "subscriptions_created": subscriptions_created,
        }
        months_replaced = [format_month(month) for month in months]
        mark_import_stored(import_run_id, {**counts, "months_replaced": months_replaced, **(details or {})})
    logger.info(
        "import run %s replaced %d months: deleted %d lines, stored %d, created %d subscriptions",
        import_run_id,
        len(months),
        deleted,
        lines_stored,
        subscriptions_created,
    )
    return counts


def _record_replaced_keys(months: list[datetime.date]) -> bool:
    """Copy the month and subscription of every stored line of `months` into a temporary table.

    Return False, and copy nothing, when the months hold more than COMPARED_LINES_MAX lines.
    """
    with connection.cursor() as cursor:
        stored_lines = 0
        for chunk in itertools.batched(months, VALUES_PER_QUERY):
            placeholders = ", ".join(["%s"] * len(chunk))
            # The count stops one line past the limit, so it costs little on a large history.
            cursor.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {MRR_LINE} WHERE month IN ({placeholders}) LIMIT %s) stored",
                [*chunk, COMPARED_LINES_MAX + 1 - stored_lines],
            )
            stored_lines += cursor.fetchone()[0]
            if stored_lines > COMPARED_LINES_MAX:
                return False
        cursor.execute(f"DROP TABLE IF EXISTS {REPLACED_KEYS}")
        cursor.execute(f"CREATE TEMPORARY TABLE {REPLACED_KEYS} (month date, subscription_id bigint)")
        for chunk in itertools.batched(months, VALUES_PER_QUERY):
            placeholders = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {REPLACED_KEYS} (month, subscription_id) "
                f"SELECT DISTINCT month, subscription_id FROM {MRR_LINE} WHERE month IN ({placeholders})",
                chunk,
            )
    return True


def _count_dropped_subscriptions() -> int:
    """Return how many subscriptions of `_record_replaced_keys` now have no line in a month where they had one."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT COUNT(DISTINCT k.subscription_id) FROM {REPLACED_KEYS} k
            WHERE NOT EXISTS (
                SELECT 1 FROM {MRR_LINE} l WHERE l.month = k.month AND l.subscription_id = k.subscription_id
            )"""
        )
        dropped = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {REPLACED_KEYS}")
    return dropped


def uncovered_months() -> list[str]:
    """Return the months between the first and the last covered month that no import covered, as YYYY-MM."""
    covered = list(CoveredMonth.objects.order_by("month").values_list("month", flat=True))
    if not covered:
        return []
    present = set(covered)
    return [format_month(month) for month in month_range(covered[0], covered[-1]) if month not in present]


def removed_lines_warning(lines_deleted: int, lines_stored: int, subscriptions_dropped: int | None) -> str | None:
    """Return a warning when a subscription had lines in a replaced month before the import and has none now.

    Every replaced month loses all of its stored lines, so a file that lists
    only some customers removes the lines of every other customer in its
    months. Line counts alone miss that when the file has as many lines as
    the months held, so the subscriptions are compared. When they were not
    (None, see COMPARED_LINES_MAX), fewer lines than before give the warning.
    """
    if subscriptions_dropped is None:
        if lines_deleted <= lines_stored:
            return None
        dropped = ""
    elif not subscriptions_dropped:
        return None
    else:
        dropped = f"{subscriptions_dropped} subscription(s) had lines in a replaced month and have none in it now. "
    return (
        f"The replaced months held {lines_deleted} MRR line(s) before this import and hold {lines_stored} now. "
        f"{dropped}"
        "An import replaces whole months, so the customers that this file leaves out have no MRR in those months. "
        "If the file was meant to correct some customers only, import a file with every customer of those months."
    )


def uncovered_warning(months: list[str]) -> str | None:
    if not months:
        return None
    shown = ", ".join(months[:24]) + (f" and {len(months) - 24} more" if len(months) > 24 else "")
    return (
        f"{len(months)} month(s) inside the data span are not covered by any import and count as no MRR: {shown}. "
        "Import those months to fill the gap."
    )
