"""Month partitions of the MRR line table on PostgreSQL.

On PostgreSQL `retention_mrrline` is partitioned by month: one partition a
month, named `retention_mrrline_pYYYYMM`, and a default partition for lines
written outside the imports (demo data, tests). Replacing a month drops its
partition instead of deleting its rows one by one, and the fast import
attaches a table that it filled and indexed on its own. SQLite keeps one
plain table, and every function here falls back to plain statements there.
"""

import datetime

from django.db import connection

from common.fields import BYTE_ORDER_COLLATION
from common.months import add_months

from .models import MrrLine

LINE_TABLE = MrrLine._meta.db_table
DEFAULT_PARTITION = f"{LINE_TABLE}_default"
# The columns of the line table in their stored order, with their SQL types. A table attached as a
# partition must have the same collations too.
LINE_COLUMNS = [
    ("month", "date"),
    ("product", f'varchar(100) COLLATE "{BYTE_ORDER_COLLATION}"'),
    ("quantity", "bigint"),
    ("mrr", "bigint"),
    ("charge_type", f'varchar(10) COLLATE "{BYTE_ORDER_COLLATION}"'),
    ("subscription_id", "bigint"),
]
PRIMARY_KEY = "month, subscription_id, product, charge_type"
FIRST_DAY_CHECK = "mrrline_month_first_day"


def partitioned() -> bool:
    return connection.vendor == "postgresql"


def partition_name(month: datetime.date) -> str:
    return f"{LINE_TABLE}_p{month:%Y%m}"


def bounds(month: datetime.date) -> str:
    return f"FROM ('{month.isoformat()}') TO ('{add_months(month, 1).isoformat()}')"


def table_definition(month_default: str | None = None) -> str:
    """Return the columns and checks of a table that can become a month partition.

    `month_default`, an SQL expression, becomes the default of the month column.
    """
    columns = []
    for name, sql_type in LINE_COLUMNS:
        column = f"{name} {sql_type} NOT NULL"
        if name == "month" and month_default is not None:
            column += f" DEFAULT {month_default}"
        columns.append(column)
    return f"{', '.join(columns)}, CONSTRAINT {FIRST_DAY_CHECK} CHECK (EXTRACT(DAY FROM month) = 1)"


def existing_partitions(months: list[datetime.date]) -> list[datetime.date]:
    """Return the months among `months` that have a partition."""
    names = {partition_name(month): month for month in months}
    if not names:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT child.relname FROM pg_inherits
            JOIN pg_class child ON child.oid = pg_inherits.inhrelid
            JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
            WHERE parent.relname = %s AND child.relname = ANY(%s)""",
            [LINE_TABLE, list(names)],
        )
        return sorted(names[name] for (name,) in cursor.fetchall())


def remove_lines(months: list[datetime.date]) -> int:
    """Delete every line of `months` and return how many there were.

    On PostgreSQL a month's partition is counted and dropped, and lines of
    these months in the default partition are deleted.

    NOTE: snapshots do not cover dropped and attached partitions. A reader whose snapshot predates
    the new month tables finds the replaced months empty until its next snapshot.
    """
    if not partitioned():
        deleted, _ = MrrLine.objects.filter(month__in=months).delete()
        return deleted
    removed = 0
    with connection.cursor() as cursor:
        for month in existing_partitions(months):
            name = partition_name(month)
            cursor.execute(f"SELECT COUNT(*) FROM {name}")
            removed += cursor.fetchone()[0]
            cursor.execute(f"DROP TABLE {name}")
        if months:
            cursor.execute(f"DELETE FROM {DEFAULT_PARTITION} WHERE month = ANY(%s)", [months])
            removed += max(cursor.rowcount, 0)
    return removed


def add_partitions(months: list[datetime.date]) -> None:
    """Create an empty partition for each month of `months` that has none; its lines must be gone."""
    if not partitioned():
        return
    present = set(existing_partitions(months))
    with connection.cursor() as cursor:
        for month in sorted(set(months) - present):
            cursor.execute(f"CREATE TABLE {partition_name(month)} PARTITION OF {LINE_TABLE} FOR VALUES {bounds(month)}")


def attach_statements(month: datetime.date, table: str) -> list[str]:
    """Return the statements that make `table`, keyed and with lines of `month` only, the month's partition.

    The month's lines must be gone. A check on the month's bounds in the
    table spares PostgreSQL a scan of its rows.
    """
    name = partition_name(month)
    return [
        f"ALTER TABLE {LINE_TABLE} ATTACH PARTITION {table} FOR VALUES {bounds(month)}",
        f"ALTER TABLE {table} RENAME TO {name}",
        f"ALTER INDEX {table}_pkey RENAME TO {name}_pkey",
    ]
