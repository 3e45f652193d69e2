"""Fiscal years and quarters.

The fiscal year starts on the first day of the month set in FISCAL_YEAR_START_MONTH
(1 for January) and is named by the calendar year in which it ends. With February
as the first month, FY2026 runs from 1 February 2025 to 31 January 2026 and
FY2026-Q1 is February to April 2025. Month arithmetic comes from `common.months`.
"""

import dataclasses
import datetime
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .months import add_months, first_of_month, last_day

_QUARTER_RE = re.compile(r"^FY(\d{4})-Q([1-4])$")

# The fiscal years a quarter may belong to. Up to FY9998, the quarter after any accepted
# quarter still starts before the year 10000, the end of `datetime.date`.
FIRST_FISCAL_YEAR = 1901
LAST_FISCAL_YEAR = 9998


def fiscal_year_start_month() -> int:
    """Return the first month of the fiscal year (1 to 12) from the settings."""
    month = getattr(settings, "FISCAL_YEAR_START_MONTH", 1)
    if not isinstance(month, int) or not 1 <= month <= 12:
        raise ImproperlyConfigured(f"FISCAL_YEAR_START_MONTH must be a month number from 1 to 12, not {month!r}.")
    return month


@dataclasses.dataclass(frozen=True, order=True)
class FiscalQuarter:
    """A quarter of a fiscal year, such as FY2027-Q1; the dates depend on FISCAL_YEAR_START_MONTH."""

    fiscal_year: int
    quarter: int

    def __post_init__(self):
        if not 1 <= self.quarter <= 4:
            raise ValueError(f"invalid fiscal quarter {self.quarter}: expected 1 to 4")

    def __str__(self) -> str:
        return f"FY{self.fiscal_year:04d}-Q{self.quarter}"

    @property
    def label(self) -> str:
        return str(self)

    @property
    def start(self) -> datetime.date:
        """Return the first day of the quarter."""
        start_month = fiscal_year_start_month()
        # The fiscal year ends in the month before its start month, in the calendar year that names it.
        last_month = datetime.date(self.fiscal_year, (start_month - 2) % 12 + 1, 1)
        year_start = add_months(last_month, -11)
        return add_months(year_start, 3 * (self.quarter - 1))

    @property
    def end(self) -> datetime.date:
        """Return the last day of the quarter."""
        return last_day(add_months(self.start, 2))

    @property
    def in_range(self) -> bool:
        """Whether the quarter's fiscal year lies from FIRST_FISCAL_YEAR to LAST_FISCAL_YEAR."""
        return FIRST_FISCAL_YEAR <= self.fiscal_year <= LAST_FISCAL_YEAR

    def next(self) -> "FiscalQuarter":
        return quarter_of(add_months(self.start, 3))

    def previous(self) -> "FiscalQuarter":
        return quarter_of(add_months(self.start, -3))

    def __contains__(self, day: datetime.date) -> bool:
        return self.start <= day <= self.end


def quarter_of(day: datetime.date) -> FiscalQuarter:
    """Return the fiscal quarter that contains `day`."""
    start_month = fiscal_year_start_month()
    months_into_year = (day.month - start_month) % 12
    year_start = add_months(first_of_month(day), -months_into_year)
    # The year is named by the calendar year of its last month, eleven months after the first.
    fiscal_year = add_months(year_start, 11).year
    return FiscalQuarter(fiscal_year, months_into_year // 3 + 1)


def parse_quarter(text: str) -> FiscalQuarter:
    """Parse FY2027-Q1; raise ValueError otherwise."""
    match = _QUARTER_RE.match(text.strip())
    if not match:
        raise ValueError(f"invalid fiscal quarter {text!r}: expected FYyyyy-Qn, e.g. FY2027-Q1")
    fiscal_year = int(match.group(1))
    if not FIRST_FISCAL_YEAR <= fiscal_year <= LAST_FISCAL_YEAR:
        raise ValueError(
            f"invalid fiscal quarter {text!r}: expected FYyyyy-Qn with a year from "
            f"{FIRST_FISCAL_YEAR} to {LAST_FISCAL_YEAR}, e.g. FY2027-Q1"
        )
    return FiscalQuarter(fiscal_year, int(match.group(2)))


def quarters_between(first: FiscalQuarter, last: FiscalQuarter) -> list[FiscalQuarter]:
    """Return every quarter from `first` to `last`, both included."""
    quarters = []
    quarter = first
    while quarter <= last:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters
