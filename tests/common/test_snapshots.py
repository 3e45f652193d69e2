"""A retention page reads one REPEATABLE READ, read-only snapshot and leaves the connection as it found it."""

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory

from common.snapshots import read_snapshot
from tests.conftest import IN_CI


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        message = "the snapshot runs on PostgreSQL only; set DATABASE_URL to run this test."
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def settings_seen_by_view():
    seen = {}

    @read_snapshot
    def view(request):
        with connection.cursor() as cursor:
            for name in ("transaction_isolation", "transaction_read_only"):
                cursor.execute(f"SHOW {name}")
                seen[name] = cursor.fetchone()[0]
        return HttpResponse("ok")

    view(RequestFactory().get("/"))
    return seen


def test_view_reads_a_repeatable_read_snapshot(postgresql, transactional_db):
    seen = settings_seen_by_view()

    assert seen["transaction_isolation"] == "repeatable read"
    assert seen["transaction_read_only"] == "on"


def test_later_transactions_keep_the_default(postgresql, transactional_db):
    settings_seen_by_view()

    with connection.cursor() as cursor:
        cursor.execute("SHOW transaction_isolation")
        isolation = cursor.fetchone()[0]
        cursor.execute("SHOW transaction_read_only")
        read_only = cursor.fetchone()[0]

    assert isolation == "read committed"
    assert read_only == "off"
