"""Deleting a user who owns accounts: under the report lock, with a recomputation after it."""

import pytest
from django.db import OperationalError, connection, transaction

from accounts.models import Account
from retention.models import PendingRecompute
from tests.conftest import require_postgresql
from tests.factories import AccountFactory, UserFactory


@pytest.mark.django_db
def test_deleting_owner_schedules_a_recompute():
    owner = UserFactory(username="leaver")
    account = AccountFactory(tam=owner)

    owner.delete()

    assert Account.objects.get(pk=account.pk).tam is None
    assert PendingRecompute.objects.filter(months__isnull=True).count() == 1


@pytest.mark.django_db
def test_deleting_user_without_accounts_schedules_nothing():
    UserFactory(username="visitor").delete()

    assert not PendingRecompute.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_owner_waits_for_report_lock():
    require_postgresql("the report lock is an advisory lock of PostgreSQL")
    owner = UserFactory(username="leaver")
    account = AccountFactory(tam=owner)
    holder = connection.get_new_connection(connection.get_connection_params())
    holder.autocommit = False
    try:
        # Another session, such as a recomputation, holds the report lock.
        holder.execute("SELECT pg_advisory_xact_lock(7302911)")
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            owner.delete()
    finally:
        holder.rollback()
        holder.close()

    assert Account.objects.get(pk=account.pk).tam_id == owner.pk
