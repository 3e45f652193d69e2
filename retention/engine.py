"""The retention engine: dollar-weighted gross and net retention, computed in the database.

For a month M at a level, the customers are the level's entities with MRR > 0
in M-12. Each gets A = MRR in M-12, B = MRR in M and C = min(A, B); gross
retention is sum(C) / sum(A) and net retention sum(B) / sum(A). True-up lines
count in MRR. Entities are grouped through the hierarchy as stored now, so a
moved account restates every month.
"""

import datetime
import logging
import time
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from common.money import percentage
from common.months import add_months, month_range, parse_month

from . import engine_workers
from .audit import record_recompute
from .engine_sql import (
    REASON_TOTALS_SQL,
    SEGMENT_TOTALS_SQL,
    TAM_TOTALS_SQL,
    customer_statements,
    fill_pairs,
    pairs_statement,
    sum_function_name,
    work_tables,
)
from .locks import report_lock
from .models import (
    CustomerBlock,
    Level,
    PendingRecompute,
    ReasonTotal,
    RetentionCustomer,
    RetentionResult,
    SegmentKey,
    TamTotal,
    UnlistedCustomerRange,
)
from .span import data_span

logger = logging.getLogger(__name__)

# The tables a recomputation replaces for the months it computes, besides the customer rows.
_TOTAL_MODELS = (CustomerBlock, TamTotal, RetentionResult, ReasonTotal)

# Months per statement for the totals, to keep the parameter list short.
_TOTALS_BATCH = 60

# Id ranges per DELETE of customer rows. SQLite parses ranges joined by OR
# as a tree one level deeper per range and rejects trees deeper than 1,000.
_RANGES_BATCH = 300


def recompute_pending() -> int:
    """Recompute the months of every pending record and remove the records, in one transaction.

    Returns how many months were computed. A run that dies leaves the records,
    so the next run does the work again.
    """
    use_workers = _workers_read_same_data()
    with report_lock():
        pending = list(PendingRecompute.objects.select_for_update().order_by("pk"))
        if not pending:
            return 0
        if any(record.months is None for record in pending):
            months = None
        else:
            months = sorted({parse_month(text) for record in pending for text in record.months})
        count = _recompute_holding_lock(months, use_workers)
        PendingRecompute.objects.filter(pk__in=[record.pk for record in pending]).delete()
    return count


def recompute_retention(months: list[datetime.date] | None = None) -> int:
    """Replace the stored results of `months` (the whole data span when None) and return how many months were computed.

    Months outside the data span lose their stored results. Months inside the
    span that have no stored result yet are computed too, so a span that grew
    is filled in. The whole run holds the report lock and is one transaction,
    so readers never see a mix of two runs.
    """
    use_workers = _workers_read_same_data()
    with report_lock():
        return _recompute_holding_lock(months, use_workers)


def _workers_read_same_data() -> bool:
    """Return whether worker connections would read the same data as this one.

    Workers read committed data only. A run inside a transaction that the
    caller opened may follow writes of that transaction, which they could not
    see, so such a run computes every month on this connection.
    """
    return connection.vendor == "postgresql" and not connection.in_atomic_block and engine_workers.WORKERS > 1


def _recompute_holding_lock(months: list[datetime.date] | None, use_workers: bool) -> int:
    started = time.monotonic()
    _delete_unlisted_customers()
    span = data_span()
    if span is None:
        for model in (RetentionCustomer, *_TOTAL_MODELS):
            model.objects.all().delete()
        return 0
    first, last = span.first, span.last
    # Every run writes a month's results, customers and reason totals
    # together, so the small results table lists the months to remove.
    outside = Q(month__lt=first) | Q(month__gt=last)
    stale = sorted(set(RetentionResult.objects.filter(outside).values_list("month", flat=True)))
    if stale:
        _delete_results(stale)

    span_months = set(month_range(first, last))
    if months is None:
        targets = span_months
    else:
        stored = set(RetentionResult.objects.values_list("month", flat=True).distinct())
        targets = (set(months) & span_months) | (span_months - stored)

    _compute(sorted(targets), timezone.now(), use_workers)
    record_recompute(sorted(targets), span, time.monotonic() - started)
    logger.info(
        "Recomputed retention for %d months (%s to %s) in %.2f s",
        len(targets),
        min(targets) if targets else "-",
        max(targets) if targets else "-",
        time.monotonic() - started,
    )
    return len(targets)


def _compute(months: list[datetime.date], computed_at: datetime.datetime, use_workers: bool) -> None:
    """Replace the stored customers, reason totals and results of `months`."""
    if not months:
        return
    baselines = {month: add_months(month, -12) for month in months}
    with connection.cursor() as cursor:
        with_lines = _months_with_lines(cursor, sorted(set(baselines.values())))
    # Without lines in M-12 no customer is in the cohort at any level, and the month's results are zeros.
    with_cohort = [month for month in months if baselines[month] in with_lines]
    # PostgreSQL exports the snapshot that workers read only from a transaction, not from a savepoint.
    if use_workers and with_cohort and not connection.savepoint_ids:
        # This connection deletes the old results while the workers compute the new ones.
        blocks = engine_workers.compute_on_workers(with_cohort, lambda: _delete_results(months))
    else:
        _delete_results(months)
        blocks = _compute_here(with_cohort)
    CustomerBlock.objects.bulk_create(blocks)

    results = []
    with connection.cursor() as cursor:
        for start in range(0, len(months), _TOTALS_BATCH):
            batch = months[start : start + _TOTALS_BATCH]
            placeholders = ", ".join(["%s"] * len(batch))
            cursor.execute(REASON_TOTALS_SQL.format(months=placeholders), batch * 2)
            cursor.execute(SEGMENT_TOTALS_SQL.format(months=placeholders), batch)
            totals: dict[tuple, dict] = {}
            for month, level, segment, *counts in cursor.fetchall():
                totals.setdefault((month, level), {})[segment] = counts
            for month in batch:
                for level in Level:
                    results.extend(_result_rows(month, level, totals.get((month, level.value), {}), computed_at))
    RetentionResult.objects.bulk_create(results)


def _compute_here(months: list[datetime.date]) -> list[CustomerBlock]:
    """Store the customers and owner totals of `months` on this connection and return their blocks."""
    many_months = len(months) > 1
    # Statistics on the work tables cost more than they save in a run of one month.
    analyze = connection.vendor == "postgresql" and many_months
    customer_sql = customer_statements(explicit_ids=False)
    tam_totals_sql = TAM_TOTALS_SQL.format(sum=sum_function_name())
    pairs_sql = pairs_statement(keys_table=many_months)
    blocks = []
    with connection.cursor() as cursor, work_tables(cursor, keys_table=many_months, analyze=analyze):
        last_id = _last_customer_id(cursor)
        for index, month in enumerate(months):
            fill_pairs(cursor, pairs_sql, month, analyze=analyze and index == 0)
            for level in Level:
                cursor.execute(customer_sql[level], [month, level.value])
                previous_last_id, last_id = last_id, _last_customer_id(cursor)
                if last_id > previous_last_id:
                    block = CustomerBlock(month=month, level=level, first_id=previous_last_id + 1, last_id=last_id)
                    blocks.append(block)
                    cursor.execute(tam_totals_sql, [block.first_id, block.last_id])
    return blocks


def _delete_unlisted_customers() -> None:
    """Delete the customer rows of runs that failed after their workers committed, and their ranges."""
    # Only the ranges read here are deleted, so a range committed meanwhile keeps its rows until the next run.
    found = list(UnlistedCustomerRange.objects.values_list("pk", "first_id", "last_id"))
    ranges = [Q(pk__range=(first_id, last_id)) for _, first_id, last_id in found]
    for start in range(0, len(ranges), _RANGES_BATCH):
        condition = Q()
        for id_range in ranges[start : start + _RANGES_BATCH]:
            condition |= id_range
        RetentionCustomer.objects.filter(condition).delete()
    if found:
        UnlistedCustomerRange.objects.filter(pk__in=[pk for pk, _, _ in found]).delete()


def _delete_results(months: list[datetime.date]) -> None:
    """Delete the customer rows, their id ranges and the totals of `months`."""
    blocks = list(CustomerBlock.objects.filter(month__in=months).values_list("first_id", "last_id"))
    for start in range(0, len(blocks), _RANGES_BATCH):
        ranges = Q()
        for first_id, last_id in blocks[start : start + _RANGES_BATCH]:
            ranges |= Q(pk__range=(first_id, last_id))
        RetentionCustomer.objects.filter(ranges, month__in=months).delete()
    for model in _TOTAL_MODELS:
        model.objects.filter(month__in=months).delete()


def _last_customer_id(cursor) -> int:
    """Return the highest id of the customer rows, or 0 when there are none."""
    cursor.execute("SELECT COALESCE(MAX(id), 0) FROM retention_retentioncustomer")
    return cursor.fetchone()[0]


# One test per month, so that PostgreSQL reads one partition's index for each.
_MONTH_HAS_LINES_SQL = "SELECT %s WHERE EXISTS (SELECT 1 FROM retention_mrrline WHERE month = %s)"


def _months_with_lines(cursor, months: list[datetime.date]) -> set[datetime.date]:
    """Return the months among `months` that have lines."""
    found = set()
    for start in range(0, len(months), _TOTALS_BATCH):
        batch = months[start : start + _TOTALS_BATCH]
        cursor.execute(
            " UNION ALL ".join([_MONTH_HAS_LINES_SQL] * len(batch)), [m for month in batch for m in (month, month)]
        )
        # SQLite returns the dates of a raw query as ISO text.
        found |= {
            month if isinstance(month, datetime.date) else datetime.date.fromisoformat(month)
            for (month,) in cursor.fetchall()
        }
    return found


def _result_rows(month, level, totals, computed_at):
    """Build one result per segment key, and one over all segments, from per-segment sums in cents."""
    everything = [sum(column) for column in zip(*totals.values(), strict=True)] or [0] * 6
    rows = []
    for segment in SegmentKey:
        counts = everything if segment == SegmentKey.ALL else totals.get(segment.value, (0,) * 6)
        rows.append(build_result(month, level, segment, *counts, computed_at=computed_at))
    return rows


def build_result(
    month,
    level,
    segment,
    customers,
    a_cents,
    b_cents,
    c_cents,
    recurring_a_cents=0,
    recurring_b_cents=0,
    computed_at=None,
) -> RetentionResult:
    """Make an unsaved result from a customer count and sums in cents."""
    result = RetentionResult(
        month=month,
        level=level,
        segment=segment,
        customers=customers,
        computed_at=computed_at or timezone.now(),
    )
    result.a = Decimal(int(a_cents)).scaleb(-2)
    result.b = Decimal(int(b_cents)).scaleb(-2)
    result.c = Decimal(int(c_cents)).scaleb(-2)
    result.recurring_a = Decimal(int(recurring_a_cents)).scaleb(-2)
    result.recurring_b = Decimal(int(recurring_b_cents)).scaleb(-2)
    result.gross_pct = percentage(result.c, result.a)
    result.net_pct = percentage(result.b, result.a)
    return result
