import os

import pytest

from accounts.roles import Role
from tests.factories import UserFactory

# Tests that need a service or the browser fail instead of skipping when CI is set.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

PASSWORD = "pass-for-tests-1"


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
