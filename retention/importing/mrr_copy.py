"""The fast path of the MRR lines import on PostgreSQL: DuckDB reads and checks a plain file.

`import_plain_mrr` hands a plain file (see `plain_header`) to DuckDB, which
reads it on every core, proves every value valid, matches ids against the
stored accounts and subscriptions and adds up repeated keys. Each month's
lines then go with COPY into a table of their own, which gets its primary
key in one build and becomes the month's partition of the line table when
the import commits. Two database connections fill these tables side by side.

The function returns None whenever it cannot prove the file valid, and the
caller then reads the file row by row with `CsvFile`, which accepts it or
names every invalid value. The checks accept a subset of what the field
parsers of `common.csvimport` accept: ASCII digits only, and ids, products
and other values whose first and last characters are printable ASCII once
spaces and tabs are trimmed. For such a value Python's `str.strip` and
DuckDB's `trim(value, ' \t')` give the same text.
"""

import concurrent.futures
import contextlib
import csv
import dataclasses
import datetime
import logging
import os
import queue
import shutil
import tempfile
import threading
import uuid

import duckdb
import psycopg
from django.db import IntegrityError, connection, transaction

from common.csvimport import (
    AMOUNT_MAX_DIGITS,
    MAX_ID_LENGTH,
    PROGRESS_EVERY,
    QUANTITY_MAX_DIGITS,
    ColumnSpec,
    PlainCsv,
    ProgressCallback,
    count_plain_rows,
    plain_header,
)
from common.months import FIRST_YEAR, LAST_YEAR
from retention import partitions
from retention.locks import report_lock
from retention.models import ChargeType

from .lines import ACCOUNT, SUBSCRIPTION, replace_months

logger = logging.getLogger(__name__)

# Arbitrary constant key of the session-level advisory lock held while month tables are loaded.
LOADING_LOCK_KEY = 7_302_912
LOAD_TABLE_PREFIX = "tamarind_load_"
# DuckDB's month files and spilled data go to a folder of each import's own under this one.
WORK_FOLDERS = os.path.join(tempfile.gettempdir(), "tamarind-import")
LOADERS = 2
DUCKDB_THREADS = max(os.cpu_count() or 1, 1)
# DuckDB's memory for the import, in MB. Beyond it, DuckDB moves data to files in the work folder. On
# generated files its table of rows took about twice the file's size, so a file of up to about 160 MB
# stays in memory.
DUCKDB_MEMORY_MB = 320
# The import's process uses more memory beside DuckDB's as files grow. With 320 MB for DuckDB it
# peaked at 440 MB on a 160 MB file and at 455 to 518 MB on files of 426 to 435 MB. With 256 MB, files
# of 334 and 435 MB peaked at 390 and 399 MB in the same time, while a 160 MB file took 3 to 5% longer.
LARGE_FILE_BYTES = 200 * 2**20
LARGE_FILE_DUCKDB_MEMORY_MB = 256
# When DuckDB's tables take more than this share of its memory, the lines are converted in one statement
# and sorted in another, after the file's rows are dropped.
SEPARATE_SORT_SHARE = 0.5
# Product and ids have the same length limit in the field parsers.
MAX_TEXT_LENGTH = MAX_ID_LENGTH


class StoredDataChanged(Exception):
    """A subscription that the file creates was stored by another import while this one loaded."""


def trimmed(column: str) -> str:
    return f"trim({column}, ' \t')"


# Each check takes the SQL expression of a value: a file column, or a trimmed one.
def valid_text(value: str) -> str:
    return (
        f"(length({value}) BETWEEN 1 AND {MAX_TEXT_LENGTH}"
        f" AND ascii({value}) BETWEEN 33 AND 126 AND ascii(right({value}, 1)) BETWEEN 33 AND 126)"
    )


def valid_month(value: str) -> str:
    return (
        f"(CASE WHEN regexp_full_match({value}, '[0-9]{{4}}-(0[1-9]|1[0-2])')"
        f" THEN left({value}, 4)::INTEGER BETWEEN {FIRST_YEAR} AND {LAST_YEAR} ELSE false END)"
    )


def valid_quantity(value: str) -> str:
    # Leading zeros do not count towards the digit limit, as in parse_quantity.
    return f"regexp_full_match({value}, '-?0*[0-9]{{1,{QUANTITY_MAX_DIGITS}}}')"


def valid_amount(value: str) -> str:
    # The rule of parse_amount: leading zeros do not count towards the digit limit.
    return f"regexp_full_match({value}, '-?0*[0-9]{{1,{AMOUNT_MAX_DIGITS}}}([.][0-9]{{1,2}})?')"


def valid_charge_type(value: str) -> str:
    # Only ASCII letters, so that lower() changes A to Z and nothing else, as Python's str.lower() does here.
    names = ", ".join(f"'{name}'" for name in ChargeType.values)
    return f"(regexp_full_match({value}, '[A-Za-z]+') AND lower({value}) IN ({names}))"


def cents(value: str) -> str:
    """Return a valid amount in whole cents.

    A valid amount has at most 10 digits before the decimal mark and 2 after,
    so it fits DECIMAL(18, 2) exactly, leading zeros aside.
    """
    return f"({value}::DECIMAL(18, 2) * 100)::BIGINT"


@dataclasses.dataclass
class Outcome:
    """Rows read, months replaced and counts of a finished import, for its summary."""

    rows_read: int
    months: list[datetime.date]
    counts: dict


def import_plain_mrr(
    path: str | os.PathLike,
    spec: ColumnSpec,
    columns: dict[str, str] | None,
    import_run_id: int | None,
    on_progress: ProgressCallback | None,
) -> Outcome | None:
    """Import a plain file through DuckDB and month tables, or return None when the row-by-row import has to read it."""
    if connection.vendor != "postgresql" or not _database_is_utf8():
        return None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_loading_lock())
        # Tables and files of imports that stopped are dropped before any check, so also when the file
        # goes row by row.
        _drop_load_tables(LOAD_TABLE_PREFIX)
        _remove_work_folders()
        layout = plain_header(path, spec, columns)
        if layout is None:
            logger.info("import run %s: the header line needs the row-by-row checks", import_run_id)
            return None
        if len(set(layout.indexes.values())) != len(layout.indexes):
            # Each product column becomes one DuckDB column, so one file column cannot serve two.
            logger.info("import run %s: two product columns read the same file column", import_run_id)
            return None
        os.makedirs(WORK_FOLDERS, exist_ok=True)
        # The folder's name starts with the process id, so a later import can see whether its owner has ended.
        folder = stack.enter_context(tempfile.TemporaryDirectory(dir=WORK_FOLDERS, prefix=f"{os.getpid()}-"))
        database = stack.enter_context(_DuckDB(folder, duckdb_memory_mb(os.path.getsize(path))))
        scan = _ScanProgress(on_progress, os.path.getsize(path))
        data_rows = _read(database, path, layout, folder, import_run_id, scan)
        if data_rows is None:
            return None
        duck = database.connection()
        plan = _check(duck, dataclasses.replace(layout, data_rows=data_rows), folder, import_run_id)
        if plan is None:
            return None
        if not plan.rows:
            return Outcome(0, [], {"lines_stored": 0, "subscriptions_created": 0})
        stack.callback(_drop_load_tables, LOAD_TABLE_PREFIX)
        try:
            plan, counts = _store(database, plan, path, folder, import_run_id, on_progress, scan.reported)
        except StoredDataChanged:
            logger.info("import run %s: another import stored one of the file's new subscriptions", import_run_id)
            return None
    return Outcome(plan.rows, plan.months, counts)


@dataclasses.dataclass
class Plan:
    """The checks' findings: rows, new subscriptions, and the files of each month's lines."""

    rows: int
    new_subscriptions: int
    # The SQL expression of each product column's value in DuckDB's reading of the file.
    values: dict[str, str]
    months: list[datetime.date] = dataclasses.field(default_factory=list)
    # The CSV files that hold each month's lines.
    month_files: dict[datetime.date, list[str]] = dataclasses.field(default_factory=dict)


class _ScanProgress:
    """Progress reports of the scan of the file's bytes, which make the first half of the import's progress.

    Loading the months makes the second half (see `_Progress`). Reports give
    a multiple of PROGRESS_EVERY rows, as `CsvFile` does, but come at most
    once per tenth of the file. An import run stores each report, and one
    report every 5,000 rows slowed an import of 1.1 million rows by about a
    tenth.
    """

    def __init__(self, on_progress: ProgressCallback | None, total_bytes: int):
        self.on_progress = on_progress
        self.total_bytes = total_bytes
        self.reported = 0
        self.next_bytes = 0

    def scanned(self, line_ends: int, bytes_scanned: int) -> None:
        rows = line_ends // 2 // PROGRESS_EVERY * PROGRESS_EVERY
        if self.on_progress is None or rows <= self.reported or bytes_scanned < self.next_bytes:
            return
        self.next_bytes = bytes_scanned + self.total_bytes // 10
        # The bytes reported are the same share of the bytes scanned as the rows of the lines scanned.
        self.on_progress(rows, bytes_scanned * rows // line_ends, self.total_bytes)
        self.reported = rows


def _read(database: "_DuckDB", path, layout: PlainCsv, folder: str, import_run_id, scan: _ScanProgress) -> int | None:
    """Read the file into DuckDB and return its number of data rows, or None when it needs the row-by-row import.

    DuckDB reads the file on its own threads while this thread scans the
    file's bytes, reports the scan through `scan` and exports the stored ids.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        loaded = pool.submit(lambda: _load_rows(database.connection(), path, layout, import_run_id))
        data_rows = count_plain_rows(path, layout, scan.scanned)
        if data_rows is not None:
            _export_stored_ids(folder)
        read = loaded.result()
    if data_rows is None:
        logger.info(
            "import run %s: the file has quotes, NULs, lone carriage returns or a row of another width",
            import_run_id,
        )
        return None
    return data_rows if read else None


def _store(
    database: "_DuckDB", plan: Plan, path, folder: str, import_run_id, on_progress, reported: int
) -> tuple[Plan, dict]:
    """Write the month files, load the month tables, store the new subscriptions and attach the tables.

    The loaders fill each month's table as soon as DuckDB has written its
    file, while DuckDB writes the other months and this connection stores the
    new subscriptions, in the transaction that later attaches the tables.
    Once the tables hold every line, DuckDB closes on a thread of its own.
    Return the plan with its months, a new one when repeated keys were added
    up, and the counts for the summary. `reported` is the number of rows
    already reported.
    """
    duck = database.connection()
    with transaction.atomic():
        # The report lock comes first and stays until this transaction ends. Another writer that holds it
        # and stores one of the same subscriptions would otherwise wait for this transaction while this one
        # waits for the lock, and PostgreSQL would abort one of them.
        with report_lock():
            loading = _Loading(path, plan.rows, on_progress, reported)
            with loading, concurrent.futures.ThreadPoolExecutor(max_workers=1) as writer:
                written = writer.submit(
                    _write_months, duck, plan, folder, add_up=False, loading=loading, memory_mb=database.memory_mb
                )
                # On a failure here, leaving the block waits for the writer and the loaders to end.
                created = _create_subscriptions(folder, plan.new_subscriptions)
                plan = written.result()
        try:
            tables, lines = loading.result()
        except psycopg.errors.UniqueViolation:
            # The file repeats a month, subscription, product and charge type: add those rows up and
            # load again.
            _drop_load_tables(LOAD_TABLE_PREFIX)
            loading = _Loading(path, plan.rows, on_progress, loading.progress.reported)
            with loading:
                plan = _write_months(duck, plan, folder, add_up=True, loading=loading, memory_mb=database.memory_mb)
            tables, lines = loading.result()
        database.close_soon()

        def attach_tables() -> int:
            _attach(tables)
            return lines

        counts = replace_months(lambda: created, plan.months, attach_tables, import_run_id, into_partitions=False)
    return plan, counts


def _database_is_utf8() -> bool:
    # COPY checks the bytes against the server encoding, which must be UTF-8 as the file is.
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_encoding")
        return cursor.fetchone()[0] == "UTF8"


@contextlib.contextmanager
def _loading_lock():
    """Hold the loading lock for this session, so that only one import fills month tables at a time.

    Load tables found while holding it belong to imports that stopped, and are dropped.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOADING_LOCK_KEY])
    try:
        yield
    finally:
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOADING_LOCK_KEY])


def _remove_work_folders() -> None:
    """Remove the work folders of stopped imports on this machine.

    A folder belongs to the process whose id starts its name, and stays while
    that process runs, whichever database it imports into.
    """
    if not os.path.isdir(WORK_FOLDERS):
        return
    for name in os.listdir(WORK_FOLDERS):
        owner = name.split("-", 1)[0]
        if owner.isdigit() and not _process_runs(int(owner)):
            shutil.rmtree(os.path.join(WORK_FOLDERS, name), ignore_errors=True)


def _process_runs(process_id: int) -> bool:
    try:
        os.kill(process_id, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The process exists under another user.
        return True
    return True


def _drop_load_tables(prefix: str) -> None:
    """Drop the tables whose names start with `prefix` and that are not partitions."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT quote_ident(relname) FROM pg_class
            WHERE relkind = 'r' AND relname LIKE %s AND NOT relispartition
              AND relnamespace = 'public'::regnamespace""",
            [prefix.replace("_", r"\_") + "%"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


def duckdb_memory_mb(file_bytes: int) -> int:
    """Return DuckDB's memory limit in MB for the import of a file of `file_bytes` bytes."""
    return LARGE_FILE_DUCKDB_MEMORY_MB if file_bytes > LARGE_FILE_BYTES else DUCKDB_MEMORY_MB


def _open_duckdb(folder: str, memory_mb: int) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB that moves data beyond `memory_mb` MB to files in `folder`."""
    duck = duckdb.connect(":memory:")
    try:
        duck.execute(f"SET temp_directory = '{folder}'")
        duck.execute(f"SET memory_limit = '{memory_mb}MB'")
        duck.execute(f"SET threads = {DUCKDB_THREADS}")
        duck.execute("SET preserve_insertion_order = false")
    except BaseException:
        duck.close()
        raise
    return duck


class _DuckDB:
    """The in-memory DuckDB of one import, opened and closed on a thread of its own.

    Opening and closing each took 10 to 12 ms of one core at 5,000 parent
    accounts. The importing thread scans the file while DuckDB opens, and
    PostgreSQL attaches the month tables while it closes. Leaving a `with`
    block waits until it is closed.
    """

    def __init__(self, folder: str, memory_mb: int):
        self.memory_mb = memory_mb
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._opened = self._thread.submit(_open_duckdb, folder, memory_mb)
        self._closing: concurrent.futures.Future | None = None

    def __enter__(self) -> "_DuckDB":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close_soon()
        self._thread.shutdown(wait=True)
        # The import's outcome does not depend on the close, so its failure is logged instead of raised.
        if (error := self._closing.exception()) is not None:
            logger.warning("DuckDB of an import failed to close: %s", error)

    def connection(self) -> duckdb.DuckDBPyConnection:
        """Return the connection once it is open, or raise the error that kept it from opening."""
        return self._opened.result()

    def close_soon(self) -> None:
        """Start closing the connection, which nothing may use from then on."""
        if self._closing is None:
            self._closing = self._thread.submit(self._close)

    def _close(self) -> None:
        if self._opened.exception() is None:
            self._opened.result().close()


def _read_file(path, plain: PlainCsv) -> str:
    """Return DuckDB's reader of the file's data rows: every field as text, named c0, c1 and so on."""
    names = ", ".join(f"'c{index}': 'VARCHAR'" for index in range(len(plain.header)))
    quoted_path = str(path).replace("'", "''")
    # A plain file has no quote characters, so the default quoting never applies.
    return (
        f"read_csv('{quoted_path}', header = true, auto_detect = false, delim = '{plain.delimiter}',"
        f" columns = {{{names}}}, strict_mode = true, null_padding = false)"
    )


def _load_rows(duck, path, layout: PlainCsv, import_run_id) -> bool:
    """Read the file once into DuckDB's table `file_rows`, one text column per product column.

    The column `oversized` is true when a field of the row, read or not, is
    too long for Python's reader. Return False when DuckDB cannot read the
    file as COPY would.
    """
    read = [f"c{index} AS {name}" for name, index in layout.indexes.items()]
    # Python's csv module rejects a field of more characters than its limit, counting the spaces and tabs
    # around a value, which the checks of trimmed values do not see. strlen counts bytes, which are never
    # fewer than the characters, so only a field of more bytes than the limit has its characters counted.
    limit = csv.field_size_limit()
    oversized = " OR ".join(
        f"(CASE WHEN strlen(c{index}) > {limit} THEN length(c{index}) > {limit} ELSE false END)"
        for index in range(len(layout.header))
    )
    try:
        duck.execute(
            f"CREATE TABLE file_rows AS SELECT {', '.join(read)}, ({oversized}) IS TRUE AS oversized"
            f" FROM {_read_file(path, layout)}"
        )
    except duckdb.Error as error:
        logger.info("import run %s: DuckDB does not read the file as COPY would: %s", import_run_id, error)
        return False
    return True


def _check(duck, plain: PlainCsv, folder: str, import_run_id) -> Plan | None:
    """Check the file's rows in DuckDB and number its new subscriptions, or return None to have them read row by row.

    The checks first take each value as it is, so spaces or tabs around a
    value make it invalid. Only then do the checks run on trimmed values,
    because trimming every value costs as much as the checks.
    """
    rows, any_oversized = duck.execute("SELECT COUNT(*), COALESCE(bool_or(oversized), false) FROM file_rows").fetchone()
    if rows != plain.data_rows:
        # A blank line, or any other difference in splitting lines, shows in the count.
        logger.info("import run %s: DuckDB read %d rows of %d lines", import_run_id, rows, plain.data_rows)
        return None
    if any_oversized:
        logger.info("import run %s: a field is too long for Python's reader", import_run_id)
        return None
    for trim in (False, True):
        values = {name: trimmed(name) if trim else name for name in plain.indexes}
        if _values_valid(duck, values):
            break
    else:
        logger.info("import run %s: a value needs the row-by-row checks", import_run_id)
        return None
    if not rows:
        return Plan(0, 0, values)

    _read_stored_ids(duck, folder)
    listed_twice, unknown_account, stored_elsewhere, new = duck.execute(
        """
        SELECT COUNT(*) FILTER (WHERE f.account <> f.other_account),
               COUNT(*) FILTER (WHERE a.id IS NULL),
               COUNT(*) FILTER (WHERE s.id IS NOT NULL AND s.account <> f.account),
               COUNT(*) FILTER (WHERE s.id IS NULL)
        FROM file_subscriptions f
        LEFT JOIN stored_accounts a ON a.external_id = f.account
        LEFT JOIN stored_subscriptions s ON s.external_id = f.external_id"""
    ).fetchone()
    if listed_twice or unknown_account or stored_elsewhere:
        # The row-by-row import names the lines behind each of these.
        logger.info("import run %s: an account or subscription id needs the row-by-row checks", import_run_id)
        return None
    _number_new_subscriptions(duck, folder, new)
    return Plan(rows, new, values)


def _values_valid(duck, values: dict[str, str]) -> bool:
    """Tell whether every value of `file_rows` is valid, and gather the file's subscriptions into `file_subscriptions`.

    `values` holds the SQL expression of each product column. Each distinct
    quantity and amount is checked once, and so is each combination of month,
    product and charge type, and each subscription with its accounts. A
    missing field reads as NULL, which no check passes.
    """
    # Each check runs on the distinct values: months, products and charge types come in a few combinations,
    # and quantities and amounts repeat across rows.
    duck.execute(
        f"""
        CREATE OR REPLACE TABLE file_kinds AS
        SELECT {values["month"]} AS month, {values["product"]} AS product, {values["charge_type"]} AS charge_type
        FROM file_rows GROUP BY ALL"""
    )
    kinds_valid = " AND ".join([valid_month("month"), valid_text("product"), valid_charge_type("charge_type")])
    numbers_valid = " AND ".join(
        f"(SELECT COALESCE(bool_and(({valid('field')}) IS TRUE), true)"
        f" FROM (SELECT DISTINCT {values[name]} AS field FROM file_rows))"
        for name, valid in (("quantity", valid_quantity), ("mrr", valid_amount))
    )
    valid_so_far = duck.execute(
        f"SELECT COALESCE(bool_and(({kinds_valid}) IS TRUE), true) AND {numbers_valid} FROM file_kinds"
    ).fetchone()[0]
    if not valid_so_far:
        return False
    account = values["account_id"]
    duck.execute(
        f"""
        CREATE OR REPLACE TABLE file_subscriptions AS
        SELECT {values["subscription_id"]} AS external_id, MIN({account}) AS account,
               MAX({account}) AS other_account, COUNT({account}) = COUNT(*) AS account_on_every_row
        FROM file_rows GROUP BY 1"""
    )
    ids_valid = (
        f"{valid_text('external_id')} AND {valid_text('account')} AND {valid_text('other_account')}"
        " AND account_on_every_row"
    )
    return duck.execute(f"SELECT COALESCE(bool_and(({ids_valid}) IS TRUE), true) FROM file_subscriptions").fetchone()[0]


def _write_months(
    duck,
    plan: Plan,
    folder: str,
    *,
    add_up: bool,
    loading: "_Loading",
    memory_mb: int,
) -> Plan:
    """Convert the file's rows to lines and write each month's lines to a file of its own.

    The first call converts `file_rows` into the table `month_lines` and
    drops `file_rows`, which the import no longer needs. A call with
    `add_up` adds up the lines with the same key in `month_lines`. Each call
    writes to a folder of its own, so a second call leaves the first one's
    files alone. `loading` learns each month's lines before the first file
    is written, and gets each month's file as soon as it is written, the
    largest months first.

    `month_lines` stores its lines in the order of the month tables' primary
    key, and each month file keeps that order. PostgreSQL's sort then only
    has to confirm the order when it builds the key: on a million lines that
    build took about 40% less time than from unordered lines. DuckDB orders
    text byte by byte, as the line table's key columns do (see
    common.fields). At 20,000 parent accounts, timed in-process, one sort of
    all lines and a scan of each month's part took 0.47 s, and a sort of
    each month on its own 0.52 s.
    """
    key_order = "ORDER BY period, subscription_id, product, charge_type"
    # With the insertion order kept, DuckDB stores the sorted lines in that order and each month's scan
    # reads them back in it. Without it, a month of more than one row group (122,880 rows) comes out
    # partly unordered.
    duck.execute("SET preserve_insertion_order = true")
    try:
        if add_up:
            duck.execute(
                f"""
                CREATE TABLE added_lines AS
                SELECT period, subscription_id, product, charge_type,
                       SUM(quantity)::BIGINT AS quantity, SUM(mrr)::BIGINT AS mrr
                FROM month_lines GROUP BY ALL {key_order}"""
            )
            duck.execute("DROP TABLE month_lines")
            duck.execute("ALTER TABLE added_lines RENAME TO month_lines")
        else:
            value = plan.values
            # The month is left out of the files, because it is the same on every line of one. Months are
            # numbered YYYYMM here.
            lines_sql = f"""
                SELECT replace({value["month"]}, '-', '')::INTEGER AS period, s.id AS subscription_id,
                       {value["product"]} AS product, lower({value["charge_type"]}) AS charge_type,
                       {value["quantity"]}::BIGINT AS quantity, {cents(value["mrr"])} AS mrr
                FROM file_rows
                JOIN file_ids s ON s.external_id = {value["subscription_id"]}"""
            if _tables_mb(duck) > memory_mb * SEPARATE_SORT_SHARE:
                # Beside the file's rows and the stored ids the sort would lack memory and move its work to
                # files, so the lines are converted first and the rows dropped. At 50,000 parent accounts,
                # where DuckDB's tables took 283 MB of 320 here, this saved about 0.2 s of a 5 s import. At
                # 20,000 parent accounts, where they took 113 MB, one statement was 10% faster.
                duck.execute("SET preserve_insertion_order = false")
                duck.execute(f"CREATE TABLE unsorted_lines AS {lines_sql}")
                duck.execute("DROP TABLE file_rows")
                duck.execute("SET preserve_insertion_order = true")
                duck.execute(f"CREATE TABLE month_lines AS SELECT * FROM unsorted_lines {key_order}")
                duck.execute("DROP TABLE unsorted_lines")
            else:
                duck.execute(f"CREATE TABLE month_lines AS {lines_sql} {key_order}")
                # The rows are not read again, and dropping them leaves DuckDB's memory to the lines.
                duck.execute("DROP TABLE file_rows")
        months_folder = os.path.join(folder, f"months-{uuid.uuid4().hex[:12]}")
        os.makedirs(months_folder)
        month_lines = {
            datetime.date(period // 100, period % 100, 1): lines
            for period, lines in duck.execute("SELECT period, COUNT(*) FROM month_lines GROUP BY period").fetchall()
        }
        month_files = {month: [os.path.join(months_folder, f"{month:%Y%m}.csv")] for month in month_lines}
        loading.expect(month_lines)
        # DuckDB writes one file on one thread, so each thread writes months of its own.
        with concurrent.futures.ThreadPoolExecutor(max_workers=DUCKDB_THREADS) as pool:
            written = [
                pool.submit(_write_month, duck, month, month_files[month], loading)
                for month in sorted(month_lines, key=lambda month: -month_lines[month])
            ]
            for future in written:
                future.result()
    finally:
        duck.execute("SET preserve_insertion_order = false")
    return dataclasses.replace(plan, months=sorted(month_files), month_files=month_files)


def _tables_mb(duck) -> float:
    """Return the MB that DuckDB's tables take, in memory and in files of its work folder."""
    used = duck.execute(
        "SELECT COALESCE(SUM(memory_usage_bytes + temporary_storage_bytes), 0) FROM duckdb_memory()"
        " WHERE tag = 'IN_MEMORY_TABLE'"
    ).fetchone()[0]
    return used / 1e6


def _write_month(duck, month: datetime.date, files: list[str], loading: "_Loading") -> None:
    """Write the lines of one month of `month_lines` to its file in their stored order, on a cursor of its own.

    `loading` then gets the file.
    """
    (file_path,) = files
    with duck.cursor() as cursor:
        cursor.execute(
            f"COPY (SELECT product, quantity, mrr, charge_type, subscription_id FROM month_lines"
            f" WHERE period = {month:%Y%m}) TO '{file_path}' (FORMAT csv, HEADER false)"
        )
    loading.load(month, files)


# The stored ids that DuckDB matches the file's ids against: each table's PostgreSQL query and columns.
STORED_IDS = {
    "stored_accounts": (f"SELECT external_id, id FROM {ACCOUNT}", ["external_id", "id"]),
    "stored_subscriptions": (
        f"SELECT sub.external_id, sub.id, a.external_id"
        f" FROM {SUBSCRIPTION} sub JOIN {ACCOUNT} a ON a.id = sub.account_id",
        ["external_id", "id", "account"],
    ),
}


def _export_stored_ids(folder: str) -> None:
    """Write the stored accounts and subscriptions, by external id, to CSV files in `folder`."""
    for table, (sql, _) in STORED_IDS.items():
        with open(os.path.join(folder, f"{table}.csv"), "wb") as out, connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                for data in copy:
                    out.write(data)


def _read_stored_ids(duck, folder: str) -> None:
    """Give DuckDB the stored accounts and subscriptions from the files of `_export_stored_ids`.

    A column named id is a bigint, any other text. An empty file gives an empty table.
    """
    for table, (_, names) in STORED_IDS.items():
        types = {name: "BIGINT" if name == "id" else "VARCHAR" for name in names}
        file_path = os.path.join(folder, f"{table}.csv")
        duck.execute(f"CREATE TABLE {table} ({', '.join(f'{name} {sql_type}' for name, sql_type in types.items())})")
        if os.path.getsize(file_path):
            columns = ", ".join(f"'{name}': '{sql_type}'" for name, sql_type in types.items())
            # PostgreSQL's CSV: quotes around a value with a comma, quote or line end, and a quote doubled inside.
            duck.execute(
                f"INSERT INTO {table} SELECT * FROM read_csv('{file_path}', header = false, auto_detect = false,"
                f" delim = ',', quote = '\"', escape = '\"', columns = {{{columns}}})"
            )


def _number_new_subscriptions(duck, folder: str, count: int) -> None:
    """Take ids for the file's new subscriptions from the database's sequence.

    The lock keeps other sessions from inserting, and so from drawing ids,
    between the two calls of the sequence. Sequence values are never handed
    out twice, even if this import rolls back, so the month tables can hold
    them before the subscriptions exist.
    """
    first = 0
    if count:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {SUBSCRIPTION} IN SHARE ROW EXCLUSIVE MODE")
            sequence = f"pg_get_serial_sequence('{SUBSCRIPTION}', 'id')"
            cursor.execute(f"SELECT setval({sequence}, nextval({sequence}) + %s - 1)", [count])
            first = cursor.fetchone()[0] - count + 1
    duck.execute(
        f"""
        CREATE TABLE new_subscriptions AS
        SELECT {first} - 1 + row_number() OVER (ORDER BY f.external_id) AS id, f.external_id, a.id AS account_id
        FROM file_subscriptions f JOIN stored_accounts a ON a.external_id = f.account
        WHERE NOT EXISTS (SELECT 1 FROM stored_subscriptions s WHERE s.external_id = f.external_id)"""
    )
    duck.execute(
        """
        CREATE TABLE file_ids AS
        SELECT s.external_id, s.id FROM stored_subscriptions s
        WHERE s.external_id IN (SELECT external_id FROM file_subscriptions)
        UNION ALL SELECT external_id, id FROM new_subscriptions"""
    )
    # In the order of their ids, so that the primary key's index fills in order.
    duck.execute(
        f"COPY (SELECT id, external_id, account_id FROM new_subscriptions ORDER BY id)"
        f" TO '{os.path.join(folder, 'new_subscriptions.csv')}' (HEADER false)"
    )


class _Loading:
    """Fill one table per month with its lines, keyed and checked, on LOADERS connections of their own.

    The loaders start with the object and take each month that `load` hands
    them until `close`. Both `result` and the end of a `with` block close the
    loading and wait for the loaders. Each loader commits its tables, which
    stay out of the line table until the import attaches them. A thread of
    its own reports progress, since the importing thread's connection is
    inside the import's transaction, whose writes stay unseen until it
    commits.
    """

    def __init__(self, path, rows: int, on_progress: ProgressCallback | None, reported: int = 0):
        self.token = uuid.uuid4().hex[:12]
        self.tables: dict[datetime.date, str] = {}
        self.progress = _Progress(rows, os.path.getsize(path), on_progress, reported)
        self.work: queue.Queue = queue.Queue()
        self.closed = False
        done: queue.Queue = queue.Queue()
        parameters = connection.get_connection_params()
        self.threads = [
            threading.Thread(target=_loader, args=(parameters, self.work, done), daemon=True) for _ in range(LOADERS)
        ]
        self.threads.append(threading.Thread(target=self._report, args=(done,), daemon=True))
        for thread in self.threads:
            thread.start()

    def __enter__(self) -> "_Loading":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
        self._join()

    def expect(self, month_lines: dict[datetime.date, int]) -> None:
        """Tell the progress how many lines each month has, before the first month is handed over."""
        self.progress.expect(month_lines)

    def load(self, month: datetime.date, files: list[str]) -> None:
        """Hand a loader the files of `month`. Any thread may call this."""
        table = f"{LOAD_TABLE_PREFIX}{self.token}_{month:%Y%m}"
        self.tables[month] = table
        self.work.put((month, table, files))

    def close(self) -> None:
        """Tell the loaders that no further month comes; they end once the months handed over are loaded."""
        if not self.closed:
            self.closed = True
            for _ in range(LOADERS):
                self.work.put(None)

    def _join(self) -> None:
        for thread in self.threads:
            thread.join()

    def _report(self, done: queue.Queue) -> None:
        try:
            ended = 0
            while ended < LOADERS:
                item = done.get()
                if item is None:
                    ended += 1
                else:
                    self.progress.finished(*item)
        finally:
            # The progress callback may have opened this thread's own database connection.
            connection.close()

    def result(self) -> tuple[dict[datetime.date, str], int]:
        """Return the tables and the number of lines they hold, once the threads have ended.

        Raise the first failure: a month that repeats a key fails with UniqueViolation.
        """
        self.close()
        self._join()
        if self.progress.failure is not None:
            raise self.progress.failure
        return self.tables, self.progress.lines


class _Progress:
    """Counter of the months and lines loaded, which keeps the first failure.

    The scan of the file made the first half of the rows. The second half
    grows with the lines of the months loaded so far, and bytes of the file
    go with the rows. A report gives a multiple of PROGRESS_EVERY rows, as
    in the scan, and comes once the rows have grown by a tenth of the
    file's rows since the last report. The last report gives every row. With one report for every
    PROGRESS_EVERY rows, a million lines had kept a thread storing reports
    through about a fifth of the loading.
    """

    def __init__(self, rows: int, total_bytes: int, on_progress: ProgressCallback | None, reported: int):
        self.rows = rows
        self.total_bytes = total_bytes
        self.on_progress = on_progress
        # The months to load and their lines, known once the lines are sorted.
        self.months = 0
        self.total_lines = 1
        self.lines = 0
        # Rows reported already, also by an earlier loading of the same file, so that progress never goes back.
        self.reported = reported
        self.count = 0
        self.failure: Exception | None = None

    def expect(self, month_lines: dict[datetime.date, int]) -> None:
        self.months = len(month_lines)
        self.total_lines = max(sum(month_lines.values()), 1)

    def finished(self, month: datetime.date, lines: int, error: Exception | None) -> None:
        self.count += 1
        if error is not None:
            self.failure = self.failure or error
            return
        self.lines += lines
        if self.on_progress is None or self.failure is not None:
            return
        try:
            self._report_rows()
        except Exception as failure:  # The importing thread raises it once the loaders end.
            self.failure = failure

    def _report_rows(self) -> None:
        total = self.rows
        if self.count == self.months:
            if self.reported < total:
                self._report(total)
            return
        scanned = total // 2
        rows = (scanned + (total - scanned) * self.lines // self.total_lines) // PROGRESS_EVERY * PROGRESS_EVERY
        if rows > self.reported and rows - self.reported >= total // 10:
            self._report(rows)

    def _report(self, rows: int) -> None:
        self.on_progress(rows, self.total_bytes * rows // self.rows, self.total_bytes)
        self.reported = rows


def _loader(parameters: dict, work: queue.Queue, done: queue.Queue) -> None:
    """Copy month files into new tables on a connection of its own until `work` gives None, then put None on `done`."""
    try:
        database = connection.get_new_connection(parameters)
        # The import's own commit comes later and flushes the log up to it, loaded tables included.
        database.execute("SET synchronous_commit = off")
        database.commit()
    except Exception as error:  # reported for every month this loader takes
        database, failure = None, error
    else:
        failure = None
    try:
        while (item := work.get()) is not None:
            month, table, files = item
            if failure is not None:
                done.put((month, 0, failure))
                continue
            try:
                done.put((month, _load_table(database, month, table, files), None))
            except Exception as error:  # reported to the importing thread, which raises it
                done.put((month, 0, error))
                try:
                    database.rollback()
                except psycopg.Error as lost:
                    # The connection is lost, so the months this loader takes later fail with the same error.
                    logger.warning("month table loader lost its connection after month %s failed: %s", month, lost)
                    failure = error
    finally:
        if database is not None:
            database.close()
        done.put(None)


def _load_table(database, month: datetime.date, table: str, files: list[str]) -> int:
    """Copy a month's files into a new table with its keys and checks, commit it, and return its lines."""
    columns = ", ".join(name for name, _ in partitions.LINE_COLUMNS if name != "month")
    lines = 0
    day = f"DATE '{month.isoformat()}'"
    # The files leave out the month, which is the same on every line, and the column's default fills it
    # in until the key is built. The check on the month tests each line as it arrives instead of in a
    # scan of its own, and lets ATTACH PARTITION skip scanning the rows for the partition's bounds.
    definition = f"{partitions.table_definition(month_default=day)}, CONSTRAINT {table}_month CHECK (month = {day})"
    with database.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} ({definition})")
        for file_path in files:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                with open(file_path, "rb") as source:
                    while chunk := source.read(1 << 20):
                        copy.write(chunk)
            lines += cursor.rowcount
        cursor.execute(
            f"ALTER TABLE {table} ALTER COLUMN month DROP DEFAULT, ADD PRIMARY KEY ({partitions.PRIMARY_KEY})"
        )
    database.commit()
    return lines


def _create_subscriptions(folder: str, count: int) -> int:
    """Store the file's new subscriptions with the ids the month tables use, and return how many.

    Raise StoredDataChanged when another session stored one of them, or
    deleted its account, since the checks.
    """
    if not count:
        return 0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            copy_sql = f"COPY {SUBSCRIPTION} (id, external_id, account_id) FROM STDIN WITH (FORMAT csv)"
            with open(os.path.join(folder, "new_subscriptions.csv"), "rb") as source:
                with cursor.cursor.copy(copy_sql) as copy:
                    while chunk := source.read(1 << 20):
                        copy.write(chunk)
            # The account keys are checked now rather than at commit, while no page waits on the line table.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    except (IntegrityError, psycopg.errors.IntegrityError) as error:
        # COPY raises the driver's error, which Django does not wrap.
        raise StoredDataChanged from error
    return count


def _attach(tables: dict[datetime.date, str]) -> None:
    """Attach each month table as its month's partition, in one round trip."""
    statements = []
    for month, table in sorted(tables.items()):
        statements += partitions.attach_statements(month, table)
        # The partition's bounds hold the same rule from now on.
        statements.append(f"ALTER TABLE {partitions.partition_name(month)} DROP CONSTRAINT {table}_month")
    with connection.cursor() as cursor:
        cursor.execute("; ".join(statements))
