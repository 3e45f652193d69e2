"""Percentiles as numpy's default "linear" method, and the Kaplan-Meier median worked by hand."""

from decimal import Decimal
from fractions import Fraction

import pytest

from journeys.stats import kaplan_meier, kaplan_meier_median, percentile


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        # numpy.percentile([1, 2, 3, 4], q): h = 3 * q / 100 between ranks.
        ([1, 2, 3, 4], 50, "2.5"),
        ([1, 2, 3, 4], 75, "3.25"),
        ([1, 2, 3, 4], 90, "3.7"),
        ([4, 1, 3, 2], 90, "3.7"),
        ([10, 20, 30, 40, 50], 90, "46"),
        ([10, 20, 30, 40, 50], 50, "30"),
        ([5, 5, 5, 100], 75, "28.75"),
        ([7], 90, "7"),
        ([0, 1], 0, "0"),
        ([0, 1], 100, "1"),
    ],
)
def test_percentile_interpolates_between_ranks(values, q, expected):
    assert percentile(values, q) == Decimal(expected)


def test_percentile_of_nothing_is_none():
    assert percentile([], 50) is None


def test_percentile_rejects_q_outside_range():
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_kaplan_meier_counts_censored_at_tie_as_at_risk():
    # Day 2: two events and one censored; all five are at risk, so S = 3/5 > 1/2.
    observations = [(2, True), (2, True), (2, False), (9, False), (9, False)]

    steps = kaplan_meier(observations)

    assert [(step.days, step.at_risk, step.events) for step in steps] == [(2, 5, 2)]
    assert steps[0].survival == Fraction(3, 5)
    # Dropping the journey censored on day 2 from the risk set would give S = 1/2 and a median of 2.
    assert kaplan_meier_median(observations) is None


def test_kaplan_meier_median_after_censoring():
    # Day 2: S = 1 - 2/5 = 3/5. Day 6: at risk 6 and 9, S = 3/5 * (1 - 1/2) = 3/10 <= 1/2.
    observations = [(2, True), (2, True), (2, False), (6, True), (9, False)]

    steps = kaplan_meier(observations)

    assert [(step.days, step.at_risk, step.events, step.survival) for step in steps] == [
        (2, 5, 2, Fraction(3, 5)),
        (6, 2, 1, Fraction(3, 10)),
    ]
    assert kaplan_meier_median(observations) == 6


def test_kaplan_meier_median_exactly_half():
    # Four journeys, two reach on day 3: S(3) = 1/2, which counts as the median.
    observations = [(3, True), (3, True), (8, False), (10, False)]

    assert kaplan_meier_median(observations) == 3


def test_kaplan_meier_median_all_censored_not_reached():
    assert kaplan_meier_median([(5, False), (7, False)]) is None


def test_kaplan_meier_median_no_journeys_not_reached():
    assert kaplan_meier_median([]) is None
