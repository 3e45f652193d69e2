"""The products behind a reason, read from the lines of the customers a page or an export shows."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from retention.engine import recompute_retention
from retention.models import Level, RetentionCustomer
from retention.reason_selectors import recurring_products

from .builders import add_lines, make_account

JUNE_2024 = datetime.date(2024, 6, 1)


def rows(level):
    return list(RetentionCustomer.objects.filter(month=JUNE_2024, level=level).select_related("account"))


def by_name(level):
    """Return {account external id or subscription external id: (products in M-12, products in M)}."""
    customers = rows(level)
    products = recurring_products(customers)
    if level == Level.SUBSCRIPTION:
        return {row.subscription.external_id: products[row.pk] for row in customers}
    return {row.account.external_id: products[row.pk] for row in customers}


def build_family():
    parent = make_account("PARENT")
    child = make_account("CHILD", parent=parent)
    grandchild = make_account("GRANDCHILD", parent=child)
    add_lines(
        [
            ("2023-06", "PARENT", "SUB-P", "Basic", 5, "50.00", "recurring"),
            ("2023-06", "CHILD", "SUB-C", "Pro", 2, "80.00", "recurring"),
            ("2024-06", "CHILD", "SUB-C", "Pro", 2, "80.00", "recurring"),
            ("2024-06", "GRANDCHILD", "SUB-G", "Analytics", 1, "30.00", "recurring"),
            ("2024-06", "GRANDCHILD", "SUB-G", "Enterprise", 9, "900.00", "trueup"),
        ]
    )
    return parent, child, grandchild


def test_parent_level_gathers_every_descendant(db):
    build_family()
    recompute_retention()

    assert by_name(Level.PARENT) == {"PARENT": (["Basic", "Pro"], ["Analytics", "Pro"])}


def test_account_level_reads_own_subscriptions_only(db):
    build_family()
    recompute_retention()

    assert by_name(Level.ACCOUNT) == {"PARENT": (["Basic"], []), "CHILD": (["Pro"], ["Pro"])}


def test_subscription_level_reads_one_subscription(db):
    build_family()
    add_lines([("2023-06", "CHILD", "SUB-C2", "Basic", 1, "10.00", "recurring")])
    recompute_retention()

    assert by_name(Level.SUBSCRIPTION) == {
        "SUB-P": (["Basic"], []),
        "SUB-C": (["Pro"], ["Pro"]),
        "SUB-C2": (["Basic"], []),
    }


def test_credit_that_cancels_a_product_leaves_it_out(db):
    add_lines(
        [
            ("2023-06", "ACC-1", "SUB-1", "Basic", 10, "100.00", "recurring"),
            ("2023-06", "ACC-1", "SUB-2", "Pro", 1, "40.00", "recurring"),
            ("2023-06", "ACC-1", "SUB-3", "Pro", 0, "-40.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "Basic", 10, "100.00", "recurring"),
        ]
    )
    recompute_retention()

    assert by_name(Level.ACCOUNT) == {"ACC-1": (["Basic"], ["Basic"])}


def test_one_query_for_many_customers(db):
    for number in range(30):
        add_lines([("2023-06", f"ACC-{number}", f"SUB-{number}", "Basic", 1, "10.00", "recurring")], cover=["2024-06"])
    recompute_retention()
    customers = rows(Level.PARENT)

    with CaptureQueriesContext(connection) as queries:
        products = recurring_products(customers)

    assert len(customers) == 30
    assert len(queries) == 1
    assert all(value == (["Basic"], []) for value in products.values())
