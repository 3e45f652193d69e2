"""Celery tasks of the retention app. Each takes ids or month strings, never model instances."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from common.months import add_months, first_of_month, parse_month

logger = logging.getLogger(__name__)

# A lost database connection or a lock timeout is worth another try; a bug is not.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
RETRY = {"autoretry_for": TRANSIENT_ERRORS, "max_retries": 3, "retry_backoff": 30, "retry_jitter": True}


@shared_task(acks_late=True, **RETRY)
def recompute_retention(months: list[str] | None = None) -> int:
    """Recompute stored retention for the given YYYY-MM months, or for the whole data span when None.

    Safe to run twice or concurrently: each run replaces the months it computes
    under the report lock.
    """
    from .engine import recompute_retention as recompute

    parsed = None if months is None else [parse_month(month) for month in months]
    return recompute(parsed)


@shared_task(acks_late=True, **RETRY)
def recompute_pending() -> int:
    """Recompute the months that imports and edits recorded as pending.

    Enqueued after every such change commits, and run by beat every ten
    minutes, which catches changes whose enqueue failed while the queue was down.
    """
    from audit.context import acting_as

    from .audit import pending_requester
    from .engine import recompute_pending as recompute

    # A worker has no request, so the uploader behind the pending months, when there is one, is the actor.
    requester = pending_requester()
    if requester is None:
        return recompute()
    with acting_as(requester):
        return recompute()


@shared_task(acks_late=True, **RETRY)
def recompute_previous_month() -> int:
    """Recompute the month that has just ended. Beat runs this on the 1st of every month at 02:00 UTC."""
    from django.utils import timezone

    from .engine import recompute_retention as recompute

    previous = add_months(first_of_month(timezone.now().date()), -1)
    return recompute([previous])


@shared_task(acks_late=True, **RETRY)
def close_abandoned_imports() -> int:
    """Mark as failed the running imports whose worker died. Beat runs this every ten minutes."""
    from .importing.runs import close_abandoned_runs

    return close_abandoned_runs()


@shared_task(acks_late=True)
def run_import(import_run_id: int) -> None:
    """Run a queued upload. The import replaces data only if every row is valid."""
    from .importing import run_import as run

    run(import_run_id)
