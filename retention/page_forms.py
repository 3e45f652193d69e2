"""Filter forms of the retention pages. They read the query string and never change data."""

import datetime
from dataclasses import dataclass

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Layout, Row
from django import forms

from common.months import FIRST_YEAR, LAST_YEAR, format_month, parse_month

from .models import Level, SegmentKey

# "Commercial" is not a stored segment, so the selectors add up the rows of its two segments.
COMMERCIAL = "Commercial"
COMMERCIAL_SEGMENTS = (SegmentKey.MID_MARKET, SegmentKey.SMB)

SEGMENT_CHOICES = [
    (SegmentKey.ALL, SegmentKey.ALL.label),
    (SegmentKey.LARGE, SegmentKey.LARGE.label),
    (SegmentKey.MID_MARKET, SegmentKey.MID_MARKET.label),
    (SegmentKey.SMB, SegmentKey.SMB.label),
    (COMMERCIAL, "Commercial"),
]

# A button without a name, so that it adds nothing to the query string.
SHOW_BUTTON = HTML('<button type="submit" class="btn btn-primary mb-3">Show</button>')


@dataclass(frozen=True)
class RetentionFilters:
    """The level, segment and optional month range a retention page shows."""

    level: str = Level.PARENT
    segment: str = SegmentKey.ALL
    month_from: datetime.date | None = None
    month_to: datetime.date | None = None

    def query(self) -> dict[str, str]:
        """Return the level and segment as query parameters, for links between the pages."""
        return {"level": self.level, "segment": self.segment}


class MonthFilterForm(forms.Form):
    """Level and segment of the month detail page. Blank or invalid values fall back to the defaults."""

    level = forms.ChoiceField(choices=Level.choices, required=False, label="Level")
    segment = forms.ChoiceField(choices=SEGMENT_CHOICES, required=False, label="Segment")

    def __init__(self, data=None, **kwargs):
        super().__init__(data if data else None, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_class = "retention-filters"
        self.helper.attrs = {"data-autosubmit": "true"}
        # Fields line up at their labels' tops, so that an error under one field moves no other field.
        self.helper.layout = Layout(Row(*self._columns(), css_class="g-2 align-items-start"))

    def _columns(self):
        return [
            Column("level", css_class="col-sm-6 col-md-3"),
            Column("segment", css_class="col-sm-6 col-md-3"),
            Column(SHOW_BUTTON, css_class="col-auto filter-submit"),
        ]

    def filters(self) -> RetentionFilters:
        """Return the chosen filters, using the default for every field that is blank or invalid."""
        if not self.is_bound:
            return RetentionFilters()
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return RetentionFilters(
            level=cleaned.get("level") or Level.PARENT,
            segment=cleaned.get("segment") or SegmentKey.ALL,
            month_from=cleaned.get("month_from"),
            month_to=cleaned.get("month_to"),
        )


class MonthField(forms.CharField):
    """A month written as YYYY-MM, cleaned to the month's first day."""

    widget = forms.TextInput(attrs={"placeholder": "YYYY-MM", "pattern": r"\d{4}-\d{2}", "inputmode": "numeric"})

    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_month(text)
        except ValueError as error:
            # The range is named because a well-formed month such as 1899-12 is rejected for its year alone.
            raise forms.ValidationError(
                f"Enter a month as YYYY-MM from {FIRST_YEAR}-01 to {LAST_YEAR}-12, for example 2024-06.", code="invalid"
            ) from error

    def prepare_value(self, value):
        return format_month(value) if isinstance(value, datetime.date) else value


class OverviewFilterForm(MonthFilterForm):
    """Level, segment and the range of months the overview shows.

    The range chooses which stored months are listed. It never limits the
    input of a figure, so a month's baseline twelve months earlier still counts.
    """

    month_from = MonthField(required=False, label="From")
    month_to = MonthField(required=False, label="To")

    def _columns(self):
        return [
            Column("level", css_class="col-sm-6 col-md-3"),
            Column("segment", css_class="col-sm-6 col-md-3"),
            Column("month_from", css_class="col-6 col-md-2"),
            Column("month_to", css_class="col-6 col-md-2"),
            Column(SHOW_BUTTON, css_class="col-auto filter-submit"),
        ]

    def clean(self):
        cleaned = super().clean()
        month_from, month_to = cleaned.get("month_from"), cleaned.get("month_to")
        if month_from and month_to and month_from > month_to:
            self.add_error("month_to", "The last month must not come before the first month.")
        return cleaned


class ReasonFilterForm(MonthFilterForm):
    """Month, level and segment of the reasons page. A blank or invalid month falls back to the page's default."""

    month = MonthField(required=False, label="Month")

    def _columns(self):
        return [
            Column("month", css_class="col-6 col-md-2"),
            Column("level", css_class="col-sm-6 col-md-3"),
            Column("segment", css_class="col-sm-6 col-md-3"),
            Column(SHOW_BUTTON, css_class="col-auto filter-submit"),
        ]

    def chosen_month(self) -> datetime.date | None:
        """Return the valid month of the query string, or None when it is blank or invalid."""
        if not self.is_bound:
            return None
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("month")

    def show_month(self, month: datetime.date | None) -> None:
        """Fill a blank month field with the month the page shows. An invalid month stays, next to its error."""
        if month is None:
            return
        if not self.is_bound:
            self.initial["month"] = month
        elif not self.data.get("month"):
            self.data = self.data.copy()
            self.data["month"] = format_month(month)
