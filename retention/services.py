"""Writes that other apps call into the retention app."""

import datetime
import functools
import logging

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from common.months import format_month

from .audit import record_import_outcome
from .models import ImportRun, ImportStatus, PendingRecompute

logger = logging.getLogger(__name__)


def schedule_recompute(months: list[datetime.date] | None, import_run_id: int | None = None) -> None:
    """Record that `months` need a recomputation and enqueue it once the current transaction commits.

    None means every month of the data span. The record is written in the
    caller's transaction, so it exists exactly when the change does; it is
    removed by the recomputation that covers it.
    """
    payload = None if months is None else sorted({format_month(month) for month in months})
    pending = PendingRecompute.objects.create(months=payload, import_run_id=import_run_id)
    transaction.on_commit(functools.partial(_enqueue, pending.pk))


def mark_import_stored(import_run_id: int | None, counts: dict) -> None:
    """Mark a running import as done and record its audit event, in the transaction that stores its data.

    `counts` contains the entries of the summary that are known once the data is
    written. The import writes its whole summary after this transaction
    commits. When the database goes away between the two, the run still shows
    that its data is stored, and the sweep of abandoned runs leaves it alone.
    """
    if import_run_id is None:
        return
    run = ImportRun.objects.filter(pk=import_run_id, status=ImportStatus.RUNNING).first()
    if run is None:
        return
    finished_at = timezone.now()
    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.DONE, finished_at=finished_at)
    record_import_outcome(run, ImportStatus.DONE, finished_at, {"summary": counts})


def _enqueue(pending_id: int) -> None:
    from .tasks import recompute_pending

    try:
        recompute_pending.delay()
    except BrokerError as error:
        # Beat runs recompute_pending every ten minutes, so the figures follow once the queue is back.
        logger.warning("recompute %s is pending: the task queue is unreachable (%s)", pending_id, error)
        PendingRecompute.objects.filter(pk=pending_id).update(enqueue_failed=True)


def recompute_is_pending(import_run_id: int) -> bool:
    """Return whether the recomputation that an import asked for could not be enqueued yet."""
    return PendingRecompute.objects.filter(import_run_id=import_run_id, enqueue_failed=True).exists()
