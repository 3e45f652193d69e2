"""Reads behind the reasons pages and exports: churn and expansion by reason, from stored results only.

Managers and CS admins read the stored reason totals over every account. Anyone
else reads the stored totals of the accounts they own (`TamTotal`). "Commercial"
adds up the Mid-Market and SMB rows.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from accounts.models import Account, User
from common.money import shares
from common.months import add_months

from .models import (
    Category,
    ChargeType,
    CustomerBlock,
    Level,
    MrrLine,
    Reason,
    ReasonTotal,
    RetentionCustomer,
    RetentionResult,
    SegmentKey,
    TamTotal,
)
from .page_forms import COMMERCIAL, COMMERCIAL_SEGMENTS

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ReasonFigure:
    reason: Reason
    customers: int
    amount: Decimal
    # Percent of the category's total; None when the category is empty.
    share: Decimal | None


@dataclass(frozen=True)
class ReasonBreakdown:
    """Churn and expansion of one month by reason, with the recurring MRR change they add up to."""

    month: datetime.date
    churn: list[ReasonFigure]
    expansion: list[ReasonFigure]
    recurring_a: Decimal
    recurring_b: Decimal

    @property
    def churn_total(self) -> Decimal:
        return sum((figure.amount for figure in self.churn), ZERO)

    @property
    def expansion_total(self) -> Decimal:
        return sum((figure.amount for figure in self.expansion), ZERO)

    @property
    def reasons_net(self) -> Decimal:
        """Expansion minus churn: equals `recurring_change` for every month and level."""
        return self.expansion_total - self.churn_total

    @property
    def recurring_change(self) -> Decimal:
        return self.recurring_b - self.recurring_a

    def category(self, category: Category) -> list[ReasonFigure]:
        return self.churn if category == Category.CHURN else self.expansion


def _sees_all(user: User | None) -> bool:
    """Return whether `user` reads every account; None, a management command, does."""
    return user is None or user.sees_all_accounts


def _segment_condition(segment: str) -> Q:
    if segment == SegmentKey.ALL:
        return Q()
    if segment == COMMERCIAL:
        return Q(segment__in=COMMERCIAL_SEGMENTS)
    return Q(segment=segment)


def _stored_segment_condition(segment: str) -> Q:
    """Filter stored totals, which keep one row per segment and one over all segments."""
    if segment == COMMERCIAL:
        return Q(segment__in=COMMERCIAL_SEGMENTS)
    return Q(segment=segment)


def _figures(category: Category, totals: dict, places: int) -> list[ReasonFigure]:
    """Return the category's reasons that have customers, in the order of the reasons table."""
    present = [reason for reason in Reason.of_category(category) if totals.get(reason, (0, ZERO))[0]]
    amounts = [totals[reason][1] for reason in present]
    return [
        ReasonFigure(reason=reason, customers=totals[reason][0], amount=amount, share=share)
        for reason, amount, share in zip(present, amounts, shares(amounts, places), strict=True)
    ]


def reason_breakdown(
    user: User | None, month: datetime.date, level: str, segment: str, places: int = 1
) -> ReasonBreakdown | None:
    """Return churn and expansion of `month` by reason, or None when no result is stored for the month.

    Shares are rounded to `places` decimals so that each non-empty category adds up to exactly 100.
    """
    if _sees_all(user):
        results = RetentionResult.objects.filter(month=month, level=level).filter(_stored_segment_condition(segment))
        recurring = results.aggregate(a=Sum("recurring_a"), b=Sum("recurring_b"), found=Count("id"))
        if not recurring["found"]:
            return None
        rows = (
            ReasonTotal.objects.filter(month=month, level=level)
            .filter(_stored_segment_condition(segment))
            .values("reason")
            .annotate(customer_count=Sum("customers"), total=Sum("amount"))
        )
    else:
        if not RetentionResult.objects.filter(month=month, level=level).exists():
            return None
        owned = TamTotal.objects.filter(month=month, level=level, tam=user).filter(_segment_condition(segment))
        recurring = owned.aggregate(a=Sum("recurring_a"), b=Sum("recurring_b"))
        rows = (
            owned.exclude(reason="")
            .values("reason")
            .annotate(customer_count=Sum("customers"), total=Sum("reason_amount"))
        )
    totals = {Reason(row["reason"]): (row["customer_count"], row["total"]) for row in rows}
    return ReasonBreakdown(
        month=month,
        churn=_figures(Category.CHURN, totals, places),
        expansion=_figures(Category.EXPANSION, totals, places),
        recurring_a=recurring["a"] or ZERO,
        recurring_b=recurring["b"] or ZERO,
    )


def reason_history(
    user: User, last: datetime.date, level: str, segment: str, months: int = 24
) -> dict[datetime.date, dict[Reason, Decimal]]:
    """Return the amount of each reason in each of the `months` months up to `last`, keyed by month."""
    first = add_months(last, -(months - 1))
    if _sees_all(user):
        rows = (
            ReasonTotal.objects.filter(level=level, month__range=(first, last))
            .filter(_stored_segment_condition(segment))
            .values("month", "reason")
            .annotate(total=Sum("amount"))
        )
    else:
        rows = (
            TamTotal.objects.filter(level=level, month__range=(first, last), tam=user)
            .filter(_segment_condition(segment))
            .exclude(reason="")
            .values("month", "reason")
            .annotate(total=Sum("reason_amount"))
        )
    history: dict[datetime.date, dict[Reason, Decimal]] = {}
    for row in rows.order_by("month", "reason"):
        history.setdefault(row["month"], {})[Reason(row["reason"])] = row["total"]
    return history


def reason_customers(
    user: User, month: datetime.date, level: str, segment: str, reason: Reason
) -> QuerySet[RetentionCustomer]:
    """Return the customers of one reason that `user` may read, largest amount first; the order ends with the key."""
    rows = RetentionCustomer.objects.of_month(month, level).filter(reason=reason).filter(_segment_condition(segment))
    if not _sees_all(user):
        rows = rows.filter(tam=user)
    return rows.select_related("account", "subscription", "tam").order_by("-reason_amount", "account__name", "pk")


def visible_customer(user: User, pk: int) -> RetentionCustomer | None:
    """Return one stored customer row if `user` may read it and a block lists it, else None."""
    listed = CustomerBlock.objects.filter(
        month=OuterRef("month"), level=OuterRef("level"), first_id__lte=OuterRef("pk"), last_id__gte=OuterRef("pk")
    )
    rows = RetentionCustomer.objects.filter(Exists(listed)).select_related("account", "subscription", "tam")
    if not _sees_all(user):
        rows = rows.filter(tam=user)
    return rows.filter(pk=pk).first()


def customer_lines(customer: RetentionCustomer) -> QuerySet[MrrLine]:
    """Return the MRR lines behind a customer in M-12 and M, both charge types, as the level groups them."""
    months = (add_months(customer.month, -12), customer.month)
    lines = MrrLine.objects.filter(month__in=months).select_related("subscription", "subscription__account")
    if customer.level == Level.SUBSCRIPTION:
        lines = lines.filter(subscription_id=customer.subscription_id)
    elif customer.level == Level.ACCOUNT:
        lines = lines.filter(subscription__account_id=customer.account_id)
    else:
        members = Account.objects.filter(Q(ultimate_parent_id=customer.account_id) | Q(pk=customer.account_id))
        lines = lines.filter(subscription__account__in=members)
    return lines.order_by(
        "month", "charge_type", "subscription__account__external_id", "subscription__external_id", "product", "pk"
    )


def recurring_products(customers: Iterable[RetentionCustomer]) -> dict[int, tuple[list[str], list[str]]]:
    """Return, per customer row id, the products with recurring MRR above zero in M-12 and in M, sorted by name.

    A product counts when the customer's recurring lines of it add up to more
    than zero, as in the engine's choice of reason. One query reads the lines
    of each month and level among the customers.
    """
    groups: dict[tuple[datetime.date, str], list[RetentionCustomer]] = defaultdict(list)
    for customer in customers:
        groups[(customer.month, customer.level)].append(customer)
    products: dict[int, tuple[list[str], list[str]]] = {}
    for (month, level), members in groups.items():
        baseline = add_months(month, -12)
        found = _recurring_products_by_key(baseline, month, level, [_customer_key(member) for member in members])
        for member in members:
            key = _customer_key(member)
            products[member.pk] = (sorted(found[(key, baseline)]), sorted(found[(key, month)]))
    return products


def _customer_key(customer: RetentionCustomer) -> int:
    return customer.subscription_id if customer.level == Level.SUBSCRIPTION else customer.account_id


def _recurring_products_by_key(
    baseline: datetime.date, month: datetime.date, level: str, keys: list[int]
) -> defaultdict[tuple[int, datetime.date], set[str]]:
    """Return the products with recurring MRR above zero per (customer key, month) of the customers at `level`."""
    lines = MrrLine.objects.filter(month__in=(baseline, month), charge_type=ChargeType.RECURRING)
    if level == Level.SUBSCRIPTION:
        lines = lines.filter(subscription_id__in=keys).annotate(key=F("subscription_id"))
    elif level == Level.ACCOUNT:
        lines = lines.filter(subscription__account_id__in=keys).annotate(key=F("subscription__account_id"))
    else:
        top = Coalesce("subscription__account__ultimate_parent_id", "subscription__account_id")
        lines = lines.annotate(key=top).filter(key__in=keys)
    rows = lines.values("key", "month", "product").annotate(total=Sum("mrr")).filter(total__gt=0)
    found: defaultdict[tuple[int, datetime.date], set[str]] = defaultdict(set)
    for row in rows:
        found[(row["key"], row["month"])].add(row["product"])
    return found


def latest_cohort_month(level: str) -> datetime.date | None:
    """Return the latest month whose stored result at `level` has a cohort, or None when no month has one."""
    return (
        RetentionResult.objects.filter(level=level, segment=SegmentKey.ALL, customers__gt=0)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )


@dataclass(frozen=True)
class CustomerLines:
    """The MRR lines behind one customer row: recurring lines of M-12 and of M, and the true-ups of either month."""

    customer: RetentionCustomer
    baseline: list[MrrLine]
    current: list[MrrLine]
    trueups: list[MrrLine]

    @property
    def baseline_month(self) -> datetime.date:
        return add_months(self.customer.month, -12)

    @property
    def baseline_total(self) -> Decimal:
        return sum((line.mrr for line in self.baseline), ZERO)

    @property
    def current_total(self) -> Decimal:
        return sum((line.mrr for line in self.current), ZERO)

    @property
    def trueup_total(self) -> Decimal:
        return sum((line.mrr for line in self.trueups), ZERO)


def split_customer_lines(customer: RetentionCustomer) -> CustomerLines:
    """Group `customer_lines` into the recurring lines of each month and the true-ups, which no reason counts."""
    from .models import ChargeType

    baseline, current, trueups = [], [], []
    for line in customer_lines(customer):
        if line.charge_type == ChargeType.TRUEUP:
            trueups.append(line)
        elif line.month == customer.month:
            current.append(line)
        else:
            baseline.append(line)
    return CustomerLines(customer=customer, baseline=baseline, current=current, trueups=trueups)
