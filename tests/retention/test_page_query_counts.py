"""Each retention page runs the same number of queries whatever the size of the customer base."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from tests.factories import UserFactory

PAGES = {
    "overview": "/retention/",
    "month detail": "/retention/2024-12/?level=parent&sort=-a",
    "month csv": "/retention/2024-12/customers.csv?level=account",
    "reasons": "/retention/reasons/?month=2024-12&level=account",
    "reason customers": "/retention/reasons/2024-12/downgrade/?level=account",
}
MAX_QUERIES = 10


def book(tmp_path, parents):
    call_command(
        "generate_demo_data",
        "--parents",
        str(parents),
        "--months",
        "24",
        "--last-month",
        "2024-12",
        "--output",
        str(tmp_path / str(parents)),
        stdout=StringIO(),
    )
    for command, name in (("import_accounts", "accounts.csv"), ("import_mrr", "mrr.csv")):
        call_command(command, str(tmp_path / str(parents) / name), stdout=StringIO(), stderr=StringIO())
    call_command("recompute_retention", stdout=StringIO())


def query_counts(client):
    counts = {}
    for name, url in PAGES.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(queries)
    return counts


@pytest.mark.parametrize("role", [Role.MANAGER, Role.TAM], ids=["manager", "tam"])
def test_query_count_does_not_grow_with_data(transactional_db, client, tmp_path, role):
    # Outside a test transaction, as in production, the statements of each
    # page's snapshot transaction count too.
    user = UserFactory(username=f"reader_{role}", role=role)
    client.force_login(user)

    book(tmp_path, parents=20)
    small = query_counts(client)
    book(tmp_path, parents=200)
    large = query_counts(client)

    assert small == large
    assert max(large.values()) <= MAX_QUERIES, large
