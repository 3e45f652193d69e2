import os

from django.core.management.base import BaseCommand, CommandError

from common.csvimport import ImportRejected, parse_column_option
from services_cost.importing import import_cost_rates


class Command(BaseCommand):
    help = (
        "Create or update standard cost rates from a CSV file with the columns role, fiscal_quarter (e.g. FY2027-Q1), "
        "ote, benefits and billable_hours. Roles must exist. One invalid row rejects the whole file."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8, comma-, semicolon- or tab-separated, with a header line.")
        parser.add_argument(
            "--columns",
            default="",
            help="Column mapping as product_column=file_column pairs separated by commas, for example ote=salary.",
        )

    def handle(self, *args, **options):
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"File not found: {path}")
        try:
            columns = parse_column_option(options["columns"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        try:
            summary = import_cost_rates(path, columns=columns)
        except ImportRejected as rejection:
            raise CommandError(
                f"Import rejected, nothing was stored: {rejection.error_count} invalid value(s) in {path}.\n"
                + "\n".join(
                    f"line {error.line}, column {error.column or '-'}, value {error.value!r}: {error.reason}"
                    for error in rejection.errors
                )
                + (
                    f"\nand {rejection.error_count - len(rejection.errors)} more"
                    if rejection.error_count > len(rejection.errors)
                    else ""
                )
            ) from None
        self.stdout.write(f"Rows read: {summary['rows_read']}")
        self.stdout.write(
            f"Rates created: {summary['rates_created']}, updated: {summary['rates_updated']}, "
            f"unchanged: {summary['rates_unchanged']}"
        )
