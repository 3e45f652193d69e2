"""With the task queue unreachable an import still succeeds, and its recomputation runs once the queue is back."""

import contextlib
import datetime
import os
from io import StringIO

import kombu.pools
import pytest
from django.core.management import call_command

from config.celery import app
from retention.models import ImportRun, PendingRecompute, RetentionResult
from retention.tasks import recompute_pending
from tests.retention.builders import make_account

MRR = (
    "month,account_id,subscription_id,product,quantity,mrr,charge_type\n"
    "2023-06,ACC-1,SUB-1,Premium,10,100.00,recurring\n"
    "2024-06,ACC-1,SUB-1,Premium,12,120.00,recurring\n"
)


@contextlib.contextmanager
def broker_at_closed_port():
    """Send tasks to a closed port on this machine instead of running them in-process."""
    closed = "redis://127.0.0.1:9/0"
    saved = {"task_always_eager": app.conf.task_always_eager, "broker_url": app.conf.broker_url}
    # Celery prefers the CELERY_BROKER_URL environment variable to its settings.
    saved_environment = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = closed
    app.conf.update(task_always_eager=False, broker_url=closed)
    reset_producers()
    try:
        yield
    finally:
        app.conf.update(**saved)
        if saved_environment is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_environment
        reset_producers()


def reset_producers():
    """Drop pooled broker connections, so that the next task connects to the broker URL now set."""
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def unreachable_broker():
    with broker_at_closed_port():
        yield


@pytest.mark.django_db(transaction=True)
def test_import_succeeds_and_recompute_waits(tmp_path, unreachable_broker):
    make_account("ACC-1")
    path = tmp_path / "mrr.csv"
    path.write_text(MRR)

    call_command("import_mrr", str(path), stdout=StringIO(), stderr=StringIO())

    run = ImportRun.objects.get(kind="mrr")
    assert run.status == "done"
    assert any("recomputation is pending" in warning for warning in run.summary["warnings"])
    assert PendingRecompute.objects.filter(import_run=run, enqueue_failed=True).count() == 1
    assert not RetentionResult.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_pending_recompute_runs_when_queue_is_back(tmp_path):
    make_account("ACC-1")
    path = tmp_path / "mrr.csv"
    path.write_text(MRR)
    with broker_at_closed_port():
        call_command("import_mrr", str(path), stdout=StringIO(), stderr=StringIO())
    assert PendingRecompute.objects.filter(enqueue_failed=True).count() == 1

    # Beat's next run of the task, now that the queue is reachable.
    computed = recompute_pending.delay().get()

    assert computed > 0
    assert not PendingRecompute.objects.exists()
    figures = RetentionResult.objects.get(month=datetime.date(2024, 6, 1), level="parent", segment="all")
    assert str(figures.net_pct) == "120.00"


def test_recompute_pending_without_records_does_nothing(db):
    assert recompute_pending.delay().get() == 0
