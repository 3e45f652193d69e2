"""Money: `Decimal` with two places in Python, whole cents in the database.

Storing cents as integers keeps sums exact in SQLite, whose decimal columns
are floating point, and as fast as integer arithmetic in PostgreSQL.
"""

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import models

CENT = Decimal("0.01")


def round_money(value: Decimal) -> Decimal:
    """Round half up to cents."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def percentage(numerator: Decimal, denominator: Decimal, places: int = 2) -> Decimal | None:
    """Return numerator / denominator as a percentage rounded half up, or None when the denominator is not positive."""
    if denominator <= 0:
        return None
    return (numerator * 100 / denominator).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_money(value: Decimal) -> str:
    """Format for files and JSON: a dot, no grouping, two decimals, whatever the locale."""
    return f"{round_money(value):.2f}"


def format_percentage(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


class CentsField(models.BigIntegerField):
    """A money amount stored as whole cents and read back as a two-place `Decimal`."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-2)

    def to_python(self, value):
        if value is None or isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value)).quantize(CENT)
        except ArithmeticError as error:
            raise ValidationError(f"invalid amount {value!r}") from error

    def get_prep_value(self, value):
        if value is None:
            return None
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
        cents = amount * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"amount {value} has more than two decimal places")
        return int(cents)

    def formfield(self, **kwargs):
        from django import forms

        return forms.DecimalField(max_digits=18, decimal_places=2, **kwargs)


def shares(amounts: list[Decimal], places: int = 2) -> list[Decimal | None]:
    """Return each amount's share of their sum in percent, rounded so that the shares add up to exactly 100.

    Uses the largest-remainder method: every share is rounded down, then the
    units still missing go to the largest remainders. Returns None for every
    amount when the sum is not positive, because a share of nothing or of a
    negative total means nothing.
    """
    total = sum(amounts, Decimal(0))
    if total <= 0:
        return [None] * len(amounts)
    unit = Decimal(1).scaleb(-places)
    exact = [amount * 100 / total for amount in amounts]
    floors = [value.quantize(unit, rounding=ROUND_FLOOR) for value in exact]
    missing = int((Decimal(100) - sum(floors, Decimal(0))) / unit)
    by_remainder = sorted(range(len(amounts)), key=lambda index: (exact[index] - floors[index], -index), reverse=True)
    for index in by_remainder[:missing]:
        floors[index] += unit
    return floors
