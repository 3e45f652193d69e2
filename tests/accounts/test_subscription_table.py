"""The subscription table keeps external ids unique with one index."""

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import SubscriptionFactory


def test_subscription_external_id_unique(db):
    SubscriptionFactory(external_id="SUB-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(external_id="SUB-1")


def test_subscription_external_id_has_one_index(db):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "accounts_subscription")
    on_external_id = [name for name, details in constraints.items() if details["columns"] == ["external_id"]]

    assert on_external_id == ["accounts_subscription_external_id_key"]
    assert constraints["accounts_subscription_external_id_key"]["unique"] is True
