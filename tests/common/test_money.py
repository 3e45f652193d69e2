from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.money import percentage, round_money, shares


def test_round_money_rounds_half_up():
    assert round_money(Decimal("0.005")) == Decimal("0.01")
    assert round_money(Decimal("2.675")) == Decimal("2.68")
    assert round_money(Decimal("-0.005")) == Decimal("-0.01")


def test_percentage_of_worked_example():
    assert percentage(Decimal("150"), Decimal("175")) == Decimal("85.71")
    assert percentage(Decimal("200"), Decimal("175")) == Decimal("114.29")
    assert percentage(Decimal("150"), Decimal("175"), places=1) == Decimal("85.7")


def test_percentage_of_nothing_is_none():
    assert percentage(Decimal("10"), Decimal("0")) is None


def test_three_equal_shares_add_up_to_100():
    assert shares([Decimal("1"), Decimal("1"), Decimal("1")]) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]


def test_single_share_is_100():
    assert shares([Decimal("50.00")]) == [Decimal("100.00")]


@pytest.mark.parametrize("amounts", [[], [Decimal("0")], [Decimal("5"), Decimal("-5")]], ids=["none", "zero", "netted"])
def test_shares_of_no_positive_total_are_none(amounts):
    assert shares(amounts) == [None] * len(amounts)


@given(st.lists(st.decimals(min_value="0.01", max_value="100000", places=2), min_size=1, max_size=8))
def test_shares_always_add_up_to_100(amounts):
    for places in (1, 2):
        result = shares(amounts, places=places)
        assert sum(result) == 100
        assert all(share >= 0 for share in result)
