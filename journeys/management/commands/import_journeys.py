import logging
import os

from django.core.management.base import BaseCommand, CommandError

from common.csvimport import ImportRejected, parse_column_option
from journeys.importing import import_journeys

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Import customer journeys (account_id, transaction_date, kind, licenses, kickoff, onboarding, "
        "infrastructure_ready, infrastructure_type, first_value, first_value_basis, outcome_achieved). "
        "A journey is created or updated by account, transaction date and kind. "
        "One invalid row rejects the whole file."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8, comma-, semicolon- or tab-separated, with a header line.")
        parser.add_argument(
            "--columns",
            default="",
            help="Column mapping as product_column=file_column pairs separated by commas, "
            "for example transaction_date=closed_on.",
        )

    def handle(self, *args, **options):
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"File not found: {path}")
        try:
            columns = parse_column_option(options["columns"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        self._path = path
        self._progress_closed = False
        try:
            summary = import_journeys(path, columns=columns, on_progress=self._write_progress)
        except ImportRejected as rejection:
            raise CommandError(
                f"Import rejected, nothing was stored: {rejection.error_count} invalid value(s) in {path}.\n"
                + "\n".join(rejection.lines())
            ) from None
        try:
            self.stdout.write(f"Rows read: {summary['rows_read']}")
            self.stdout.write(
                f"Journeys created: {summary['journeys_created']}, updated: {summary['journeys_updated']}"
            )
            for warning in summary["warnings"]:
                self.stdout.write(f"Warning: {warning}")
        except BrokenPipeError as error:
            # The journeys are stored by now, and the journey pages show them.
            logger.info("journeys import of %s: summary not written, output closed: %s", path, error)

    def _write_progress(self, rows_read: int, bytes_read: int, total_bytes: int) -> None:
        # A closed stream, as when the output goes through `head`, ends the progress lines and not the import.
        if self._progress_closed:
            return
        percent = f" ({100 * bytes_read // total_bytes}% of the file)" if total_bytes else ""
        try:
            self.stderr.write(f"Read {rows_read} rows{percent}")
        except OSError as error:
            self._progress_closed = True
            logger.info("journeys import of %s: progress no longer written, output closed: %s", self._path, error)
