"""The data span: the first to the last month that an import covered. Months outside it have no data."""

import datetime
from dataclasses import dataclass

from django.db.models import Max, Min

from .models import CoveredMonth


@dataclass(frozen=True)
class DataSpan:
    first: datetime.date
    last: datetime.date

    def __contains__(self, month: datetime.date) -> bool:
        return self.first <= month <= self.last


def data_span() -> DataSpan | None:
    """Return the span from the first to the last covered month, or None before the first import."""
    bounds = CoveredMonth.objects.aggregate(first=Min("month"), last=Max("month"))
    if bounds["first"] is None:
        return None
    return DataSpan(first=bounds["first"], last=bounds["last"])
