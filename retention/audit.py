"""Audit events of the retention app: the outcome of each import run and each recomputation.

NOTE: a recomputation that finds no MRR at all clears the stored results and
records no event.
"""

import datetime

from django.contrib.auth import get_user_model

from audit.models import AuditAction, ObjectType
from audit.services import record
from common.months import format_month

from .models import ImportRun, ImportStatus, PendingRecompute
from .span import DataSpan

_IMPORT_ACTIONS = {
    ImportStatus.DONE: AuditAction.IMPORT_FINISHED,
    ImportStatus.REJECTED: AuditAction.IMPORT_REJECTED,
    ImportStatus.FAILED: AuditAction.IMPORT_FAILED,
}

# Summary entries copied into the event. The list of months is shortened to its count and ends.
_SUMMARY_COUNTS = (
    "lines_stored",
    "subscriptions_created",
    "accounts_created",
    "accounts_updated",
    "users_created",
    "journeys_reassigned",
    "end_date",
)


def record_import_outcome(run: ImportRun, status: str, finished_at: datetime.datetime, fields: dict) -> None:
    """Record how an import run ended, with its counts, in the transaction that stores the run's status.

    A finished import records it in the transaction that stores its data. The
    seconds run from the run's creation, so a queued upload includes its wait
    for a worker.
    """
    rows_read = ImportRun.objects.filter(pk=run.pk).values_list("rows_read", flat=True).first()
    details = {"kind": run.kind, "file": run.file_name, "rows_read": rows_read}
    summary = fields.get("summary") or {}
    details.update({key: summary[key] for key in _SUMMARY_COUNTS if key in summary})
    months = summary.get("months_replaced")
    if months:
        details["months_replaced"] = len(months)
        details["months"] = f"{months[0]} to {months[-1]}"
    if status == ImportStatus.REJECTED:
        details["invalid_values"] = fields.get("error_count", 0)
    if status == ImportStatus.FAILED:
        details["error"] = summary.get("error", "")
    details["seconds"] = round((finished_at - run.created_at).total_seconds(), 1)
    record(
        _IMPORT_ACTIONS[status],
        object_type=ObjectType.IMPORT,
        object_id=run.pk,
        label=f"{run.get_kind_display()} import of {run.file_name}",
        details=details,
        user=run.created_by,
    )


def record_recompute(months: list[datetime.date], span: DataSpan, seconds: float) -> None:
    """Record a recomputation of `months` within the data span, inside the recomputation's transaction."""
    details = {
        "months_computed": len(months),
        "months": f"{format_month(months[0])} to {format_month(months[-1])}" if months else "",
        "data_span": f"{format_month(span.first)} to {format_month(span.last)}",
        "seconds": round(seconds, 2),
    }
    label = f"Retention {details['months']}" if months else "Retention, no month needed computing"
    record(AuditAction.RECOMPUTE, object_type=ObjectType.RETENTION, label=label, details=details)


def pending_requester():
    """Return the one user whose uploads requested the pending recomputations, or None when none or several did."""
    # A record without an uploader (a command, an edit, a beat run) counts as the system.
    user_ids = set(PendingRecompute.objects.values_list("import_run__created_by", flat=True))
    if len(user_ids) != 1 or None in user_ids:
        return None
    return get_user_model().objects.filter(pk=user_ids.pop()).first()
