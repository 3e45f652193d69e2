"""Reads of accounts: access checks, the hierarchy, subscriptions with current MRR, contacts, books of TAMs."""

import dataclasses
import datetime
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet, Sum

from common.money import CentsField
from journeys.selectors import milestone_not_reached, segment_expression
from retention.models import MrrLine

from .models import Account, Contact, User
from .roles import Role

# The value that stands for "no TAM" where a page names a book by its TAM's id.
NO_TAM = "none"
# Accounts listed at most on the page that moves accounts; a search narrows a longer book.
BOOK_ROWS_SHOWN = 300


def can_read_account(user: User, account: Account) -> bool:
    """Managers and CS admins read every account; a TAM reads the accounts they own."""
    if not user.has_perm("accounts.view_account"):
        return False
    return user.sees_all_accounts or account.tam_id == user.pk


def owns_accounts(user: User) -> bool:
    """Return whether the user sees any account: a manager or CS admin sees every one, a TAM those they own."""
    return user.sees_all_accounts or user.accounts.exists()


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


@dataclasses.dataclass(frozen=True)
class Book:
    """The accounts that one user owns as TAM, or that no one owns when `tam` is None."""

    tam: User | None
    accounts: int

    @property
    def key(self) -> str:
        return str(self.tam.pk) if self.tam is not None else NO_TAM

    @property
    def label(self) -> str:
        owner = self.tam.get_username() if self.tam is not None else "No TAM"
        return f"{owner} ({self.accounts:,} account{'' if self.accounts == 1 else 's'})"


def books() -> list[Book]:
    """Return the books of every TAM and every other owner of accounts, by user name, then the book without a TAM.

    A TAM who left keeps a book, with their accounts, until someone moves them.
    The book without a TAM is listed when it contains accounts.
    """
    counts = dict(Account.objects.values_list("tam_id").annotate(count=Count("id")).order_by())
    owners = User.objects.filter(Q(groups__name=Role.TAM) | Q(pk__in=[pk for pk in counts if pk is not None]))
    found = [Book(tam=user, accounts=counts.get(user.pk, 0)) for user in owners.distinct().order_by("username")]
    if counts.get(None):
        found.append(Book(tam=None, accounts=counts[None]))
    return found


def new_tams() -> QuerySet[User]:
    """Return the users who may take accounts: active TAMs, by user name."""
    return User.objects.filter(groups__name=Role.TAM, is_active=True).distinct().order_by("username")


@dataclasses.dataclass(frozen=True)
class BookPage:
    """The accounts of a book that a page lists, and how many match the search in all."""

    accounts: list[Account]
    matching: int


def book_accounts(tam: User | None, search: str = "") -> BookPage:
    """Return up to BOOK_ROWS_SHOWN accounts of the book of `tam`, by name, with parent, segment and open journeys.

    `search` keeps the accounts whose name or external id contains it, in any
    case. Each account has `open_journeys`: its journeys with a milestone not
    reached. It also has `report_segment`, the ultimate parent's segment as the
    account page and the reports show it. A child's own segment is usually blank.
    """
    accounts = Account.objects.filter(tam=tam) if tam is not None else Account.objects.filter(tam__isnull=True)
    if search:
        accounts = accounts.filter(Q(name__icontains=search) | Q(external_id__icontains=search))
    listed = (
        accounts.select_related("parent")
        .annotate(
            open_journeys=Count("journeys", filter=milestone_not_reached("journeys__")),
            report_segment=segment_expression(""),
        )
        .order_by("name", "external_id")[:BOOK_ROWS_SHOWN]
    )
    return BookPage(accounts=list(listed), matching=accounts.count())
