"""Recomputation on worker connections: the same figures as one connection, and no trace of a failed run."""

import datetime
import threading

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from accounts.models import Account
from accounts.roles import Role
from retention import engine, engine_workers
from retention.engine import recompute_retention
from retention.models import (
    CustomerBlock,
    Level,
    ReasonTotal,
    RetentionCustomer,
    RetentionResult,
    TamTotal,
    UnlistedCustomerRange,
)
from retention.reason_selectors import visible_customer
from retention.synthetic import generate
from retention.tasks import TRANSIENT_ERRORS
from tests.conftest import require_postgresql
from tests.factories import SubscriptionFactory, UserFactory
from tests.retention.builders import add_lines

LAST_MONTH = datetime.date(2025, 6, 1)


@pytest.fixture(autouse=True)
def postgresql(transactional_db, monkeypatch):
    require_postgresql("worker connections serve PostgreSQL only")
    # The test runs each recomputation itself.
    monkeypatch.setattr("retention.importing.lines.schedule_recompute", lambda months, import_run_id=None: None)
    monkeypatch.setattr(engine_workers, "WORKERS", 2)


@pytest.fixture
def history(tmp_path):
    """Import 18 months of generated lines for 40 parent accounts, with every kind of change."""
    generate(tmp_path, parents=40, months=18, seed=11, last_month=LAST_MONTH)
    call_command("import_accounts", str(tmp_path / "accounts.csv"), verbosity=0)
    call_command("import_mrr", str(tmp_path / "mrr.csv"), verbosity=0)
    # Two TAMs own two accounts in three and the third has no owner, so the owner totals have three keys.
    owners = [UserFactory(username=f"tam_{number}", role=Role.TAM) for number in range(2)]
    for index, account in enumerate(Account.objects.order_by("external_id")):
        account.tam = owners[index % 2] if index % 3 else None
        account.save(update_fields=["tam"])


@pytest.fixture
def worker_runs(monkeypatch):
    """Count the runs that computed months on worker connections."""
    runs = []
    on_workers = engine_workers.compute_on_workers

    def counted(months, meanwhile):
        runs.append(months)
        return on_workers(months, meanwhile)

    monkeypatch.setattr(engine_workers, "compute_on_workers", counted)
    return runs


def listed_customers():
    """Return the customer rows that pages read: those that blocks list."""
    return [
        row
        for block in CustomerBlock.objects.all()
        for row in RetentionCustomer.objects.of_month(block.month, block.level)
    ]


def stored_figures():
    """Return every figure that pages read, keyed so that row ids do not matter."""
    listed_ids = [row.pk for row in listed_customers()]
    customers = sorted(
        RetentionCustomer.objects.filter(pk__in=listed_ids).values_list(
            "month",
            "level",
            "account_id",
            "subscription_id",
            "segment",
            "tam_id",
            "a",
            "b",
            "c",
            "recurring_a",
            "recurring_b",
            "seats_a",
            "seats_b",
            "reason",
            "reason_amount",
        ),
        key=repr,
    )
    tam_totals = sorted(
        TamTotal.objects.values_list("month", "level", "segment", "tam_id", "reason", "customers", "a", "b", "c"),
        key=repr,
    )
    reasons = sorted(ReasonTotal.objects.values_list("month", "level", "segment", "reason", "customers", "amount"))
    results = sorted(
        RetentionResult.objects.values_list("month", "level", "segment", "customers", "a", "b", "c", "net_pct")
    )
    return customers, tam_totals, reasons, results


def test_workers_match_one_connection(history, worker_runs, monkeypatch):
    recompute_retention()
    on_workers = stored_figures()

    monkeypatch.setattr(engine_workers, "WORKERS", 1)
    recompute_retention()
    on_one_connection = stored_figures()

    assert len(worker_runs) == 1
    assert len(worker_runs[0]) == 6  # 18 months, of which the last 6 have a baseline
    customers, tam_totals, reasons, results = on_workers
    assert len(customers) > 300
    assert {row[13] for row in customers} >= {"", "cancellation", "downgrade", "seat_expansion"}
    assert len({row[3] for row in tam_totals}) == 3
    assert on_workers == on_one_connection


def test_one_month_splits_by_parents(history, worker_runs, monkeypatch):
    monkeypatch.setattr(engine_workers, "WORKERS", 1)
    recompute_retention()
    on_one_connection = stored_figures()
    monkeypatch.setattr(engine_workers, "WORKERS", 2)
    units = []
    work_units = engine_workers._work_units

    def recorded_work_units(months):
        units.extend(work_units(months))
        return units

    monkeypatch.setattr(engine_workers, "_work_units", recorded_work_units)

    recompute_retention([LAST_MONTH])

    assert worker_runs == [[LAST_MONTH]]
    assert [(unit.month, unit.levels) for unit in units] == [(LAST_MONTH, tuple(Level))] * 2
    (first_low, first_high), (second_low, second_high) = units[0].parents, units[1].parents
    assert first_low == -(2**63)
    assert second_low == first_high + 1
    assert second_high == 2**63 - 1
    parent_ids = set(Account.objects.filter(parent=None).values_list("pk", flat=True))
    assert {pk for pk in parent_ids if pk <= first_high}
    assert {pk for pk in parent_ids if pk > first_high}
    assert CustomerBlock.objects.filter(month=LAST_MONTH).count() == len(Level)
    assert stored_figures() == on_one_connection


def test_run_computes_first_part_itself(history, monkeypatch):
    recompute_retention()
    before = stored_figures()
    workers, own_units = [], []
    worker, compute_own_units = engine_workers._worker, engine_workers._compute_own_units

    def counted_worker(*arguments):
        workers.append(threading.current_thread().name)
        worker(*arguments)

    def recorded_compute_own_units(units, failed):
        own_units.extend(units)
        return compute_own_units(units, failed)

    monkeypatch.setattr(engine_workers, "_worker", counted_worker)
    monkeypatch.setattr(engine_workers, "_compute_own_units", recorded_compute_own_units)

    recompute_retention([LAST_MONTH])

    # Of two parts, the run's own connection computes the first and one worker the second.
    assert len(workers) == 1
    assert [(unit.month, unit.part, unit.parents[0]) for unit in own_units] == [(LAST_MONTH, 0, -(2**63))]
    assert UnlistedCustomerRange.objects.count() == 0
    assert stored_figures() == before


def test_blocks_list_their_own_rows(history, worker_runs):
    recompute_retention()

    assert worker_runs
    for block in CustomerBlock.objects.all():
        rows = RetentionCustomer.objects.filter(pk__range=(block.first_id, block.last_id))
        assert set(rows.values_list("month", "level")) == {(block.month, block.level)}
    assert len(listed_customers()) == RetentionCustomer.objects.count()
    assert UnlistedCustomerRange.objects.count() == 0


def test_split_month_blocks_list_own_rows(history, worker_runs):
    recompute_retention()
    recompute_retention([LAST_MONTH])

    assert worker_runs[-1] == [LAST_MONTH]
    blocks = CustomerBlock.objects.filter(month=LAST_MONTH)
    assert blocks.count() == len(Level)
    for block in blocks:
        rows = RetentionCustomer.objects.filter(pk__range=(block.first_id, block.last_id))
        assert set(rows.values_list("level", flat=True)) == {block.level}
    assert len(listed_customers()) == RetentionCustomer.objects.count()


def test_two_months_in_three_parts(history, worker_runs, monkeypatch):
    monkeypatch.setattr(engine_workers, "WORKERS", 1)
    recompute_retention()
    on_one_connection = stored_figures()
    monkeypatch.setattr(engine_workers, "WORKERS", 3)
    months = [datetime.date(2025, 1, 1), LAST_MONTH]

    recompute_retention(months)

    assert worker_runs == [months]
    for month in months:
        blocks = CustomerBlock.objects.filter(month=month)
        assert blocks.count() == len(Level)
        for block in blocks:
            rows = RetentionCustomer.objects.filter(pk__range=(block.first_id, block.last_id))
            assert set(rows.values_list("month", "level")) == {(month, block.level)}
    assert UnlistedCustomerRange.objects.count() == 0
    assert stored_figures() == on_one_connection


def test_failed_worker_stops_the_others(history, monkeypatch):
    recompute_retention()
    before = stored_figures()
    listed_ids = set(RetentionCustomer.objects.values_list("pk", flat=True))
    fill_pairs = engine_workers.fill_pairs
    months_taken = []

    def fail_on_first_month(cursor, pairs_sql, month, **options):
        months_taken.append(month)
        if month == datetime.date(2025, 1, 1):
            raise RuntimeError("worker stopped")
        return fill_pairs(cursor, pairs_sql, month, **options)

    monkeypatch.setattr(engine_workers, "fill_pairs", fail_on_first_month)
    with pytest.raises(RuntimeError, match="worker stopped"):
        recompute_retention()

    # The other worker finished the month it had and rolled it back.
    assert len(months_taken) < 6
    assert set(RetentionCustomer.objects.values_list("pk", flat=True)) == listed_ids
    assert UnlistedCustomerRange.objects.count() == 0
    assert stored_figures() == before


def test_failed_deletion_stops_the_workers(history, monkeypatch):
    recompute_retention()
    before = stored_figures()
    listed_ids = set(RetentionCustomer.objects.values_list("pk", flat=True))

    def fail_to_delete(months):
        raise RuntimeError("deletion stopped")

    monkeypatch.setattr(engine, "_delete_results", fail_to_delete)
    with pytest.raises(RuntimeError, match="deletion stopped"):
        recompute_retention()

    assert set(RetentionCustomer.objects.values_list("pk", flat=True)) == listed_ids
    assert UnlistedCustomerRange.objects.count() == 0
    assert stored_figures() == before


def test_failed_own_part_stops_the_run(history, monkeypatch):
    recompute_retention()
    before = stored_figures()
    compute_own_units = engine_workers._compute_own_units

    def fail_own_part(units, failed):
        raise RuntimeError("own part stopped")

    monkeypatch.setattr(engine_workers, "_compute_own_units", fail_own_part)
    with pytest.raises(RuntimeError, match="own part stopped"):
        recompute_retention([LAST_MONTH])

    assert stored_figures() == before
    # Rows that the worker committed before it learned of the failure are deleted by the next run.
    monkeypatch.setattr(engine_workers, "_compute_own_units", compute_own_units)
    recompute_retention([LAST_MONTH])
    assert UnlistedCustomerRange.objects.count() == 0
    assert len(listed_customers()) == RetentionCustomer.objects.count()
    assert stored_figures() == before


def test_unlisted_rows_hidden_then_deleted(history):
    recompute_retention()
    before = stored_figures()
    listed_ids = set(RetentionCustomer.objects.values_list("pk", flat=True))

    stray_id = commit_stray_customer_row()

    manager = UserFactory(username="manager", role=Role.MANAGER)
    assert visible_customer(manager, stray_id) is None
    assert visible_customer(manager, min(listed_ids)) is not None
    assert stored_figures() == before

    recompute_retention()

    assert not RetentionCustomer.objects.filter(pk=stray_id).exists()
    assert UnlistedCustomerRange.objects.count() == 0
    assert stored_figures() == before
    assert len(listed_customers()) == RetentionCustomer.objects.count()


def test_lost_worker_connection_is_transient_error(history, monkeypatch):
    recompute_retention()
    before = stored_figures()
    fill_pairs = engine_workers.fill_pairs

    def lose_connection_on_one_month(cursor, pairs_sql, month, **options):
        if month == LAST_MONTH:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return fill_pairs(cursor, pairs_sql, month, **options)

    monkeypatch.setattr(engine_workers, "fill_pairs", lose_connection_on_one_month)
    with pytest.raises(TRANSIENT_ERRORS, match="terminating connection"):
        recompute_retention()

    assert stored_figures() == before


def test_worker_waiting_on_lock_times_out(history, monkeypatch):
    recompute_retention()
    before = stored_figures()
    listed_ids = set(RetentionCustomer.objects.values_list("pk", flat=True))
    monkeypatch.setattr(engine_workers, "WORKER_LOCK_TIMEOUT", "200ms")
    # Another session holds the lock under which workers take their customer ids.
    holder = connection.get_new_connection(connection.get_connection_params())
    holder.autocommit = True
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", [engine_workers._CUSTOMER_IDS_LOCK_KEY])
        with pytest.raises(TRANSIENT_ERRORS, match="lock timeout"):
            recompute_retention()
    finally:
        holder.close()

    assert set(RetentionCustomer.objects.values_list("pk", flat=True)) == listed_ids
    assert UnlistedCustomerRange.objects.count() == 0
    assert stored_figures() == before


def test_split_reserves_for_deleted_subscriptions(history):
    newest = SubscriptionFactory(account=Account.objects.order_by("pk").first())
    highest_id = newest.pk
    # In a real run the deletion can come after the workers' snapshot, so the workers still see it.
    newest.delete()

    units = engine_workers._work_units([LAST_MONTH])

    first_part, second_part = units
    assert second_part.before_first[Level.PARENT] - first_part.before_first[Level.PARENT] >= highest_id


def test_failed_split_stops_the_workers(history, monkeypatch):
    recompute_retention()
    before = stored_figures()

    def fail_to_split(cursor, count):
        raise RuntimeError("split stopped")

    monkeypatch.setattr(engine_workers, "_parent_ranges", fail_to_split)
    outcome = []

    def recompute_one_month():
        try:
            recompute_retention([LAST_MONTH])
        except RuntimeError as error:
            outcome.append(error)
        finally:
            connection.close()

    # The workers have connected and wait for work when the split fails, and they must end instead of waiting.
    run = threading.Thread(target=recompute_one_month)
    run.start()
    run.join(timeout=60)

    assert not run.is_alive()
    assert [str(error) for error in outcome] == ["split stopped"]
    assert UnlistedCustomerRange.objects.count() == 0
    assert stored_figures() == before


def test_failed_reservation_releases_lock(history, monkeypatch):
    recompute_retention()
    before = stored_figures()
    take_customer_ids = engine_workers._take_customer_ids

    def overflowing_reservation(cursor, count, **options):
        # The sequence cannot go this far, so the statement fails while the run holds the lock.
        return take_customer_ids(cursor, 2**63 - 1, **options)

    monkeypatch.setattr(engine_workers, "_take_customer_ids", overflowing_reservation)
    with pytest.raises(DatabaseError):
        recompute_retention([LAST_MONTH])

    # The run's connection stays open, as a persistent connection of a worker process does.
    other = connection.get_new_connection(connection.get_connection_params())
    other.autocommit = True
    try:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [engine_workers._CUSTOMER_IDS_LOCK_KEY]).fetchone()[0]
    finally:
        other.close()
    assert stored_figures() == before


def commit_stray_customer_row() -> int:
    """Commit a copy of a customer row and its range on another connection, as a worker of a dead run does."""
    database = connection.get_new_connection(connection.get_connection_params())
    database.autocommit = True
    try:
        row_id = database.execute(
            """
            INSERT INTO retention_retentioncustomer (
                id, month, level, account_id, subscription_id, segment, tam_id, a, b, c,
                recurring_a, recurring_b, seats_a, seats_b, reason, reason_amount
            )
            SELECT nextval(pg_get_serial_sequence('retention_retentioncustomer', 'id')), month, level, account_id,
                   subscription_id, segment, tam_id, a, b, c, recurring_a, recurring_b, seats_a, seats_b, reason,
                   reason_amount
            FROM retention_retentioncustomer ORDER BY id LIMIT 1
            RETURNING id
            """
        ).fetchone()[0]
        database.execute(
            "INSERT INTO retention_unlistedcustomerrange (first_id, last_id) VALUES (%s, %s)", [row_id, row_id]
        )
    finally:
        database.close()
    return row_id


def test_late_rows_of_dead_run_deleted(history, monkeypatch):
    recompute_retention()
    before = stored_figures()
    stray_ids = []
    on_workers = engine_workers.compute_on_workers

    def dead_run_commits_meanwhile(months, meanwhile):
        # The workers of a run that lost its own connection go on, and commit while this run computes.
        def commit_then_delete():
            stray_ids.append(commit_stray_customer_row())
            meanwhile()

        return on_workers(months, commit_then_delete)

    monkeypatch.setattr(engine_workers, "compute_on_workers", dead_run_commits_meanwhile)
    recompute_retention()
    monkeypatch.setattr(engine_workers, "compute_on_workers", on_workers)
    recompute_retention()

    assert len(stray_ids) == 1
    assert not RetentionCustomer.objects.filter(pk=stray_ids[0]).exists()
    assert UnlistedCustomerRange.objects.count() == 0
    assert stored_figures() == before


def test_run_in_transaction_reads_own_writes(worker_runs):
    with transaction.atomic():
        add_lines(
            [
                ("2023-06", "R1", "SUB-R1", "Premium", 10, "100.00", "recurring"),
                ("2023-07", "R1", "SUB-R1", "Premium", 10, "100.00", "recurring"),
                ("2024-06", "R1", "SUB-R1", "Premium", 12, "120.00", "recurring"),
                ("2024-07", "R1", "SUB-R1", "Premium", 8, "80.00", "recurring"),
            ],
            cover=[f"2023-{month:02}" for month in range(6, 13)] + [f"2024-{month:02}" for month in range(1, 8)],
        )
        recompute_retention()

    assert worker_runs == []
    net = dict(RetentionResult.objects.filter(level=Level.PARENT, segment="all", customers=1).values_list("month", "b"))
    assert {month: str(b) for month, b in net.items()} == {
        datetime.date(2024, 6, 1): "120.00",
        datetime.date(2024, 7, 1): "80.00",
    }
