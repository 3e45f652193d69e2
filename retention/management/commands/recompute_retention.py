from django.core.management.base import BaseCommand, CommandError

from common.months import parse_month
from retention.engine import recompute_retention


class Command(BaseCommand):
    help = "Recompute stored retention now, for the given months or for the whole data span."

    def add_arguments(self, parser):
        parser.add_argument(
            "--month", action="append", default=[], metavar="YYYY-MM", help="Month to recompute; repeat for more."
        )

    def handle(self, *args, **options):
        try:
            months = [parse_month(text) for text in options["month"]] or None
        except ValueError as error:
            raise CommandError(str(error)) from error
        count = recompute_retention(months)
        self.stdout.write(f"Recomputed {count} month(s).")
