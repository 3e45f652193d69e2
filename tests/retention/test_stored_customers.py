"""How the engine stores customer rows: their id ranges per month and level, and the totals per owning TAM."""

import datetime

from django.db.models import Count, Sum

from accounts.roles import Role
from retention.engine import recompute_retention
from retention.models import CustomerBlock, Level, RetentionCustomer, RetentionResult, SegmentKey, TamTotal
from tests.factories import UserFactory

from .builders import add_lines, make_account

MAY_2024 = datetime.date(2024, 5, 1)
JUNE_2024 = datetime.date(2024, 6, 1)


def two_months_of_lines():
    add_lines(
        [
            ("2023-05", "ACC-1", "SUB-1", "Basic", 10, "100.00", "recurring"),
            ("2023-05", "ACC-2", "SUB-2", "Pro", 5, "50.00", "recurring"),
            ("2023-06", "ACC-1", "SUB-1", "Basic", 10, "100.00", "recurring"),
            ("2023-06", "ACC-2", "SUB-2", "Pro", 5, "50.00", "recurring"),
            ("2024-05", "ACC-1", "SUB-1", "Basic", 12, "120.00", "recurring"),
            ("2024-06", "ACC-2", "SUB-2", "Pro", 5, "40.00", "recurring"),
        ]
    )


def rows_by_filter(month, level):
    return set(RetentionCustomer.objects.filter(month=month, level=level).values_list("pk", flat=True))


def rows_by_range(month, level):
    return set(RetentionCustomer.objects.of_month(month, level).values_list("pk", flat=True))


def test_id_ranges_follow_partial_recomputes(db):
    two_months_of_lines()
    recompute_retention()
    for months in ([JUNE_2024], [MAY_2024], [JUNE_2024]):
        recompute_retention(months)

    for month in (MAY_2024, JUNE_2024):
        for level in Level:
            assert rows_by_filter(month, level)
            assert rows_by_range(month, level) == rows_by_filter(month, level)


def test_id_ranges_do_not_overlap(db):
    two_months_of_lines()
    recompute_retention()
    recompute_retention([MAY_2024])

    blocks = sorted(CustomerBlock.objects.values_list("first_id", "last_id"))
    assert len(blocks) == 2 * len(Level)
    for (_, last_id), (next_first_id, _) in zip(blocks, blocks[1:], strict=False):
        assert last_id < next_first_id


def test_month_without_rows_has_no_range(db):
    two_months_of_lines()
    recompute_retention()

    # The span's first months have no baseline lines, so no customers.
    assert not CustomerBlock.objects.filter(month=datetime.date(2023, 6, 1)).exists()
    assert (
        RetentionResult.objects.get(
            month=datetime.date(2023, 6, 1), level=Level.PARENT, segment=SegmentKey.ALL
        ).customers
        == 0
    )


def test_tam_totals_add_up_owned_rows(db):
    first = UserFactory(username="first_tam", role=Role.TAM)
    second = UserFactory(username="second_tam", role=Role.TAM)
    parent = make_account("ACC-1", tam=first)
    make_account("CHILD", parent=parent, tam=second)
    make_account("ACC-2")
    add_lines(
        [
            ("2023-06", "ACC-1", "SUB-1", "Basic", 10, "100.00", "recurring"),
            ("2023-06", "CHILD", "SUB-C", "Pro", 2, "60.00", "recurring"),
            ("2023-06", "ACC-2", "SUB-2", "Pro", 5, "50.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "Basic", 8, "80.00", "recurring"),
            ("2024-06", "CHILD", "SUB-C", "Pro", 3, "90.00", "recurring"),
        ]
    )
    recompute_retention()

    sums = {"customers": Sum("customers"), "a": Sum("a"), "b": Sum("b"), "c": Sum("c")}
    for level in Level:
        for tam in (first, second, None):
            stored = TamTotal.objects.filter(month=JUNE_2024, level=level, tam=tam).aggregate(**sums)
            rows = RetentionCustomer.objects.filter(month=JUNE_2024, level=level, tam=tam).aggregate(
                customers=Count("id"), a=Sum("a"), b=Sum("b"), c=Sum("c")
            )
            assert {key: value or 0 for key, value in stored.items()} == {
                key: value or 0 for key, value in rows.items()
            }, (level, tam)
    assert TamTotal.objects.filter(month=JUNE_2024, level=Level.PARENT, tam=second).count() == 0
    assert TamTotal.objects.get(month=JUNE_2024, level=Level.ACCOUNT, tam=second).reason == "seat_expansion"


def test_recompute_over_decades_replaces_rows(db):
    # Each month of 35 years has a customer at every level, so a full
    # recomputation replaces over a thousand ranges of ids.
    add_lines(
        [
            (f"{year}-{month:02d}", "ACC-1", "SUB-1", "Basic", 10, "100.00", "recurring")
            for year in range(1990, 2025)
            for month in range(1, 13)
        ]
    )
    recompute_retention()

    recompute_retention()

    assert CustomerBlock.objects.count() == 34 * 12 * len(Level)
    assert RetentionCustomer.objects.count() == 34 * 12 * len(Level)
    for level in Level:
        assert rows_by_range(JUNE_2024, level) == rows_by_filter(JUNE_2024, level)
