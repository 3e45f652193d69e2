"""The retention engine: dollar-weighted gross and net retention, computed in the database.

For a month M at a level, the customers are the level's entities with MRR > 0
in M-12. Each gets A = MRR in M-12, B = MRR in M and C = min(A, B); gross
retention is sum(C) / sum(A) and net retention sum(B) / sum(A). True-up lines
count in MRR. Entities are grouped through the hierarchy as stored now, so a
moved account restates every month.
"""

import contextlib
import dataclasses
import datetime
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone
from psycopg import IsolationLevel, sql

from common.money import percentage
from common.months import add_months, month_range, parse_month

from .audit import record_recompute
from .importing.staging import drop_temporary_table_sql
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

# The work tables of one recomputation, created in its transaction and dropped at its end.
# Each subscription's account and ultimate parent, with the owning TAM of
# both and the segment of the ultimate parent:
_KEYS_TABLE = "tamarind_work_keys"
# One month's pairs: per subscription and product, MRR in M-12 (a) and M (b),
# recurring MRR (ra, rb) and recurring seats (sa, sb):
_PAIRS_TABLE = "tamarind_work_pairs"

# The tables a recomputation replaces for the months it computes, besides the customer rows.
_TOTAL_MODELS = (CustomerBlock, TamTotal, RetentionResult, ReasonTotal)

# The query of the work table of keys.
_KEYS_SQL = """
SELECT sub.id AS subscription_id, acc.id AS account_id, top.id AS parent_id,
       acc.tam_id AS account_tam_id, top.tam_id AS parent_tam_id,
       CASE WHEN top.segment = '' THEN 'none' ELSE top.segment END AS segment
FROM accounts_subscription sub
JOIN accounts_account acc ON acc.id = sub.account_id
JOIN accounts_account top ON top.id = COALESCE(acc.ultimate_parent_id, acc.id)"""

_WORK_TABLES = {
    _KEYS_TABLE: f"CREATE TEMPORARY TABLE {_KEYS_TABLE} AS {_KEYS_SQL}",
    _PAIRS_TABLE: f"""
        CREATE TEMPORARY TABLE {_PAIRS_TABLE} (
            subscription_id bigint, account_id bigint, parent_id bigint,
            account_tam_id bigint, parent_tam_id bigint, segment varchar(12), product varchar(100),
            a bigint, b bigint, ra bigint, rb bigint, sa bigint, sb bigint
        )""",
}

# A pair's sums of the lines of M-12 (a, ra, sa) and M (b, rb, sb), whose parameters are
# M-12, M, M-12, M, M-12, M. {sum} adds up 64-bit integers (see _sum_function).
_PAIR_SUMS = """COALESCE({sum}(line.mrr) FILTER (WHERE line.month = %s), 0) AS a,
    COALESCE({sum}(line.mrr) FILTER (WHERE line.month = %s), 0) AS b,
    COALESCE({sum}(line.mrr) FILTER (WHERE line.month = %s AND line.charge_type = 'recurring'), 0) AS ra,
    COALESCE({sum}(line.mrr) FILTER (WHERE line.month = %s AND line.charge_type = 'recurring'), 0) AS rb,
    COALESCE({sum}(line.quantity) FILTER (WHERE line.month = %s AND line.charge_type = 'recurring'), 0) AS sa,
    COALESCE({sum}(line.quantity) FILTER (WHERE line.month = %s AND line.charge_type = 'recurring'), 0) AS sb"""

# The lines of M-12 and M, summed per subscription and product, with the
# subscription's keys. Every level adds up these rows, so the lines are read
# once per month. {keys} is the work table of keys, or its query in a run of
# one month, which reads the keys once. {sum} adds up 64-bit integers (see
# _sum_function).
_PAIRS_SQL = f"""
INSERT INTO {_PAIRS_TABLE} (
    subscription_id, account_id, parent_id, account_tam_id, parent_tam_id, segment, product, a, b, ra, rb, sa, sb
)
SELECT per_product.subscription_id, k.account_id, k.parent_id, k.account_tam_id, k.parent_tam_id, k.segment,
       per_product.product, per_product.a, per_product.b, per_product.ra, per_product.rb,
       per_product.sa, per_product.sb
FROM (
    SELECT line.subscription_id, line.product,
           {_PAIR_SUMS}
    FROM retention_mrrline line
    WHERE line.month IN (%s, %s)
    GROUP BY line.subscription_id, line.product
) per_product
JOIN {{keys}} k ON k.subscription_id = per_product.subscription_id
"""

# The pairs of the subscriptions whose ultimate parent id lies in a range, for a unit that computes
# part of a month. The lines are joined to the keys of the range before they are summed, so that
# each unit sums only its own lines.
_PART_PAIRS_SQL = f"""
INSERT INTO {_PAIRS_TABLE} (
    subscription_id, account_id, parent_id, account_tam_id, parent_tam_id, segment, product, a, b, ra, rb, sa, sb
)
SELECT line.subscription_id, k.account_id, k.parent_id, k.account_tam_id, k.parent_tam_id, k.segment, line.product,
       {_PAIR_SUMS}
FROM retention_mrrline line
JOIN ({_KEYS_SQL} WHERE COALESCE(acc.ultimate_parent_id, acc.id) BETWEEN %s AND %s) k
  ON k.subscription_id = line.subscription_id
WHERE line.month IN (%s, %s)
GROUP BY line.subscription_id, line.product, k.account_id, k.parent_id, k.account_tam_id, k.parent_tam_id, k.segment
"""

# The pairs of each level's customer, per product: the customer's account,
# its subscription or NULL, its owning TAM and segment.
_PER_PRODUCT_SUMS = "{sum}(a) AS a, {sum}(b) AS b, {sum}(ra) AS ra, {sum}(rb) AS rb, {sum}(sa) AS sa, {sum}(sb) AS sb"
_LEVEL_PAIRS = {
    Level.PARENT: f"""
        SELECT parent_id AS account_id, CAST(NULL AS BIGINT) AS subscription_id,
               MIN(parent_tam_id) AS tam_id, MIN(segment) AS segment, product, {_PER_PRODUCT_SUMS}
        FROM {_PAIRS_TABLE} GROUP BY parent_id, product""",
    Level.ACCOUNT: f"""
        SELECT account_id, CAST(NULL AS BIGINT) AS subscription_id,
               MIN(account_tam_id) AS tam_id, MIN(segment) AS segment, product, {_PER_PRODUCT_SUMS}
        FROM {_PAIRS_TABLE} GROUP BY account_id, product""",
    Level.SUBSCRIPTION: f"""
        SELECT account_id, subscription_id, account_tam_id AS tam_id, segment, product, a, b, ra, rb, sa, sb
        FROM {_PAIRS_TABLE}""",
}

# One INSERT ... SELECT per month and level, from that month's pairs. The
# inner query sums a customer's products, with the recurring MRR, seats and
# product sets that decide the reason. Only customers with A > 0 are kept. The
# segment and owning TAM come from the work table of keys. Reasons follow
# this order of tests:
#   recurring B = A        no reason
#   recurring B = 0        Cancellation, amount A
#   recurring B < A        Downgrade, amount A - B (a negative B too)
#   same product set       Seat Expansion with more seats, else Discount/Price Change
#   other products         Product Change with the same seats, else the mix
# Two product sets are the same when both have as many products as they share.
_CUSTOMER_SQL = """
INSERT INTO retention_retentioncustomer (
    {id_column}month, level, account_id, subscription_id, segment, tam_id, a, b, c,
    recurring_a, recurring_b, seats_a, seats_b, reason, reason_amount
)
SELECT {id_value}%s, %s, totals.account_id, totals.subscription_id, totals.segment, totals.tam_id,
       totals.a, totals.b,
       CASE WHEN totals.b < totals.a THEN totals.b ELSE totals.a END,
       totals.ra, totals.rb, totals.seats_a, totals.seats_b,
       CASE
           WHEN totals.rb = totals.ra THEN ''
           WHEN totals.rb = 0 THEN 'cancellation'
           WHEN totals.rb < totals.ra THEN 'downgrade'
           WHEN totals.count_a = totals.count_b AND totals.count_a = totals.count_both THEN
               CASE WHEN totals.seats_b > totals.seats_a THEN 'seat_expansion' ELSE 'price_change' END
           WHEN totals.seats_b = totals.seats_a THEN 'product_change'
           ELSE 'product_seat_mix'
       END,
       CASE
           WHEN totals.rb = 0 THEN totals.ra
           WHEN totals.rb < totals.ra THEN totals.ra - totals.rb
           ELSE totals.rb - totals.ra
       END
FROM (
    SELECT account_id, subscription_id, MIN(tam_id) AS tam_id, MIN(segment) AS segment,
           {sum}(a) AS a, {sum}(b) AS b, {sum}(ra) AS ra, {sum}(rb) AS rb, {sum}(sa) AS seats_a, {sum}(sb) AS seats_b,
           COUNT(*) FILTER (WHERE ra > 0) AS count_a,
           COUNT(*) FILTER (WHERE rb > 0) AS count_b,
           COUNT(*) FILTER (WHERE ra > 0 AND rb > 0) AS count_both
    FROM ({level_pairs}) per_product
    GROUP BY account_id, subscription_id
    HAVING {sum}(a) > 0
) totals
"""

# The customer rows of one month and level, read through their range of ids,
# added up per segment, owning TAM and reason. The reason and segment totals
# below add up these few rows.
_TAM_TOTALS_SELECT = """
SELECT month, level, segment, tam_id, reason, COUNT(*), {sum}(a), {sum}(b), {sum}(c),
       {sum}(recurring_a), {sum}(recurring_b), {sum}(reason_amount)
FROM retention_retentioncustomer
WHERE id BETWEEN %s AND %s
GROUP BY month, level, segment, tam_id, reason
"""
_TAM_TOTAL_COLUMNS = (
    "month, level, segment, tam_id, reason, customers, a, b, c, recurring_a, recurring_b, reason_amount"
)
_TAM_TOTALS_SQL = f"INSERT INTO retention_tamtotal ({_TAM_TOTAL_COLUMNS}) {_TAM_TOTALS_SELECT}"

# Reason totals per segment, then over all segments, of the given months.
_REASON_TOTALS_SQL = """
INSERT INTO retention_reasontotal (month, level, segment, reason, customers, amount)
SELECT month, level, segment, reason, SUM(customers), SUM(reason_amount)
FROM retention_tamtotal
WHERE month IN ({months}) AND reason <> ''
GROUP BY month, level, segment, reason
UNION ALL
SELECT month, level, 'all', reason, SUM(customers), SUM(reason_amount)
FROM retention_tamtotal
WHERE month IN ({months}) AND reason <> ''
GROUP BY month, level, reason
"""

# Per-segment sums of the given months.
_SEGMENT_TOTALS_SQL = """
SELECT month, level, segment, SUM(customers), SUM(a), SUM(b), SUM(c), SUM(recurring_a), SUM(recurring_b)
FROM retention_tamtotal
WHERE month IN ({months})
GROUP BY month, level, segment
"""

# The settings of a recomputation's transaction on PostgreSQL; see _work_tables.
_POSTGRESQL_SETTINGS = ("SET LOCAL work_mem = '64MB'", "SET LOCAL jit = off")

# Connections that compute the months of a run side by side on PostgreSQL.
WORKERS = min(os.cpu_count() or 1, 4)

# Limits on each statement of a worker and on each of its waits for a lock. A worker that reaches one
# fails, so the run fails and its task retries, instead of waiting without end. At 50,000 parent
# accounts a full recompute of 24 months on two workers took 20 to 27 s, about 2 s a month.
WORKER_STATEMENT_TIMEOUT = "5min"
WORKER_LOCK_TIMEOUT = "1min"

# Arbitrary constant key of the advisory lock under which a worker takes a range of customer ids.
_CUSTOMER_IDS_LOCK_KEY = 7_302_913

# The bounds of a bigint, which ranges of parent ids start and end with.
_BIGINT_MIN = -(2**63)
_BIGINT_MAX = 2**63 - 1

# Months per statement for the totals, to keep the parameter list short.
_TOTALS_BATCH = 60

# Id ranges per DELETE of customer rows. SQLite parses ranges joined by OR
# as a tree one level deeper per range and rejects trees deeper than 1,000.
_RANGES_BATCH = 300


def _sum_function() -> str:
    """Return the aggregate that adds up 64-bit integers.

    PostgreSQL's SUM of bigint returns numeric, and numeric arithmetic is slow.
    tamarind_sum, created by a migration, keeps a bigint and raises an error on
    overflow. SQLite's SUM of integers already returns an integer.
    """
    return "tamarind_sum" if connection.vendor == "postgresql" else "SUM"


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
    return connection.vendor == "postgresql" and not connection.in_atomic_block and WORKERS > 1


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
        blocks = _compute_on_workers(with_cohort, lambda: _delete_results(months))
    else:
        _delete_results(months)
        blocks = _compute_here(with_cohort)
    CustomerBlock.objects.bulk_create(blocks)

    results = []
    with connection.cursor() as cursor:
        for start in range(0, len(months), _TOTALS_BATCH):
            batch = months[start : start + _TOTALS_BATCH]
            placeholders = ", ".join(["%s"] * len(batch))
            cursor.execute(_REASON_TOTALS_SQL.format(months=placeholders), batch * 2)
            cursor.execute(_SEGMENT_TOTALS_SQL.format(months=placeholders), batch)
            totals: dict[tuple, dict] = {}
            for month, level, segment, *counts in cursor.fetchall():
                totals.setdefault((month, level), {})[segment] = counts
            for month in batch:
                for level in Level:
                    results.extend(_result_rows(month, level, totals.get((month, level.value), {}), computed_at))
    RetentionResult.objects.bulk_create(results)


def _customer_sql(*, explicit_ids: bool) -> dict[Level, str]:
    """Return each level's statement that stores the customers of a month from the work table of pairs.

    With `explicit_ids` the statement takes the id before the first row's as
    its first parameter and numbers the rows from there.
    """
    sum_function = _sum_function()
    return {
        level: _CUSTOMER_SQL.format(
            level_pairs=_LEVEL_PAIRS[level].format(sum=sum_function),
            sum=sum_function,
            id_column="id, " if explicit_ids else "",
            id_value="%s + row_number() OVER (), " if explicit_ids else "",
        )
        for level in Level
    }


def _compute_here(months: list[datetime.date]) -> list[CustomerBlock]:
    """Store the customers and owner totals of `months` on this connection and return their blocks."""
    many_months = len(months) > 1
    # Statistics on the work tables cost more than they save in a run of one month.
    analyze = connection.vendor == "postgresql" and many_months
    customer_sql = _customer_sql(explicit_ids=False)
    tam_totals_sql = _TAM_TOTALS_SQL.format(sum=_sum_function())
    pairs_sql = _pairs_sql(keys_table=many_months)
    blocks = []
    with connection.cursor() as cursor, _work_tables(cursor, keys_table=many_months, analyze=analyze):
        last_id = _last_customer_id(cursor)
        for index, month in enumerate(months):
            _fill_pairs(cursor, pairs_sql, month, analyze=analyze and index == 0)
            for level in Level:
                cursor.execute(customer_sql[level], [month, level.value])
                previous_last_id, last_id = last_id, _last_customer_id(cursor)
                if last_id > previous_last_id:
                    block = CustomerBlock(month=month, level=level, first_id=previous_last_id + 1, last_id=last_id)
                    blocks.append(block)
                    cursor.execute(tam_totals_sql, [block.first_id, block.last_id])
    return blocks


def _pairs_sql(*, keys_table: bool) -> str:
    """Return the statement that fills the work table of pairs, reading the keys from their work table or not."""
    return _PAIRS_SQL.format(sum=_sum_function(), keys=_KEYS_TABLE if keys_table else f"({_KEYS_SQL})")


def _fill_pairs(
    cursor, pairs_sql: str, month: datetime.date, *, analyze: bool, parents: tuple[int, int] | None = None
) -> int:
    """Replace the work table of pairs with those of `month` and return how many there are.

    With `parents`, `pairs_sql` is `_PART_PAIRS_SQL`, and the pairs are those of the
    ultimate parents in that range of ids.
    """
    baseline = add_months(month, -12)
    cursor.execute(f"{'TRUNCATE' if connection.vendor == 'postgresql' else 'DELETE FROM'} {_PAIRS_TABLE}")
    if parents is None:
        cursor.execute(pairs_sql, [baseline, month, baseline, month, baseline, month, baseline, month])
    else:
        cursor.execute(pairs_sql, [baseline, month, baseline, month, baseline, month, *parents, baseline, month])
    count = cursor.rowcount
    if analyze:
        # Statistics let the planner size the hash tables of the level
        # statements. Months have pairs of a similar size, so the first
        # month's statistics serve the rest of the run.
        cursor.execute(f"ANALYZE {_PAIRS_TABLE}")
    return count


def _compute_on_workers(months: list[datetime.date], meanwhile: Callable[[], None]) -> list[CustomerBlock]:
    """Store the customers and owner totals of `months` with WORKERS connections and return their blocks.

    Each worker reads the snapshot of this transaction, so every worker reads
    the same lines and accounts, and commits the customer rows it wrote. These
    rows stay out of every page until this transaction commits their blocks:
    pages read customers through blocks only. The owner totals come back to
    this connection, which stores them with the blocks. Each worker records
    its ranges of ids with its rows, so that the next run deletes the rows of
    a run that failed after a worker committed. This connection runs
    `meanwhile` while the workers compute.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
    work: queue.Queue = queue.Queue()
    parameters = connection.get_connection_params()
    outcomes: list[tuple[list[CustomerBlock], list[tuple], BaseException | None]] = []
    failed = threading.Event()
    threads = [
        threading.Thread(
            target=_worker, args=(parameters, snapshot, work, len(months) >= WORKERS, failed, outcomes), daemon=True
        )
        for _ in range(WORKERS)
    ]
    # The workers connect while this connection splits the work.
    for thread in threads:
        thread.start()
    try:
        try:
            for unit in _work_units(months):
                work.put(unit)
        finally:
            for _ in threads:
                work.put(None)
        meanwhile()
    except BaseException:
        # The run fails, so the workers stop and roll back as they do after a worker's failure.
        failed.set()
        raise
    finally:
        for thread in threads:
            thread.join()
    failures = [failure for _, _, failure in outcomes if failure is not None]
    if failures:
        # Workers use raw psycopg connections, so their errors are psycopg's. Raise them as Django's errors,
        # as this connection does, so that the tasks retry a lost connection.
        with connection.wrap_database_errors:
            raise failures[0]
    parts = [block for blocks, _, _ in outcomes for block in blocks]
    # The blocks that list the workers' rows commit with this deletion. Only this run's ranges are deleted,
    # because the workers of a run that lost its own connection may still commit theirs.
    UnlistedCustomerRange.objects.filter(first_id__in=[block.first_id for block in parts]).delete()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY retention_tamtotal ({_TAM_TOTAL_COLUMNS}) FROM STDIN") as copy:
            for row in _add_up_totals(tam_totals for _, tam_totals, _ in outcomes):
                copy.write_row(row)
    return _join_parts(parts)


def _join_parts(parts: list[CustomerBlock]) -> list[CustomerBlock]:
    """Join the blocks of the parts into one block per month and level, spanning their ranges.

    The run reserved the ids between the parts of a month and level, and they hold no rows.
    """
    spans: dict[tuple, tuple[int, int]] = {}
    for part in parts:
        first_id, last_id = spans.get((part.month, part.level), (part.first_id, part.last_id))
        spans[part.month, part.level] = (min(first_id, part.first_id), max(last_id, part.last_id))
    blocks = [
        CustomerBlock(month=month, level=level, first_id=first_id, last_id=last_id)
        for (month, level), (first_id, last_id) in spans.items()
    ]
    return sorted(blocks, key=lambda block: block.first_id)


def _add_up_totals(worker_totals: Iterable[list[tuple]]) -> list[tuple]:
    """Add up the owner totals of all workers per month, level, segment, owner and reason, and return the rows.

    Parts of one month can each have customers of the same owner and reason.
    """
    sums: dict[tuple, list] = {}
    for tam_totals in worker_totals:
        for month, level, segment, tam_id, reason, *figures in tam_totals:
            key = (month, level, segment, tam_id, reason)
            if key in sums:
                sums[key] = [total + figure for total, figure in zip(sums[key], figures, strict=True)]
            else:
                sums[key] = list(figures)
    return [(*key, *figures) for key, figures in sums.items()]


@dataclasses.dataclass(frozen=True)
class _Unit:
    """The work of one worker at a time: the customers of a month at some levels.

    A unit of a whole month computes every level. A unit of part of a month
    computes the customers whose ultimate parent id lies in `parents`, at
    every level, and writes each level's rows from the id after
    `before_first[level]`, which the run reserved.
    """

    month: datetime.date
    levels: tuple[Level, ...] = tuple(Level)
    parents: tuple[int, int] | None = None
    before_first: dict[Level, int] = dataclasses.field(default_factory=dict)


def _work_units(months: list[datetime.date]) -> list[_Unit]:
    """Split the work of `months` into units: whole months, or parts of months when there are fewer months than workers.

    Every customer belongs to one ultimate parent, so parts split by ranges
    of parent ids share no customer at any level. Each part sums only the
    lines of its own parents.
    """
    if len(months) >= WORKERS:
        return [_Unit(month) for month in months]
    with connection.cursor() as cursor:
        ranges = _parent_ranges(cursor, WORKERS)
        # A part has no more customers at a level than the workers see subscriptions. Ids are positive, so
        # the highest id ever taken is at least their number, even when some were deleted since the
        # snapshot that the workers read.
        cursor.execute(
            "SELECT GREATEST(COALESCE(MAX(id), 0), COALESCE(pg_sequence_last_value("
            "pg_get_serial_sequence('accounts_subscription', 'id')::regclass), 0)) FROM accounts_subscription"
        )
        size = max(cursor.fetchone()[0], 1)
        units = []
        for month in months:
            before_first = _take_customer_ids(cursor, size * len(ranges) * len(Level), until_commit=True)
            # The parts of one level take consecutive ranges, so the block that spans them holds that
            # level's rows only.
            for part, parents in enumerate(ranges):
                firsts = {
                    level: before_first + size * (len(ranges) * level_index + part)
                    for level_index, level in enumerate(Level)
                }
                units.append(_Unit(month, parents=parents, before_first=firsts))
    return units


def _parent_ranges(cursor, count: int) -> list[tuple[int, int]]:
    """Return `count` ranges of ultimate parent ids that cover every id, each with about as many accounts.

    A parent's accounts stand in for its subscriptions, because counting
    accounts needs no join: at 5,000 parents it took 5 ms, and counting
    subscriptions took 11 to 13 ms.
    """
    fractions = [index / count for index in range(1, count)]
    cursor.execute(
        "SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY COALESCE(ultimate_parent_id, id))"
        " FROM accounts_account",
        [fractions],
    )
    cuts = sorted(set(cut for cut in (cursor.fetchone()[0] or []) if cut is not None))
    bounds = [_BIGINT_MIN, *cuts, _BIGINT_MAX]
    return [(low if index == 0 else low + 1, high) for index, (low, high) in enumerate(itertools.pairwise(bounds))]


def _worker(
    parameters: dict, snapshot: str, work: queue.Queue, whole_months: bool, failed: threading.Event, outcomes: list
) -> None:
    """Compute units from `work` in a transaction on `snapshot` until it gives None, then commit.

    In a run of `whole_months`, at least one month per worker, the keys go
    to a work table and the work tables get statistics, which pays off over
    many months. Parts of months read the keys of their parents alone.
    """
    blocks: list[CustomerBlock] = []
    tam_totals: list[tuple] = []
    failure = None
    database = None
    try:
        database = connection.get_new_connection(parameters)
        database.isolation_level = IsolationLevel.REPEATABLE_READ
        with database.cursor() as cursor:
            cursor.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(snapshot))
            for statement in _POSTGRESQL_SETTINGS:
                cursor.execute(statement)
            # Each worker has a core of its own, so no statement takes more cores for parallel plans. A
            # worker's commit does not wait for the disk: the run's own commit comes later and waits for the
            # log up to it, and rows of a worker that the run never lists are deleted by the next run.
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true),"
                " set_config('max_parallel_workers_per_gather', '0', true),"
                " set_config('synchronous_commit', 'off', true)",
                [WORKER_STATEMENT_TIMEOUT, WORKER_LOCK_TIMEOUT],
            )
            for name, create_sql in _WORK_TABLES.items():
                if name != _KEYS_TABLE or whole_months:
                    cursor.execute(create_sql)
            if whole_months:
                cursor.execute(f"ANALYZE {_KEYS_TABLE}")
            customer_sql = _customer_sql(explicit_ids=True)
            pairs_sql = _pairs_sql(keys_table=whole_months)
            part_pairs_sql = _PART_PAIRS_SQL.format(sum="tamarind_sum")
            analyze = whole_months
            tam_totals_sql = _TAM_TOTALS_SELECT.format(sum="tamarind_sum")
            # Once a worker has failed, the run fails too, so the others take no further unit.
            while not failed.is_set() and (unit := work.get()) is not None:
                if unit.parents is None:
                    pairs = _fill_pairs(cursor, pairs_sql, unit.month, analyze=analyze)
                    # No level has more customers than pairs.
                    before_first = _take_customer_ids(cursor, pairs * len(unit.levels))
                    firsts = {level: before_first + pairs * index for index, level in enumerate(unit.levels)}
                else:
                    # The planner has no statistics on a range of parent ids and expects few accounts in it.
                    # It then joined the lines through nested loops and sorted them, which at 20,000 parents
                    # took about 1.6 times as long as hash joins and a hash aggregate.
                    cursor.execute("SET LOCAL enable_nestloop = off; SET LOCAL enable_sort = off")
                    _fill_pairs(cursor, part_pairs_sql, unit.month, analyze=False, parents=unit.parents)
                    cursor.execute("RESET enable_nestloop; RESET enable_sort")
                    firsts = unit.before_first
                analyze = False
                for level in unit.levels:
                    cursor.execute(customer_sql[level], [firsts[level], unit.month, level.value])
                    if cursor.rowcount > 0:
                        block = CustomerBlock(
                            month=unit.month,
                            level=level,
                            first_id=firsts[level] + 1,
                            last_id=firsts[level] + cursor.rowcount,
                        )
                        blocks.append(block)
                        cursor.execute(tam_totals_sql, [block.first_id, block.last_id])
                        tam_totals += cursor.fetchall()
            if blocks:
                cursor.executemany(
                    "INSERT INTO retention_unlistedcustomerrange (first_id, last_id) VALUES (%s, %s)",
                    [(block.first_id, block.last_id) for block in blocks],
                )
        if failed.is_set():
            database.rollback()
        else:
            database.commit()
    except BaseException as error:  # raised by the run's own thread once every worker has ended
        failure = error
        failed.set()
    finally:
        if database is not None:
            database.close()
        outcomes.append((blocks, tam_totals, failure))


def _take_customer_ids(cursor, count: int, *, until_commit: bool = False) -> int:
    """Take `count` consecutive customer ids from the table's sequence and return the id before the first.

    Workers take their ranges under an advisory lock, so the two calls of
    the sequence are never split by another worker. The engine is the only
    writer of customer rows. A worker releases the lock at once. With
    `until_commit` the lock lasts until the transaction ends, which suits a
    connection that outlives the run: a failed statement there could not
    release a lock of the session.
    """
    sequence = "pg_get_serial_sequence('retention_retentioncustomer', 'id')"
    lock = "pg_advisory_xact_lock" if until_commit else "pg_advisory_lock"
    cursor.execute(f"SELECT {lock}(%s)", [_CUSTOMER_IDS_LOCK_KEY])
    try:
        cursor.execute(f"SELECT setval({sequence}, nextval({sequence}) + %s - 1)", [max(count, 1)])
        last = cursor.fetchone()[0]
    finally:
        if not until_commit:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_CUSTOMER_IDS_LOCK_KEY])
    return last - max(count, 1)


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


@contextlib.contextmanager
def _work_tables(cursor, *, keys_table: bool, analyze: bool):
    """Create the work tables for one recomputation, the table of keys only with `keys_table`, and drop them at the end.

    On PostgreSQL the run's sorts and hashes get more memory than the server's
    default before they spill to disk, and no statement is compiled with JIT,
    whose compile time exceeded its gain on these statements. The settings end
    with the transaction. `analyze` gathers statistics on the table of keys.
    """
    if connection.vendor == "postgresql":
        for statement in _POSTGRESQL_SETTINGS:
            cursor.execute(statement)
    _drop_work_tables(cursor)
    for name, create_sql in _WORK_TABLES.items():
        if name == _KEYS_TABLE and not keys_table:
            continue
        cursor.execute(create_sql)
        if analyze and connection.vendor == "postgresql" and name == _KEYS_TABLE:
            cursor.execute(f"ANALYZE {name}")
    try:
        yield
    except BaseException:
        # An aborted PostgreSQL transaction rejects the DROP; its rollback
        # removes the temporary tables anyway.
        with contextlib.suppress(DatabaseError):
            _drop_work_tables(cursor)
        raise
    _drop_work_tables(cursor)


def _drop_work_tables(cursor) -> None:
    for name in _WORK_TABLES:
        cursor.execute(drop_temporary_table_sql(name))


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
