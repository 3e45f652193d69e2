"""Rates and estimate pages. Each protected object is fetched through one helper that raises 404 or 403."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from common.edits import EditConflict, accept_current_version, history_version
from common.fiscal import FiscalQuarter, parse_quarter

from . import selectors, services
from .exports import write_estimate
from .forms import CopyRatesForm, EstimateForms, RateForm, RoleForm
from .models import CostEstimate, CostRate

ESTIMATES_PER_PAGE = 25


def requires(permission: str):
    """Send anonymous visitors to the login page and raise 403 for users without `permission`."""

    def decorate(view):
        return login_required(permission_required(permission, raise_exception=True)(view))

    return decorate


def _rates_url(quarter: FiscalQuarter) -> str:
    return f"{reverse('services_cost:rates')}?{urlencode({'quarter': str(quarter)})}"


def _get_rate(pk: int) -> CostRate:
    """Return the rate or raise 404; the views' permission decorators have already checked the role."""
    return get_object_or_404(CostRate.objects.select_related("role"), pk=pk)


def _get_estimate(request, pk: int, *, change: bool = False) -> CostEstimate:
    """Return the estimate if the user may read it (or change it), raise 404 when missing and 403 when not allowed."""
    estimate = get_object_or_404(CostEstimate.objects.select_related("account", "account__tam", "created_by"), pk=pk)
    allowed = selectors.may_change_estimate if change else selectors.may_read_estimate
    if not allowed(request.user, estimate):
        raise PermissionDenied("You may not " + ("change" if change else "read") + " this estimate.")
    return estimate


# Rates


@require_safe
@requires("services_cost.view_costrate")
def rates(request):
    quarter = selectors.default_quarter(timezone.localdate())
    if request.GET.get("quarter"):
        try:
            quarter = parse_quarter(request.GET["quarter"])
        except ValueError as error:
            text = str(error)
            messages.error(request, f"{text[:1].upper()}{text[1:]}. Showing {quarter} instead.")
    quarters = selectors.quarters_with_rates()
    previous_quarter, next_quarter = quarter.previous(), quarter.next()
    context = {
        "quarter": quarter,
        "previous_quarter": previous_quarter if previous_quarter.in_range else None,
        "previous_url": _rates_url(previous_quarter),
        "next_quarter": next_quarter if next_quarter.in_range else None,
        "next_url": _rates_url(next_quarter),
        "rates": selectors.rates_in_quarter(quarter),
        "quarters": [(item, _rates_url(item)) for item in quarters],
        "chart": selectors.rate_chart(quarters),
        "changes": selectors.rate_changes(quarter),
        "can_edit": request.user.has_perm("services_cost.change_costrate"),
    }
    return render(request, "services_cost/rates.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@requires("services_cost.add_costrate")
def rate_create(request):
    initial = {"quarter": request.GET.get("quarter", "")}
    form = RateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rate = services.save_rate(
                role=data["role"],
                quarter=data["quarter"],
                ote=data["ote"],
                benefits=data["benefits"],
                billable_hours=data["billable_hours"],
                user=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved the rate of {rate.role} in {rate.quarter}: {rate.hourly_cost} an hour.")
            return redirect(_rates_url(rate.quarter))
    return render(request, "services_cost/rate_form.html", {"form": form, "rate": None})


@require_http_methods(["GET", "HEAD", "POST"])
@requires("services_cost.change_costrate")
def rate_edit(request, pk: int):
    rate = _get_rate(pk)
    initial = {
        "ote": rate.ote,
        "benefits": rate.benefits,
        "billable_hours": rate.billable_hours,
        "opened_version": history_version(rate),
    }
    form = RateForm(request.POST or None, initial=initial, existing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.save_rate(
                role=rate.role,
                quarter=rate.quarter,
                ote=data["ote"],
                benefits=data["benefits"],
                billable_hours=data["billable_hours"],
                user=request.user,
                rate=rate,
                opened_version=data["opened_version"],
            )
        except EditConflict as conflict:
            accept_current_version(form, conflict)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved the rate of {rate.role} in {rate.quarter}: {rate.hourly_cost} an hour.")
            return redirect(_rates_url(rate.quarter))
    context = {"form": form, "rate": rate, "used_by": selectors.finished_estimates_using(rate)}
    return render(request, "services_cost/rate_form.html", context)


@require_POST
@requires("services_cost.delete_costrate")
def rate_delete(request, pk: int):
    rate = _get_rate(pk)
    try:
        services.delete_rate(rate=rate, user=request.user)
    except services.RateInUse as error:
        messages.error(request, error.message)
        return redirect("services_cost:rate_edit", pk=rate.pk)
    messages.success(request, f"Deleted the rate of {rate.role} in {rate.quarter}.")
    return redirect(_rates_url(rate.quarter))


@require_POST
@requires("services_cost.add_costrate")
def rates_copy(request):
    form = CopyRatesForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("quarter", ["Choose a quarter to copy."])))
        return redirect("services_cost:rates")
    source = form.cleaned_data["quarter"]
    try:
        result = services.copy_rates_to_next_quarter(source=source, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(_rates_url(source))
    text = f"Copied {result.copied} rate(s) from {result.source} to {result.target}."
    if result.kept:
        text += f" {result.kept} role(s) had a rate in {result.target} already and kept it."
    messages.success(request, text)
    return redirect(_rates_url(result.target))


@require_http_methods(["GET", "HEAD", "POST"])
@requires("services_cost.add_servicerole")
def role_create(request):
    form = RoleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            role = services.create_role(name=form.cleaned_data["name"], user=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Added the role {role}. Give it a rate in each quarter it is sold.")
            return redirect("services_cost:rates")
    return render(request, "services_cost/role_form.html", {"form": form})


# Estimates


@require_safe
@requires("services_cost.view_costestimate")
def estimate_list(request):
    estimates = selectors.visible_estimates(request.user).order_by("-estimate_date", "-id")
    page = Paginator(estimates, ESTIMATES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": selectors.costings(page.object_list),
        "can_create": selectors.may_create_estimates(request.user),
        "sees_all": request.user.sees_all_accounts,
    }
    return render(request, "services_cost/estimate_list.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@requires("services_cost.add_costestimate")
def estimate_create(request):
    initial = {"estimate_date": timezone.localdate(), "account": request.GET.get("account")}
    forms = EstimateForms(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and forms.is_valid():
        try:
            estimate, created = services.add_estimate(**forms.values(), user=request.user)
        except ValidationError as error:
            forms.add_error(error)
        else:
            if created:
                messages.success(request, f"Created the draft estimate “{estimate.title}”.")
            else:
                text = f"The draft “{estimate.title}” was created already, so the form sent again added no copy."
                messages.info(request, text)
            return redirect("services_cost:estimate_detail", pk=estimate.pk)
    return render(request, "services_cost/estimate_form.html", {"forms": forms, "estimate": None})


@require_safe
@requires("services_cost.view_costestimate")
def estimate_detail(request, pk: int):
    estimate = _get_estimate(request, pk)
    context = {
        "estimate": estimate,
        "costing": selectors.estimate_costing(estimate),
        "can_change": selectors.may_change_estimate(request.user, estimate),
    }
    return render(request, "services_cost/estimate_detail.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@requires("services_cost.change_costestimate")
def estimate_edit(request, pk: int):
    estimate = _get_estimate(request, pk, change=True)
    if estimate.is_finished:
        messages.error(request, "This estimate is finished and keeps its rates; duplicate it to make changes.")
        return redirect("services_cost:estimate_detail", pk=estimate.pk)
    initial = {
        "account": estimate.account,
        "title": estimate.title,
        "estimate_date": estimate.estimate_date,
        "price": estimate.price,
        "opened_version": history_version(estimate),
    }
    lines = [
        {"role": line.role_id, "hours": line.hours, "description": line.description}
        for line in estimate.lines.order_by("position", "id")
    ]
    forms = EstimateForms(request.POST or None, user=request.user, initial=initial, lines=lines)
    if request.method == "POST" and forms.is_valid():
        try:
            opened_version = forms.form.cleaned_data.get("opened_version")
            services.update_estimate(
                estimate=estimate, **forms.values(), user=request.user, opened_version=opened_version
            )
        except EditConflict as conflict:
            accept_current_version(forms.form, conflict)
        except ValidationError as error:
            forms.add_error(error)
        else:
            messages.success(request, f"Saved the draft estimate “{forms.values()['title']}”.")
            return redirect("services_cost:estimate_detail", pk=estimate.pk)
    return render(request, "services_cost/estimate_form.html", {"forms": forms, "estimate": estimate})


@require_POST
@requires("services_cost.change_costestimate")
def estimate_finish(request, pk: int):
    estimate = _get_estimate(request, pk, change=True)
    try:
        shown_total = Decimal(request.POST.get("shown_total", ""))
    except ArithmeticError:
        shown_total = None
    if shown_total is not None and not shown_total.is_finite():
        # Comparing a signalling NaN raises, and no page shows an infinite total.
        shown_total = None
    # A form without a total, such as a script's request, finishes at the current rates.
    try:
        services.finish_estimate(estimate=estimate, user=request.user, shown_total=shown_total)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Finished “{estimate.title}”: it keeps the rates of {estimate.quarter} it used.")
    return redirect("services_cost:estimate_detail", pk=estimate.pk)


@require_POST
@requires("services_cost.add_costestimate")
def estimate_duplicate(request, pk: int):
    estimate = _get_estimate(request, pk, change=True)
    copy, created = services.duplicate_estimate(estimate=estimate, user=request.user)
    if created:
        messages.success(request, f"Created the draft “{copy.title}” from “{estimate.title}”.")
    else:
        messages.info(request, f"The draft “{copy.title}” was created already, so the click sent again added no copy.")
    return redirect("services_cost:estimate_detail", pk=copy.pk)


@require_safe
@requires("services_cost.view_costestimate")
def estimate_csv(request, pk: int):
    estimate = _get_estimate(request, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="estimate-{estimate.pk}.csv"'
    write_estimate(response, estimate, selectors.estimate_costing(estimate))
    return response
