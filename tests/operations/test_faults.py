"""Processes killed half-way through an import or a recomputation leave the stored data as it was.

Each test runs the real management command in its own process against the test
database and kills it with SIGKILL at a known point. Needs PostgreSQL.
"""

import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from accounts.services import import_accounts
from audit.models import AuditEvent
from retention.importing.mrr import import_mrr
from retention.importing.runs import _RUNNING_LOCK_KEY, ABANDONED_MESSAGE, close_abandoned_runs
from retention.management.commands.backup_check import fingerprint
from retention.models import CoveredMonth, ImportRun, MrrLine, RetentionResult
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        message = "the fault tests need PostgreSQL; set DATABASE_URL to run them."
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def conninfo():
    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(
        **{key: value for key, value in params.items() if key in {"dbname", "user", "host", "port"}}
    )


def command_environment():
    settings = connection.settings_dict
    url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": "",
    }


def synthetic_book(tmp_path, parents=1500):
    call_command(
        "generate_demo_data",
        "--parents",
        str(parents),
        "--months",
        "24",
        "--last-month",
        "2024-12",
        "--output",
        str(tmp_path),
        stdout=StringIO(),
    )
    call_command("import_accounts", str(tmp_path / "accounts.csv"), stdout=StringIO(), stderr=StringIO())


def start_import(tmp_path):
    """Start `import_mrr` of the synthetic book in a subprocess and return it with its first progress line.

    Progress lines come every 5,000 rows, so the import is under way when this returns.
    """
    process = subprocess.Popen(
        [sys.executable, "manage.py", "import_mrr", str(tmp_path / "mrr.csv")],
        cwd=ROOT,
        env=command_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = process.stderr.readline()
    while first and not first.startswith("Read "):
        first = process.stderr.readline()
    return process, first


def wait_for_query(fragment, timeout=60):
    """Wait until another session runs a statement that contains `fragment`."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(conninfo(), autocommit=True) as watcher:
        while time.monotonic() < deadline:
            found = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND query LIKE %s AND state = 'active'",
                [f"%{fragment}%"],
            ).fetchone()[0]
            if found:
                return
            time.sleep(0.05)
    pytest.fail(f"no statement with {fragment!r} started within {timeout} s")


@pytest.mark.django_db(transaction=True)
def test_import_killed_half_way_stores_nothing(postgresql, tmp_path):
    synthetic_book(tmp_path)
    lines_before = MrrLine.objects.count()
    process, first = start_import(tmp_path)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    assert first.startswith("Read ")
    assert MrrLine.objects.count() == lines_before == 0
    assert not CoveredMonth.objects.exists()
    assert not ImportRun.objects.filter(kind="mrr", status="done").exists()


@pytest.mark.django_db(transaction=True)
def test_recompute_killed_half_way_keeps_previous_figures(postgresql, tmp_path):
    synthetic_book(tmp_path)
    call_command("import_mrr", str(tmp_path / "mrr.csv"), stdout=StringIO(), stderr=StringIO())
    call_command("recompute_retention", stdout=StringIO())
    before = fingerprint(conninfo())
    process = subprocess.Popen(
        [sys.executable, "manage.py", "recompute_retention"],
        cwd=ROOT,
        env=command_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_query("INSERT INTO retention_retentioncustomer")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    assert fingerprint(conninfo()) == before

    call_command("recompute_retention", stdout=StringIO())
    assert fingerprint(conninfo()) == before
    assert RetentionResult.objects.filter(customers__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_killed_import_is_closed_as_failed(postgresql, tmp_path):
    synthetic_book(tmp_path)
    process, first = start_import(tmp_path)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    # The server ends the killed session, and its lock with it, shortly after the socket closes.
    deadline = time.monotonic() + 10
    while close_abandoned_runs() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)

    run = ImportRun.objects.get(kind="mrr")
    assert run.status == "failed"
    assert run.summary["error"] == ABANDONED_MESSAGE
    assert run.finished_at is not None
    assert AuditEvent.objects.filter(action="import_failed", object_id=str(run.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_locked_running_import_stays_running(postgresql):
    run = ImportRun.objects.create(kind="mrr", status="running", file_name="live.csv")
    with psycopg.connect(conninfo(), autocommit=True) as worker:
        worker.execute("SELECT pg_advisory_lock(%s, %s)", [_RUNNING_LOCK_KEY, run.pk])

        assert close_abandoned_runs() == 0
        run.refresh_from_db()
        assert run.status == "running"

    assert close_abandoned_runs() == 1
    run.refresh_from_db()
    assert run.status == "failed"


@pytest.mark.django_db(transaction=True)
def test_import_in_progress_is_not_closed(postgresql, tmp_path):
    synthetic_book(tmp_path)
    process, first = start_import(tmp_path)

    closed = close_abandoned_runs()
    process.stderr.read()
    process.wait(timeout=120)

    assert first.startswith("Read ")
    assert closed == 0
    assert process.returncode == 0
    assert ImportRun.objects.get(kind="mrr").status == "done"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["accounts", "mrr"])
def test_import_stored_before_its_summary_counts_as_done(postgresql, tmp_path, kind):
    # The importer is called without the runner, as if the process died once the data had committed.
    synthetic_book(tmp_path, parents=20)
    run = ImportRun.objects.create(kind=kind, status="running", file_name=f"{kind}.csv")
    importer = {"accounts": import_accounts, "mrr": import_mrr}[kind]

    importer(tmp_path / f"{kind}.csv", import_run_id=run.pk)

    assert close_abandoned_runs() == 0
    run.refresh_from_db()
    assert run.status == "done"
    assert run.finished_at is not None
