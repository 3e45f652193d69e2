import hashlib
import subprocess
import uuid
from pathlib import Path

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

# Every stored figure, in an order that does not depend on row ids.
FIGURES_SQL = [
    "SELECT month, level, segment, customers, a, b, c, recurring_a, recurring_b, gross_pct, net_pct "
    "FROM retention_retentionresult ORDER BY month, level, segment",
    "SELECT month, level, segment, reason, customers, amount FROM retention_reasontotal "
    "ORDER BY month, level, segment, reason",
    "SELECT month, level, account_id, subscription_id, a, b, c, reason, reason_amount "
    "FROM retention_retentioncustomer ORDER BY month, level, account_id, subscription_id NULLS FIRST",
    "SELECT month, subscription_id, product, charge_type, quantity, mrr FROM retention_mrrline "
    "ORDER BY month, subscription_id, product, charge_type",
]


def fingerprint(conninfo: str) -> tuple[str, int]:
    """Return a SHA-256 over every stored figure and MRR line, and the number of rows it covers."""
    digest = hashlib.sha256()
    rows = 0
    with psycopg.connect(conninfo) as database:
        for sql in FIGURES_SQL:
            with database.cursor(name=f"figures_{uuid.uuid4().hex}") as cursor:
                cursor.execute(sql)
                for row in cursor:
                    digest.update(repr(row).encode())
                    rows += 1
    return digest.hexdigest(), rows


class Command(BaseCommand):
    help = (
        "Dump the PostgreSQL database with pg_dump, restore the dump into a new database and check that "
        "every retention figure and MRR line there is identical. The dump file is kept; the new database is dropped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dump", required=True, help="Path of the dump file to write (pg_dump custom format).")
        parser.add_argument("--keep", action="store_true", help="Keep the restored database instead of dropping it.")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("backup_check needs PostgreSQL; with SQLite, copy the database file instead.")
        settings = connection.settings_dict
        source = connection.get_connection_params()
        conninfo = psycopg.conninfo.make_conninfo(
            **{key: value for key, value in source.items() if key in {"dbname", "user", "password", "host", "port"}}
        )
        target_name = f"{settings['NAME']}_restore_{uuid.uuid4().hex[:8]}"
        target = psycopg.conninfo.make_conninfo(conninfo, dbname=target_name)
        dump = Path(options["dump"])

        self._run(["pg_dump", "--format=custom", "--no-owner", f"--dbname={conninfo}", f"--file={dump}"])
        self.stdout.write(f"Dumped {settings['NAME']} to {dump} ({dump.stat().st_size} bytes).")
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{target_name}"')
        try:
            self._run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={target}", str(dump)])
            original, rows = fingerprint(conninfo)
            restored, restored_rows = fingerprint(target)
        finally:
            if not options["keep"]:
                with psycopg.connect(conninfo, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')
        if (original, rows) != (restored, restored_rows):
            raise CommandError(
                f"The restored database differs: {restored_rows} rows with digest {restored[:16]}, "
                f"against {rows} rows with digest {original[:16]} in the original."
            )
        self.stdout.write(f"Restored into {target_name} and compared {rows} rows: identical (sha256 {original[:16]}).")

    def _run(self, command):
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            raise CommandError(f"{command[0]} failed: {completed.stderr.strip()}")
