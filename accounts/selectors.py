"""Reads of accounts: access checks, the hierarchy, subscriptions with current MRR, contacts."""

import dataclasses
import datetime
from decimal import Decimal

from django.db.models import Max, QuerySet, Sum

from common.money import CentsField
from retention.models import MrrLine

from .models import Account, Contact, User


def can_read_account(user: User, account: Account) -> bool:
    """Managers and CS admins read every account; a TAM reads the accounts they own."""
    if not user.has_perm("accounts.view_account"):
        return False
    return user.sees_all_accounts or account.tam_id == user.pk


def can_change_account(user: User, account: Account, permission: str) -> bool:
    """Only the owning TAM, holding `permission`, changes an account's plan, objectives, contacts and activities."""
    return user.has_perm(permission) and (user.is_superuser or account.tam_id == user.pk)


def account_children(account: Account) -> QuerySet[Account]:
    return account.children.select_related("tam").order_by("name", "id")


@dataclasses.dataclass(frozen=True)
class SubscriptionRow:
    external_id: str
    # Sum of every line (recurring and true-up) in the latest month; None when the subscription has none.
    mrr: Decimal | None
    seats: int | None
    products: str


@dataclasses.dataclass(frozen=True)
class SubscriptionSummary:
    month: datetime.date | None
    rows: list[SubscriptionRow]
    total: Decimal


def subscriptions_with_mrr(account: Account) -> SubscriptionSummary:
    """Return the account's subscriptions with their MRR in the latest month that has any MRR line.

    The latest month is taken over all accounts, so a subscription that
    stopped earlier shows no current MRR instead of an old amount.
    """
    month = MrrLine.objects.aggregate(last=Max("month"))["last"]
    subscriptions = list(account.subscriptions.order_by("external_id"))
    by_subscription = {}
    products: dict[int, list[str]] = {}
    if month is not None:
        lines = (
            MrrLine.objects.filter(month=month, subscription__account=account)
            .values("subscription_id")
            .annotate(mrr=Sum("mrr", output_field=CentsField()), seats=Sum("quantity"))
        )
        by_subscription = {line["subscription_id"]: line for line in lines}
        for subscription_id, product in (
            MrrLine.objects.filter(month=month, subscription__account=account)
            .order_by("product")
            .values_list("subscription_id", "product")
            .distinct()
        ):
            products.setdefault(subscription_id, []).append(product)
    rows = []
    total = Decimal("0.00")
    for subscription in subscriptions:
        line = by_subscription.get(subscription.pk)
        mrr = None if line is None else line["mrr"]
        if mrr is not None:
            total += mrr
        rows.append(
            SubscriptionRow(
                external_id=subscription.external_id,
                mrr=mrr,
                seats=None if line is None else line["seats"],
                products=", ".join(products.get(subscription.pk, [])) if line is not None else "",
            )
        )
    return SubscriptionSummary(month=month, rows=rows, total=total)


def account_contacts(account: Account) -> QuerySet[Contact]:
    return account.contacts.order_by("name", "id")
