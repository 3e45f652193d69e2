import datetime
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Segment
from journeys.ttv import CohortPeriod, ReportFilters, export_figures, parse_cohort, report_date_problem

SEGMENTS = {segment.value.casefold(): segment.value for segment in Segment}


class Command(BaseCommand):
    help = (
        "Print time-to-value per milestone as of a date: journeys, reached, median_days, p75_days, p90_days, "
        "within_target_pct and km_median_days (null where not reached or without data)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", required=True, help="Report date, YYYY-MM-DD.")
        parser.add_argument("--segment", help="Large, Mid-Market or SMB; the segment of the ultimate parent.")
        parser.add_argument("--cohort", help="Transactions of one quarter (YYYY-Qn) or month (YYYY-MM).")
        parser.add_argument("--format", choices=["json"], default="json", help="Output format; only json.")

    def handle(self, *args, **options):
        try:
            as_of = datetime.date.fromisoformat(options["as_of"])
        except ValueError:
            raise CommandError(f"Invalid --as-of {options['as_of']!r}: expected YYYY-MM-DD.") from None
        problem = report_date_problem(as_of, timezone.localdate())
        if problem:
            raise CommandError(f"Invalid --as-of: {problem}")
        segment = None
        if options["segment"]:
            segment = SEGMENTS.get(options["segment"].casefold())
            if segment is None:
                raise CommandError(f"Invalid --segment {options['segment']!r}: expected Large, Mid-Market or SMB.")
        period, cohort = CohortPeriod.QUARTER, ""
        if options["cohort"]:
            try:
                period, cohort = parse_cohort(options["cohort"])
            except ValueError as error:
                raise CommandError(str(error)) from None
        filters = ReportFilters(as_of=as_of, cohort_period=period, cohort=cohort, segment=segment)
        self.stdout.write(json.dumps(export_figures(filters), indent=2))
