"""The load run: simulated users browse the served site while MRR imports and their recomputations run.

The runner creates a fresh PostgreSQL database, loads a synthetic customer
base and serves it with bin/serve: gunicorn, a Celery worker and beat on a
dedicated Redis database. It then runs locust headless while a checker reads the
month that the imports restate. Last, it writes a report with a pass or fail verdict.

    .venv/bin/python bench/load/run.py --parents 3000 --users 50 --seconds 120
"""

import argparse
import csv
import datetime
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.load.browser import Browser  # noqa: E402
from bench.load.consistency import Checker  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
PASSWORD = "load-run-" + secrets.token_urlsafe(8)
TAM_COUNT = 10
# The pages users browse; login requests are reported apart because password hashing dominates them.
PAGE_NAMES = ["retention overview", "retention month detail", "reasons", "my accounts"]
P95_LIMIT_MS = 500


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=3000, help="Parent accounts of the synthetic base.")
    parser.add_argument("--users", type=int, default=50, help="Concurrent simulated users.")
    parser.add_argument("--seconds", type=int, default=120, help="Length of the load run in seconds.")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL.")
    parser.add_argument("--database", default="tamarind_load", help="Database to create afresh (dropped if present).")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14", help="Redis database for the task queue.")
    parser.add_argument("--port", type=int, default=8100, help="Port of gunicorn on 127.0.0.1.")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn worker processes (WEB_CONCURRENCY).")
    parser.add_argument("--imports-at", default="20,50,80", help="Seconds into the run at which an MRR import starts.")
    parser.add_argument("--output", default="bench/load/output", help="Folder for the data files and the report.")
    parser.add_argument("--keep", action="store_true", help="Keep the database after the run.")
    return parser.parse_args()


def log(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", flush=True)


def site_environment(arguments, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": arguments.broker,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "DEMO_PASSWORD": PASSWORD,
        "BIND": f"127.0.0.1:{arguments.port}",
        "WEB_CONCURRENCY": str(arguments.web_workers),
        "CELERY_CONCURRENCY": "1",
        "LOG_LEVEL": "INFO",
    }


def manage(environment: dict[str, str], *command: str) -> float:
    """Run a management command, raise when it fails, and return its seconds."""
    started = time.monotonic()
    result = subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.monotonic() - started


def recreate_database(server: str, name: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def write_files(folder: Path, environment: dict[str, str], parents: int) -> dict:
    """Generate the synthetic base, give every parent family a TAM and split the MRR lines into the import files.

    The first import loads every month but the last. The further imports each
    carry the last month and a restated second-to-last month, with every fifth
    line's MRR raised by 10% in one version and the original lines in the other, so that
    each recomputation changes that month's figures.
    """
    manage(
        environment,
        "generate_demo_data",
        "--parents",
        str(parents),
        "--months",
        "36",
        "--seed",
        "7",
        "--output",
        str(folder),
    )
    with open(folder / "accounts.csv", newline="") as source:
        accounts = list(csv.DictReader(source))
    for account in accounts:
        family = int(account["account_id"][1:7])
        account["tam_email"] = f"tam{family % TAM_COUNT + 1:02d}@load.example.com"
    with open(folder / "accounts.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(accounts[0]))
        writer.writeheader()
        writer.writerows(accounts)

    with open(folder / "mrr.csv", newline="") as source:
        reader = csv.reader(source)
        header = next(reader)
        lines = list(reader)
    months = sorted({line[0] for line in lines})
    last, restated = months[-1], months[-2]
    write_csv(folder / "base.csv", header, [line for line in lines if line[0] != last])
    last_lines = [line for line in lines if line[0] == last]
    restated_lines = [line for line in lines if line[0] == restated]
    raised = [
        [*line[:5], f"{Decimal(line[5]) * Decimal('1.1'):.2f}", line[6]] if number % 5 == 0 else line
        for number, line in enumerate(restated_lines)
    ]
    write_csv(folder / "further-raised.csv", header, raised + last_lines)
    write_csv(folder / "further-original.csv", header, restated_lines + last_lines)
    return {"months": months, "restated": restated, "last": last, "lines": len(lines), "accounts": len(accounts)}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


SET_TAM_PASSWORDS = """
import os
from accounts.models import User
for user in User.objects.filter(username__endswith="@load.example.com"):
    user.set_password(os.environ["DEMO_PASSWORD"])
    user.save(update_fields=["password"])
"""


def load_data(folder: Path, environment: dict[str, str], parents: int) -> dict:
    """Migrate and load the base; tasks run in-process here, so the recomputation is done on return."""
    loading = {**environment, "CELERY_BROKER_URL": ""}
    manage(loading, "migrate", "--no-input", "-v", "0")
    files = write_files(folder, loading, parents)
    files["import_accounts_s"] = manage(loading, "import_accounts", str(folder / "accounts.csv"))
    files["import_base_s"] = manage(loading, "import_mrr", str(folder / "base.csv"))
    # With accounts present, load_demo creates the logins tam, manager and csadmin and the journeys demo only.
    manage(loading, "load_demo")
    manage(loading, "shell", "-c", SET_TAM_PASSWORDS)
    return files


def start_site(environment: dict[str, str], folder: Path) -> subprocess.Popen:
    log_file = open(folder / "serve.log", "w")  # noqa: SIM115
    return subprocess.Popen(
        [str(ROOT / "bin" / "serve")],
        cwd=ROOT,
        env={**environment, "STATE_DIR": str(folder / "serve-state")},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until_served(url: str, folder: Path, site: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if site.poll() is not None:
            raise RuntimeError(f"bin/serve exited:\n{(folder / 'serve.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/login/", timeout=5):
                pass
            if " ready." in (folder / "serve.log").read_text():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the site did not come up within {timeout} s")


def run_imports(environment: dict[str, str], folder: Path, starts: list[int], began: float, record: list) -> None:
    """Run the further imports at the given seconds into the run; each enqueues its recomputation on the worker."""
    files = ["further-raised.csv", "further-original.csv"]
    for number, start in enumerate(starts):
        time.sleep(max(0.0, began + start - time.monotonic()))
        path = folder / files[number % 2]
        at = time.monotonic() - began
        try:
            seconds = manage(environment, "import_mrr", str(path))
            record.append({"file": path.name, "started_s": round(at, 1), "seconds": round(seconds, 2), "error": ""})
        except RuntimeError as error:
            record.append({"file": path.name, "started_s": round(at, 1), "seconds": 0, "error": str(error)[-500:]})


def recompute_state(database_url: str) -> dict:
    with psycopg.connect(database_url) as database:
        pending = database.execute("SELECT count(*) FROM retention_pendingrecompute").fetchone()[0]
        runs = database.execute(
            "SELECT count(*) FROM retention_importrun WHERE kind = 'mrr' AND file_name LIKE '%%further-%%' "
            "AND status = 'done'"
        ).fetchone()[0]
        latest = database.execute("SELECT max(computed_at) FROM retention_retentionresult").fetchone()[0]
    return {"pending": pending, "done_imports": runs, "latest_computed_at": latest.isoformat() if latest else None}


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values` (milliseconds)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


def summarize(samples: list, seconds: int) -> list[dict]:
    by_name: dict[str, list] = {}
    for name, milliseconds, succeeded, measured in samples:
        # Pages count from the last login on; the logins all happen before it.
        if measured or name in ("login form", "login"):
            by_name.setdefault(name, []).append((milliseconds, succeeded))
    pages = [sample for name in PAGE_NAMES for sample in by_name.get(name, [])]
    rows = []
    for name, entries in [*((name, by_name.get(name, [])) for name in PAGE_NAMES), ("all pages", pages)] + [
        (name, by_name[name]) for name in ("login form", "login") if name in by_name
    ]:
        times = [milliseconds for milliseconds, _ in entries]
        rows.append(
            {
                "name": name,
                "requests": len(entries),
                "failures": sum(1 for _, succeeded in entries if not succeeded),
                "per_second": round(len(entries) / seconds, 1),
                "p50": round(percentile(times, 0.50)) if times else None,
                "p95": round(percentile(times, 0.95)) if times else None,
                "p99": round(percentile(times, 0.99)) if times else None,
                "max": round(max(times)) if times else None,
                "mean": round(statistics.fmean(times)) if times else None,
            }
        )
    return rows


def machine() -> dict:
    memory_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


def main() -> int:
    arguments = parse_arguments()
    folder = (ROOT / arguments.output).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    database_url = f"{arguments.server}/{arguments.database}"
    environment = site_environment(arguments, database_url)
    url = f"http://127.0.0.1:{arguments.port}"

    log(f"creating database {arguments.database} and loading {arguments.parents} parent accounts")
    recreate_database(arguments.server, arguments.database)
    redis.Redis.from_url(arguments.broker).flushdb()
    files = load_data(folder, environment, arguments.parents)
    with psycopg.connect(database_url) as database:
        server_version = database.execute("SHOW server_version").fetchone()[0]
        counts = {
            table: database.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
            for table in ("accounts_account", "retention_mrrline", "retention_retentioncustomer")
        }

    log("starting bin/serve")
    site = start_site(environment, folder)
    checker = None
    try:
        wait_until_served(url, folder, site)
        browser = Browser(url)
        browser.login("manager", PASSWORD)
        checker = Checker(browser, files["restated"])
        tams = ",".join(f"tam{number:02d}@load.example.com" for number in range(1, TAM_COUNT + 1))
        load_environment = {
            **os.environ,
            "LOAD_PASSWORD": PASSWORD,
            "LOAD_TAMS": tams,
            "LOAD_MONTHS": ",".join(files["months"][-24:]),
            "LOAD_SAMPLES": str(folder / "samples.jsonl"),
            "LOAD_SECONDS": str(arguments.seconds),
            "LOAD_USERS": str(arguments.users),
            "LOAD_STARTED": str(folder / "started"),
        }
        (folder / "started").unlink(missing_ok=True)
        (folder / "samples.jsonl").unlink(missing_ok=True)
        imports: list[dict] = []
        starts = [int(value) for value in arguments.imports_at.split(",") if value]
        log(f"locust: {arguments.users} users for {arguments.seconds} s against {url}")
        locust = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "locust"),
                *("-f", str(ROOT / "bench" / "load" / "locustfile.py"), "--headless"),
                *("--users", str(arguments.users), "--spawn-rate", "5"),
                # A guard only: locust stops itself LOAD_SECONDS after the last login.
                *("--run-time", f"{arguments.seconds + 300}s"),
                *("--host", url, "--only-summary", "--loglevel", "WARNING"),
            ],
            cwd=ROOT,
            env=load_environment,
            stdout=open(folder / "locust.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        while not (folder / "started").exists():
            if locust.poll() is not None:
                raise RuntimeError(f"locust exited:\n{(folder / 'locust.log').read_text()[-3000:]}")
            time.sleep(0.2)
        began = time.monotonic()
        log(f"all {arguments.users} users logged in; measuring for {arguments.seconds} s")
        checker.start()
        importer = threading.Thread(target=run_imports, args=(environment, folder, starts, began, imports))
        importer.start()
        locust.wait()
        importer.join()
        consistency = checker.stop()
        checker = None

        deadline = time.monotonic() + 120
        while recompute_state(database_url)["pending"] and time.monotonic() < deadline:
            time.sleep(1)
        recomputed = recompute_state(database_url)
    finally:
        if checker is not None:
            checker.stop()
        os.killpg(site.pid, signal.SIGTERM)
        try:
            site.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(site.pid, signal.SIGKILL)

    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    rows = summarize(samples, arguments.seconds)
    page_rows = [row for row in rows if row["name"] in PAGE_NAMES]
    failures = sum(row["failures"] for row in rows)
    import_errors = [record for record in imports if record["error"]]
    verdict = {
        "no request failed": failures == 0,
        "every import succeeded and its recomputation finished": not import_errors
        and recomputed["pending"] == 0
        and recomputed["done_imports"] == len(starts),
        f"p95 of every page under {P95_LIMIT_MS} ms": all(
            row["p95"] is not None and row["p95"] < P95_LIMIT_MS for row in page_rows
        ),
        "no inconsistent read": consistency.inconsistent == 0 and consistency.reads > 0,
    }
    report = {
        "date": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": {**machine(), "postgresql": server_version},
        "arguments": vars(arguments),
        "data": {"parents": arguments.parents, "lines": files["lines"], **counts, "restated_month": files["restated"]},
        "load_seconds": {
            "import_accounts": round(files["import_accounts_s"], 1),
            "import_base": round(files["import_base_s"], 1),
        },
        "requests": rows,
        "imports": imports,
        "recompute": recomputed,
        "consistency": vars(consistency),
        "verdict": verdict,
        "passed": all(verdict.values()),
    }
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))

    if not arguments.keep:
        with psycopg.connect(f"{arguments.server}/postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(arguments.database)))
    log("PASSED" if report["passed"] else "FAILED")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
