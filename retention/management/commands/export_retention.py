import csv
import json

from django.core.management.base import BaseCommand, CommandError

from common.money import format_money, format_percentage
from common.months import format_month, parse_month
from retention.models import Level, SegmentKey
from retention.page_forms import COMMERCIAL
from retention.reason_selectors import reason_breakdown
from retention.selectors import stored_result
from retention.span import data_span

FIELDS = ["month", "level", "segment", "customers", "a", "b", "c", "gross_pct", "net_pct"]


class Command(BaseCommand):
    help = "Print the stored retention figures of one month as JSON or CSV."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, metavar="YYYY-MM", help="Month of B.")
        parser.add_argument("--level", choices=[level.value for level in Level], default=Level.PARENT.value)
        parser.add_argument(
            "--segment", choices=[*(segment.value for segment in SegmentKey), COMMERCIAL], default=SegmentKey.ALL.value
        )
        parser.add_argument("--format", choices=["json", "csv"], default="json")

    def handle(self, *args, **options):
        try:
            month = parse_month(options["month"])
        except ValueError as error:
            raise CommandError(f"Invalid month {options['month']!r}: {error}.") from None
        result = stored_result(month, options["level"], options["segment"])
        if result is None:
            span = data_span()
            if span and month in span:
                raise CommandError(
                    f"Retention for {format_month(month)} has not been computed yet: run recompute_retention."
                )
            raise CommandError(f"No MRR data was imported for {format_month(month)}.")
        row = {
            "month": format_month(result.month),
            "level": result.level,
            "segment": result.segment,
            "customers": result.customers,
            "a": format_money(result.a),
            "b": format_money(result.b),
            "c": format_money(result.c),
            "gross_pct": format_percentage(result.gross_pct),
            "net_pct": format_percentage(result.net_pct),
        }
        if options["format"] == "json":
            breakdown = reason_breakdown(None, month, options["level"], options["segment"], places=2)
            row["churn"] = _reasons_json(breakdown.churn)
            row["expansion"] = _reasons_json(breakdown.expansion)
            self.stdout.write(json.dumps(row, indent=2))
        else:
            writer = csv.DictWriter(self.stdout, fieldnames=FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerow({key: "" if value is None else value for key, value in row.items()})


def _reasons_json(figures) -> dict:
    """Map each reason's name to its amount and its share of the category; empty for an empty category."""
    return {
        figure.reason.label: {"mrr": format_money(figure.amount), "pct": format_percentage(figure.share)}
        for figure in figures
    }
