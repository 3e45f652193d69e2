"""Fiscal quarters: the quarter of a date, its bounds and names, with January and February as first month."""

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured

from common.fiscal import FiscalQuarter, parse_quarter, quarter_of, quarters_between


@pytest.fixture
def february_start(settings):
    settings.FISCAL_YEAR_START_MONTH = 2


@pytest.mark.parametrize(
    "day, expected",
    [
        (datetime.date(2025, 2, 1), "FY2026-Q1"),
        (datetime.date(2025, 4, 30), "FY2026-Q1"),
        (datetime.date(2025, 5, 1), "FY2026-Q2"),
        (datetime.date(2025, 10, 31), "FY2026-Q3"),
        (datetime.date(2025, 11, 1), "FY2026-Q4"),
        (datetime.date(2026, 1, 31), "FY2026-Q4"),
        (datetime.date(2026, 2, 1), "FY2027-Q1"),
        (datetime.date(2025, 1, 31), "FY2025-Q4"),
    ],
    ids=str,
)
def test_quarter_of_date_with_february_start(february_start, day, expected):
    assert str(quarter_of(day)) == expected


def test_february_fy2026_bounds(february_start):
    year_first = FiscalQuarter(2026, 1)
    year_last = FiscalQuarter(2026, 4)

    assert year_first.start == datetime.date(2025, 2, 1)
    assert year_first.end == datetime.date(2025, 4, 30)
    assert year_last.start == datetime.date(2025, 11, 1)
    assert year_last.end == datetime.date(2026, 1, 31)


@pytest.mark.parametrize(
    "day, expected",
    [
        (datetime.date(2026, 1, 1), "FY2026-Q1"),
        (datetime.date(2026, 3, 31), "FY2026-Q1"),
        (datetime.date(2026, 4, 1), "FY2026-Q2"),
        (datetime.date(2026, 12, 31), "FY2026-Q4"),
    ],
    ids=str,
)
def test_quarter_of_date_with_january_default(day, expected):
    assert str(quarter_of(day)) == expected


def test_december_start_names_year_by_its_end(settings):
    settings.FISCAL_YEAR_START_MONTH = 12

    assert str(quarter_of(datetime.date(2025, 12, 1))) == "FY2026-Q1"
    assert FiscalQuarter(2026, 1).start == datetime.date(2025, 12, 1)
    assert FiscalQuarter(2026, 4).end == datetime.date(2026, 11, 30)


def test_next_and_previous_cross_year(february_start):
    assert FiscalQuarter(2026, 4).next() == FiscalQuarter(2027, 1)
    assert FiscalQuarter(2027, 1).previous() == FiscalQuarter(2026, 4)


def test_quarters_between_lists_every_quarter():
    quarters = quarters_between(FiscalQuarter(2025, 3), FiscalQuarter(2026, 2))

    assert [str(quarter) for quarter in quarters] == ["FY2025-Q3", "FY2025-Q4", "FY2026-Q1", "FY2026-Q2"]


@pytest.mark.parametrize("text", ["FY2027-Q5", "FY2027-Q0", "2027-Q1", "FY27-Q1", "fy2027-q1", "FY2027Q1", ""])
def test_parse_quarter_rejects(text):
    with pytest.raises(ValueError, match="expected FYyyyy-Qn"):
        parse_quarter(text)


@pytest.mark.parametrize("text", ["FY1900-Q4", "FY9999-Q1", "FY9999-Q4"])
def test_parse_quarter_rejects_year_out_of_range(text):
    with pytest.raises(ValueError, match="year from 1901 to 9998"):
        parse_quarter(text)


@pytest.mark.parametrize("start_month", [1, 2, 12])
def test_next_of_last_accepted_quarter(settings, start_month):
    settings.FISCAL_YEAR_START_MONTH = start_month

    assert parse_quarter("FY9998-Q4").next() == FiscalQuarter(9999, 1)


def test_parse_quarter_reads_label():
    assert parse_quarter(" FY2027-Q1 ") == FiscalQuarter(2027, 1)


@pytest.mark.parametrize("month", [0, 13, "2"])
def test_invalid_start_month_setting(settings, month):
    settings.FISCAL_YEAR_START_MONTH = month

    with pytest.raises(ImproperlyConfigured, match="FISCAL_YEAR_START_MONTH"):
        quarter_of(datetime.date(2025, 1, 1))
