from django.db import migrations

CREATE = """
CREATE AGGREGATE tamarind_sum(bigint) (
    SFUNC = int8pl, STYPE = bigint, COMBINEFUNC = int8pl, PARALLEL = SAFE
)
"""
DROP = "DROP AGGREGATE IF EXISTS tamarind_sum(bigint)"


def create_aggregate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute(CREATE)


def drop_aggregate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    """Add tamarind_sum, a sum of bigint values that stays a bigint, for the retention engine on PostgreSQL."""

    dependencies = [("retention", "0004_pending_recompute")]

    operations = [migrations.RunPython(create_aggregate, drop_aggregate)]
