"""Month partitions of the MRR line table and the month tables of the fast import, on PostgreSQL."""

import datetime
import itertools
import os
import random
import shutil
import subprocess
import threading
import time
from decimal import Decimal

import psycopg
import pytest
from django.db import DatabaseError, connection

from accounts.models import Account, Subscription
from retention import partitions
from retention.importing import import_mrr, mrr_copy
from retention.importing.lines import create_subscriptions
from retention.importing.staging import StagingTable
from retention.locks import report_lock
from retention.models import MrrLine
from tests.conftest import require_postgresql
from tests.factories import AccountFactory, SubscriptionFactory
from tests.retention.test_import_mrr import HEADER, lines, write_csv

MAY, JUNE = datetime.date(2024, 5, 1), datetime.date(2024, 6, 1)
TWO_MONTHS = (
    HEADER + "2024-05,ACC-1,SUB-1,Premium,10,100.00,recurring\n"
    "2024-06,ACC-1,SUB-1,Premium,12,120.00,recurring\n"
    "2024-06,ACC-1,SUB-2,Basic,1,9.50,recurring\n"
)


@pytest.fixture(autouse=True)
def postgresql(db, monkeypatch):
    require_postgresql("month partitions exist on PostgreSQL only")
    monkeypatch.setattr("retention.importing.lines.schedule_recompute", lambda months, import_run_id=None: None)
    AccountFactory(external_id="ACC-1")


def partition_of_each_line():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text, month FROM {partitions.LINE_TABLE} ORDER BY month")
        return cursor.fetchall()


def load_tables():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'tamarind\\_load\\_%%' ORDER BY relname")
        return [name for (name,) in cursor.fetchall()]


def test_fast_import_partition_per_month(tmp_path):
    summary = import_mrr(write_csv(tmp_path / "m.csv", TWO_MONTHS))

    assert summary["fast_path"] is True
    assert partition_of_each_line() == [
        ("retention_mrrline_p202405", MAY),
        ("retention_mrrline_p202406", JUNE),
        ("retention_mrrline_p202406", JUNE),
    ]
    assert load_tables() == []


def test_reimport_replaces_the_month_partition(tmp_path):
    import_mrr(write_csv(tmp_path / "first.csv", TWO_MONTHS))

    summary = import_mrr(write_csv(tmp_path / "june.csv", HEADER + "2024-06,ACC-1,SUB-1,Premium,3,30.00,recurring\n"))

    assert summary["lines_stored"] == 1
    assert lines() == [
        ("2024-05", "SUB-1", "Premium", 10, Decimal("100.00"), "recurring"),
        ("2024-06", "SUB-1", "Premium", 3, Decimal("30.00"), "recurring"),
    ]
    assert [name for name, _ in partition_of_each_line()] == ["retention_mrrline_p202405", "retention_mrrline_p202406"]


def test_import_over_default_partition_lines(tmp_path):
    subscription = SubscriptionFactory(external_id="SUB-1", account=Account.objects.get(external_id="ACC-1"))
    MrrLine.objects.create(
        month=JUNE, subscription=subscription, product="Old", quantity=1, mrr=Decimal("1.00"), charge_type="recurring"
    )
    assert partition_of_each_line() == [("retention_mrrline_default", JUNE)]

    import_mrr(write_csv(tmp_path / "june.csv", HEADER + "2024-06,ACC-1,SUB-1,Premium,3,30.00,recurring\n"))

    assert lines() == [("2024-06", "SUB-1", "Premium", 3, Decimal("30.00"), "recurring")]
    assert partition_of_each_line() == [("retention_mrrline_p202406", JUNE)]


def test_row_by_row_import_also_writes_month_partitions(tmp_path):
    # A quoted field sends the file to the row-by-row import.
    summary = import_mrr(
        write_csv(tmp_path / "quoted.csv", HEADER + '2024-05,ACC-1,SUB-1,"Premium",10,1.00,recurring\n')
    )

    assert summary["fast_path"] is False
    assert partition_of_each_line() == [("retention_mrrline_p202405", MAY)]


def test_import_after_stopped_import_tables(tmp_path):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE tamarind_load_0123456789ab_202405 ({partitions.table_definition()})")

    import_mrr(write_csv(tmp_path / "m.csv", TWO_MONTHS))

    assert load_tables() == []


def test_row_by_row_import_drops_stopped_load_tables(tmp_path):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE tamarind_load_0123456789ab_202405 ({partitions.table_definition()})")

    # A quoted field sends the file to the row-by-row import.
    summary = import_mrr(
        write_csv(tmp_path / "quoted.csv", HEADER + '2024-05,ACC-1,SUB-1,"Premium",10,1.00,recurring\n')
    )

    assert summary["fast_path"] is False
    assert load_tables() == []


def test_failed_attach_leaves_no_lines_and_no_tables(tmp_path, monkeypatch):
    import_mrr(write_csv(tmp_path / "first.csv", TWO_MONTHS))
    before = lines()

    def failing_attach(tables):
        raise RuntimeError("attach failed")

    monkeypatch.setattr(mrr_copy, "_attach", failing_attach)
    with pytest.raises(RuntimeError, match="attach failed"):
        import_mrr(write_csv(tmp_path / "june.csv", HEADER + "2024-06,ACC-1,SUB-3,Premium,3,30.00,recurring\n"))

    assert lines() == before
    assert not Subscription.objects.filter(external_id="SUB-3").exists()
    assert load_tables() == []


# A new subscription's lines in May and June.
NEW_SUBSCRIPTION_IN_TWO_MONTHS = (
    HEADER + "2024-05,ACC-1,SUB-3,Premium,3,30.00,recurring\n2024-06,ACC-1,SUB-3,Premium,3,30.00,recurring\n"
)


def assert_nothing_stored(lines_before):
    """Check that a failed import of NEW_SUBSCRIPTION_IN_TWO_MONTHS left no line, subscription, table or thread."""
    assert lines() == lines_before
    assert not Subscription.objects.filter(external_id="SUB-3").exists()
    assert load_tables() == []
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("Thread-")] == []


def test_failed_month_file_stores_nothing(tmp_path, monkeypatch):
    import_mrr(write_csv(tmp_path / "first.csv", TWO_MONTHS))
    before = lines()
    real_write_month = mrr_copy._write_month

    def write_may_only(duck, month, files, loading):
        if month == JUNE:
            raise OSError("No space left on device")
        real_write_month(duck, month, files, loading)

    monkeypatch.setattr(mrr_copy, "_write_month", write_may_only)
    # The loaders load May while the writer fails on June; the import waits for them before it fails.
    with pytest.raises(OSError, match="No space left"):
        import_mrr(write_csv(tmp_path / "both.csv", NEW_SUBSCRIPTION_IN_TWO_MONTHS))

    assert_nothing_stored(before)


@pytest.fixture
def month_files_written(monkeypatch):
    """The lines of every month file that the fast path writes, in file order, one list per file."""
    real_write_months = mrr_copy._write_months
    written = []

    def write_and_read_back(*arguments, **options):
        plan = real_write_months(*arguments, **options)
        for files in plan.month_files.values():
            for file_path in files:
                with open(file_path) as month_file:
                    written.append([line.rstrip("\n").split(",") for line in month_file])
        return plan

    monkeypatch.setattr(mrr_copy, "_write_months", write_and_read_back)
    return written


def assert_in_key_order(month_lines):
    keys = [
        (int(subscription_id), product.encode(), charge_type)
        for product, _, _, charge_type, subscription_id in month_lines
    ]
    first_out_of_order = next((index for index in range(1, len(keys)) if keys[index] < keys[index - 1]), None)
    assert first_out_of_order is None


# Out of order, and with products whose order differs between byte order and a language's order.
UNORDERED_ROWS = [
    "2024-05,ACC-1,SUB-2,alpha,1,10.00,recurring",
    "2024-05,ACC-1,SUB-1,pro,1,10.00,trueup",
    "2024-05,ACC-1,SUB-1,Zeta,1,10.00,recurring",
    "2024-05,ACC-1,SUB-1,Pro,1,10.00,trueup",
    "2024-05,ACC-1,SUB-1,Pro,1,10.00,recurring",
    "2024-06,ACC-1,SUB-2,Basic,1,10.00,recurring",
    "2024-06,ACC-1,SUB-1,basic,1,10.00,recurring",
]


def stored_products():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT product FROM {partitions.LINE_TABLE} ORDER BY product")
        return [product for (product,) in cursor.fetchall()]


def test_month_files_in_key_order(tmp_path, month_files_written):
    summary = import_mrr(write_csv(tmp_path / "m.csv", HEADER + "\n".join(UNORDERED_ROWS) + "\n"))

    assert summary["fast_path"] is True
    assert len(month_files_written) == 2
    for month_lines in month_files_written:
        assert_in_key_order(month_lines)
    assert stored_products() == ["Basic", "Pro", "Zeta", "alpha", "basic", "pro"]


def test_month_files_in_key_order_after_adding_up(tmp_path, month_files_written):
    rows = [*UNORDERED_ROWS, "2024-05,ACC-1,SUB-1,Pro,2,5.00,recurring"]

    summary = import_mrr(write_csv(tmp_path / "m.csv", HEADER + "\n".join(rows) + "\n"))

    assert summary["fast_path"] is True
    # The first write's May file repeats a key, so both months are written again with the lines added up.
    assert len(month_files_written) == 4
    for month_lines in month_files_written:
        assert_in_key_order(month_lines)
    assert ["Pro", "3", "1500", "recurring"] in [line[:4] for line in month_files_written[2]]
    assert stored_products() == ["Basic", "Pro", "Zeta", "alpha", "basic", "pro"]


# A share of 0 sorts the lines after the file's rows are dropped, as for a file whose rows fill DuckDB's
# memory. A share of 100 sorts them in the statement that converts them.
@pytest.mark.parametrize("rows_share", [0, 100])
def test_month_files_ordered_across_row_groups(tmp_path, month_files_written, monkeypatch, rows_share):
    # DuckDB stores a table in row groups of 122,880 rows and works on them in parallel, so only months
    # of more lines than that, on more than one thread, show whether the sorted order is kept.
    monkeypatch.setattr(mrr_copy, "DUCKDB_THREADS", 4)
    monkeypatch.setattr(mrr_copy, "SEPARATE_SORT_SHARE", rows_share)
    products = ["alpha", "Alpha", "Zeta", "pro", "Pro", "Pro-X", "Pro_X", "Pro~X"]
    keys = [
        (f"SUB-{index // 16}", products[index % 8], ("recurring", "trueup")[index // 8 % 2]) for index in range(130_000)
    ]
    rows = [
        f"{month},ACC-1,{subscription},{product},1,1.00,{charge}"
        for month in ("2024-05", "2024-06")
        for subscription, product, charge in keys
    ]
    random.Random(0).shuffle(rows)
    rows.append("2024-05,ACC-1,SUB-7,Pro,2,5.00,recurring")

    summary = import_mrr(write_csv(tmp_path / "m.csv", HEADER + "\n".join(rows) + "\n"))

    assert summary["fast_path"] is True
    assert summary["lines_stored"] == 260_000
    # The first write's May file repeats a key, so both months are written again with the lines added up.
    assert [len(month_lines) for month_lines in month_files_written] == [130_001, 130_000, 130_000, 130_000]
    for month_lines in month_files_written:
        assert_in_key_order(month_lines)
    added_up = MrrLine.objects.get(month=MAY, subscription__external_id="SUB-7", product="Pro", charge_type="recurring")
    assert (added_up.quantity, added_up.mrr) == (3, Decimal("6.00"))


@pytest.mark.parametrize(
    ("file_bytes", "expected_mb"),
    [(1, 320), (mrr_copy.LARGE_FILE_BYTES, 320), (mrr_copy.LARGE_FILE_BYTES + 1, 256)],
)
def test_duckdb_memory_by_file_size(file_bytes, expected_mb):
    assert mrr_copy.duckdb_memory_mb(file_bytes) == expected_mb


# DuckDB shows its memory limit in MiB: 320 MB as 305.1 MiB, and 256 MB as 244.1 MiB.
@pytest.mark.parametrize(("large_file_bytes", "expected_limit"), [(10**9, "305.1 MiB"), (100, "244.1 MiB")])
def test_large_file_gets_less_duckdb_memory(tmp_path, monkeypatch, large_file_bytes, expected_limit):
    monkeypatch.setattr(mrr_copy, "LARGE_FILE_BYTES", large_file_bytes)
    real_write_months = mrr_copy._write_months
    limits = []

    def write_and_read_limit(duck, *arguments, **options):
        limits.append(duck.execute("SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'").fetchone()[0])
        return real_write_months(duck, *arguments, **options)

    monkeypatch.setattr(mrr_copy, "_write_months", write_and_read_limit)

    summary = import_mrr(write_csv(tmp_path / "m.csv", TWO_MONTHS))

    assert summary["fast_path"] is True
    assert limits == [expected_limit]


def test_import_with_subscription_stored_meanwhile(tmp_path, monkeypatch):
    real_number_new_subscriptions = mrr_copy._number_new_subscriptions

    def number_while_another_import_stores_sub_2(*arguments):
        real_number_new_subscriptions(*arguments)
        SubscriptionFactory(external_id="SUB-2", account=Account.objects.get(external_id="ACC-1"))

    monkeypatch.setattr(mrr_copy, "_number_new_subscriptions", number_while_another_import_stores_sub_2)

    summary = import_mrr(write_csv(tmp_path / "m.csv", TWO_MONTHS))

    assert summary["fast_path"] is False
    assert summary["subscriptions_created"] == 1
    assert len(lines()) == 3
    assert load_tables() == []


def test_import_after_stopped_import_work_folder(tmp_path):
    finished = subprocess.Popen(["true"])
    finished.wait()
    stopped = os.path.join(mrr_copy.WORK_FOLDERS, f"{finished.pid}-stopped")
    running = os.path.join(mrr_copy.WORK_FOLDERS, f"{os.getppid()}-running")
    for folder in (stopped, running):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "202405.csv"), "w") as month_file:
            month_file.write("Premium,1,100,recurring,1\n")

    import_mrr(write_csv(tmp_path / "m.csv", TWO_MONTHS))

    assert not os.path.exists(stopped)
    assert os.path.exists(running)
    shutil.rmtree(running)


def test_progress_monotonic_across_reload(tmp_path, monkeypatch):
    monkeypatch.setattr(mrr_copy, "PROGRESS_EVERY", 1)
    # The loaders take the largest months first, so June and July load before May, whose repeated key
    # makes every month load again.
    june_and_july = "".join(
        f"2024-{month},ACC-1,SUB-{index},Premium,1,1.00,recurring\n" for month in ("06", "07") for index in range(3)
    )
    may = "2024-05,ACC-1,SUB-1,Premium,1,1.00,recurring\n" * 2
    reported = []

    summary = import_mrr(
        write_csv(tmp_path / "m.csv", HEADER + june_and_july + may),
        on_progress=lambda rows, bytes_read, total_bytes: reported.append(rows),
    )

    assert summary["fast_path"] is True
    assert summary["lines_stored"] == 7
    assert reported == sorted(reported)
    assert reported[-1] == 8


class ProgressLog:
    """The progress reports of an import, and how many of them came before the first month table loaded."""

    def __init__(self):
        self.reports: list[tuple[int, int, int]] = []
        self.before_loading: int | None = None

    def report(self, *report) -> None:
        self.reports.append(report)

    def rows(self, reports) -> list[int]:
        return [rows for rows, _, _ in reports]


@pytest.fixture
def progress_log(monkeypatch):
    """Report progress every row, and note when the loaders take their first month."""
    monkeypatch.setattr(mrr_copy, "PROGRESS_EVERY", 1)
    log = ProgressLog()
    load_table = mrr_copy._load_table

    def note_reports_then_load(*arguments):
        if log.before_loading is None:
            log.before_loading = len(log.reports)
        return load_table(*arguments)

    monkeypatch.setattr(mrr_copy, "_load_table", note_reports_then_load)
    return log


def test_progress_reports_scan_before_loading(tmp_path, progress_log):
    path = write_csv(
        tmp_path / "m.csv", HEADER + "".join(f"2024-06,ACC-1,SUB-{i},Premium,1,1.00,recurring\n" for i in range(10))
    )

    summary = import_mrr(path, on_progress=progress_log.report)

    assert summary["fast_path"] is True
    size = os.path.getsize(path)
    reported = progress_log.reports
    scanned = reported[: progress_log.before_loading]
    assert progress_log.rows(scanned) == [5]
    assert scanned[0][1] <= size // 2
    assert progress_log.rows(reported) == sorted(set(progress_log.rows(reported)))
    assert reported[-1] == (10, size, size)


def test_progress_of_loading_comes_once_per_tenth(tmp_path, progress_log):
    rows = "".join(
        f"2023-{month:02d},ACC-1,SUB-{index},Premium,1,1.00,recurring\n"
        for month in range(1, 13)
        for index in range(10)
    )
    path = write_csv(tmp_path / "m.csv", HEADER + rows)

    summary = import_mrr(path, on_progress=progress_log.report)

    assert summary["lines_stored"] == 120
    loading = progress_log.rows(progress_log.reports[progress_log.before_loading :])
    # The loading makes the second half of the 120 rows: steps of at least 12 rows, then the last report.
    assert len(loading) <= 6
    assert all(later - earlier >= 12 for earlier, later in itertools.pairwise(loading[:-1]))
    assert loading == sorted(set(loading))
    assert loading[-1] == 120


def test_progress_never_back_after_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(mrr_copy, "PROGRESS_EVERY", 1)
    monkeypatch.setattr("common.csvimport.PROGRESS_EVERY", 1)
    # A product that starts with a letter outside ASCII is left to the row-by-row checks.
    rows = "".join(f"2024-06,ACC-1,SUB-{i},\u00c9lite,1,1.00,recurring\n" for i in range(10))
    reported = []

    summary = import_mrr(
        write_csv(tmp_path / "m.csv", HEADER + rows), on_progress=lambda *report: reported.append(report)
    )

    assert summary["fast_path"] is False
    assert [count for count, _, _ in reported] == [5, 6, 7, 8, 9, 10]


def wait_for_a_lock_wait(timeout=10.0):
    """Wait until another session of the test database waits for a lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Within a transaction, pg_stat_activity keeps the rows of its first read until this call drops them.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT COUNT(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError(f"no other session waited for a lock within {timeout} s")


@pytest.fixture
def drop_january_2023_partition(transactional_db):
    """Drop the partition that a test with committed imports creates, so later tests find only their own."""
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(datetime.date(2023, 1, 1))}")


def test_import_beside_subscription_writer(tmp_path, monkeypatch, drop_january_2023_partition):
    # The row-by-row imports store new subscriptions with create_subscriptions under the report lock.
    failures = []

    def store_sub_1_under_report_lock():
        try:
            columns = [("subscription_ext", "varchar(100)"), ("account_ext", "varchar(100)")]
            with report_lock(), StagingTable("tamarind_stage_other_writer", columns) as stage:
                stage.add(("SUB-1", "ACC-1"))
                stage.close_loading()
                create_subscriptions(stage)
        except DatabaseError as error:
            failures.append(error)
        finally:
            connection.close()

    writer = threading.Thread(target=store_sub_1_under_report_lock)
    real_create_subscriptions = mrr_copy._create_subscriptions

    def create_then_let_writer_wait(*arguments):
        created = real_create_subscriptions(*arguments)
        writer.start()
        wait_for_a_lock_wait()
        return created

    monkeypatch.setattr(mrr_copy, "_create_subscriptions", create_then_let_writer_wait)
    try:
        summary = import_mrr(
            write_csv(tmp_path / "m.csv", HEADER + "2023-01,ACC-1,SUB-1,Premium,10,100.00,recurring\n")
        )
    finally:
        if writer.ident is not None:
            writer.join()

    assert failures == []
    assert summary["fast_path"] is True
    assert summary["subscriptions_created"] == 1
    assert list(Subscription.objects.values_list("external_id", flat=True)) == ["SUB-1"]


def test_lost_loader_connection_raises_its_error(tmp_path, monkeypatch):
    import_mrr(write_csv(tmp_path / "first.csv", TWO_MONTHS))
    before = lines()
    real_load_table = mrr_copy._load_table

    def load_may_lose_june(database, month, table, files):
        if month == JUNE:
            # The server ends the loader's session, as a restart or pg_terminate_backend does.
            database.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real_load_table(database, month, table, files)

    monkeypatch.setattr(mrr_copy, "_load_table", load_may_lose_june)
    with pytest.raises(psycopg.OperationalError):
        import_mrr(write_csv(tmp_path / "both.csv", NEW_SUBSCRIPTION_IN_TWO_MONTHS))

    assert_nothing_stored(before)
