"""A PostgreSQL restart while gunicorn serves pages: an error page during the outage, then the same pages and figures.

The test runs its own PostgreSQL instance in a temporary folder, so the
machine's main server is never stopped. It needs the PostgreSQL 15 server
binaries (POSTGRESQL_BIN, /usr/lib/postgresql/15/bin by default). As root it
runs them as the `postgres` OS user, because initdb and postgres reject root.
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from bench.load.browser import Browser
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
POSTGRESQL_BIN = Path(os.environ.get("POSTGRESQL_BIN", "/usr/lib/postgresql/15/bin"))
PASSWORD = "restart-test-password-1"
# The months before LAST_MONTH are loaded first. LAST_MONTH is imported while the database stops.
LAST_MONTH = "2024-12"
LOADED_MONTH = "2024-11"
PAGES = ["/retention/", f"/retention/{LOADED_MONTH}/", "/retention/reasons/", "/journeys/"]
# A request that takes longer than this counts as hung.
REQUEST_TIMEOUT = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_postgres_user(command: list[str]) -> list[str]:
    """Prefix a command so that it runs as the `postgres` OS user when the tests run as root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PrivateCluster:
    """A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only."""

    def __init__(self):
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="tamarind-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")

    @property
    def server_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def _run(self, *arguments: str) -> None:
        subprocess.run(as_postgres_user([str(POSTGRESQL_BIN / arguments[0]), *arguments[1:]]), check=True, timeout=60)

    def _pg_ctl(self, action: str, *options: str) -> None:
        server_options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.directory}"
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", "-o", server_options, *options)

    def initialize(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                as_postgres_user([str(POSTGRESQL_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate"]),
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def cluster():
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (POSTGRESQL_BIN / name).is_file()]
    if missing:
        message = f"the database restart test needs the PostgreSQL server binaries {missing} in {POSTGRESQL_BIN}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    instance = PrivateCluster()
    try:
        instance.initialize()
        yield instance
    finally:
        instance.remove()


def site_environment(database_url: str) -> dict[str, str]:
    """Return the environment of the production settings, over plain HTTP, with tasks run in-process."""
    return {
        **{key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "DEMO_PASSWORD": PASSWORD,
    }


def manage(environment: dict[str, str], *arguments: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, f"manage.py {' '.join(arguments)} failed:\n{result.stderr[-3000:]}"


def load_book(environment: dict[str, str], folder: Path) -> Path:
    """Load every month of a small synthetic book but the last, and return the path of the last month's MRR file."""
    manage(environment, "migrate", "--no-input", "-v", "0")
    manage(environment, "collectstatic", "--no-input", "-v", "0")
    manage(
        environment,
        *("generate_demo_data", "--parents", "300", "--months", "25"),
        *("--last-month", LAST_MONTH, "--seed", "7", "--output", str(folder)),
    )
    lines = (folder / "mrr.csv").read_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    (folder / "loaded.csv").write_text(header + "".join(row for row in rows if not row.startswith(LAST_MONTH)))
    (folder / "last.csv").write_text(header + "".join(row for row in rows if row.startswith(LAST_MONTH)))
    manage(environment, "import_accounts", str(folder / "accounts.csv"))
    # Tasks run in-process, so the import's recomputation has finished when the command returns.
    manage(environment, "import_mrr", str(folder / "loaded.csv"))
    # With accounts present, load_demo creates only the logins and the journeys demo.
    manage(environment, "load_demo")
    return folder / "last.csv"


@pytest.fixture
def gunicorn(cluster, tmp_path):
    database_url = f"{cluster.server_url}/tamarind"
    with psycopg.connect(f"{cluster.server_url}/postgres", autocommit=True) as admin:
        admin.execute("CREATE DATABASE tamarind")
    environment = site_environment(database_url)
    last_month_file = load_book(environment, tmp_path)
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield {
            "url": f"http://127.0.0.1:{port}",
            "database_url": database_url,
            "environment": environment,
            "last_month_file": last_month_file,
            "log": log_path,
            "process": process,
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def logged_in_manager(url: str, process: subprocess.Popen) -> Browser:
    browser = Browser(url, timeout=REQUEST_TIMEOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            browser.login("manager", PASSWORD)
            return browser
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.3)


def month_totals(browser: Browser, month: str) -> dict[str, str]:
    """Return the customers and ΣA, ΣB, ΣC that the month page shows."""
    page = browser.get(f"/retention/{month}/")
    assert page.status == 200, page.text[-2000:]
    return {
        name: re.search(rf'id="total-{name}">([^<]*)<', page.text).group(1) for name in ("customers", "a", "b", "c")
    }


# Stored rows of the months loaded before the restart, read in a fixed order.
STORED_SQL = {
    "mrr lines": "SELECT month, subscription_id, product, charge_type, quantity, mrr FROM retention_mrrline "
    "WHERE month < %(month)s ORDER BY 1, 2, 3, 4",
    "results": "SELECT month, level, segment, customers, a, b, c, gross_pct, net_pct FROM retention_retentionresult "
    "WHERE month < %(month)s ORDER BY 1, 2, 3",
    "customers": "SELECT month, level, account_id, subscription_id, a, b, c, reason, reason_amount "
    "FROM retention_retentioncustomer WHERE month < %(month)s ORDER BY 1, 2, 3, 4 NULLS FIRST",
    "reasons": "SELECT month, level, segment, reason, customers, amount FROM retention_reasontotal "
    "WHERE month < %(month)s ORDER BY 1, 2, 3, 4",
    "accounts": "SELECT id, external_id, name, parent_id, segment, tam_id FROM accounts_account ORDER BY 1",
    "users": "SELECT id, username, password FROM accounts_user ORDER BY 1",
}


def stored_before_last_month(database_url: str) -> dict[str, tuple[int, str]]:
    """Return the row count and a SHA-256 of every table's rows from before the last month."""
    state = {}
    with psycopg.connect(database_url) as database:
        for name, sql in STORED_SQL.items():
            rows = database.execute(sql, {"month": f"{LAST_MONTH}-01"}).fetchall()
            state[name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return state


def last_month_state(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as database:
        month = f"{LAST_MONTH}-01"
        return {
            "lines": database.execute("SELECT count(*) FROM retention_mrrline WHERE month = %s", [month]).fetchone()[0],
            "covered": database.execute(
                "SELECT count(*) FROM retention_coveredmonth WHERE month = %s", [month]
            ).fetchone()[0],
            "results": database.execute(
                "SELECT count(*) FROM retention_retentionresult WHERE month = %s", [month]
            ).fetchone()[0],
            "pending": database.execute("SELECT count(*) FROM retention_pendingrecompute").fetchone()[0],
            "done_imports": database.execute(
                "SELECT count(*) FROM retention_importrun WHERE file_name LIKE %s AND status = 'done'", ["%last.csv"]
            ).fetchone()[0],
        }


def wait_for_statement(database_url: str, fragment: str, process: subprocess.Popen, timeout: float = 30) -> bool:
    """Wait until another session runs a statement containing `fragment`, and return False if `process` ends first."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as watcher:
        while time.monotonic() < deadline and process.poll() is None:
            active = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE %s",
                [f"%{fragment}%"],
            ).fetchone()[0]
            if active:
                return True
            time.sleep(0.02)
    return False


def assert_error_page(page, path: str) -> None:
    assert page.status == 503, f"{path}: {page.status} {page.text[-1500:]}"
    assert 'id="database-unavailable"' in page.text, f"{path}: {page.text[-1500:]}"
    assert "Tamarind is temporarily unavailable" in page.text
    assert "Traceback" not in page.text
    assert page.headers.get("Retry-After") == "30"
    assert page.seconds < REQUEST_TIMEOUT


def test_database_restart_while_serving(cluster, gunicorn):
    browser = logged_in_manager(gunicorn["url"], gunicorn["process"])
    for path in PAGES:
        page = browser.get(path)
        assert page.status == 200, f"{path}: {page.status} {page.text[-1500:]}"
    totals_before = month_totals(browser, LOADED_MONTH)
    stored_before = stored_before_last_month(gunicorn["database_url"])
    assert int(totals_before["customers"]) > 0
    assert stored_before["results"][0] > 0

    # An import of the last month is in flight when the database stops.
    importer = subprocess.Popen(
        [sys.executable, "manage.py", "import_mrr", str(gunicorn["last_month_file"])],
        cwd=ROOT,
        env=gunicorn["environment"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_statement(gunicorn["database_url"], "tamarind_stage_mrr", importer)
        cluster.stop()
        importer.wait(timeout=60)
    finally:
        if importer.poll() is None:
            importer.kill()

    # Every page three times, so that both gunicorn workers serve requests during the outage.
    for path in PAGES * 3:
        assert_error_page(browser.get(path), path)

    cluster.start()
    for path in PAGES:
        page = browser.get(path)
        assert page.status == 200, f"{path} after the restart: {page.status} {page.text[-1500:]}"

    # A restart between two requests: each worker's kept connection is closed under it.
    cluster.restart()
    for path in PAGES * 3:
        page = browser.get(path)
        assert page.status == 200, f"{path} after a quick restart: {page.status} {page.text[-1500:]}"

    assert month_totals(browser, LOADED_MONTH) == totals_before
    assert stored_before_last_month(gunicorn["database_url"]) == stored_before
    # The interrupted import stored its month completely or not at all, and a committed one left
    # either the month's figures or a pending recomputation.
    last = last_month_state(gunicorn["database_url"])
    if last["done_imports"]:
        assert last["lines"] > 0
        assert last["covered"] == 1
        assert last["results"] > 0 or last["pending"] > 0
    else:
        assert last["lines"] == 0
        assert last["covered"] == 0
    assert gunicorn["process"].poll() is None, gunicorn["log"].read_text()[-3000:]
