import os
import re

import pytest

from accounts.roles import Role
from tests.factories import UserFactory

# Tests that need a service or the browser fail instead of skipping when CI is set.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

PASSWORD = "pass-for-tests-1"


def without_csrf_tokens(content: bytes) -> bytes:
    """Return a page's bytes without the values of its CSRF tokens, which are random and may contain any short id."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


def require_postgresql(reason: str) -> None:
    """Skip the calling test on SQLite, or fail it when CI is set, with `reason` and how to run it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        message = f"{reason}; set DATABASE_URL to run this test."
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def expect_status(response, expected) -> None:
    """Check a response's status code, or with "login" a redirect to the login page."""
    if expected == "login":
        assert response.status_code == 302
        assert response.url.startswith("/login/")
    else:
        assert response.status_code == expected


@pytest.fixture
def login(client, request):
    """Return a function that signs the test client in as the named user fixture, or no one for "anonymous"."""

    def as_user(name):
        if name != "anonymous":
            client.force_login(request.getfixturevalue(name))
        return client

    return as_user


@pytest.fixture
def tam(db):
    return UserFactory(username="tam_owner", role=Role.TAM)


@pytest.fixture
def other_tam(db):
    return UserFactory(username="tam_other", role=Role.TAM)


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role=Role.MANAGER)


@pytest.fixture
def cs_admin(db):
    return UserFactory(username="csadmin", role=Role.CS_ADMIN)


@pytest.fixture(scope="session", autouse=True)
def end_stray_database_sessions(django_db_setup, django_db_blocker):
    """End PostgreSQL sessions left by live-server threads, so that the test database can be dropped."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
