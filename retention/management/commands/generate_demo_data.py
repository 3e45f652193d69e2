from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.months import add_months, first_of_month, parse_month
from retention.synthetic import generate


class Command(BaseCommand):
    help = (
        "Write a deterministic synthetic customer base as accounts.csv and mrr.csv, "
        "ready for import_accounts and import_mrr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--parents", type=int, default=1000, help="Number of parent accounts.")
        parser.add_argument("--months", type=int, default=36, help="Number of months of MRR lines.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed; the same seed writes the same files.")
        parser.add_argument(
            "--last-month",
            default="",
            metavar="YYYY-MM",
            help="Last month of the lines; the previous month by default.",
        )
        parser.add_argument("--output", default="synthetic", help="Folder for the two files.")

    def handle(self, *args, **options):
        if options["parents"] < 1 or options["months"] < 1:
            raise CommandError("--parents and --months must be at least 1.")
        if options["last_month"]:
            try:
                last_month = parse_month(options["last_month"])
            except ValueError as error:
                raise CommandError(f"Invalid --last-month {options['last_month']!r}: {error}.") from None
        else:
            last_month = add_months(first_of_month(timezone.now().date()), -1)
        directory = Path(options["output"])
        counts = generate(directory, options["parents"], options["months"], options["seed"], last_month)
        self.stdout.write(
            f"Wrote {counts['accounts']} accounts, {counts['subscriptions']} subscriptions and "
            f"{counts['lines']} MRR lines to {directory}/accounts.csv and {directory}/mrr.csv"
        )
