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
        months = []
        for text in options["month"]:
            try:
                months.append(parse_month(text))
            except ValueError as error:
                raise CommandError(f"Invalid month {text!r}: {error}.") from None
        count = recompute_retention(months or None)
        self.stdout.write(f"Recomputed {count} month(s).")
