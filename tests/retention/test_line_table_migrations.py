"""The migrations of the MRR line table keep every line, forwards and backwards, on either database."""

import datetime

import pytest
from django.db import connection

from tests.migrations import latest, migrate

BEFORE = [("retention", "0010_tam_totals_and_customer_blocks")]
LINES = [
    (datetime.date(2024, 1, 1), "Pro", 3, 30000, "recurring", 7),
    (datetime.date(2024, 2, 1), "Pro", 3, 30000, "recurring", 7),
    (datetime.date(2024, 2, 1), "Seats", 1, -500, "trueup", 8),
]
COLUMNS = "month, product, quantity, mrr, charge_type, subscription_id"


def stored_lines():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS} FROM retention_mrrline ORDER BY month, product")
        return [tuple(row) for row in cursor.fetchall()]


def column_names():
    with connection.cursor() as cursor:
        return [column.name for column in connection.introspection.get_table_description(cursor, "retention_mrrline")]


def partitions():
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = inhrelid "
            "WHERE inhparent = 'retention_mrrline'::regclass ORDER BY 1"
        )
        return [name for (name,) in cursor.fetchall()]


def key_collations():
    """Return the collation of each text column of the key, in every table of lines."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT col.attname, coll.collname
            FROM pg_attribute col
            JOIN pg_collation coll ON coll.oid = col.attcollation
            WHERE col.attname IN ('product', 'charge_type')
              AND (col.attrelid = 'retention_mrrline'::regclass
                   OR col.attrelid IN (SELECT inhrelid FROM pg_inherits
                                       WHERE inhparent = 'retention_mrrline'::regclass))
            ORDER BY 1"""
        )
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_line_table_migrations_both_ways():
    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO retention_mrrline ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)", LINES)

        migrate(latest("retention"))
        assert stored_lines() == LINES
        assert "id" not in column_names()
        if connection.vendor == "postgresql":
            assert partitions() == [
                "retention_mrrline_default",
                "retention_mrrline_p202401",
                "retention_mrrline_p202402",
            ]
            assert key_collations() == [("charge_type", "C"), ("product", "C")]

        migrate(BEFORE)
        assert stored_lines() == LINES
        assert "id" in column_names()
        assert partitions() == []
    finally:
        migrate(latest("retention"))
