"""Percentiles and the Kaplan-Meier median of days to a milestone, computed exactly with fractions."""

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

HALF = Fraction(1, 2)


def percentile(values: Sequence[int], q: int) -> Decimal | None:
    """Return the q-th percentile (0 to 100) of `values`, or None when there are none.

    Interpolates linearly between the two closest ranks: position h = (n - 1) * q / 100
    of the sorted values, as numpy.percentile does with its default method "linear".
    With whole days the result has at most two decimal places for q of 50, 75 and 90.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0 to 100")
    if not values:
        return None
    ordered = sorted(values)
    position = Fraction(len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    value = ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])
    return Decimal(value.numerator) / Decimal(value.denominator)


@dataclasses.dataclass(frozen=True)
class SurvivalStep:
    """S(t) just after event time `days`, with the events and journeys at risk at that time."""

    days: int
    at_risk: int
    events: int
    survival: Fraction


def kaplan_meier(observations: Sequence[tuple[int, bool]]) -> list[SurvivalStep]:
    """Return the Kaplan-Meier survival steps of (days, reached) observations.

    A reached observation is an event at its days; one not reached is censored
    there. At each event time t_i, n_i counts the observations with days >= t_i,
    so a journey censored at t_i is still at risk, and S(t_i) is the product of
    (1 - d_i / n_i) over the event times up to t_i.
    """
    events = Counter(days for days, reached in observations if reached)
    ordered_days = sorted(days for days, _ in observations)
    steps = []
    survival = Fraction(1)
    removed = 0
    for days in sorted(events):
        while removed < len(ordered_days) and ordered_days[removed] < days:
            removed += 1
        at_risk = len(ordered_days) - removed
        survival *= 1 - Fraction(events[days], at_risk)
        steps.append(SurvivalStep(days, at_risk, events[days], survival))
    return steps


def kaplan_meier_median(observations: Sequence[tuple[int, bool]]) -> int | None:
    """Return the smallest event time with S(t) <= 0.5, or None ("not reached") when S stays above 0.5."""
    for step in kaplan_meier(observations):
        if step.survival <= HALF:
            return step.days
    return None
