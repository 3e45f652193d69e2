"""Dump, restore into a new database and compare: needs PostgreSQL and its client tools."""

from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from retention.engine import recompute_retention
from retention.management.commands.backup_check import fingerprint
from tests.conftest import IN_CI
from tests.retention.builders import add_lines


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        message = "backup_check needs PostgreSQL; set DATABASE_URL to run this test."
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def conninfo(dbname=None):
    params = {
        key: value
        for key, value in connection.get_connection_params().items()
        if key in {"dbname", "user", "host", "port"}
    }
    if dbname:
        params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**params)


@pytest.mark.django_db(transaction=True)
def test_backup_restores_identical_figures(postgresql, tmp_path):
    add_lines(
        [
            ("2023-06", "ACC-1", "SUB-1", "Premium", 10, "100.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "Premium", 12, "120.00", "recurring"),
            ("2023-06", "ACC-2", "SUB-2", "Premium", 5, "50.00", "recurring"),
        ]
    )
    recompute_retention(None)
    out = StringIO()

    call_command("backup_check", "--dump", str(tmp_path / "tamarind.dump"), stdout=out)

    assert "identical" in out.getvalue()
    assert (tmp_path / "tamarind.dump").stat().st_size > 0


@pytest.mark.django_db(transaction=True)
def test_fingerprint_sees_a_changed_figure(postgresql):
    add_lines([("2023-06", "ACC-1", "SUB-1", "Premium", 10, "100.00", "recurring")], cover=["2024-06"])
    recompute_retention(None)
    before = fingerprint(conninfo())

    with connection.cursor() as cursor:
        cursor.execute("UPDATE retention_retentionresult SET b = b + 1 WHERE level = 'parent' AND segment = 'all'")

    assert fingerprint(conninfo()) != before
