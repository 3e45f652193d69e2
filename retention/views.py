"""Retention pages: the overview by month, a month's customers, and their CSV export.

Every view reads stored results through `retention.selectors`; none recomputes.
"""

import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe
from django_tables2 import RequestConfig

from accounts.selectors import owns_accounts
from common.csvexport import invalid_filters_response
from common.months import format_month
from common.snapshots import read_snapshot

from . import selectors
from .exports import write_month_customers
from .page_forms import MonthFilterForm, OverviewFilterForm, RetentionFilters
from .span import DataSpan
from .tables import MonthCustomerTable


def retention_reader(view):
    """Send anonymous visitors to the login page and raise 403 for users without the retention permission.

    The view itself reads one snapshot, so a recomputation that commits while the page is built shows on the
    next request, never on half of this one.
    """
    return login_required(
        permission_required("retention.view_retentionresult", raise_exception=True)(read_snapshot(view))
    )


def no_data_csv_response(month: datetime.date, span: DataSpan | None) -> HttpResponse:
    """Return a plain-text 404 that names the month without data and the months that have data."""
    covered = (
        f"Imports cover {format_month(span.first)} to {format_month(span.last)}."
        if span
        else "No MRR was imported yet."
    )
    return HttpResponse(
        f"No MRR data was imported for {format_month(month)}, so no file was made. {covered}\n",
        status=404,
        content_type="text/plain; charset=utf-8",
    )


def _month_url(name: str, month: datetime.date, filters: RetentionFilters) -> str:
    return f"{reverse(name, args=[format_month(month)])}?{urlencode(filters.query())}"


def _chart_value(value):
    return None if value is None else str(value)


def _chart_data(overview: selectors.Overview, filters: RetentionFilters) -> dict:
    """Return what the chart script draws, from the first month with a cohort on.

    Percentages are strings with one decimal, or null for n/a.
    """
    targets = settings.RETENTION_TARGETS
    charted = overview.from_first_cohort
    return {
        "labels": [format_month(figures.month) for figures in charted],
        "gross": [_chart_value(figures.gross_pct) for figures in charted],
        "net": [_chart_value(figures.net_pct) for figures in charted],
        "links": [_month_url("retention:month", figures.month, filters) for figures in charted],
        "targets": {name: str(value) for name, value in targets.items()},
    }


@require_safe
@retention_reader
def overview(request):
    form = OverviewFilterForm(request.GET)
    filters = form.filters()
    result = selectors.retention_overview(request.user, filters)
    rows = [(figures, _month_url("retention:month", figures.month, filters)) for figures in result.from_first_cohort]
    context = {
        "form": form,
        "filters": filters,
        "overview": result,
        "rows": rows,
        "chart": _chart_data(result, filters),
        "targets": settings.RETENTION_TARGETS,
        "sees_all": request.user.sees_all_accounts,
        # Called by the template only when no month has a cohort, so other views of the page make no query for it.
        "owns_accounts": lambda: owns_accounts(request.user),
    }
    return render(request, "retention/overview.html", context)


@require_safe
@retention_reader
def month_detail(request, month: datetime.date):
    form = MonthFilterForm(request.GET)
    filters = form.filters()
    figures = selectors.month_figures(request.user, month, filters)
    table = None
    if figures is not None and figures.customers:
        customers = selectors.month_customers(request.user, month, filters)
        table = MonthCustomerTable(customers, month=month, level=filters.level, show_tam=request.user.sees_all_accounts)
        RequestConfig(request).configure(table)
    context = {
        "form": form,
        "filters": filters,
        "month": month,
        "figures": figures,
        "span": selectors.data_span() if figures is None else None,
        "table": table,
        "csv_url": _month_url("retention:month_csv", month, filters),
        "overview_url": f"{reverse('retention:overview')}?{urlencode(filters.query())}",
        "sees_all": request.user.sees_all_accounts,
        # Called by the template only for a month without a cohort, so other months make no query for it.
        "owns_accounts": lambda: owns_accounts(request.user),
    }
    return render(request, "retention/month.html", context)


@require_safe
@retention_reader
def month_csv(request, month: datetime.date):
    form = MonthFilterForm(request.GET)
    if (rejected := invalid_filters_response(form)) is not None:
        return rejected
    filters = form.filters()
    span = selectors.data_span()
    if span is None or month not in span:
        return no_data_csv_response(month, span)
    customers = selectors.month_customers(request.user, month, filters).iterator(chunk_size=2000)
    file_name = f"retention-{format_month(month)}-{filters.level}-{filters.segment}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    write_month_customers(response, month, filters.level, customers)
    return response
