"""Reads behind the retention pages. They use stored results only and never recompute.

Managers and CS admins read the stored totals over every account
(`RetentionResult`). Anyone else reads the stored totals of the accounts they
own (`TamTotal`) and their per-customer rows (`RetentionCustomer.tam`).
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import Cast

from accounts.models import User
from common.money import percentage
from common.months import add_months, month_range

from .models import RetentionCustomer, RetentionResult, SegmentKey, TamTotal
from .page_forms import COMMERCIAL, COMMERCIAL_SEGMENTS, RetentionFilters
from .span import DataSpan, data_span

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class MonthFigures:
    """Retention of one month: `month` is the month of B, and A is MRR twelve months earlier."""

    month: datetime.date
    customers: int = 0
    a: Decimal = ZERO
    b: Decimal = ZERO
    c: Decimal = ZERO

    @property
    def baseline_month(self) -> datetime.date:
        return add_months(self.month, -12)

    @property
    def gross_pct(self) -> Decimal | None:
        """Return ΣC / ΣA in percent with one decimal, or None ("n/a") when no customer was active in M-12."""
        return percentage(self.c, self.a, places=1) if self.customers else None

    @property
    def net_pct(self) -> Decimal | None:
        """Return ΣB / ΣA in percent with one decimal, or None ("n/a") when no customer was active in M-12."""
        return percentage(self.b, self.a, places=1) if self.customers else None


@dataclass(frozen=True)
class Overview:
    """The months an overview shows, and the requested months that fall outside the data span."""

    span: DataSpan | None
    figures: list[MonthFigures]
    # (first, last) ranges of requested months that have no data.
    months_without_data: list[tuple[datetime.date, datetime.date]] = field(default_factory=list)

    @property
    def latest(self) -> MonthFigures | None:
        return self.figures[-1] if self.figures else None

    @property
    def _first_with_cohort(self) -> int:
        return next((index for index, figures in enumerate(self.figures) if figures.customers), len(self.figures))

    @property
    def leading_without_cohort(self) -> tuple[datetime.date, datetime.date] | None:
        """Return the first and last of the months at the start that have no cohort, or None.

        These are usually the span's first twelve months, whose baseline lies
        before the first import. Pages list them as one n/a line.
        """
        count = self._first_with_cohort
        return (self.figures[0].month, self.figures[count - 1].month) if count else None

    @property
    def from_first_cohort(self) -> list[MonthFigures]:
        """Return the months from the first one with a cohort on; later months without one stay in."""
        return self.figures[self._first_with_cohort :]


def _segment_condition(segment: str) -> Q:
    if segment == COMMERCIAL:
        return Q(segment__in=COMMERCIAL_SEGMENTS)
    return Q(segment=segment)


def _scoped_customers(user: User, month: datetime.date, level: str, segment: str) -> QuerySet[RetentionCustomer]:
    """Return the per-customer rows of a month, level and segment that `user` may read."""
    rows = RetentionCustomer.objects.of_month(month, level)
    if not user.sees_all_accounts:
        rows = rows.filter(tam=user)
    if segment != SegmentKey.ALL:
        rows = rows.filter(_segment_condition(segment))
    return rows


def _monthly_totals(
    user: User, filters: RetentionFilters, first: datetime.date, last: datetime.date
) -> dict[datetime.date, MonthFigures]:
    """Return the stored totals of each month from `first` to `last` that has any, keyed by month.

    Commercial adds up the customers and amounts of the Mid-Market and SMB
    rows. Percentages are computed later from those sums, never averaged.
    """
    if user.sees_all_accounts:
        rows = RetentionResult.objects.filter(level=filters.level).filter(_segment_condition(filters.segment))
    else:
        rows = TamTotal.objects.filter(level=filters.level, tam=user)
        if filters.segment != SegmentKey.ALL:
            rows = rows.filter(_segment_condition(filters.segment))
    totals = (
        rows.filter(month__range=(first, last))
        .values("month")
        .annotate(customer_count=Sum("customers"), total_a=Sum("a"), total_b=Sum("b"), total_c=Sum("c"))
        .order_by("month")
    )
    return {
        row["month"]: MonthFigures(
            month=row["month"],
            customers=row["customer_count"] or 0,
            a=row["total_a"] if row["total_a"] is not None else ZERO,
            b=row["total_b"] if row["total_b"] is not None else ZERO,
            c=row["total_c"] if row["total_c"] is not None else ZERO,
        )
        for row in totals
    }


def _ranges_outside(span: DataSpan | None, first: datetime.date | None, last: datetime.date | None):
    """Return the parts of the requested range [first, last] that lie outside the span."""
    if span is None:
        return [(first, last)] if first and last else []
    gaps = []
    if first and first < span.first:
        gaps.append((first, min(last or span.first, add_months(span.first, -1))))
    if last and last > span.last:
        gaps.append((max(first or span.last, add_months(span.last, 1)), last))
    return gaps


def retention_overview(user: User, filters: RetentionFilters) -> Overview:
    """Return the retention of every month of the data span that the filters' month range keeps.

    A month of the span without stored rows for the user's scope has no
    customers and so shows n/a. Months outside the span are left out and
    reported in `months_without_data`.
    """
    span = data_span()
    gaps = _ranges_outside(span, filters.month_from, filters.month_to)
    if span is None:
        return Overview(span=None, figures=[], months_without_data=gaps)

    first = max(span.first, filters.month_from) if filters.month_from else span.first
    last = min(span.last, filters.month_to) if filters.month_to else span.last
    if first > last:
        return Overview(span=span, figures=[], months_without_data=gaps)

    totals = _monthly_totals(user, filters, first, last)
    figures = [totals.get(month, MonthFigures(month=month)) for month in month_range(first, last)]
    return Overview(span=span, figures=figures, months_without_data=gaps)


def stored_result(month: datetime.date, level: str, segment: str) -> RetentionResult | None:
    """Return the stored result over every account of a month, level and segment, or None when there is none.

    Commercial is not stored, so its result is unsaved: it adds up the
    Mid-Market and SMB rows and computes its percentages from those sums.
    """
    if segment != COMMERCIAL:
        return RetentionResult.objects.filter(month=month, level=level, segment=segment).first()
    rows = list(RetentionResult.objects.filter(month=month, level=level, segment__in=COMMERCIAL_SEGMENTS))
    if not rows:
        return None
    a, b, c = (sum((getattr(row, name) for row in rows), ZERO) for name in ("a", "b", "c"))
    return RetentionResult(
        month=month,
        level=level,
        segment=COMMERCIAL,
        customers=sum(row.customers for row in rows),
        a=a,
        b=b,
        c=c,
        gross_pct=percentage(c, a),
        net_pct=percentage(b, a),
    )


def month_figures(user: User, month: datetime.date, filters: RetentionFilters) -> MonthFigures | None:
    """Return the totals of one month for the user's scope, or None when the month is outside the data span."""
    span = data_span()
    if span is None or month not in span:
        return None
    return _monthly_totals(user, filters, month, month).get(month, MonthFigures(month=month))


def month_customers(user: User, month: datetime.date, filters: RetentionFilters) -> QuerySet[RetentionCustomer]:
    """Return the customers behind one month's figure that `user` may read, with their accounts loaded.

    `gross_ratio` and `net_ratio` (C / A and B / A, as floats) serve as sort
    keys only. Pages show percentages computed from the Decimal amounts. The
    default order ends with the primary key, so it is total.
    """
    return (
        _scoped_customers(user, month, filters.level, filters.segment)
        .select_related("account", "subscription", "tam")
        .annotate(
            gross_ratio=Cast("c", FloatField()) / Cast("a", FloatField()),
            net_ratio=Cast("b", FloatField()) / Cast("a", FloatField()),
        )
        .order_by("account__name", "account__external_id", F("subscription__external_id").asc(nulls_first=True), "pk")
    )
