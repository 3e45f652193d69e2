"""The production shape: bin/serve starts gunicorn, a Celery worker and beat against PostgreSQL and Redis."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("SERVE_TEST_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


def require_services():
    try:
        with psycopg.connect(f"{SERVER}/postgres", connect_timeout=3):
            pass
        redis.Redis.from_url(BROKER, socket_connect_timeout=3).ping()
    except (psycopg.Error, redis.RedisError) as error:
        message = f"bin/serve needs PostgreSQL at {SERVER} and Redis at {BROKER}: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    require_services()
    database = f"tamarind_serve_{uuid.uuid4().hex[:8]}"
    port = free_port()
    environment = {
        **{key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "DATABASE_URL": f"{SERVER}/{database}",
        "CELERY_BROKER_URL": BROKER,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "BIND": f"127.0.0.1:{port}",
        "STATE_DIR": str(tmp_path),
        "WEB_CONCURRENCY": "1",
        "CELERY_CONCURRENCY": "1",
    }
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(ROOT / "bin" / "serve")],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield port, log_path, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_serve_runs_web_worker_and_beat(served):
    port, log_path, process = served
    deadline = time.monotonic() + 120
    status = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as response:
                status = response.status
                headers = response.headers
                break
        except OSError:
            time.sleep(0.5)
    while time.monotonic() < deadline and not (
        " ready." in log_path.read_text() and "beat: Starting" in log_path.read_text()
    ):
        time.sleep(0.5)
    log = log_path.read_text()

    assert status == 200, log[-3000:]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "ready." in log, log[-3000:]
    assert "beat: Starting" in log, log[-3000:]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) is not None
