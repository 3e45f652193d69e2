"""Writes that other apps call into the retention app."""

import datetime

from common.months import format_month


def schedule_recompute(months: list[datetime.date] | None) -> None:
    """Enqueue a recomputation of `months` once the current transaction commits.

    None means every month of the data span.
    """
    from .tasks import recompute_retention

    payload = None if months is None else sorted({format_month(month) for month in months})
    recompute_retention.delay_on_commit(payload)
