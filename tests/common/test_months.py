"""Month arithmetic: the months between two dates and a date moved by whole months."""

import datetime

import pytest

from common.months import months_between, shift_date


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (datetime.date(2024, 12, 31), datetime.date(2026, 11, 1), 23),
        (datetime.date(2024, 12, 1), datetime.date(2024, 12, 31), 0),
        (datetime.date(2025, 1, 15), datetime.date(2024, 12, 1), -1),
    ],
)
def test_months_between(first, last, expected):
    assert months_between(first, last) == expected


@pytest.mark.parametrize(
    ("day", "count", "expected"),
    [
        (datetime.date(2023, 1, 15), 23, datetime.date(2024, 12, 15)),
        # A day that the new month lacks becomes its last day.
        (datetime.date(2023, 1, 31), 1, datetime.date(2023, 2, 28)),
        (datetime.date(2023, 1, 31), 13, datetime.date(2024, 2, 29)),
        (datetime.date(2024, 2, 29), 12, datetime.date(2025, 2, 28)),
        (datetime.date(2023, 3, 31), -1, datetime.date(2023, 2, 28)),
        (datetime.date(2023, 12, 31), 0, datetime.date(2023, 12, 31)),
    ],
)
def test_shift_date(day, count, expected):
    assert shift_date(day, count) == expected
