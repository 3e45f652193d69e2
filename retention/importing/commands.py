"""The base of the import management commands: arguments, progress on stderr, summary or errors."""

import logging
import os

from django.core.management.base import BaseCommand, CommandError

from common.csvimport import parse_column_option
from common.months import month_range, parse_month
from retention.models import EndDateConvention, ImportKind, ImportStatus

from .runs import errors_with_file_columns, execute, start_command_run

logger = logging.getLogger(__name__)


def describe_months(months: list[str]) -> str:
    """Return a short text for a sorted list of YYYY-MM months: all of them when few, else the first, last and count.

    "A to B" is written only for months without a gap, so that a file of two
    years' Junes does not read as every month in between.
    """
    if len(months) <= 6:
        return ", ".join(months) or "none"
    span = len(list(month_range(parse_month(months[0]), parse_month(months[-1]))))
    if span == len(months):
        return f"{months[0]} to {months[-1]} ({len(months)} months)"
    return f"{len(months)} months from {months[0]} to {months[-1]}, with gaps"


def _column_text(error: dict) -> str:
    """Return how an error line names its column: the product's name, and the file's when a mapping renamed it."""
    column = error["column"] or "-"
    return f"{column} (file column {error['file_column']})" if error["file_column"] else column


def summary_lines(kind: str, summary: dict) -> list[str]:
    """Return the summary of a finished import as lines of text."""
    lines = [f"Rows read: {summary['rows_read']}"]
    if kind == ImportKind.ACCOUNTS:
        lines.append(f"Accounts created: {summary['accounts_created']}, updated: {summary['accounts_updated']}")
        created = summary["created_user_emails"]
        lines.append(f"TAM users created: {summary['users_created']}" + (f" ({', '.join(created)})" if created else ""))
        lines.append(f"Open journeys moved to a new TAM: {summary['journeys_reassigned']}")
    else:
        lines.append(f"MRR lines stored: {summary['lines_stored']}")
        if "lines_deleted" in summary:
            lines.append(f"MRR lines removed from the replaced months: {summary['lines_deleted']}")
        lines.append(f"Months replaced: {describe_months(summary['months_replaced'])}")
        lines.append(f"Subscriptions created: {summary['subscriptions_created']}")
        if kind == ImportKind.SUBSCRIPTIONS:
            lines.append(f"End-date convention: {summary['end_date']}")
    lines.extend(f"Warning: {warning}" for warning in summary.get("warnings", []))
    return lines


class ImportCommand(BaseCommand):
    """Import one CSV file; subclasses set `kind` and `help`."""

    kind: str

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8, comma-, semicolon- or tab-separated, with a header line.")
        parser.add_argument(
            "--columns",
            default="",
            help="Column mapping as product_column=file_column pairs separated by commas, "
            "for example mrr=mrr_amount,product=plan_tier.",
        )
        if self.kind == ImportKind.SUBSCRIPTIONS:
            parser.add_argument(
                "--end-date",
                choices=EndDateConvention.values,
                default=EndDateConvention.EXCLUSIVE,
                help="exclusive (default): the end date is the first day without service; "
                "inclusive: the end date is the last day of service.",
            )

    def handle(self, *args, **options):
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"File not found: {path}")
        try:
            columns = parse_column_option(options["columns"])
        except ValueError as error:
            raise CommandError(str(error)) from None

        end_date = options.get("end_date") or EndDateConvention.EXCLUSIVE
        if end_date not in EndDateConvention.values:
            raise CommandError(f"Invalid end-date convention {end_date!r}: expected exclusive or inclusive.")
        run = start_command_run(self.kind, path, columns, end_date)
        self._run_id = run.pk
        self._progress_closed = False
        run = execute(run, path, on_progress=self._write_progress)
        if run.status == ImportStatus.REJECTED:
            error_lines = [
                f"line {error['line']}, column {_column_text(error)}, value {error['value']!r}: {error['reason']}"
                for error in errors_with_file_columns(run.errors, run.columns)
            ]
            if run.error_count > len(run.errors):
                error_lines.append(f"and {run.error_count - len(run.errors)} more")
            raise CommandError(
                f"Import rejected, nothing was stored: {run.error_count} invalid value(s) in {path}.\n"
                + "\n".join(error_lines)
            )
        try:
            for line in summary_lines(self.kind, run.summary):
                self.stdout.write(line)
        except BrokenPipeError as error:
            # The run is stored, and its page on the site shows the same summary.
            logger.info("import run %s: summary not written, output closed: %s", run.pk, error)

    def _write_progress(self, rows_read: int, bytes_read: int, total_bytes: int) -> None:
        # A closed stream, as when the output goes through `head`, ends the progress lines and not the import.
        if self._progress_closed:
            return
        percent = f" ({100 * bytes_read // total_bytes}% of the file)" if total_bytes else ""
        try:
            self.stderr.write(f"Read {rows_read} rows{percent}")
        except OSError as error:
            self._progress_closed = True
            logger.info("import run %s: progress no longer written, output closed: %s", self._run_id, error)
