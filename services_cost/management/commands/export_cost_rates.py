import csv
import json

from django.core.management.base import BaseCommand, CommandError

from common.fiscal import parse_quarter
from services_cost.importing import export_rates

CSV_COLUMNS = ["role", "fiscal_quarter", "ote", "benefits", "billable_hours", "hourly_cost"]


class Command(BaseCommand):
    help = (
        "Print the standard cost rates of one fiscal quarter, one per role: ote, benefits, billable_hours and "
        "hourly_cost, with amounts as decimal strings. The CSV format can be read back by import_cost_rates."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quarter", required=True, help="Fiscal quarter such as FY2027-Q1.")
        parser.add_argument("--format", choices=["json", "csv"], default="json", help="Output format (default json).")

    def handle(self, *args, **options):
        try:
            quarter = parse_quarter(options["quarter"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        rates = export_rates(quarter)
        if not rates:
            raise CommandError(f"No standard cost rates in {quarter}.")
        if options["format"] == "json":
            self.stdout.write(json.dumps(rates, indent=2))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rates)
