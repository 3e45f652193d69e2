"""Reads of success plans and timelines: access, plan state, Outcome Achieved status, kickoff offers, overviews."""

import dataclasses
import datetime

from django.db import models
from django.db.models import Case, F, Prefetch, Q, QuerySet, When

from accounts.models import Account, User
from accounts.selectors import can_change_account, can_read_account  # noqa: F401

from .models import Journey, Milestone
from .plan_models import Activity, ActivityKind, Objective, ObjectiveStatus, PlanStatus, SuccessPlan
from .selectors import can_change_journey

# Segment of an account for filters: the ultimate parent's, or its own at the top.
ACCOUNT_SEGMENT = Case(When(ultimate_parent__isnull=False, then=F("ultimate_parent__segment")), default=F("segment"))
DUE_WINDOW_DAYS = 30


def current_plan(account: Account) -> SuccessPlan | None:
    """Return the account's plan that is not closed, or else its most recently created plan."""
    plans = list(account.success_plans.order_by("-created_at", "-id"))
    open_plans = [plan for plan in plans if not plan.is_closed]
    if open_plans:
        return open_plans[0]
    return plans[0] if plans else None


def plan_objectives(plan: SuccessPlan) -> QuerySet[Objective]:
    return plan.objectives.select_related("journey").prefetch_related("stakeholders").order_by("position", "id")


class PlanState(models.TextChoices):
    """Traffic light of an account's success plan."""

    GREEN = "green", "Green: active plan with an objective that has success criteria"
    YELLOW = "yellow", "Yellow: draft plan, or no objective with success criteria"
    RED = "red", "Red: no open plan, or no objective"

    @property
    def badge(self) -> str:
        return {"green": "text-bg-success", "yellow": "text-bg-warning", "red": "text-bg-danger"}[self.value]

    @property
    def short_label(self) -> str:
        return self.value.capitalize()


def state_of(status: str | None, objectives: int, with_criteria: int) -> PlanState:
    """Return the plan state from an open plan's status and its counts of objectives that are not abandoned.

    `status` is None for an account without an open plan: a closed plan no longer counts.
    """
    if status is None or objectives == 0:
        return PlanState.RED
    if status == PlanStatus.ACTIVE and with_criteria > 0:
        return PlanState.GREEN
    return PlanState.YELLOW


def plan_states(account_ids) -> dict[int, PlanState]:
    """Return the plan state of each account id in two queries; accounts without an open plan are red."""
    account_ids = list(account_ids)
    states = {account_id: PlanState.RED for account_id in account_ids}
    plans = {
        plan_id: (account_id, status)
        for plan_id, account_id, status in SuccessPlan.objects.filter(account_id__in=account_ids)
        .exclude(status=PlanStatus.CLOSED)
        .values_list("id", "account_id", "status")
    }
    counts = {plan_id: [0, 0] for plan_id in plans}
    rows = (
        Objective.objects.filter(plan_id__in=plans)
        .exclude(status=ObjectiveStatus.ABANDONED)
        .values_list("plan_id", "success_criteria")
    )
    for plan_id, criteria in rows:
        counts[plan_id][0] += 1
        counts[plan_id][1] += bool(criteria.strip())
    for plan_id, (account_id, status) in plans.items():
        states[account_id] = state_of(status, *counts[plan_id])
    return states


@dataclasses.dataclass(frozen=True)
class OutcomeStatus:
    """The state of a journey's original-intent objectives, and the Outcome Achieved date they give."""

    journey: Journey
    objectives: list[Objective]
    achieved: int
    abandoned: list[Objective]
    date: datetime.date | None

    @property
    def total(self) -> int:
        return len(self.objectives)

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.achieved == self.total


def outcome_date(statuses_and_dates: list[tuple[str, datetime.date | None]]) -> datetime.date | None:
    """Return the latest achieved date when every objective is achieved, else None; None for no objectives."""
    if not statuses_and_dates or any(status != ObjectiveStatus.ACHIEVED for status, _ in statuses_and_dates):
        return None
    return max(day for _, day in statuses_and_dates)


def outcome_statuses(account: Account) -> list[OutcomeStatus]:
    """Return, per journey of the account, its original-intent objectives and the Outcome Achieved they give."""
    originals = Objective.objects.filter(original_intent=True, journey__account=account).order_by("position", "id")
    journeys = account.journeys.prefetch_related(Prefetch("intent_objectives", queryset=originals, to_attr="originals"))
    result = []
    for journey in journeys.order_by("transaction_date", "id"):
        objectives = journey.originals
        result.append(
            OutcomeStatus(
                journey=journey,
                objectives=objectives,
                achieved=sum(objective.status == ObjectiveStatus.ACHIEVED for objective in objectives),
                abandoned=[objective for objective in objectives if objective.status == ObjectiveStatus.ABANDONED],
                date=outcome_date([(objective.status, objective.achieved_date) for objective in objectives]),
            )
        )
    return result


def objectives_govern_outcome(journey: Journey) -> bool:
    """Return whether original-intent objectives decide the journey's Outcome Achieved, so it is not typed in."""
    return journey.intent_objectives.filter(original_intent=True).exists()


def latest_journey(account: Account) -> Journey | None:
    return account.journeys.order_by("-transaction_date", "-id").first()


def kickoff_offers(activity: Activity, user: User | None = None) -> list[Journey]:
    """Return the journeys whose Kickoff the meeting `activity` may complete, those `user` may change if given.

    A meeting qualifies for a journey whose Kickoff is open when it is dated on
    or after the transaction date and no other meeting of the account lies
    between the transaction date and it. Of two meetings on the same day, the
    one with the lower id comes first.
    """
    if activity.kind != ActivityKind.MEETING:
        return []
    offers = []
    journeys = activity.account.journeys.filter(kickoff_date__isnull=True, transaction_date__lte=activity.date)
    for journey in journeys.order_by("transaction_date", "id"):
        earlier = Activity.objects.filter(
            account_id=activity.account_id, kind=ActivityKind.MEETING, date__gte=journey.transaction_date
        ).filter(Q(date__lt=activity.date) | Q(date=activity.date, id__lt=activity.pk))
        if earlier.exists():
            continue
        if user is None or can_change_journey(user, journey):
            offers.append(journey)
    return offers


def account_activities(account: Account) -> QuerySet[Activity]:
    return account.activities.select_related("logged_by").prefetch_related("attendees").order_by("-date", "-id")


@dataclasses.dataclass(frozen=True)
class TimelineEntry:
    date: datetime.date
    kind: str
    title: str
    detail: str
    activity: Activity | None = None


def timeline(account: Account) -> list[TimelineEntry]:
    """Return the account's activities, milestone completions and achieved objectives, newest first."""
    entries = []
    for activity in account_activities(account):
        names = ", ".join(contact.name for contact in activity.attendees.all())
        detail = f"With {names}." if names else ""
        entries.append(TimelineEntry(activity.date, activity.kind, activity.get_kind_display(), detail, activity))
    for journey in account.journeys.all():
        for milestone in Milestone:
            day = journey.milestone_date(milestone)
            if day is not None:
                kind = journey.get_kind_display().lower()
                title = f"{milestone.label} reached"
                detail = f"Journey ({kind}) of {journey.transaction_date.isoformat()}."
                entries.append(TimelineEntry(day, "milestone", title, detail))
    achieved = Objective.objects.filter(plan__account=account, status=ObjectiveStatus.ACHIEVED)
    for objective in achieved:
        entries.append(TimelineEntry(objective.achieved_date, "objective", "Objective achieved", str(objective)))
    # Activities first on a shared day, then the newest logged.
    entries.sort(key=lambda entry: (entry.date, entry.activity is not None, entry.activity.pk if entry.activity else 0))
    entries.reverse()
    return entries


@dataclasses.dataclass(frozen=True)
class PlanOverviewFilters:
    today: datetime.date
    achieved_from: datetime.date
    achieved_to: datetime.date
    tam_id: int | None = None
    segment: str | None = None


def overview_accounts(filters: PlanOverviewFilters) -> QuerySet[Account]:
    accounts = Account.objects.select_related("tam").annotate(top_segment=ACCOUNT_SEGMENT).order_by("name", "id")
    if filters.tam_id is not None:
        accounts = accounts.filter(tam_id=filters.tam_id)
    if filters.segment:
        accounts = accounts.filter(top_segment=filters.segment)
    return accounts


def accounts_by_state(filters: PlanOverviewFilters) -> dict[PlanState, list[Account]]:
    """Return the filtered accounts that have a TAM, grouped by plan state (green, yellow, red)."""
    accounts = list(overview_accounts(filters).filter(tam__isnull=False))
    states = plan_states(account.pk for account in accounts)
    grouped = {PlanState.GREEN: [], PlanState.YELLOW: [], PlanState.RED: []}
    for account in accounts:
        grouped[states[account.pk]].append(account)
    return grouped


def _overview_objectives(filters: PlanOverviewFilters) -> QuerySet[Objective]:
    accounts = overview_accounts(filters)
    return (
        Objective.objects.filter(plan__account__in=accounts)
        .exclude(plan__status=PlanStatus.CLOSED)
        .select_related("plan__account", "plan__account__tam")
    )


def objectives_due(filters: PlanOverviewFilters) -> QuerySet[Objective]:
    """Open objectives of open plans whose target date is past or within the next 30 days."""
    horizon = filters.today + datetime.timedelta(days=DUE_WINDOW_DAYS)
    return (
        _overview_objectives(filters)
        .filter(status__in=[ObjectiveStatus.PLANNED, ObjectiveStatus.IN_PROGRESS], target_date__lte=horizon)
        .order_by("target_date", "id")
    )


def objectives_achieved(filters: PlanOverviewFilters) -> QuerySet[Objective]:
    """Objectives achieved within the period, closed plans included."""
    accounts = overview_accounts(filters)
    return (
        Objective.objects.filter(
            plan__account__in=accounts,
            status=ObjectiveStatus.ACHIEVED,
            achieved_date__gte=filters.achieved_from,
            achieved_date__lte=filters.achieved_to,
        )
        .select_related("plan__account", "plan__account__tam")
        .order_by("achieved_date", "id")
    )
