"""Build accounts, subscriptions, MRR lines and covered months straight in the database."""

from decimal import Decimal

from accounts.models import Account, Segment, Subscription
from common.months import parse_month
from retention.models import ChargeType, CoveredMonth, MrrLine


def make_account(external_id, parent=None, segment=Segment.SMB, tam=None, name=None):
    account = Account.objects.create(
        external_id=external_id, name=name or f"Account {external_id}", parent=parent, segment=segment, tam=tam
    )
    top = account
    while top.parent_id:
        top = top.parent
    account.ultimate_parent = top
    account.save(update_fields=["ultimate_parent"])
    return account


def add_lines(rows, cover=None):
    """Store MRR lines given as (month, account id, subscription id, product, quantity, mrr, charge type).

    Unknown accounts are created top-level in SMB. The months of the rows, plus
    any in `cover`, are recorded as covered.
    """
    months = set()
    for month_text, account_id, subscription_id, product, quantity, mrr, charge_type in rows:
        account = Account.objects.filter(external_id=account_id).first() or make_account(account_id)
        subscription, _ = Subscription.objects.get_or_create(external_id=subscription_id, defaults={"account": account})
        month = parse_month(month_text)
        months.add(month)
        MrrLine.objects.create(
            month=month,
            subscription=subscription,
            product=product,
            quantity=quantity,
            mrr=Decimal(mrr),
            charge_type=charge_type or ChargeType.RECURRING,
        )
    for month_text in cover or []:
        months.add(parse_month(month_text))
    for month in months:
        CoveredMonth.objects.get_or_create(month=month)
