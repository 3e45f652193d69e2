"""Reads of the services-cost app: rates by quarter, their change history, and the costing of an estimate."""

import dataclasses
import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import QuerySet

from accounts.models import Account, User
from common.fiscal import FiscalQuarter, quarter_of, quarters_between
from common.money import percentage, round_money

from .models import CostEstimate, CostRate, EstimateLine, EstimateStatus, ServiceRole


def rates_in_quarter(quarter: FiscalQuarter) -> QuerySet[CostRate]:
    return CostRate.objects.filter(quarter_start=quarter.start).select_related("role").order_by("role__name", "id")


def rate_by_role(quarter: FiscalQuarter) -> dict[int, CostRate]:
    """Map each role id to its rate in `quarter`."""
    return {rate.role_id: rate for rate in rates_in_quarter(quarter)}


def quarters_with_rates() -> list[FiscalQuarter]:
    """Return the quarters that have at least one rate, oldest first."""
    starts = CostRate.objects.order_by("quarter_start").values_list("quarter_start", flat=True).distinct()
    return sorted({quarter_of(start) for start in starts})


def default_quarter(today: datetime.date) -> FiscalQuarter:
    """Return the quarter the rates page opens on: today's, or the latest with rates when today's has none."""
    current = quarter_of(today)
    with_rates = quarters_with_rates()
    if not with_rates or current in with_rates:
        return current
    return with_rates[-1]


def rate_chart(quarters: list[FiscalQuarter]) -> dict:
    """Return each role's hourly cost per quarter, from the first to the last quarter with rates.

    Costs are decimal strings, or null where a role has no rate in a quarter.
    """
    if not quarters:
        return {"labels": [], "roles": []}
    spine = quarters_between(quarters[0], quarters[-1])
    index = {quarter.start: position for position, quarter in enumerate(spine)}
    series: dict[str, list[str | None]] = {}
    rates = CostRate.objects.select_related("role").order_by("role__name", "quarter_start")
    for rate in rates:
        costs = series.setdefault(rate.role.name, [None] * len(spine))
        costs[index[rate.quarter_start]] = str(rate.hourly_cost)
    return {
        "labels": [quarter.label for quarter in spine],
        "roles": [{"name": name, "costs": costs} for name, costs in series.items()],
    }


@dataclasses.dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclasses.dataclass(frozen=True)
class RateChange:
    """One recorded change of a rate: who, when, what kind and the changed values."""

    when: datetime.datetime
    user: str
    action: str
    role: str
    quarter: str
    changes: list[FieldChange]
    reason: str


_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
_RATE_FIELDS = {"ote": "OTE", "benefits": "benefits", "billable_hours": "billable hours"}


def _display(field: str, value) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if field in ("ote", "benefits") else str(value)


def rate_changes(quarter: FiscalQuarter | None = None, limit: int = 100) -> list[RateChange]:
    """Return the latest recorded changes of rates, newest first, optionally of one quarter.

    Each change lists the fields whose values differ from the record before it,
    with the old and the new value. A creation lists the new values only.
    """
    records = CostRate.history.select_related("history_user").order_by("-history_date", "-history_id")
    if quarter is not None:
        records = records.filter(quarter_start=quarter.start)
    records = list(records[:limit])

    # The record before each one, from one query over the history of the rates shown.
    previous_of = {}
    last_seen = {}
    earlier = CostRate.history.filter(id__in={record.id for record in records}).order_by("history_date", "history_id")
    for record in earlier:
        previous_of[record.history_id] = last_seen.get(record.id)
        last_seen[record.id] = record

    roles = dict(ServiceRole.objects.values_list("id", "name"))
    changes = []
    for record in records:
        previous = previous_of.get(record.history_id)
        fields = []
        for field, label in _RATE_FIELDS.items():
            new = getattr(record, field)
            old = getattr(previous, field) if previous is not None else None
            if record.history_type == "-":
                fields.append(FieldChange(label, _display(field, new), ""))
            elif previous is None or old != new:
                fields.append(FieldChange(label, _display(field, old), _display(field, new)))
        changes.append(
            RateChange(
                when=record.history_date,
                user=record.history_user.get_username() if record.history_user else "(command or system)",
                action=_ACTIONS[record.history_type],
                role=roles.get(record.role_id, f"role {record.role_id}"),
                quarter=quarter_of(record.quarter_start).label,
                changes=fields,
                reason=record.history_change_reason or "",
            )
        )
    return changes


def finished_estimates_using(rate: CostRate) -> QuerySet[CostEstimate]:
    return CostEstimate.objects.filter(lines__rate=rate).distinct().order_by("title", "id")


# Estimates


def accounts_for_estimates(user: User) -> QuerySet[Account]:
    """Return the accounts on which `user` may create estimates: all for a CS admin, owned ones for a TAM."""
    if user.is_superuser or user.is_cs_admin:
        return Account.objects.all()
    if user.is_tam:
        return Account.objects.filter(tam=user)
    return Account.objects.none()


def visible_estimates(user: User) -> QuerySet[CostEstimate]:
    """Return the estimates `user` may read: every one for managers and CS admins, owned accounts' for a TAM."""
    estimates = CostEstimate.objects.select_related("account", "account__tam", "created_by")
    if user.sees_all_accounts:
        return estimates
    if user.is_tam:
        return estimates.filter(account__tam=user)
    return estimates.none()


def may_read_estimate(user: User, estimate: CostEstimate) -> bool:
    if not user.has_perm("services_cost.view_costestimate"):
        return False
    return user.sees_all_accounts or (user.is_tam and estimate.account.tam_id == user.pk)


def may_change_estimate(user: User, estimate: CostEstimate) -> bool:
    """CS admins change any estimate; a TAM changes estimates on the accounts they own. Managers only read."""
    if not user.has_perm("services_cost.change_costestimate"):
        return False
    if user.is_superuser or user.is_cs_admin:
        return True
    return user.is_tam and estimate.account.tam_id == user.pk


def resubmitted_estimate(
    *,
    account: Account,
    title: str,
    estimate_date: datetime.date,
    price: Decimal,
    lines: list[tuple[int, Decimal, str]],
    user: User | None,
    since: datetime.datetime,
) -> CostEstimate | None:
    """Return a draft that `user` created since `since` with these fields and (role id, hours, description) lines."""
    candidates = CostEstimate.objects.filter(
        account=account,
        title=title,
        estimate_date=estimate_date,
        price=price,
        created_by=user,
        status=EstimateStatus.DRAFT,
        created_at__gte=since,
    ).order_by("-created_at", "-id")
    for estimate in candidates:
        stored = [(line.role_id, line.hours, line.description) for line in estimate.lines.order_by("position", "id")]
        if stored == lines:
            return estimate
    return None


def may_create_estimates(user: User) -> bool:
    return user.has_perm("services_cost.add_costestimate") and accounts_for_estimates(user).exists()


@dataclasses.dataclass(frozen=True)
class LineCost:
    line: EstimateLine
    hourly_cost: Decimal | None
    cost: Decimal | None


@dataclasses.dataclass(frozen=True)
class MissingRate:
    role: ServiceRole
    quarter: FiscalQuarter

    def __str__(self) -> str:
        return f"No standard cost rate for {self.role} in {self.quarter}: add the rate or change the estimate date."


@dataclasses.dataclass(frozen=True)
class EstimateCosting:
    """The cost of an estimate's lines and its margin. The totals are None while a line has no rate."""

    quarter: FiscalQuarter
    lines: list[LineCost]
    missing: list[MissingRate]
    price: Decimal

    @property
    def total_cost(self) -> Decimal | None:
        if self.missing:
            return None
        return sum((line.cost for line in self.lines), Decimal("0.00"))

    @property
    def margin(self) -> Decimal | None:
        cost = self.total_cost
        return None if cost is None else self.price - cost

    @property
    def margin_pct(self) -> Decimal | None:
        """Return margin / price in percent with two decimals, or None when the price is zero."""
        margin = self.margin
        return None if margin is None else percentage(margin, self.price)


def line_cost(hours: Decimal, hourly: Decimal) -> Decimal:
    """Return hours × hourly cost, rounded half up to cents."""
    return round_money(hours * hourly)


def missing_rates(role_ids: Iterable[int], quarter: FiscalQuarter) -> list[MissingRate]:
    """Return a MissingRate for each role, in name order, that has no rate in `quarter`."""
    rated = set(CostRate.objects.filter(quarter_start=quarter.start).values_list("role_id", flat=True))
    unrated = set(role_ids) - rated
    return [MissingRate(role, quarter) for role in ServiceRole.objects.filter(id__in=unrated).order_by("name", "id")]


def estimate_costing(
    estimate: CostEstimate, *, lines: list[EstimateLine] | None = None, rates: dict[int, CostRate] | None = None
) -> EstimateCosting:
    """Cost an estimate: a finished one at the hourly costs it kept, a draft at the current rates of its quarter.

    `lines` and `rates` (by role id, of the estimate's quarter) may be passed when they are loaded already.
    """
    quarter = estimate.quarter
    if lines is None:
        lines = list(estimate.lines.select_related("role").order_by("position", "id"))
    if rates is None:
        rates = {} if estimate.is_finished else rate_by_role(quarter)
    costed = []
    missing: dict[int, MissingRate] = {}
    for line in lines:
        if estimate.is_finished:
            hourly = line.hourly_cost
        else:
            rate = rates.get(line.role_id)
            hourly = rate.hourly_cost if rate is not None else None
        if hourly is None:
            missing.setdefault(line.role_id, MissingRate(line.role, quarter))
            costed.append(LineCost(line, None, None))
        else:
            costed.append(LineCost(line, hourly, line_cost(line.hours, hourly)))
    return EstimateCosting(quarter=quarter, lines=costed, missing=list(missing.values()), price=estimate.price)


def costings(estimates: Iterable[CostEstimate]) -> list[tuple[CostEstimate, EstimateCosting]]:
    """Cost a page of estimates with two queries: their lines, and the rates of the drafts' quarters."""
    estimates = list(estimates)
    lines_of: dict[int, list[EstimateLine]] = {estimate.pk: [] for estimate in estimates}
    lines = EstimateLine.objects.filter(estimate__in=estimates).select_related("role").order_by("position", "id")
    for line in lines:
        lines_of[line.estimate_id].append(line)
    starts = {estimate.quarter.start for estimate in estimates if not estimate.is_finished}
    rates: dict[datetime.date, dict[int, CostRate]] = {start: {} for start in starts}
    for rate in CostRate.objects.filter(quarter_start__in=starts):
        rates[rate.quarter_start][rate.role_id] = rate
    return [
        (
            estimate,
            estimate_costing(estimate, lines=lines_of[estimate.pk], rates=rates.get(estimate.quarter.start, {})),
        )
        for estimate in estimates
    ]
