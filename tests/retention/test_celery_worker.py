"""The recompute task, sent through Redis and run by a real Celery worker process."""

import datetime
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection

from retention.models import Level, RetentionCustomer, RetentionResult, SegmentKey
from tests.conftest import IN_CI

from .builders import add_lines

BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
JUNE_2024 = datetime.date(2024, 6, 1)


def require_redis():
    try:
        redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        message = f"Redis is not reachable at {BROKER_URL}: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def database_url():
    """Return a DATABASE_URL for the test database that this process uses."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    credentials = settings["USER"] or ""
    if settings["PASSWORD"]:
        credentials += f":{settings['PASSWORD']}"
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{settings['NAME']}"


@pytest.fixture
def worker(tmp_path):
    """Start a worker on its own queue; stop it after the test."""
    require_redis()
    queue = f"test-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path / "worker.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER_URL,
    }
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue, "--loglevel=INFO"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield queue, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(condition, timeout, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    pytest.fail(f"worker did not finish within {timeout} s; its log:\n{log_path.read_text()}")


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_recompute_task_runs_on_real_worker(worker):
    queue, log_path = worker
    add_lines(
        [
            ("2023-06", "ACC-R1", "SUB-R1", "Premium", 10, "100.00", "recurring"),
            ("2023-06", "ACC-R2", "SUB-R2", "Premium", 5, "50.00", "recurring"),
            ("2024-06", "ACC-R1", "SUB-R1", "Premium", 12, "120.00", "recurring"),
        ]
    )
    # A new app becomes Celery's current app unless set_as_current is False, and later
    # tests would then send their tasks to Redis instead of running them eagerly.
    sender = Celery(broker=BROKER_URL, set_as_current=False)

    # The same message delivered twice must leave one result per key.
    for _ in range(2):
        sender.send_task("retention.tasks.recompute_retention", args=[["2024-06"]], queue=queue)
    wait_for(lambda: "succeeded" in log_path.read_text() and log_path.read_text().count("succeeded") >= 2, 90, log_path)

    figures = RetentionResult.objects.get(month=JUNE_2024, level=Level.PARENT, segment=SegmentKey.ALL)
    assert (figures.customers, figures.a, figures.b, figures.c) == (
        2,
        Decimal("150.00"),
        Decimal("120.00"),
        Decimal("100.00"),
    )
    assert (figures.gross_pct, figures.net_pct) == (Decimal("66.67"), Decimal("80.00"))
    assert RetentionResult.objects.filter(month=JUNE_2024).count() == len(Level) * len(SegmentKey)
    assert RetentionCustomer.objects.filter(month=JUNE_2024, level=Level.PARENT).count() == 2
