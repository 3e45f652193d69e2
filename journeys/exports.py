"""The time-to-value report as CSV. Numbers use a dot and no grouping; text cells cannot start a formula."""

import csv

from common.csvexport import escape_text_cell
from common.money import format_percentage

from .ttv import MilestoneFigures, Report

REPORT_COLUMNS = [
    "as_of",
    "group_by",
    "group",
    "milestone",
    "journeys",
    "reached",
    "median_days",
    "p75_days",
    "p90_days",
    "target_passed",
    "within_target",
    "within_target_pct",
    "km_median_days",
]


def _number(value) -> str:
    return "" if value is None else str(value)


def _row(as_of: str, group_by: str, group: str, figures: MilestoneFigures) -> list[str]:
    return [
        as_of,
        group_by,
        escape_text_cell(group),
        figures.milestone.value,
        str(figures.journeys),
        str(figures.reached),
        _number(figures.median_days),
        _number(figures.p75_days),
        _number(figures.p90_days),
        str(figures.target_passed),
        str(figures.within_target),
        format_percentage(figures.within_target_pct) or "",
        _number(figures.km_median_days),
    ]


def write_report(out, report: Report, group_by: str) -> None:
    """Write the report's overall rows and then each group's, with an empty cell where there is no data.

    The overall rows have "all" as both group_by and group, so that a TAM
    whose username is "all" still reads as a group of its own.
    """
    as_of = report.filters.as_of.isoformat()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for figures in report.overall:
        writer.writerow(_row(as_of, "all", "all", figures))
    for group in report.groups:
        for figures in group.milestones:
            writer.writerow(_row(as_of, group_by, group.label, figures))
