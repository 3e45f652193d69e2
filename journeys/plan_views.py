"""Success plan, objective, timeline and plan overview pages.

Each view fetches its object through one permission-checked helper (404 or
403 there), binds a form, calls a plan service and redirects.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import Account
from common.edits import EditConflict, accept_current_version

from . import plan_selectors as selectors
from . import plan_services as services
from .plan_forms import ActivityForm, ObjectiveForm, OriginalIntentForm, PlanForm, PlanOverviewForm
from .plan_models import Activity, Objective, SuccessPlan
from .plan_selectors import can_change_account, can_read_account

GET_POST = ["GET", "HEAD", "POST"]


def _check(request, account: Account, permission: str | None) -> None:
    allowed = can_read_account(request.user, account)
    if permission is not None:
        allowed = can_change_account(request.user, account, permission)
    if not allowed:
        raise PermissionDenied


def _account_for(request, pk: int, permission: str | None = None) -> Account:
    """Return the account if the user may read it, or has `permission` on it as its owning TAM."""
    account = get_object_or_404(Account.objects.select_related("tam"), pk=pk)
    _check(request, account, permission)
    return account


def _plan_for(request, pk: int, permission: str | None = None) -> SuccessPlan:
    plan = get_object_or_404(SuccessPlan.objects.select_related("account", "account__tam", "owner"), pk=pk)
    _check(request, plan.account, permission)
    return plan


def _objective_for(request, plan_pk: int, pk: int, permission: str | None = None) -> Objective:
    plan = _plan_for(request, plan_pk, permission)
    return get_object_or_404(Objective.objects.select_related("plan", "journey"), pk=pk, plan=plan)


def _intent_objective_for(request, pk: int) -> Objective:
    """Return the objective if the user may change its original-intent flag: CS admins, on every account."""
    if not request.user.has_perm("journeys.change_original_intent"):
        raise PermissionDenied
    return get_object_or_404(Objective.objects.select_related("plan", "plan__account"), pk=pk)


def _activity_for(request, pk: int, permission: str | None = None) -> Activity:
    activity = get_object_or_404(Activity.objects.select_related("account", "account__tam"), pk=pk)
    _check(request, activity.account, permission)
    return activity


def _account_url(account: Account, anchor: str = "") -> str:
    return reverse("accounts:account", args=[account.pk]) + anchor


def _render_plan(request, plan: SuccessPlan, *, form=None, status=200, template="journeys/plan.html"):
    account = plan.account
    can_change = not plan.is_closed and can_change_account(request.user, account, "journeys.change_successplan")
    objectives = list(selectors.plan_objectives(plan))
    can_flag = request.user.has_perm("journeys.change_original_intent")
    intent_forms = {
        objective.pk: OriginalIntentForm(
            initial={"original_intent": objective.original_intent},
            action=reverse("journeys:objective_intent", args=[objective.pk]),
        )
        for objective in objectives
        if can_flag
    }
    outcomes = selectors.outcome_statuses(account)
    context = {
        "plan": plan,
        "account": account,
        "objectives": [(objective, intent_forms.get(objective.pk)) for objective in objectives],
        "outcomes": [outcome for outcome in outcomes if outcome.objectives],
        "journeys_without_intent": [outcome.journey for outcome in outcomes if not outcome.objectives],
        "can_change": can_change,
        "form": form or PlanForm(initial={"status": plan.status, "closing_summary": plan.closing_summary}),
        "state": selectors.plan_states([account.pk])[account.pk] if not plan.is_closed else None,
    }
    return render(request, template, context, status=status)


@require_POST
@login_required
def plan_new(request, account_pk: int):
    account = _account_for(request, account_pk, "journeys.add_successplan")
    try:
        plan = services.create_plan(account, owner=request.user)
    except ValidationError as error:
        open_plan = selectors.current_plan(account)
        if open_plan is None or open_plan.is_closed:
            messages.error(request, error.messages[0])
            return redirect(_account_url(account, "#plan"))
        # A second click on Start, or a page from before another tab started the plan: show the plan that exists.
        messages.info(request, "This account already has an open success plan, shown here. Close it to start another.")
        return redirect("journeys:plan", pk=open_plan.pk)
    messages.success(request, "Draft success plan started. Add its objectives.")
    return redirect("journeys:plan", pk=plan.pk)


@require_http_methods(GET_POST)
@login_required
def plan_detail(request, pk: int):
    if request.method != "POST":
        return _render_plan(request, _plan_for(request, pk))
    plan = _plan_for(request, pk, "journeys.change_successplan")
    form = PlanForm(request.POST)
    if not form.is_valid():
        return _render_plan(request, plan, form=form, status=400)
    try:
        services.update_plan(plan, **form.cleaned_data, today=timezone.localdate())
    except ValidationError as error:
        # The form keeps what the user typed, the closing summary above all.
        form.add_error(None, error)
        return _render_plan(request, plan, form=form, status=400)
    messages.success(request, "Plan saved.")
    return redirect("journeys:plan", pk=plan.pk)


@require_safe
@login_required
def plan_print(request, pk: int):
    return _render_plan(request, _plan_for(request, pk), template="journeys/plan_print.html")


def _closed_plan_response(request, plan: SuccessPlan, form: ObjectiveForm, context: dict):
    """Say that a closed plan's objectives are read-only: on the plan page, or on a sent form that keeps its text.

    Usually the page was opened before the plan was closed in another tab, so a 403 would wrongly blame the role.
    """
    message = (
        f"This success plan was closed on {plan.closed_on.isoformat()}, so its objectives can no longer be "
        "added or changed. Start a new plan on the account page."
    )
    if request.method != "POST":
        messages.error(request, message)
        return redirect("journeys:plan", pk=plan.pk)
    form.add_error(None, message)
    return render(request, "journeys/objective_edit.html", context, status=400)


def _objective_page(request, plan: SuccessPlan, objective: Objective | None):
    form = ObjectiveForm(request.POST or None, account=plan.account, today=timezone.localdate(), objective=objective)
    context = {"plan": plan, "objective": objective, "form": form}
    if plan.is_closed:
        return _closed_plan_response(request, plan, form, context)
    if request.method == "POST" and form.is_valid():
        created = True
        try:
            if objective is None:
                objective, created = services.add_objective(plan, form.cleaned_data)
            else:
                objective = services.save_objective(plan, form.cleaned_data, objective)
        except EditConflict as conflict:
            accept_current_version(form, conflict)
        else:
            if created:
                messages.success(request, f"Objective “{objective}” saved.")
            else:
                text = f"Objective “{objective}” was saved already, so the form sent again added no copy."
                messages.info(request, text)
            return redirect(f"{reverse('journeys:plan', args=[plan.pk])}#objective-{objective.pk}")
    status = 400 if request.method == "POST" else 200
    return render(request, "journeys/objective_edit.html", context, status=status)


@require_http_methods(GET_POST)
@login_required
def objective_new(request, plan_pk: int):
    plan = _plan_for(request, plan_pk, "journeys.add_objective")
    return _objective_page(request, plan, None)


@require_http_methods(GET_POST)
@login_required
def objective_edit(request, plan_pk: int, pk: int):
    objective = _objective_for(request, plan_pk, pk, "journeys.change_objective")
    return _objective_page(request, objective.plan, objective)


@require_POST
@login_required
def objective_intent(request, pk: int):
    objective = _intent_objective_for(request, pk)
    form = OriginalIntentForm(request.POST, action="")
    form.is_valid()
    try:
        services.set_original_intent(objective, bool(form.cleaned_data.get("original_intent")))
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, f"Original purchase intent of “{objective}” saved.")
    return redirect(f"{reverse('journeys:plan', args=[objective.plan_id])}#objective-{objective.pk}")


def _activity_page(request, account: Account, activity: Activity | None):
    initial = None
    if activity is not None:
        initial = {
            "kind": activity.kind,
            "date": activity.date,
            "attendees": list(activity.attendees.all()),
            "summary": activity.summary,
        }
    form = ActivityForm(request.POST or None, initial=initial, account=account, today=timezone.localdate())
    if request.method == "POST" and form.is_valid():
        activity = services.log_activity(account, form.cleaned_data, request.user, activity)
        messages.success(request, f"{activity} saved.")
        if selectors.kickoff_offers(activity, request.user):
            return redirect("journeys:kickoff_offer", pk=activity.pk)
        return redirect(_account_url(account, "#timeline"))
    context = {"account": account, "activity": activity, "form": form}
    status = 400 if request.method == "POST" else 200
    return render(request, "journeys/activity_edit.html", context, status=status)


@require_http_methods(GET_POST)
@login_required
def activity_new(request, account_pk: int):
    return _activity_page(request, _account_for(request, account_pk, "journeys.add_activity"), None)


@require_http_methods(GET_POST)
@login_required
def activity_edit(request, pk: int):
    activity = _activity_for(request, pk, "journeys.change_activity")
    return _activity_page(request, activity.account, activity)


@require_http_methods(GET_POST)
@login_required
def kickoff_offer(request, pk: int):
    """Offer to complete Kickoff on the date of the account's first meeting after a transaction."""
    activity = _activity_for(request, pk, "journeys.change_journey")
    offers = selectors.kickoff_offers(activity, request.user)
    if request.method == "POST":
        journey = next((j for j in offers if str(j.pk) == request.POST.get("journey")), None)
        if journey is None:
            messages.error(request, "This meeting no longer completes a Kickoff: it is recorded already.")
            return redirect(_account_url(activity.account, "#timeline"))
        try:
            services.accept_kickoff_offer(activity, journey, timezone.localdate())
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, f"Kickoff completed on {activity.date.isoformat()}.")
        return redirect(_account_url(activity.account, "#journeys"))
    return render(request, "journeys/kickoff_offer.html", {"activity": activity, "offers": offers})


def _overview_filters(request) -> tuple[PlanOverviewForm, selectors.PlanOverviewFilters]:
    today = timezone.localdate()
    form = PlanOverviewForm(request.GET or None)
    data = {}
    if form.is_bound:
        form.is_valid()
        # cleaned_data keeps only the valid fields, so an invalid one falls back to its default and the others filter.
        data = form.cleaned_data
    tam = data.get("tam")
    filters = selectors.PlanOverviewFilters(
        today=today,
        achieved_from=data.get("achieved_from") or today.replace(day=1),
        achieved_to=data.get("achieved_to") or today,
        tam_id=tam.pk if tam else None,
        segment=data.get("segment") or None,
    )
    return form, filters


@require_safe
@login_required
@permission_required("journeys.view_plan_report", raise_exception=True)
def plan_overview(request):
    form, filters = _overview_filters(request)
    context = {
        "form": form,
        "filters": filters,
        "by_state": selectors.accounts_by_state(filters),
        "due": selectors.objectives_due(filters),
        "achieved": selectors.objectives_achieved(filters),
        "due_days": selectors.DUE_WINDOW_DAYS,
    }
    return render(request, "journeys/plan_overview.html", context)
