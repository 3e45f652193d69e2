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
from common.months import add_months, month_range

from .locks import report_lock
from .models import CoveredMonth, Level, RetentionCustomer, RetentionResult, SegmentKey

logger = logging.getLogger(__name__)

# How each level picks the customer of an MRR line: (account column, subscription column or None).
_LEVEL_KEYS = {
    Level.PARENT: ("COALESCE(acc.ultimate_parent_id, acc.id)", None),
    Level.ACCOUNT: ("acc.id", None),
    Level.SUBSCRIPTION: ("acc.id", "sub.id"),
}

# One INSERT ... SELECT per month and level. The inner query sums the lines of
# M-12 and M per customer; only customers with A > 0 are kept. The segment and
# owning TAM come from the ultimate parent and the customer's own account.
_CUSTOMER_SQL = """
INSERT INTO retention_retentioncustomer (month, level, account_id, subscription_id, segment, tam_id, a, b, c)
SELECT %s, %s, totals.account_id, totals.subscription_id,
       CASE WHEN top.segment = '' THEN 'none' ELSE top.segment END,
       entity.tam_id,
       totals.a, totals.b,
       CASE WHEN totals.b < totals.a THEN totals.b ELSE totals.a END
FROM (
    SELECT {account_key} AS account_id, {subscription_key} AS subscription_id,
           SUM(CASE WHEN line.month = %s THEN line.mrr ELSE 0 END) AS a,
           SUM(CASE WHEN line.month = %s THEN line.mrr ELSE 0 END) AS b
    FROM retention_mrrline line
    JOIN accounts_subscription sub ON sub.id = line.subscription_id
    JOIN accounts_account acc ON acc.id = sub.account_id
    WHERE line.month IN (%s, %s)
    GROUP BY {group_by}
) totals
JOIN accounts_account entity ON entity.id = totals.account_id
JOIN accounts_account top ON top.id = COALESCE(entity.ultimate_parent_id, entity.id)
WHERE totals.a > 0
"""

_SEGMENT_TOTALS_SQL = """
SELECT segment, COUNT(*), COALESCE(SUM(a), 0), COALESCE(SUM(b), 0), COALESCE(SUM(c), 0)
FROM retention_retentioncustomer
WHERE month = %s AND level = %s
GROUP BY segment
"""


def data_span() -> tuple[datetime.date, datetime.date] | None:
    """Return the first and last covered month, or None before the first import."""
    months = CoveredMonth.objects.order_by("month").values_list("month", flat=True)
    first = months.first()
    if first is None:
        return None
    return first, months.last()


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
            RetentionCustomer.objects.all().delete()
            RetentionResult.objects.all().delete()
            return 0
        first, last = span
        RetentionCustomer.objects.exclude(month__range=span).delete()
        RetentionResult.objects.exclude(month__range=span).delete()

        span_months = set(month_range(first, last))
        if months is None:
            targets = span_months
        else:
            stored = set(RetentionResult.objects.values_list("month", flat=True).distinct())
            targets = (set(months) & span_months) | (span_months - stored)

        computed_at = timezone.now()
        for month in sorted(targets):
            _recompute_month(month, computed_at)

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
    baseline = add_months(month, -12)

    results = []
    with connection.cursor() as cursor:
        for level in Level:
            account_key, subscription_key = _LEVEL_KEYS[level]
            sql = _CUSTOMER_SQL.format(
                account_key=account_key,
                subscription_key=subscription_key or "CAST(NULL AS BIGINT)",
                group_by=f"{account_key}, {subscription_key}" if subscription_key else account_key,
            )
            cursor.execute(sql, [month, level.value, baseline, month, baseline, month])
            cursor.execute(_SEGMENT_TOTALS_SQL, [month, level.value])
            totals = {row[0]: row[1:] for row in cursor.fetchall()}
            results.extend(_result_rows(month, level, totals, computed_at))
    RetentionResult.objects.bulk_create(results)


def _result_rows(month, level, totals, computed_at):
    """Build one result per segment key, and one over all segments, from per-segment sums in cents."""
    everything = [0, 0, 0, 0]
    for customers, a, b, c in totals.values():
        everything = [everything[0] + customers, everything[1] + a, everything[2] + b, everything[3] + c]
    rows = []
    for segment in SegmentKey:
        counts = everything if segment == SegmentKey.ALL else totals.get(segment.value, (0, 0, 0, 0))
        rows.append(build_result(month, level, segment, *counts, computed_at=computed_at))
    return rows


def build_result(month, level, segment, customers, a_cents, b_cents, c_cents, computed_at=None) -> RetentionResult:
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
    result.gross_pct = percentage(result.c, result.a)
    result.net_pct = percentage(result.b, result.a)
    return result
