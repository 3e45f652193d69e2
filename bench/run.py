"""Benchmark imports, recomputation and pages on PostgreSQL, each against a baseline measured in the same run.

Usage: python bench/run.py [--parents 20000 ...] [--months 36]. Needs PostgreSQL at
BENCH_DATABASE_URL's server (postgres://postgres@127.0.0.1:5432 by default); each
size gets a fresh database named tamarind_bench_<parents>.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/tamarind-bench"))
LAST_MONTH = "2026-11"
# Runs of the short commands whose median is reported.
REPEATS = 3

HANDWRITTEN_SQL = """
WITH keyed AS (
    SELECT line.month, line.mrr, sub.id AS subscription_id, acc.id AS account_id,
           COALESCE(acc.ultimate_parent_id, acc.id) AS parent_id
    FROM retention_mrrline line
    JOIN accounts_subscription sub ON sub.id = line.subscription_id
    JOIN accounts_account acc ON acc.id = sub.account_id
),
per_customer AS (
    SELECT 'parent' AS level, parent_id AS customer, month, SUM(mrr) AS mrr FROM keyed GROUP BY parent_id, month
    UNION ALL
    SELECT 'account', account_id, month, SUM(mrr) FROM keyed GROUP BY account_id, month
    UNION ALL
    SELECT 'subscription', subscription_id, month, SUM(mrr) FROM keyed GROUP BY subscription_id, month
),
months AS (SELECT DISTINCT month FROM retention_mrrline)
SELECT base.level, to_char(base.month + INTERVAL '12 months', 'YYYY-MM'), COUNT(*), SUM(base.mrr),
       SUM(COALESCE(cur.mrr, 0)), SUM(LEAST(base.mrr, COALESCE(cur.mrr, 0)))
FROM per_customer base
LEFT JOIN per_customer cur
  ON cur.level = base.level AND cur.customer = base.customer AND cur.month = (base.month + INTERVAL '12 months')::date
WHERE base.mrr > 0 AND (base.month + INTERVAL '12 months')::date IN (SELECT month FROM months)
GROUP BY base.level, base.month
"""


def log(text):
    print(text, file=sys.stderr, flush=True)


def measure_step(environment, *command) -> tuple[float, float]:
    """Run a management command with bench/step.py and return (seconds, peak memory in MB)."""
    completed = subprocess.run(
        [PYTHON, "bench/step.py", *command], env=environment, cwd=ROOT, capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures["seconds"], figures["peak_mb"]


def manage(*arguments):
    return [PYTHON, "manage.py", *arguments]


def split_last_month(source: Path, main: Path, extra: Path) -> None:
    """Write the lines of every month but the last to `main` and the last month's to `extra`."""
    last = LAST_MONTH
    with open(source) as lines, open(main, "w") as main_file, open(extra, "w") as extra_file:
        header = lines.readline()
        main_file.write(header)
        extra_file.write(header)
        for line in lines:
            (extra_file if line.startswith(last) else main_file).write(line)


def settle(url: str) -> None:
    """Finish the upkeep that the last step left to the server before the next step is timed.

    A step that writes a million rows leaves tables for autovacuum and dirty
    pages for the checkpointer. Run during the next timing, they made one
    figure swing by a factor of two between runs. Every timed step, the
    baselines included, starts after this.
    """
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")


def time_copy(url: str, path: Path) -> float:
    """Return the seconds of one COPY of the MRR file into a new bare table, after settling the server."""
    settle(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE bench_bare_lines (month text, account_id text, subscription_id text, product text, "
            "quantity bigint, mrr numeric(14, 2), charge_type text)"
        )
        started = time.perf_counter()
        with connection.cursor().copy("COPY bench_bare_lines FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            with open(path, "rb") as source:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
        seconds = time.perf_counter() - started
        connection.execute("DROP TABLE bench_bare_lines")
    return seconds


def remove_imported_lines(url: str) -> None:
    """Drop the lines and subscriptions that an import stored, so that the next import starts from the same state."""
    with psycopg.connect(url, autocommit=True) as connection:
        partitions = connection.execute(
            "SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = 'retention_mrrline'::regclass "
            "AND child.relname LIKE 'retention\\_mrrline\\_p%'"
        ).fetchall()
        for (name,) in partitions:
            connection.execute(f"DROP TABLE {name}")
        connection.execute("TRUNCATE retention_mrrline, accounts_subscription, retention_coveredmonth CASCADE")


def run_size(parents: int, months: int) -> dict:
    folder = WORK / f"p{parents}-m{months}"
    database = f"tamarind_bench_{parents}"
    url = f"{SERVER}/{database}"
    environment = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    # A broker URL turns off in-process tasks, and the memory transport drops the
    # recompute that an import enqueues, so the import is timed alone.
    environment["CELERY_BROKER_URL"] = "memory://localhost/"
    environment.pop("DEBUG", None)
    environment["DEBUG"] = "false"

    if not (folder / "mrr.csv").exists():
        log(f"[{parents}] generating data")
        subprocess.run(
            manage(
                "generate_demo_data",
                "--parents",
                str(parents),
                "--months",
                str(months),
                "--seed",
                "7",
                "--last-month",
                LAST_MONTH,
                "--output",
                str(folder),
            ),
            cwd=ROOT,
            env=environment,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        split_last_month(folder / "mrr.csv", folder / "mrr_history.csv", folder / "mrr_last.csv")
    history_lines = sum(1 for _ in open(folder / "mrr_history.csv")) - 1

    with psycopg.connect(f"{SERVER}/test", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    subprocess.run(manage("migrate", "-v", "0"), cwd=ROOT, env=environment, check=True)

    figures = {"parents": parents, "months": months, "lines": history_lines}
    measure_step(environment, "import_accounts", str(folder / "accounts.csv"))
    # The COPY and the import take turns, so that a slower spell of the machine weighs on both. The first
    # COPY into a new database ran about 15% slower than the next ones, and each figure is the median.
    log(f"[{parents}] COPY baseline and import")
    copies, imports = [], []
    for attempt in range(REPEATS):
        copies.append(time_copy(url, folder / "mrr_history.csv"))
        if attempt:
            remove_imported_lines(url)
        settle(url)
        imports.append(measure_step(environment, "import_mrr", str(folder / "mrr_history.csv")))
    figures["copy_seconds"] = statistics.median(copies)
    figures["import_seconds"] = statistics.median(seconds for seconds, _ in imports)
    figures["import_peak_mb"] = max(peak for _, peak in imports)
    settle(url)

    log(f"[{parents}] full recompute")
    # The full recompute is the baseline of one further month, which is a median too. A slow or fast
    # spell of the machine during a single run would move their ratio on its own.
    recomputes = []
    for _ in range(REPEATS):
        recomputes.append(measure_step(environment, "recompute_retention"))
        settle(url)
    figures["recompute_seconds"] = statistics.median(seconds for seconds, _ in recomputes)
    figures["recompute_peak_mb"] = max(peak for _, peak in recomputes)

    log(f"[{parents}] hand-written statement")
    with psycopg.connect(url) as connection:
        started = time.perf_counter()
        handwritten = connection.execute(HANDWRITTEN_SQL).fetchall()
        figures["handwritten_seconds"] = time.perf_counter() - started
    expected = {f"{level}|{month}": [int(n), int(a), int(b), int(c)] for level, month, n, a, b, c in handwritten}

    for tool in ("pandas", "duckdb"):
        log(f"[{parents}] {tool}")
        completed = subprocess.run(
            [PYTHON, "bench/peers.py", tool, str(folder / "accounts.csv"), str(folder / "mrr_history.csv")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        peer = json.loads(completed.stdout)
        figures[f"{tool}_seconds"] = peer["seconds"]
        figures[f"{tool}_agrees"] = peer["results"] == expected

    with psycopg.connect(url) as connection:
        stored = connection.execute(
            "SELECT level, to_char(month, 'YYYY-MM'), customers, a, b, c FROM retention_retentionresult "
            "WHERE segment = 'all' AND customers > 0"
        ).fetchall()
    figures["engine_agrees"] = {f"{level}|{month}": [n, a, b, c] for level, month, n, a, b, c in stored} == expected

    log(f"[{parents}] one further month")
    measure_step(environment, "import_mrr", str(folder / "mrr_last.csv"))
    # Each run replaces the same month, so the median of a few runs is the cost of one.
    further_months = []
    for _ in range(REPEATS):
        settle(url)
        further_months.append(measure_step(environment, "recompute_retention", "--month", LAST_MONTH)[0])
    figures["further_month_seconds"] = statistics.median(further_months)
    settle(url)

    log(f"[{parents}] pages")
    completed = subprocess.run(
        [PYTHON, "bench/pages.py"], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    figures["pages"] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def report(figures: dict) -> list[str]:
    copy, recompute = figures["copy_seconds"], figures["recompute_seconds"]
    rows = [
        ("import", figures["import_seconds"], "COPY", copy, 3.0),
        ("full recompute", recompute, "hand-written SQL", figures["handwritten_seconds"], 1.0),
        ("full recompute", recompute, "pandas", figures["pandas_seconds"], None),
        ("full recompute", recompute, "DuckDB", figures["duckdb_seconds"], None),
        ("one further month", figures["further_month_seconds"], "full recompute", recompute, 0.10),
    ]
    lines = [
        f"## {figures['parents']} parent accounts, {figures['months']} months, {figures['lines']} lines",
        "",
        "Each command runs in a process of its own and is timed from its call, after Django's start-up. "
        f"The `COPY`, the import, the full recompute and one further month are each the median of {REPEATS} runs.",
        "",
        "| figure | seconds | baseline | baseline seconds | ratio | target | holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, value, baseline, base_value, target in rows:
        ratio = value / base_value
        if target is None:
            holds, target_text = "", ""
        else:
            holds = "yes" if ratio <= target else "no"
            target_text = f"≤ {target:g}×"
        lines.append(
            f"| {name} | {value:.2f} | {baseline} | {base_value:.2f} | {ratio:.2f}× | {target_text} | {holds} |"
        )
    lines += [
        "",
        f"Peak memory: import {figures['import_peak_mb']:.0f} MB, recompute {figures['recompute_peak_mb']:.0f} MB "
        "(target ≤ 500 MB).",
        f"Same figures as the hand-written statement: engine {figures['engine_agrees']}, "
        f"pandas {figures['pandas_agrees']}, DuckDB {figures['duckdb_agrees']}.",
        "",
        "| page | queries | server ms |",
        "|---|---|---|",
    ]
    for page, values in figures["pages"].items():
        lines.append(f"| {page} | {values['queries']} | {values['milliseconds']} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parents", type=int, action="append", help="Sizes to run; repeat. Default 5000, 20000, 50000."
    )
    parser.add_argument("--months", type=int, default=36)
    options = parser.parse_args()
    for parents in options.parents or [5000, 20000, 50000]:
        figures = run_size(parents, options.months)
        print("\n".join(report(figures)) + "\n", flush=True)


if __name__ == "__main__":
    main()
