"""Property tests: the engine against a plain-Python reading of the rules, over random hierarchies and lines."""

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account, Segment, Subscription
from retention.engine import recompute_retention
from retention.models import (
    CoveredMonth,
    Level,
    MrrLine,
    Reason,
    RetentionCustomer,
    RetentionResult,
    SegmentKey,
    TamTotal,
)
from retention.reason_selectors import reason_breakdown, recurring_products

BASELINE = datetime.date(2023, 6, 1)
MONTH = datetime.date(2024, 6, 1)
PRODUCTS = ["Basic", "Pro", "Enterprise"]

accounts_strategy = st.integers(min_value=1, max_value=6).flatmap(
    lambda count: st.tuples(
        # Each account's parent is an earlier account or none, so the tree has no cycle.
        st.tuples(*[st.one_of(st.none(), st.integers(0, index - 1)) if index else st.none() for index in range(count)]),
        st.lists(st.sampled_from(list(Segment)), min_size=count, max_size=count),
    )
)
line_strategy = st.tuples(
    st.sampled_from([BASELINE, MONTH]),
    st.integers(min_value=0, max_value=7),  # subscription number
    st.sampled_from(PRODUCTS),
    # Few distinct values, so that equal seats and equal amounts, the edges of the reasons, come up often.
    st.sampled_from([0, 5, 10, 10, 15]),
    st.one_of(st.sampled_from([0, 5_000, 10_000, 10_000, 15_000]), st.integers(min_value=-3_000, max_value=50_000)),
    st.sampled_from(["recurring", "recurring", "recurring", "trueup"]),
)

# The same subscription, product and seats in both months with its own amounts:
# the usual shape of a price change, which independent lines rarely produce.
pair_strategy = st.tuples(
    st.integers(min_value=0, max_value=7),
    st.sampled_from(PRODUCTS),
    st.sampled_from([5, 10]),
    st.sampled_from([5_000, 10_000, 12_500]),
    st.sampled_from([5_000, 10_000, 12_500]),
).map(
    lambda pair: [
        (BASELINE, pair[0], pair[1], pair[2], pair[3], "recurring"),
        (MONTH, pair[0], pair[1], pair[2], pair[4], "recurring"),
    ]
)


def build(accounts, subscription_owners, lines):
    for model in (RetentionCustomer, RetentionResult, MrrLine, Subscription):
        model.objects.all().delete()
    Account.objects.update(parent=None, ultimate_parent=None)
    Account.objects.all().delete()
    CoveredMonth.objects.all().delete()

    parents, segments = accounts
    stored = []
    for index, (parent, segment) in enumerate(zip(parents, segments, strict=True)):
        parent_account = stored[parent] if parent is not None else None
        top = parent_account.ultimate_parent if parent_account else None
        account = Account.objects.create(
            external_id=f"A{index}", name=f"A{index}", parent=parent_account, segment=segment
        )
        account.ultimate_parent = top or account
        account.save(update_fields=["ultimate_parent"])
        stored.append(account)
    subscriptions = [
        Subscription.objects.create(external_id=f"S{number}", account=stored[owner % len(stored)])
        for number, owner in enumerate(subscription_owners)
    ]
    unique = {}
    for month, number, product, quantity, cents, charge_type in lines:
        unique[(month, number % len(subscriptions), product, charge_type)] = (quantity, cents)
    MrrLine.objects.bulk_create(
        MrrLine(
            month=month,
            subscription=subscriptions[number],
            product=product,
            quantity=quantity,
            mrr=Decimal(cents).scaleb(-2),
            charge_type=charge_type,
        )
        for (month, number, product, charge_type), (quantity, cents) in unique.items()
    )
    CoveredMonth.objects.bulk_create([CoveredMonth(month=BASELINE), CoveredMonth(month=MONTH)])


def expected_customers(level):
    """Read the rules straight from the lines: customer key -> (A, B, reason, amount, products in M-12 and M)."""
    sums = defaultdict(lambda: defaultdict(Decimal))
    for line in MrrLine.objects.select_related("subscription__account"):
        account = line.subscription.account
        key = {
            Level.PARENT: account.ultimate_parent_id,
            Level.ACCOUNT: account.id,
            Level.SUBSCRIPTION: line.subscription_id,
        }[level]
        side = "a" if line.month == BASELINE else "b"
        figures = sums[key]
        figures[side] += line.mrr
        if line.charge_type == "recurring":
            figures[f"r{side}"] += line.mrr
            figures[f"seats_{side}"] += line.quantity
            figures[(side, line.product)] += line.mrr
    expected = {}
    for key, figures in sums.items():
        if figures["a"] <= 0:
            continue
        recurring_a, recurring_b = figures["ra"], figures["rb"]
        products_a = {
            product for side, product in _product_keys(figures) if side == "a" and figures[(side, product)] > 0
        }
        products_b = {
            product for side, product in _product_keys(figures) if side == "b" and figures[(side, product)] > 0
        }
        if recurring_b == recurring_a:
            reason, amount = "", Decimal(0)
        elif recurring_b == 0:
            reason, amount = Reason.CANCELLATION, recurring_a
        elif recurring_b < recurring_a:
            reason, amount = Reason.DOWNGRADE, recurring_a - recurring_b
        elif products_a == products_b:
            more_seats = figures["seats_b"] > figures["seats_a"]
            reason, amount = (Reason.SEAT_EXPANSION if more_seats else Reason.PRICE_CHANGE), recurring_b - recurring_a
        elif figures["seats_b"] == figures["seats_a"]:
            reason, amount = Reason.PRODUCT_CHANGE, recurring_b - recurring_a
        else:
            reason, amount = Reason.PRODUCT_SEAT_MIX, recurring_b - recurring_a
        expected[key] = (figures["a"], figures["b"], reason, amount, sorted(products_a), sorted(products_b))
    return expected


def _product_keys(figures):
    return [key for key in figures if isinstance(key, tuple)]


def stored_customers(level):
    """Return customer key -> (A, B, reason, amount, products in M-12, products in M) of the stored rows."""
    key_field = "subscription_id" if level == Level.SUBSCRIPTION else "account_id"
    rows = list(RetentionCustomer.objects.of_month(MONTH, level))
    products = recurring_products(rows)
    return {getattr(row, key_field): (row.a, row.b, row.reason, row.reason_amount, *products[row.pk]) for row in rows}


def tam_totals(level):
    """Return the TAM totals of MONTH at `level`, added up over TAMs, segments and reasons."""
    totals = TamTotal.objects.filter(month=MONTH, level=level).aggregate(
        customers=Sum("customers"), a=Sum("a"), b=Sum("b"), c=Sum("c")
    )
    return (totals["customers"] or 0, totals["a"] or 0, totals["b"] or 0, totals["c"] or 0)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    accounts=accounts_strategy,
    subscription_owners=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=8),
    lines=st.lists(line_strategy, max_size=30),
    pairs=st.lists(pair_strategy, max_size=4),
)
def test_engine_matches_the_rules_on_random_data(db, accounts, subscription_owners, lines, pairs):
    build(accounts, subscription_owners, [line for pair in pairs for line in pair] + lines)

    recompute_retention()

    for level in Level:
        assert stored_customers(level) == expected_customers(level)

        assert RetentionCustomer.objects.of_month(MONTH, level).count() == (
            RetentionCustomer.objects.filter(month=MONTH, level=level).count()
        )

        result = RetentionResult.objects.get(month=MONTH, level=level, segment=SegmentKey.ALL)
        assert tam_totals(level) == (result.customers, result.a, result.b, result.c)
        if result.customers:
            assert result.gross_pct <= 100
            assert result.c <= result.a

        breakdown = reason_breakdown(None, MONTH, level, SegmentKey.ALL, places=2)
        assert breakdown.reasons_net == breakdown.recurring_change
        for figures in (breakdown.churn, breakdown.expansion):
            if sum(figure.amount for figure in figures) > 0:
                assert sum(figure.share for figure in figures) == 100
