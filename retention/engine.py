"""The retention engine: dollar-weighted gross and net retention, computed in the database.

For a month M at a level, the customers are the level's entities with MRR > 0
in M-12. Each gets A = MRR in M-12, B = MRR in M and C = min(A, B); gross
retention is sum(C) / sum(A) and net retention sum(B) / sum(A). True-up lines
count in MRR. Entities are grouped through the hierarchy as stored now, so a
moved account restates every month.
"""

import datetime
import logging
import time
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from common.money import percentage
from common.months import add_months, month_range, parse_month

from .audit import record_recompute
from .locks import report_lock
from .models import Level, PendingRecompute, ReasonTotal, RetentionCustomer, RetentionResult, SegmentKey
from .span import data_span

logger = logging.getLogger(__name__)

# The customer key of an MRR line at each level: (account column, subscription column or None).
_LEVEL_KEYS = {
    Level.PARENT: ("COALESCE(acc.ultimate_parent_id, acc.id)", None),
    Level.ACCOUNT: ("acc.id", None),
    Level.SUBSCRIPTION: ("acc.id", "sub.id"),
}

# One INSERT ... SELECT per month and level. The innermost query sums the lines
# of M-12 and M per customer and product. The middle one sums them per customer,
# with the recurring MRR, seats and product sets that decide the reason. Only
# customers with A > 0 are kept. The segment and owning TAM come from the ultimate parent
# and the customer's own account. Reasons follow this order of tests:
#   recurring B = A        no reason
#   recurring B = 0        Cancellation, amount A
#   recurring B < A        Downgrade, amount A - B (a negative B too)
#   same product set       Seat Expansion with more seats, else Discount/Price Change
#   other products         Product Change with the same seats, else the mix
# Two product sets are the same when both have as many products as they share.
_CUSTOMER_SQL = """
INSERT INTO retention_retentioncustomer (
    month, level, account_id, subscription_id, segment, tam_id, a, b, c,
    recurring_a, recurring_b, seats_a, seats_b, products_a, products_b, reason, reason_amount
)
SELECT %s, %s, totals.account_id, totals.subscription_id,
       CASE WHEN top.segment = '' THEN 'none' ELSE top.segment END,
       entity.tam_id,
       totals.a, totals.b,
       CASE WHEN totals.b < totals.a THEN totals.b ELSE totals.a END,
       totals.ra, totals.rb, totals.seats_a, totals.seats_b,
       COALESCE(totals.products_a, ''), COALESCE(totals.products_b, ''),
       CASE
           WHEN totals.rb = totals.ra THEN ''
           WHEN totals.rb = 0 THEN 'cancellation'
           WHEN totals.rb < totals.ra THEN 'downgrade'
           WHEN totals.count_a = totals.count_b AND totals.count_a = totals.count_both THEN
               CASE WHEN totals.seats_b > totals.seats_a THEN 'seat_expansion' ELSE 'price_change' END
           WHEN totals.seats_b = totals.seats_a THEN 'product_change'
           ELSE 'product_seat_mix'
       END,
       CASE
           WHEN totals.rb = 0 THEN totals.ra
           WHEN totals.rb < totals.ra THEN totals.ra - totals.rb
           ELSE totals.rb - totals.ra
       END
FROM (
    SELECT account_id, subscription_id,
           SUM(a) AS a, SUM(b) AS b, SUM(ra) AS ra, SUM(rb) AS rb,
           SUM(seats_a) AS seats_a, SUM(seats_b) AS seats_b,
           SUM(CASE WHEN ra > 0 THEN 1 ELSE 0 END) AS count_a,
           SUM(CASE WHEN rb > 0 THEN 1 ELSE 0 END) AS count_b,
           SUM(CASE WHEN ra > 0 AND rb > 0 THEN 1 ELSE 0 END) AS count_both,
           {join_products_a} AS products_a,
           {join_products_b} AS products_b
    FROM (
        SELECT {account_key} AS account_id, {subscription_key} AS subscription_id, line.product,
               SUM(CASE WHEN line.month = %s THEN line.mrr ELSE 0 END) AS a,
               SUM(CASE WHEN line.month = %s THEN line.mrr ELSE 0 END) AS b,
               SUM(CASE WHEN line.month = %s AND line.charge_type = 'recurring' THEN line.mrr ELSE 0 END) AS ra,
               SUM(CASE WHEN line.month = %s AND line.charge_type = 'recurring' THEN line.mrr ELSE 0 END) AS rb,
               SUM(CASE WHEN line.month = %s AND line.charge_type = 'recurring' THEN line.quantity ELSE 0 END)
                   AS seats_a,
               SUM(CASE WHEN line.month = %s AND line.charge_type = 'recurring' THEN line.quantity ELSE 0 END)
                   AS seats_b
        FROM retention_mrrline line
        JOIN accounts_subscription sub ON sub.id = line.subscription_id
        JOIN accounts_account acc ON acc.id = sub.account_id
        WHERE line.month IN (%s, %s)
        GROUP BY {group_by}, line.product
    ) per_product
    GROUP BY account_id, subscription_id
) totals
JOIN accounts_account entity ON entity.id = totals.account_id
JOIN accounts_account top ON top.id = COALESCE(entity.ultimate_parent_id, entity.id)
WHERE totals.a > 0
"""

_SEGMENT_TOTALS_SQL = """
SELECT segment, COUNT(*), COALESCE(SUM(a), 0), COALESCE(SUM(b), 0), COALESCE(SUM(c), 0),
       COALESCE(SUM(recurring_a), 0), COALESCE(SUM(recurring_b), 0)
FROM retention_retentioncustomer
WHERE month = %s AND level = %s
GROUP BY segment
"""

# Reason totals per segment, then over all segments.
_REASON_TOTALS_SQL = """
INSERT INTO retention_reasontotal (month, level, segment, reason, customers, amount)
SELECT month, level, segment, reason, COUNT(*), SUM(reason_amount)
FROM retention_retentioncustomer
WHERE month = %s AND level = %s AND reason <> ''
GROUP BY month, level, segment, reason
UNION ALL
SELECT month, level, 'all', reason, COUNT(*), SUM(reason_amount)
FROM retention_retentioncustomer
WHERE month = %s AND level = %s AND reason <> ''
GROUP BY month, level, reason
"""


def _join_products(column: str) -> str:
    """Return the SQL that joins the products with recurring MRR above zero in `column` (ra or rb)."""
    product = f"CASE WHEN {column} > 0 THEN product END"
    if connection.vendor == "postgresql":
        return f"string_agg({product}, ',' ORDER BY product)"
    return f"group_concat({product}, ',')"


def recompute_pending() -> int:
    """Recompute the months of every pending record and remove the records, in one transaction.

    Returns how many months were computed. A run that dies leaves the records,
    so the next run does the work again.
    """
    with report_lock():
        pending = list(PendingRecompute.objects.select_for_update().order_by("pk"))
        if not pending:
            return 0
        if any(record.months is None for record in pending):
            months = None
        else:
            months = sorted({parse_month(text) for record in pending for text in record.months})
        count = recompute_retention(months)
        PendingRecompute.objects.filter(pk__in=[record.pk for record in pending]).delete()
    return count


def recompute_retention(months: list[datetime.date] | None = None) -> int:
    """Replace the stored results of `months` (the whole data span when None) and return how many months were computed.

    Months outside the data span lose their stored results. Months inside the
    span that have no stored result yet are computed too, so a span that grew
    is filled in. The whole run holds the report lock and is one transaction,
    so readers never see a mix of two runs.
    """
    started = time.monotonic()
    with report_lock():
        span = data_span()
        if span is None:
            for model in (RetentionCustomer, RetentionResult, ReasonTotal):
                model.objects.all().delete()
            return 0
        first, last = span.first, span.last
        for model in (RetentionCustomer, RetentionResult, ReasonTotal):
            model.objects.exclude(month__range=(first, last)).delete()

        span_months = set(month_range(first, last))
        if months is None:
            targets = span_months
        else:
            stored = set(RetentionResult.objects.values_list("month", flat=True).distinct())
            targets = (set(months) & span_months) | (span_months - stored)

        computed_at = timezone.now()
        for month in sorted(targets):
            _recompute_month(month, computed_at)
        record_recompute(sorted(targets), span, time.monotonic() - started)

    logger.info(
        "Recomputed retention for %d months (%s to %s) in %.2f s",
        len(targets),
        min(targets) if targets else "-",
        max(targets) if targets else "-",
        time.monotonic() - started,
    )
    return len(targets)


def _recompute_month(month: datetime.date, computed_at: datetime.datetime) -> None:
    RetentionCustomer.objects.filter(month=month).delete()
    RetentionResult.objects.filter(month=month).delete()
    ReasonTotal.objects.filter(month=month).delete()
    baseline = add_months(month, -12)

    results = []
    with connection.cursor() as cursor:
        for level in Level:
            account_key, subscription_key = _LEVEL_KEYS[level]
            sql = _CUSTOMER_SQL.format(
                account_key=account_key,
                subscription_key=subscription_key or "CAST(NULL AS BIGINT)",
                group_by=f"{account_key}, {subscription_key}" if subscription_key else account_key,
                join_products_a=_join_products("ra"),
                join_products_b=_join_products("rb"),
            )
            cursor.execute(
                sql, [month, level.value, baseline, month, baseline, month, baseline, month, baseline, month]
            )
            cursor.execute(_REASON_TOTALS_SQL, [month, level.value, month, level.value])
            cursor.execute(_SEGMENT_TOTALS_SQL, [month, level.value])
            totals = {row[0]: row[1:] for row in cursor.fetchall()}
            results.extend(_result_rows(month, level, totals, computed_at))
    RetentionResult.objects.bulk_create(results)


def _result_rows(month, level, totals, computed_at):
    """Build one result per segment key, and one over all segments, from per-segment sums in cents."""
    everything = [sum(column) for column in zip(*totals.values(), strict=True)] or [0] * 6
    rows = []
    for segment in SegmentKey:
        counts = everything if segment == SegmentKey.ALL else totals.get(segment.value, (0,) * 6)
        rows.append(build_result(month, level, segment, *counts, computed_at=computed_at))
    return rows


def build_result(
    month,
    level,
    segment,
    customers,
    a_cents,
    b_cents,
    c_cents,
    recurring_a_cents=0,
    recurring_b_cents=0,
    computed_at=None,
) -> RetentionResult:
    """Make an unsaved result from a customer count and sums in cents."""
    result = RetentionResult(
        month=month,
        level=level,
        segment=segment,
        customers=customers,
        computed_at=computed_at or timezone.now(),
    )
    result.a = Decimal(int(a_cents)).scaleb(-2)
    result.b = Decimal(int(b_cents)).scaleb(-2)
    result.c = Decimal(int(c_cents)).scaleb(-2)
    result.recurring_a = Decimal(int(recurring_a_cents)).scaleb(-2)
    result.recurring_b = Decimal(int(recurring_b_cents)).scaleb(-2)
    result.gross_pct = percentage(result.c, result.a)
    result.net_pct = percentage(result.b, result.a)
    return result
