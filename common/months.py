"""Month arithmetic. A month is a `date` on day 1; every month calculation lives here."""

import calendar
import datetime
import re

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")

# Months outside these years are typos or placeholders, and a later year would
# overflow date arithmetic twelve months on.
FIRST_YEAR = 1900
LAST_YEAR = 2999


def first_of_month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def last_day(month: datetime.date) -> datetime.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def add_months(month: datetime.date, count: int) -> datetime.date:
    """Return the first day of the month `count` months after `month` (negative goes back)."""
    index = month.year * 12 + (month.month - 1) + count
    return datetime.date(index // 12, index % 12 + 1, 1)


def months_between(first: datetime.date, last: datetime.date) -> int:
    """Return how many months `last`'s month comes after `first`'s (negative when it comes before)."""
    return (last.year - first.year) * 12 + last.month - first.month


def shift_date(day: datetime.date, count: int) -> datetime.date:
    """Return the same day `count` months later, or that month's last day when it has fewer days."""
    month = add_months(first_of_month(day), count)
    return month.replace(day=min(day.day, last_day(month).day))


def month_range(first: datetime.date, last: datetime.date):
    """Yield every month from `first` to `last`, both included."""
    month = first_of_month(first)
    while month <= last:
        yield month
        month = add_months(month, 1)


def parse_month(text: str) -> datetime.date:
    """Parse YYYY-MM into the month's first day.

    Raises ValueError whose message is the reason alone, without the value.
    """
    match = _MONTH_RE.match(text.strip())
    if not match:
        raise ValueError("expected YYYY-MM")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError("expected YYYY-MM: no such month")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"expected YYYY-MM from {FIRST_YEAR}-01 to {LAST_YEAR}-12")
    return datetime.date(year, month, 1)


def format_month(month: datetime.date) -> str:
    return f"{month.year:04d}-{month.month:02d}"
