"""The life of an ImportRun: upload, column mapping, queueing and running."""

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from common.csvimport import ColumnSpec, ImportRejected, ProgressCallback, read_header, resolve_columns
from retention.audit import record_import_outcome
from retention.models import ColumnMapping, EndDateConvention, ImportKind, ImportRun, ImportStatus
from retention.services import recompute_is_pending

from .mrr import MRR_COLUMNS, import_mrr
from .subscriptions import SUBSCRIPTION_COLUMNS, import_subscriptions

logger = logging.getLogger(__name__)

UPLOAD_DIRECTORY = "imports"
# ext4 and XFS allow at most 255 bytes in a file name, and the stored name puts 33 characters before the upload's.
STORED_NAME_MAX_BYTES = 200

# PostgreSQL advisory locks of running imports use this first key and the run's id as the second.
_RUNNING_LOCK_KEY = 7_302_912

ABANDONED_MESSAGE = (
    "The import stopped before it recorded its outcome: its worker or the database went away. "
    "Its rows are stored only if it had finished writing them, because the write is all or nothing. "
    "Upload the file again to be sure; the same file replaces the same data."
)


def column_spec(kind: str) -> ColumnSpec:
    from accounts.services import ACCOUNT_COLUMNS

    return {
        ImportKind.ACCOUNTS: ACCOUNT_COLUMNS,
        ImportKind.MRR: MRR_COLUMNS,
        ImportKind.SUBSCRIPTIONS: SUBSCRIPTION_COLUMNS,
    }[ImportKind(kind)]


def _importer(kind: str) -> Callable[..., dict]:
    from accounts.services import import_accounts

    return {
        ImportKind.ACCOUNTS: import_accounts,
        ImportKind.MRR: import_mrr,
        ImportKind.SUBSCRIPTIONS: import_subscriptions,
    }[ImportKind(kind)]


def run_path(run: ImportRun) -> Path:
    """Return the file of an uploaded run on disk."""
    return Path(settings.MEDIA_ROOT) / run.stored_path


def _store_progress(run_id: int, **counts: int) -> None:
    """Store the progress of a run for the polling page.

    Outside a transaction each report is a commit of its own. PostgreSQL then
    returns without waiting for the log to reach the disk: a report lost in a
    crash only leaves the bar behind, and waiting took 3 to 5 ms a report.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        ImportRun.objects.filter(pk=run_id).update(**counts)
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        ImportRun.objects.filter(pk=run_id).update(**counts)


def execute(run: ImportRun, path: str | os.PathLike, on_progress: ProgressCallback | None = None) -> ImportRun:
    """Run the import of `run` on the file at `path` and store its outcome on the run.

    The status ends as done (with the summary), rejected (with the first errors
    and their count) or failed (an unexpected error, logged and re-raised). An
    error after the data committed leaves the run done, with the error as a
    warning in place of the summary, and is re-raised too.
    """
    started = time.monotonic()
    # The size is read first because the file may be removed while the import runs. The import itself
    # reports a file that it cannot read.
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0

    def report(rows_read: int, bytes_read: int, total_bytes: int) -> None:
        _store_progress(run.pk, rows_read=rows_read, bytes_read=bytes_read, total_bytes=total_bytes)
        if on_progress is not None:
            on_progress(rows_read, bytes_read, total_bytes)

    options = {"columns": run.columns or None, "import_run_id": run.pk, "on_progress": report}
    if run.kind == ImportKind.SUBSCRIPTIONS:
        options["end_date"] = run.end_date
    logger.info("import run %s started: %s file %s", run.pk, run.kind, run.file_name)
    try:
        with _running_lock(run.pk):
            summary = _importer(run.kind)(path, **options)
    except ImportRejected as rejection:
        _finish(
            run,
            ImportStatus.REJECTED,
            errors=[error.as_dict() for error in rejection.errors],
            error_count=rejection.error_count,
        )
    except Exception as error:
        logger.exception("import run %s failed", run.pk)
        message = f"{type(error).__name__}: {error}"
        if _data_stored(run):
            # The transaction that stored the data also marked the run done, so only the summary is missing.
            warning = f"The data is stored, but the import stopped before its summary: {message}"
            _finish(run, ImportStatus.DONE, summary={"warnings": [warning]})
        else:
            _finish(run, ImportStatus.FAILED, summary={"error": message})
        raise
    else:
        if recompute_is_pending(run.pk):
            summary.setdefault("warnings", []).append(
                "The data is stored, but the retention recomputation is pending: the task queue could not be "
                "reached. It runs by itself within ten minutes of the queue coming back."
            )
        # A finished run has read the whole file, whichever thread reported its progress on the way.
        read = {"bytes_read": size, "total_bytes": size}
        if "rows_read" in summary:
            read["rows_read"] = summary["rows_read"]
        _finish(run, ImportStatus.DONE, summary=summary, **read)
    run.refresh_from_db()
    logger.info(
        "import run %s %s after %d rows in %.1f s", run.pk, run.status, run.rows_read, time.monotonic() - started
    )
    return run


@contextlib.contextmanager
def _running_lock(run_id: int):
    """Hold a session-level advisory lock on PostgreSQL while the import runs.

    The server releases it when the worker's connection ends, so
    `close_abandoned_runs` can tell a live run from one whose worker died.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_RUNNING_LOCK_KEY, run_id])
    try:
        yield
    finally:
        # After a database restart the lock is gone with the connection.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_RUNNING_LOCK_KEY, run_id])


def close_abandoned_runs() -> int:
    """Mark as failed every running import whose worker is gone, and return how many.

    A run is abandoned when no database session holds its advisory lock. On
    SQLite, imports run in the process that started them, so there is nothing to do.
    """
    if connection.vendor != "postgresql":
        return 0
    closed = 0
    for run in ImportRun.objects.filter(status=ImportStatus.RUNNING).order_by("pk"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_RUNNING_LOCK_KEY, run.pk])
            if not cursor.fetchone()[0]:
                continue
            try:
                if ImportRun.objects.filter(pk=run.pk, status=ImportStatus.RUNNING).exists():
                    logger.warning("import run %s was abandoned by its worker; marking it failed", run.pk)
                    _finish(run, ImportStatus.FAILED, summary={"error": ABANDONED_MESSAGE})
                    closed += 1
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_RUNNING_LOCK_KEY, run.pk])
    return closed


def _data_stored(run: ImportRun) -> bool:
    """Return whether the transaction that stored the run's data committed; it marks the run done."""
    return ImportRun.objects.filter(pk=run.pk, status=ImportStatus.DONE).exists()


def _finish(run: ImportRun, status: str, **fields) -> None:
    """Store how the run ended and record it in the audit log, unless the data's transaction recorded it."""
    with transaction.atomic():
        if status == ImportStatus.DONE and _data_stored(run):
            # mark_import_stored set the status and recorded the event with the data, so only the summary is new.
            ImportRun.objects.filter(pk=run.pk).update(**fields)
            return
        finished_at = timezone.now()
        ImportRun.objects.filter(pk=run.pk).update(status=status, finished_at=finished_at, **fields)
        record_import_outcome(run, status, finished_at, fields)


def run_import(import_run_id: int) -> None:
    """Run a queued upload once: a second delivery of the same task finds it claimed and returns.

    The claim is a conditional UPDATE from queued to running, so two workers
    never run the same upload.
    """
    # A worker that dies mid-import leaves the run marked running, and a
    # redelivered task skips it; close_abandoned_runs marks it failed.
    # The lock is taken before the claim, so a sweep never finds the run running without it.
    with _running_lock(import_run_id):
        claimed = ImportRun.objects.filter(pk=import_run_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.RUNNING, rows_read=0, bytes_read=0
        )
        if not claimed:
            logger.info("import run %s is not queued; nothing to do", import_run_id)
            return
        run = ImportRun.objects.get(pk=import_run_id)
        execute(run, run_path(run))


def start_command_run(kind: str, path: str, columns: dict[str, str], end_date: str) -> ImportRun:
    """Record an import started from a management command; it runs at once in the command's process."""
    return ImportRun.objects.create(
        kind=kind,
        status=ImportStatus.RUNNING,
        file_name=str(path),
        columns=columns,
        end_date=end_date,
        total_bytes=os.path.getsize(path),
    )


def mapping_problems(kind: str, header: list[str], columns: dict[str, str]) -> list[str]:
    """Return why `columns` does not fit the header: missing required columns, mapped columns the file lacks."""
    _, problems = resolve_columns(column_spec(kind), header, columns)
    return [reason for _, _, reason in problems]


def unmatched_columns(kind: str, header: list[str], columns: dict[str, str]) -> list[str]:
    """Return the required product columns that neither the mapping nor a header name of the same name supplies."""
    indexes, _ = resolve_columns(column_spec(kind), header, columns)
    return [name for name in column_spec(kind).required if name not in indexes]


def suggested_columns(kind: str, header: list[str], columns: dict[str, str]) -> dict[str, str]:
    """Return a file column for each product column: the mapped one if the file has it, else one of the same name."""
    by_name = {name.strip().casefold(): name for name in header}
    suggestion = {}
    for name in column_spec(kind).names:
        mapped = columns.get(name)
        match = by_name.get(mapped.strip().casefold()) if mapped else None
        suggestion[name] = match or by_name.get(name.casefold(), "")
    return suggestion


def stored_file_name(uploaded_name: str) -> str:
    """Make the upload's name safe for the file system and cut its stem to fit STORED_NAME_MAX_BYTES in UTF-8."""
    name = get_valid_filename(os.path.basename(uploaded_name)) or "upload.csv"
    stem, suffix = os.path.splitext(name)
    # A cut may split a multi-byte character, so "ignore" drops the bytes left of it.
    stem = stem.encode()[: STORED_NAME_MAX_BYTES - len(suffix.encode())].decode(errors="ignore")
    return stem + suffix


def create_upload(
    *, kind: str, uploaded_file: UploadedFile, user, mapping: ColumnMapping | None, end_date: str | None = None
) -> ImportRun:
    """Save an uploaded file under MEDIA_ROOT/imports/ and create its run.

    The run is queued at once when the header supplies every required column
    after the saved mapping is applied, unless the file contains subscription
    periods. Otherwise the run waits for the mapping step.
    """
    name = stored_file_name(uploaded_file.name)
    stored_path = default_storage.save(f"{UPLOAD_DIRECTORY}/{uuid.uuid4().hex}_{name}", uploaded_file)
    columns = dict(mapping.columns) if mapping else {}
    run = ImportRun.objects.create(
        kind=kind,
        status=ImportStatus.MAPPING,
        file_name=uploaded_file.name,
        stored_path=stored_path,
        columns=columns,
        end_date=end_date or (mapping.end_date if mapping else EndDateConvention.EXCLUSIVE),
        created_by=user,
        total_bytes=uploaded_file.size,
    )
    header = read_header(run_path(run))
    # Subscription periods always pass the mapping step, where the end-date
    # convention is chosen per file. A file without a readable header is queued
    # at once, so that the import rejects it with the reason.
    if not header or (kind != ImportKind.SUBSCRIPTIONS and not mapping_problems(kind, header, columns)):
        queue(run)
    return run


@transaction.atomic
def confirm_mapping(run: ImportRun, *, columns: dict[str, str], end_date: str, save_as: str = "") -> bool:
    """Store the mapping chosen on the mapping step, save it as a ColumnMapping if named, and queue the run.

    Return False, and change nothing, when the run has left the mapping step,
    as when the same form was posted twice: the run is queued once.
    """
    chosen = {name: file_column for name, file_column in columns.items() if file_column}
    # The update takes the run's row lock, so a second post waits for the first and then matches no row.
    confirmed = ImportRun.objects.filter(pk=run.pk, status=ImportStatus.MAPPING).update(
        columns=chosen, end_date=end_date, status=ImportStatus.QUEUED
    )
    if not confirmed:
        return False
    run.columns, run.end_date, run.status = chosen, end_date, ImportStatus.QUEUED
    if save_as:
        ColumnMapping.objects.create(name=save_as, kind=run.kind, columns=chosen, end_date=end_date)
    _enqueue(run)
    return True


def queue(run: ImportRun) -> None:
    """Mark the run queued and enqueue its task when the current transaction commits."""
    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.QUEUED)
    run.status = ImportStatus.QUEUED
    _enqueue(run)


def _enqueue(run: ImportRun) -> None:
    """Enqueue the run's task for when the current transaction commits."""
    from retention.tasks import run_import as run_import_task

    run_import_task.delay_on_commit(run.pk)


def progress(run: ImportRun) -> dict:
    """Return the run's progress for the polling page: status, rows and bytes read, percent of the file."""
    percent = min(100, round(100 * run.bytes_read / run.total_bytes)) if run.total_bytes else 0
    if run.status in (ImportStatus.DONE, ImportStatus.REJECTED):
        percent = 100
    return {
        "status": run.status,
        "status_label": run.get_status_display(),
        "rows_read": run.rows_read,
        "bytes_read": run.bytes_read,
        "total_bytes": run.total_bytes,
        "percent": percent,
        "finished": run.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.MAPPING),
    }


def errors_with_file_columns(errors: list[dict], columns: dict[str, str]) -> list[dict]:
    """Return a run's stored errors, each with `file_column`: the file's name for a mapped column, else "".

    Errors name the product's columns, which a mapped file calls otherwise.
    """
    named = []
    for error in errors:
        file_column = columns.get(error["column"], "")
        named.append({**error, "file_column": "" if file_column == error["column"] else file_column})
    return named
