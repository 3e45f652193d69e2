"""On PostgreSQL, partition the MRR line table by month; SQLite keeps one table.

Each month with lines gets its own partition and a default partition takes
any other month. The model does not change.
"""

import datetime

from django.db import migrations

TABLE = "retention_mrrline"
OLD = f"{TABLE}_unpartitioned"
COLUMNS = "month, product, quantity, mrr, charge_type, subscription_id"
DEFINITION = (
    "month date NOT NULL, product varchar(100) NOT NULL, quantity bigint NOT NULL, mrr bigint NOT NULL, "
    "charge_type varchar(10) NOT NULL, subscription_id bigint NOT NULL, "
    "CONSTRAINT mrrline_month_first_day CHECK (EXTRACT(DAY FROM month) = 1), "
    "PRIMARY KEY (month, subscription_id, product, charge_type)"
)


def _next_month(month: datetime.date) -> datetime.date:
    return datetime.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _set_aside(schema_editor) -> None:
    # Index names are unique in a schema, so the old key's index moves out of the way.
    schema_editor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    schema_editor.execute(f"ALTER INDEX {TABLE}_pkey RENAME TO {OLD}_pkey")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _set_aside(schema_editor)
    schema_editor.execute(f"CREATE TABLE {TABLE} ({DEFINITION}) PARTITION BY RANGE (month)")
    schema_editor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT month FROM {OLD} ORDER BY month")
        months = [month for (month,) in cursor.fetchall()]
    for month in months:
        schema_editor.execute(
            f"CREATE TABLE {TABLE}_p{month:%Y%m} PARTITION OF {TABLE} "
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_next_month(month).isoformat()}')"
        )
    schema_editor.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD}")
    schema_editor.execute(f"DROP TABLE {OLD}")


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _set_aside(schema_editor)
    schema_editor.execute(f"CREATE TABLE {TABLE} ({DEFINITION})")
    schema_editor.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD}")
    # Dropping the partitioned table drops its partitions.
    schema_editor.execute(f"DROP TABLE {OLD}")


class Migration(migrations.Migration):

    dependencies = [
        ("retention", "0011_mrrline_composite_primary_key"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition),
    ]
