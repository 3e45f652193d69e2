"""Reasons for churn and expansion: one case per row of the reasons table, and the edges around it."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import Segment
from retention.engine import recompute_retention
from retention.models import Level, Reason, ReasonTotal, RetentionCustomer, RetentionResult, SegmentKey
from retention.reason_selectors import recurring_products

from .builders import add_lines, make_account

JUNE_2024 = datetime.date(2024, 6, 1)


def customer(external_id, level=Level.ACCOUNT):
    return RetentionCustomer.objects.get(month=JUNE_2024, level=level, account__external_id=external_id)


def reason_totals(level=Level.PARENT, segment=SegmentKey.ALL):
    rows = ReasonTotal.objects.filter(month=JUNE_2024, level=level, segment=segment)
    return {row.reason: row.amount for row in rows}


REASON_CASES = [
    pytest.param(
        [("2023-06", "P1", 10, "100.00")],
        Reason.CANCELLATION,
        "100.00",
        id="cancellation",
    ),
    pytest.param(
        [("2023-06", "P1", 10, "100.00"), ("2024-06", "P1", 8, "80.00")],
        Reason.DOWNGRADE,
        "20.00",
        id="downgrade",
    ),
    pytest.param(
        [("2023-06", "P1", 10, "100.00"), ("2024-06", "P1", 12, "120.00")],
        Reason.SEAT_EXPANSION,
        "20.00",
        id="seat-expansion",
    ),
    pytest.param(
        [("2023-06", "P1", 10, "100.00"), ("2024-06", "P1", 10, "130.00")],
        Reason.PRICE_CHANGE,
        "30.00",
        id="price-change-same-seats",
    ),
    pytest.param(
        [("2023-06", "P1", 10, "100.00"), ("2024-06", "P1", 9, "130.00")],
        Reason.PRICE_CHANGE,
        "30.00",
        id="price-change-fewer-seats",
    ),
    pytest.param(
        [("2023-06", "P1", 10, "100.00"), ("2024-06", "P2", 10, "150.00")],
        Reason.PRODUCT_CHANGE,
        "50.00",
        id="product-change",
    ),
    pytest.param(
        [("2023-06", "P1", 10, "100.00"), ("2024-06", "P1", 10, "100.00"), ("2024-06", "P2", 5, "60.00")],
        Reason.PRODUCT_SEAT_MIX,
        "60.00",
        id="product-and-seat-change",
    ),
]


@pytest.mark.parametrize(("lines", "expected_reason", "expected_amount"), REASON_CASES)
def test_reason_table_row(db, lines, expected_reason, expected_amount):
    add_lines(
        [
            (month, "ACC-1", f"SUB-{product}", product, quantity, mrr, "recurring")
            for month, product, quantity, mrr in lines
        ],
        cover=["2024-06"],
    )
    recompute_retention()

    row = customer("ACC-1")
    assert row.reason == expected_reason
    assert row.reason_amount == Decimal(expected_amount)
    assert reason_totals() == {expected_reason: Decimal(expected_amount)}


def test_products_and_seats_of_both_months(db):
    add_lines(
        [
            ("2023-06", "ACC-1", "SUB-1", "Basic", 10, "100.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "Pro", 4, "150.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-2", "Basic", 3, "30.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "Pro", 99, "500.00", "trueup"),
        ]
    )
    recompute_retention()

    row = customer("ACC-1")
    assert recurring_products([row]) == {row.pk: (["Basic"], ["Basic", "Pro"])}
    assert (row.seats_a, row.seats_b) == (10, 7)
    assert (row.recurring_a, row.recurring_b) == (Decimal("100.00"), Decimal("180.00"))
    assert row.reason == Reason.PRODUCT_SEAT_MIX


def test_change_only_in_trueups_has_no_reason(db):
    add_lines(
        [
            ("2023-06", "ACC-1", "SUB-1", "P1", 10, "100.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "P1", 10, "100.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "P1", 2, "40.00", "trueup"),
        ]
    )
    recompute_retention()

    row = customer("ACC-1")
    assert row.b == Decimal("140.00")
    assert row.reason == ""
    assert reason_totals() == {}


def test_trueups_do_not_change_the_reason_amount(db):
    add_lines(
        [
            ("2023-06", "ACC-1", "SUB-1", "P1", 10, "100.00", "recurring"),
            ("2023-06", "ACC-1", "SUB-1", "P1", 5, "50.00", "trueup"),
            ("2024-06", "ACC-1", "SUB-1", "P1", 8, "80.00", "recurring"),
        ]
    )
    recompute_retention()

    assert customer("ACC-1").reason == Reason.DOWNGRADE
    assert customer("ACC-1").reason_amount == Decimal("20.00")


def test_negative_b_is_a_downgrade(db):
    add_lines(
        [
            ("2023-06", "ACC-1", "SUB-1", "P1", 10, "100.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "P1", 0, "-15.00", "recurring"),
        ]
    )
    recompute_retention()

    assert customer("ACC-1").reason == Reason.DOWNGRADE
    assert customer("ACC-1").reason_amount == Decimal("115.00")


def test_parent_level_nets_changes_inside_the_parent(db):
    holding = make_account("00123", segment=Segment.LARGE)
    make_account("00456", parent=holding, segment=Segment.LARGE)
    add_lines(
        [
            ("2023-06", "00123", "SUB-0008", "Premium", 5, "250.00", "recurring"),
            ("2023-06", "00456", "SUB-0009", "Premium", 10, "500.00", "recurring"),
            ("2024-06", "00456", "SUB-0009", "Premium", 12, "600.00", "recurring"),
        ]
    )
    recompute_retention()

    assert reason_totals(Level.PARENT) == {Reason.DOWNGRADE: Decimal("150.00")}
    assert reason_totals(Level.ACCOUNT) == {
        Reason.CANCELLATION: Decimal("250.00"),
        Reason.SEAT_EXPANSION: Decimal("100.00"),
    }
    assert reason_totals(Level.SUBSCRIPTION) == {
        Reason.CANCELLATION: Decimal("250.00"),
        Reason.SEAT_EXPANSION: Decimal("100.00"),
    }


def test_reason_totals_per_segment(db):
    make_account("BIG", segment=Segment.LARGE)
    make_account("SMALL", segment=Segment.SMB)
    add_lines(
        [
            ("2023-06", "BIG", "SUB-B", "P1", 10, "100.00", "recurring"),
            ("2023-06", "SMALL", "SUB-S", "P1", 10, "100.00", "recurring"),
            ("2024-06", "SMALL", "SUB-S", "P1", 11, "110.00", "recurring"),
        ]
    )
    recompute_retention()

    assert reason_totals(segment=SegmentKey.LARGE) == {Reason.CANCELLATION: Decimal("100.00")}
    assert reason_totals(segment=SegmentKey.SMB) == {Reason.SEAT_EXPANSION: Decimal("10.00")}
    assert reason_totals(segment=SegmentKey.MID_MARKET) == {}


def test_unchanged_month_has_empty_categories(db):
    add_lines(
        [
            ("2023-06", "ACC-1", "SUB-1", "P1", 10, "100.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "P1", 10, "100.00", "recurring"),
        ]
    )
    recompute_retention()

    assert reason_totals() == {}
    result = RetentionResult.objects.get(month=JUNE_2024, level=Level.PARENT, segment=SegmentKey.ALL)
    assert result.recurring_b - result.recurring_a == Decimal("0.00")


def test_recurring_totals_reconcile_with_reasons(db):
    add_lines(
        [
            ("2023-06", "R1", "SUB-R1", "Premium", 10, "100.00", "recurring"),
            ("2023-06", "R2", "SUB-R2", "Premium", 5, "50.00", "recurring"),
            ("2024-06", "R1", "SUB-R1", "Premium", 12, "120.00", "recurring"),
            ("2024-06", "R1", "SUB-R1", "Premium", 1, "7.00", "trueup"),
        ]
    )
    recompute_retention()

    result = RetentionResult.objects.get(month=JUNE_2024, level=Level.PARENT, segment=SegmentKey.ALL)
    totals = reason_totals()
    assert totals == {Reason.CANCELLATION: Decimal("50.00"), Reason.SEAT_EXPANSION: Decimal("20.00")}
    assert (result.recurring_a, result.recurring_b) == (Decimal("150.00"), Decimal("120.00"))
    assert totals[Reason.SEAT_EXPANSION] - totals[Reason.CANCELLATION] == result.recurring_b - result.recurring_a
