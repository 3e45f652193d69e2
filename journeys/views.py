"""Journey pages: My accounts, a journey, starting one, playbooks, targets and the time-to-value report.

Each view fetches its object through one permission-checked helper, binds a
form, calls a service and redirects.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_tables2 import RequestConfig

from common.csvexport import invalid_filters_response
from common.edits import EditConflict, accept_current_version

from . import selectors, services
from .exports import write_report
from .forms import (
    MilestoneForm,
    PlaybookForm,
    PlaybookTaskFormSet,
    PlaybookTaskFormSetHelper,
    ReportFilterForm,
    StartJourneyForm,
    TargetsForm,
    TaskForm,
)
from .models import Journey, JourneyTask, Playbook
from .plan_selectors import plan_states
from .tables import OpenJourneyTable, PlaybookTable
from .ttv import CohortPeriod, ReportFilters, chart_end_day, longest_follow_up, parse_cohort, ttv_report


def _journey_for(request, pk: int, *, change: bool = False) -> Journey:
    """Return the journey if the user may read it, or change it when `change` is set; 404 or 403 otherwise."""
    journey = get_object_or_404(Journey.objects.select_related("account", "account__ultimate_parent", "tam"), pk=pk)
    allowed = selectors.can_change_journey if change else selectors.can_read_journey
    if not allowed(request.user, journey):
        raise PermissionDenied
    return journey


def _task_for(request, journey_pk: int, task_pk: int) -> JourneyTask:
    journey = _journey_for(request, journey_pk, change=True)
    return get_object_or_404(JourneyTask.objects.select_related("journey"), pk=task_pk, journey=journey)


def _task_forms(journey: Journey, today, bound: TaskForm | None = None) -> list[tuple[JourneyTask, TaskForm]]:
    forms = []
    for task in selectors.journey_tasks(journey):
        if bound is not None and bound.task.pk == task.pk:
            forms.append((task, bound))
            continue
        action = reverse("journeys:task", args=[journey.pk, task.pk])
        forms.append((task, TaskForm(task=task, today=today, action=action)))
    return forms


def _render_journey(request, journey, *, milestone_form=None, task_form=None, status=200):
    today = timezone.localdate()
    segment = selectors.account_segment(journey.account)
    has_tasks = journey.tasks.exists()
    can_change = selectors.can_change_journey(request.user, journey)
    context = {
        "journey": journey,
        "segment": segment,
        "milestones": selectors.journey_milestones(journey, segment),
        "warnings": selectors.journey_order_warnings(journey),
        "tasks": _task_forms(journey, today, task_form),
        "can_change": can_change,
        "form": milestone_form or MilestoneForm(journey=journey, today=today, has_tasks=has_tasks),
        # The rejected form's errors are repeated at the top of the page. Its fields sit screens further down,
        # and on a phone a task's fields sit in the part of the table that is scrolled out of view.
        "rejected_form": milestone_form or task_form,
        "rejected_task": task_form.task if task_form is not None else None,
        "history": selectors.journey_history(journey),
        "products": journey.products.all(),
    }
    return render(request, "journeys/journey.html", context, status=status)


@require_safe
@login_required
@permission_required("journeys.view_journey", raise_exception=True)
def my_accounts(request):
    today = timezone.localdate()
    rows = selectors.my_open_journeys(request.user, today)
    states = plan_states({row.journey.account_id for row in rows})
    table = OpenJourneyTable(rows, show_tam=request.user.sees_all_accounts, plan_states=states)
    # RequestConfig applies the column headers' ?sort= and shows the first or last page for a page number out of range.
    RequestConfig(request).configure(table)
    context = {"table": table, "count": len(rows), "sees_all": request.user.sees_all_accounts}
    return render(request, "journeys/my_accounts.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def journey_detail(request, pk: int):
    if request.method == "POST":
        return record_milestones(request, pk)
    return _render_journey(request, _journey_for(request, pk))


def record_milestones(request, pk: int):
    journey = _journey_for(request, pk, change=True)
    form = MilestoneForm(request.POST, journey=journey, today=timezone.localdate(), has_tasks=journey.tasks.exists())
    if not form.is_valid():
        return _render_journey(request, journey, milestone_form=form, status=400)
    try:
        journey = services.record_milestones(journey, form.cleaned_data, form.cleaned_data["opened_version"])
    except EditConflict as conflict:
        accept_current_version(form, conflict)
        return _render_journey(request, journey, milestone_form=form, status=400)
    messages.success(request, "Milestones saved.")
    for warning in selectors.journey_order_warnings(journey):
        messages.warning(request, f"Out of the usual order: {warning}")
    return redirect("journeys:journey", pk=journey.pk)


@require_POST
@login_required
def task_update(request, pk: int, task_pk: int):
    task = _task_for(request, pk, task_pk)
    action = reverse("journeys:task", args=[pk, task.pk])
    form = TaskForm(request.POST, task=task, today=timezone.localdate(), action=action)
    if not form.is_valid():
        return _render_journey(request, task.journey, task_form=form, status=400)
    services.update_task(task, status=form.cleaned_data["status"], closed_on=form.cleaned_data["closed_on"])
    messages.success(request, f"Task “{task.title}” saved.")
    return redirect(f"{reverse('journeys:journey', args=[pk])}#tasks")


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@permission_required("journeys.add_journey", raise_exception=True)
def start_journey(request):
    today = timezone.localdate()
    form = StartJourneyForm(request.POST or None, user=request.user, today=today)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            journey = services.start_journey(
                account=data["account"],
                kind=data["kind"],
                transaction_date=data["transaction_date"],
                licenses=data["licenses"],
                products=data["products"],
                tam=None if request.user.sees_all_accounts else request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Journey started with {journey.tasks.count()} onboarding tasks.")
            return redirect("journeys:journey", pk=journey.pk)
    context = {"form": form, "has_accounts": form.fields["account"].queryset.exists()}
    return render(request, "journeys/start.html", context)


@require_safe
@login_required
@permission_required("journeys.change_playbook", raise_exception=True)
def playbook_list(request):
    playbooks = Playbook.objects.select_related("product").prefetch_related("tasks")
    return render(request, "journeys/playbooks.html", {"table": PlaybookTable(playbooks)})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@permission_required("journeys.change_playbook", raise_exception=True)
def playbook_edit(request, pk: int | None = None):
    playbook = get_object_or_404(Playbook, pk=pk) if pk is not None else None
    form = PlaybookForm(request.POST or None, instance=playbook)
    formset = PlaybookTaskFormSet(request.POST or None, instance=playbook or Playbook())
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            playbook = services.save_playbook(form, formset)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Playbook {playbook} saved.")
            return redirect("journeys:playbooks")
    context = {"form": form, "formset": formset, "helper": PlaybookTaskFormSetHelper(), "playbook": playbook}
    return render(request, "journeys/playbook_edit.html", context, status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@permission_required("journeys.change_milestonetarget", raise_exception=True)
def targets(request):
    form = TargetsForm(request.POST or None, targets=selectors.target_days())
    if request.method == "POST" and form.is_valid():
        changed = services.save_targets(form.days(), today=timezone.localdate())
        messages.success(request, f"Targets saved: {changed} changed.")
        return redirect("journeys:targets")
    return render(request, "journeys/targets.html", {"form": form}, status=400 if request.method == "POST" else 200)


def _report_filters(request) -> tuple[ReportFilterForm, ReportFilters, str]:
    today = timezone.localdate()
    form = ReportFilterForm(request.GET or None, initial={"as_of": today})
    data = {}
    if form.is_bound:
        # Valid filters still apply, so the heading matches the fields. Invalid ones show their error.
        form.is_valid()
        data = form.cleaned_data
    period = data.get("cohort_period") or CohortPeriod.QUARTER
    cohort = data.get("cohort") or ""
    if cohort:
        period, cohort = parse_cohort(cohort)
    tam = data.get("tam")
    filters = ReportFilters(
        as_of=data.get("as_of") or today,
        cohort_period=period,
        cohort=cohort,
        segment=data.get("segment") or None,
        tam_id=tam.pk if tam else None,
    )
    return form, filters, data.get("group_by") or "cohort"


@require_safe
@login_required
@permission_required("journeys.view_ttv_report", raise_exception=True)
def report(request):
    form, filters, group_by = _report_filters(request)
    result = ttv_report(filters, timezone.localdate(), group_by)
    chart = {
        "milestones": [
            {"label": figures.milestone.label, "points": [{"x": x, "y": y} for x, y in figures.survival]}
            for figures in result.overall
        ],
        "end_day": chart_end_day(result.overall),
    }
    context = {
        "form": form,
        "report": result,
        "group_by": dict(form.fields["group_by"].choices)[group_by],
        "chart": chart,
        "follow_up_days": longest_follow_up(result.overall),
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "journeys/report.html", context)


@require_safe
@login_required
@permission_required("journeys.view_ttv_report", raise_exception=True)
def report_csv(request):
    form, filters, group_by = _report_filters(request)
    if (rejected := invalid_filters_response(form)) is not None:
        return rejected
    result = ttv_report(filters, timezone.localdate(), group_by)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="time-to-value-{filters.as_of.isoformat()}.csv"'
    write_report(response, result, group_by)
    return response
