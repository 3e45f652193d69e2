"""Churn and expansion by reason: the month's reasons, a reason's customers, a customer's lines, and their CSVs.

Every view reads stored results through `retention.reason_selectors`; none recomputes.
"""

import datetime

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django_tables2 import RequestConfig

from accounts.selectors import owns_accounts
from common.csvexport import invalid_filters_response
from common.money import format_money
from common.months import add_months, format_month, month_range
from common.pagination import CountedPaginator

from . import reason_selectors
from .exports import write_customer_lines, write_month_reasons, write_reason_customers
from .models import Category, Reason
from .page_forms import MonthFilterForm, ReasonFilterForm, RetentionFilters
from .span import DataSpan, data_span
from .tables import CustomerLineTable, ReasonCustomerTable
from .views import no_data_csv_response, retention_reader

# The chart shows the chosen month and the 23 months before it, as far as the data span reaches.
CHART_MONTHS = 24


def _reasons_url(month: datetime.date, filters: RetentionFilters) -> str:
    return f"{reverse('retention:reasons')}?{urlencode({'month': format_month(month), **filters.query()})}"


def _month_url(name: str, month: datetime.date, filters: RetentionFilters, *args) -> str:
    return f"{reverse(name, args=[format_month(month), *args])}?{urlencode(filters.query())}"


def _csv_response(file_name: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def _reason_or_404(value: str) -> Reason:
    if value not in Reason.values:
        raise Http404(f"Unknown reason {value!r}: expected one of {', '.join(Reason.values)}.")
    return Reason(value)


def _chart_data(user, month: datetime.date, filters: RetentionFilters, span: DataSpan) -> dict:
    """Return what the chart script draws: each reason's amount per month, churn as negative amounts.

    Amounts are strings with two decimals. The months start at the first one with any
    reason in the window, so the years before the first cohort are not drawn as empty bars.
    """
    history = reason_selectors.reason_history(user, month, filters.level, filters.segment, months=CHART_MONTHS)
    first = max(span.first, add_months(month, -(CHART_MONTHS - 1)))
    if history:
        first = max(first, min(history))
    months = list(month_range(first, month))
    series = []
    for reason in Reason:
        sign = -1 if reason.category == Category.CHURN else 1
        amounts = [history.get(each, {}).get(reason) for each in months]
        if any(amount for amount in amounts):
            values = [format_money(sign * amount) if amount else "0.00" for amount in amounts]
            series.append(
                {"key": reason.value, "label": reason.label, "category": reason.category.value, "values": values}
            )
    return {
        "labels": [format_month(each) for each in months],
        "series": series,
        "links": [_reasons_url(each, filters) for each in months],
        "selected": len(months) - 1,
    }


@retention_reader
def reasons(request):
    form = ReasonFilterForm(request.GET)
    filters = form.filters()
    span = data_span()
    month = form.chosen_month() or reason_selectors.latest_cohort_month(filters.level) or (span and span.last)
    form.show_month(month)
    in_span = span is not None and month is not None and month in span
    breakdown = (
        reason_selectors.reason_breakdown(request.user, month, filters.level, filters.segment) if in_span else None
    )
    # A TAM without accounts gets a notice in place of the figures, so the chart's queries are left out.
    owns_no_accounts = _owns_no_accounts(request.user, breakdown)
    shows_chart = breakdown is not None and not owns_no_accounts
    context = {
        "form": form,
        "filters": filters,
        "month": month,
        "baseline_month": add_months(month, -12) if month else None,
        "span": span,
        "breakdown": breakdown,
        "churn_rows": _figure_rows(breakdown, Category.CHURN, filters),
        "expansion_rows": _figure_rows(breakdown, Category.EXPANSION, filters),
        "chart": _chart_data(request.user, month, filters, span) if shows_chart else None,
        "csv_url": _month_url("retention:reasons_csv", month, filters) if breakdown else None,
        "month_url": _month_url("retention:month", month, filters) if in_span else None,
        "sees_all": request.user.sees_all_accounts,
        "owns_no_accounts": owns_no_accounts,
    }
    return render(request, "retention/reasons.html", context)


def _owns_no_accounts(user, breakdown) -> bool:
    """Return whether an empty breakdown is empty because the user is a TAM who owns no accounts.

    Only a breakdown without any MRR leads to the query, so the page of a TAM with accounts makes none.
    """
    if breakdown is None or user.sees_all_accounts:
        return False
    empty = not (breakdown.churn or breakdown.expansion or breakdown.recurring_a or breakdown.recurring_b)
    return empty and not owns_accounts(user)


def _figure_rows(breakdown, category: Category, filters: RetentionFilters) -> list:
    """Pair each reason of the category with the address of its customers."""
    if breakdown is None:
        return []
    return [
        (figure, _month_url("retention:reason_customers", breakdown.month, filters, figure.reason.value))
        for figure in breakdown.category(category)
    ]


@retention_reader
def reasons_csv(request, month: datetime.date):
    form = MonthFilterForm(request.GET)
    if (rejected := invalid_filters_response(form)) is not None:
        return rejected
    filters = form.filters()
    span = data_span()
    breakdown = None
    if span is not None and month in span:
        breakdown = reason_selectors.reason_breakdown(request.user, month, filters.level, filters.segment, places=2)
    if breakdown is None:
        return no_data_csv_response(month, span)
    response = _csv_response(f"reasons-{format_month(month)}-{filters.level}-{filters.segment}.csv")
    write_month_reasons(response, breakdown, filters.level, filters.segment)
    return response


@retention_reader
def reason_customers(request, month: datetime.date, reason: str):
    reason = _reason_or_404(reason)
    form = MonthFilterForm(request.GET)
    filters = form.filters()
    span = data_span()
    breakdown = None
    if span is not None and month in span:
        breakdown = reason_selectors.reason_breakdown(request.user, month, filters.level, filters.segment)
    figure = _reason_figure(breakdown, reason)
    table = None
    if breakdown is not None:
        customers = reason_selectors.reason_customers(request.user, month, filters.level, filters.segment, reason)
        table = ReasonCustomerTable(
            customers, month=month, level=filters.level, show_tam=request.user.sees_all_accounts
        )
        # The reason's stored customer count is the number of rows; on PostgreSQL both come from one snapshot.
        paginate = {"paginator_class": CountedPaginator, "count": figure.customers if figure else 0}
        RequestConfig(request, paginate=paginate).configure(table)
        table.products = reason_selectors.recurring_products(row.record for row in table.paginated_rows)
    context = {
        "form": form,
        "filters": filters,
        "month": month,
        "reason": reason,
        "span": span,
        "breakdown": breakdown,
        "figure": figure,
        "table": table,
        "csv_url": _month_url("retention:reason_customers_csv", month, filters, reason.value),
        "reasons_url": _reasons_url(month, filters),
        "sees_all": request.user.sees_all_accounts,
    }
    return render(request, "retention/reason_customers.html", context)


def _reason_figure(breakdown, reason: Reason):
    """Return the reason's amount, customers and share in the breakdown, or None when it has no customers."""
    if breakdown is None:
        return None
    return next((figure for figure in breakdown.category(reason.category) if figure.reason == reason), None)


@retention_reader
def reason_customers_csv(request, month: datetime.date, reason: str):
    reason = _reason_or_404(reason)
    form = MonthFilterForm(request.GET)
    if (rejected := invalid_filters_response(form)) is not None:
        return rejected
    filters = form.filters()
    span = data_span()
    if span is None or month not in span:
        return no_data_csv_response(month, span)
    customers = reason_selectors.reason_customers(request.user, month, filters.level, filters.segment, reason)
    response = _csv_response(f"reason-{format_month(month)}-{reason.value}-{filters.level}-{filters.segment}.csv")
    write_reason_customers(response, reason, customers.iterator(chunk_size=2000))
    return response


def _visible_customer_or_404(user, pk: int):
    """Return the stored customer row, or raise 404 when it does not exist or belongs to another TAM."""
    customer = reason_selectors.visible_customer(user, pk)
    if customer is None:
        raise Http404("No such customer among the accounts you may read.")
    return customer


@retention_reader
def customer_lines(request, pk: int):
    customer = _visible_customer_or_404(request.user, pk)
    lines = reason_selectors.split_customer_lines(customer)
    filters = RetentionFilters(level=customer.level)
    reason = Reason(customer.reason) if customer.reason else None
    context = {
        "customer": customer,
        "lines": lines,
        "reason": reason,
        "baseline_table": CustomerLineTable(lines.baseline, table_id="lines-baseline", level=customer.level),
        "current_table": CustomerLineTable(lines.current, table_id="lines-current", level=customer.level),
        "trueup_table": CustomerLineTable(
            lines.trueups, table_id="lines-trueups", level=customer.level, show_month=True
        ),
        "reason_url": _month_url("retention:reason_customers", customer.month, filters, reason.value)
        if reason
        else None,
        "reasons_url": _reasons_url(customer.month, filters),
        "csv_url": reverse("retention:customer_lines_csv", args=[customer.pk]),
    }
    return render(request, "retention/customer_lines.html", context)


@retention_reader
def customer_lines_csv(request, pk: int):
    customer = _visible_customer_or_404(request.user, pk)
    response = _csv_response(f"lines-{format_month(customer.month)}-{customer.level}-{customer.pk}.csv")
    write_customer_lines(response, reason_selectors.customer_lines(customer))
    return response
