"""Worker connections that compute the months of a recomputation side by side on PostgreSQL.

engine.py calls compute_on_workers, which splits the months into units and hands them to the workers, and
the first part of each split month to the run's own connection.
"""

import dataclasses
import datetime
import itertools
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator

from django.db import connection
from psycopg import IsolationLevel, sql

from .engine_sql import (
    KEYS_TABLE,
    PART_PAIRS_SQL,
    POSTGRESQL_SETTINGS,
    TAM_TOTAL_COLUMNS,
    TAM_TOTALS_SELECT,
    WORK_TABLES,
    customer_statements,
    fill_pairs,
    pairs_statement,
    work_tables,
)
from .models import CustomerBlock, Level, UnlistedCustomerRange

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


def compute_on_workers(months: list[datetime.date], meanwhile: Callable[[], None]) -> list[CustomerBlock]:
    """Store the customers and owner totals of `months` with WORKERS connections and return their blocks.

    Each worker reads the snapshot of this transaction, so every worker reads
    the same lines and accounts, and commits the customer rows it wrote. These
    rows stay out of every page until this transaction commits their blocks:
    pages read customers through blocks only. The owner totals come back to
    this connection, which stores them with the blocks. Each worker records
    its ranges of ids with its rows, so that the next run deletes the rows of
    a run that failed after a worker committed. This connection runs
    `meanwhile` while the workers compute.

    When the months are split into parts, this connection runs `meanwhile`
    first and then computes the first part of each month itself, in its own
    transaction, and one fewer worker connects. At 5,000 parent accounts
    one month took a median of about 120 ms this way, timed in-process, and
    135 ms on two workers.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
    work: queue.Queue = queue.Queue()
    parameters = connection.get_connection_params()
    outcomes: list[tuple[list[CustomerBlock], list[tuple], BaseException | None]] = []
    failed = threading.Event()
    whole_months = len(months) >= WORKERS
    threads = [
        threading.Thread(target=_worker, args=(parameters, snapshot, work, whole_months, failed, outcomes), daemon=True)
        for _ in range(WORKERS if whole_months else WORKERS - 1)
    ]
    # The workers connect while this connection splits the work.
    for thread in threads:
        thread.start()
    try:
        own_units = []
        try:
            for unit in _work_units(months):
                if unit.part == 0 and not whole_months:
                    own_units.append(unit)
                else:
                    work.put(unit)
        finally:
            for _ in threads:
                work.put(None)
        meanwhile()
        if own_units:
            outcomes.append((*_compute_own_units(own_units, failed), None))
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
        with cursor.cursor.copy(f"COPY retention_tamtotal ({TAM_TOTAL_COLUMNS}) FROM STDIN") as copy:
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
    part: int = 0


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
                units.append(_Unit(month, parents=parents, before_first=firsts, part=part))
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
            for statement in POSTGRESQL_SETTINGS:
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
            for name, create_sql in WORK_TABLES.items():
                if name != KEYS_TABLE or whole_months:
                    cursor.execute(create_sql)
            if whole_months:
                cursor.execute(f"ANALYZE {KEYS_TABLE}")
            blocks, tam_totals = _compute_units(cursor, _taken_units(work, failed), whole_months)
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


def _taken_units(work: queue.Queue, failed: threading.Event) -> Iterator[_Unit]:
    """Yield the units that `work` gives until it gives None.

    Once a worker has failed, the run fails too, so the others take no further unit.
    """
    while not failed.is_set() and (unit := work.get()) is not None:
        yield unit


def _compute_own_units(units: list[_Unit], failed: threading.Event) -> tuple[list[CustomerBlock], list[tuple]]:
    """Store the customers of `units` on the run's own connection and return their blocks and owner totals.

    The run's transaction holds the report lock, which every writer of lines
    and accounts takes, so this connection reads the same data as the
    workers' snapshot.
    """
    with connection.cursor() as cursor, work_tables(cursor, keys_table=False, analyze=False):
        # Once a worker has failed, the run fails, so this connection takes no further unit either.
        return _compute_units(cursor, itertools.takewhile(lambda _: not failed.is_set(), units), whole_months=False)


def _compute_units(cursor, units: Iterable[_Unit], whole_months: bool) -> tuple[list[CustomerBlock], list[tuple]]:
    """Store the customers of `units` through `cursor` and return their blocks and owner totals.

    In a run of `whole_months` the keys come from their work table, which the
    first month's statistics describe.
    """
    blocks: list[CustomerBlock] = []
    tam_totals: list[tuple] = []
    customer_sql = customer_statements(explicit_ids=True)
    pairs_sql = pairs_statement(keys_table=whole_months)
    part_pairs_sql = PART_PAIRS_SQL.format(sum="tamarind_sum")
    analyze = whole_months
    tam_totals_sql = TAM_TOTALS_SELECT.format(sum="tamarind_sum")
    for unit in units:
        if unit.parents is None:
            pairs = fill_pairs(cursor, pairs_sql, unit.month, analyze=analyze)
            # No level has more customers than pairs.
            before_first = _take_customer_ids(cursor, pairs * len(unit.levels))
            firsts = {level: before_first + pairs * index for index, level in enumerate(unit.levels)}
        else:
            # The planner has no statistics on a range of parent ids and expects few accounts in it. It then
            # joined the lines through nested loops and sorted them, which at 20,000 parents took about 1.6
            # times as long as hash joins and a hash aggregate.
            cursor.execute("SET LOCAL enable_nestloop = off; SET LOCAL enable_sort = off")
            fill_pairs(cursor, part_pairs_sql, unit.month, analyze=False, parents=unit.parents)
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
    return blocks, tam_totals


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
