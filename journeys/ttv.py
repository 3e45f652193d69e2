"""The time-to-value report: per milestone, the journeys, how many reached it, percentiles and Kaplan-Meier median.

Every figure is computed as of a report date. A journey whose transaction is
later than that date is left out, and a milestone completed after it counts as
not reached yet.
"""

import dataclasses
import datetime
import re
from collections.abc import Iterable
from decimal import Decimal

from common.money import percentage

from .models import Journey, Milestone, OverdueMark
from .selectors import DATE_FIELDS, SEGMENT_EXPRESSION, target_days, target_for
from .stats import kaplan_meier, kaplan_meier_median, percentile


class CohortPeriod:
    MONTH = "month"
    QUARTER = "quarter"


def cohort_label(day: datetime.date, period: str) -> str:
    """Return the cohort of a transaction date: YYYY-MM, or YYYY-Qn with calendar quarters."""
    if period == CohortPeriod.QUARTER:
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year:04d}-{day.month:02d}"


# \d also matches digits of other scripts, such as full-width ones, so the label is rebuilt from the numbers.
_COHORT_RE = re.compile(r"(?P<year>\d{4})-(?:Q(?P<quarter>\d)|(?P<month>\d{2}))")


def parse_cohort(text: str) -> tuple[str, str]:
    """Return (period, label) for YYYY-MM or YYYY-Qn, with the label in ASCII digits; raise ValueError otherwise.

    The label is compared with `cohort_label`, so a cohort typed in other digits still selects its journeys.
    """
    text = text.strip().upper()
    match = _COHORT_RE.fullmatch(text)
    if match:
        year = int(match["year"])
        if match["quarter"] is not None and 1 <= int(match["quarter"]) <= 4:
            return CohortPeriod.QUARTER, f"{year:04d}-Q{int(match['quarter'])}"
        if match["month"] is not None and 1 <= int(match["month"]) <= 12:
            return CohortPeriod.MONTH, f"{year:04d}-{int(match['month']):02d}"
    raise ValueError(f"invalid cohort {text!r}: expected YYYY-MM or YYYY-Qn, for example 2024-Q2")


def report_date_problem(as_of: datetime.date, today: datetime.date) -> str | None:
    """Return why `as_of` cannot be a report date, or None when it can.

    A later date would censor open journeys at ages they have not reached and
    count targets that have not passed yet as missed.
    """
    if as_of > today:
        return f"The report date {as_of.isoformat()} is in the future; today is {today.isoformat()}."
    return None


@dataclasses.dataclass(frozen=True)
class ReportFilters:
    as_of: datetime.date
    cohort_period: str = CohortPeriod.QUARTER
    cohort: str = ""
    segment: str | None = None
    tam_id: int | None = None


@dataclasses.dataclass(frozen=True)
class JourneyFacts:
    """The facts of one journey that the report uses."""

    journey_id: int
    transaction_date: datetime.date
    segment: str
    tam_id: int | None
    tam_name: str
    dates: dict[str, datetime.date | None]


@dataclasses.dataclass(frozen=True)
class MilestoneFigures:
    milestone: Milestone
    journeys: int
    reached: int
    median_days: Decimal | None
    p75_days: Decimal | None
    p90_days: Decimal | None
    # Journeys whose target had passed by the report date, and those of them that reached it in time.
    target_passed: int
    within_target: int
    within_target_pct: Decimal | None
    km_median_days: int | None
    # Journeys that the daily job marked overdue for this milestone; counted only for today's report.
    overdue_marked: int | None
    survival: list[tuple[int, float]]

    @property
    def within_target_pct_shown(self) -> Decimal | None:
        """Return the share within target with the one decimal that pages show, rounded once from the counts.

        Rounding `within_target_pct`, which has two decimals, again would turn 1 of 22 (4.545%) into 4.6%.
        """
        return percentage(Decimal(self.within_target), Decimal(self.target_passed), places=1)

    def as_json(self) -> dict:
        def number(value: Decimal | None):
            return None if value is None else float(value)

        return {
            "journeys": self.journeys,
            "reached": self.reached,
            "median_days": number(self.median_days),
            "p75_days": number(self.p75_days),
            "p90_days": number(self.p90_days),
            "within_target_pct": number(self.within_target_pct),
            "km_median_days": self.km_median_days,
        }


@dataclasses.dataclass(frozen=True)
class GroupFigures:
    label: str
    milestones: list[MilestoneFigures]


def journey_facts(filters: ReportFilters) -> list[JourneyFacts]:
    """Return the journeys that the filters select, transacted on or before the report date."""
    journeys = Journey.objects.annotate(segment=SEGMENT_EXPRESSION).filter(transaction_date__lte=filters.as_of)
    if filters.segment is not None:
        journeys = journeys.filter(segment=filters.segment)
    if filters.tam_id is not None:
        journeys = journeys.filter(tam_id=filters.tam_id)
    rows = journeys.order_by("transaction_date", "id").values(
        "id", "transaction_date", "segment", "tam_id", "tam__username", *DATE_FIELDS
    )
    facts = []
    for row in rows.iterator(chunk_size=2000):
        if filters.cohort and cohort_label(row["transaction_date"], filters.cohort_period) != filters.cohort:
            continue
        dates = {}
        for milestone in Milestone:
            day = row[milestone.date_field]
            dates[milestone.value] = day if day is not None and day <= filters.as_of else None
        facts.append(
            JourneyFacts(
                journey_id=row["id"],
                transaction_date=row["transaction_date"],
                segment=row["segment"] or "",
                tam_id=row["tam_id"],
                tam_name=row["tam__username"] or "No TAM",
                dates=dates,
            )
        )
    return facts


def milestone_figures(
    facts: Iterable[JourneyFacts],
    milestone: Milestone,
    as_of: datetime.date,
    targets: dict[tuple[str, str], int],
    overdue_ids: set[int] | None = None,
) -> MilestoneFigures:
    """Compute one milestone's figures over `facts` as of `as_of`."""
    observations = []
    reached_days = []
    target_passed = within = 0
    overdue_marked = 0 if overdue_ids is not None else None
    for fact in facts:
        day = fact.dates[milestone.value]
        age = (as_of - fact.transaction_date).days
        target = target_for(targets, milestone, fact.segment)
        if day is not None:
            days = (day - fact.transaction_date).days
            reached_days.append(days)
            observations.append((days, True))
        else:
            observations.append((age, False))
        if age > target:
            target_passed += 1
            if day is not None and (day - fact.transaction_date).days <= target:
                within += 1
        if overdue_ids is not None and fact.journey_id in overdue_ids:
            overdue_marked += 1
    survival = [(0, 1.0)] + [(step.days, float(step.survival)) for step in kaplan_meier(observations)]
    # The curve runs on flat to the longest follow-up, so the chart shows how far the data reaches.
    longest = max((days for days, _ in observations), default=0)
    if longest > survival[-1][0]:
        survival.append((longest, survival[-1][1]))
    return MilestoneFigures(
        milestone=milestone,
        journeys=len(observations),
        reached=len(reached_days),
        median_days=percentile(reached_days, 50),
        p75_days=percentile(reached_days, 75),
        p90_days=percentile(reached_days, 90),
        target_passed=target_passed,
        within_target=within,
        within_target_pct=percentage(Decimal(within), Decimal(target_passed)),
        km_median_days=kaplan_meier_median(observations),
        overdue_marked=overdue_marked,
        survival=survival,
    )


def _overdue_ids(today: datetime.date, as_of: datetime.date) -> dict[str, set[int]] | None:
    if as_of != today:
        return None
    ids: dict[str, set[int]] = {milestone.value: set() for milestone in Milestone}
    for journey_id, milestone in OverdueMark.objects.values_list("journey_id", "milestone"):
        ids[milestone].add(journey_id)
    return ids


def all_milestones(
    facts: list[JourneyFacts], as_of: datetime.date, targets, overdue: dict[str, set[int]] | None
) -> list[MilestoneFigures]:
    return [
        milestone_figures(facts, milestone, as_of, targets, None if overdue is None else overdue[milestone.value])
        for milestone in Milestone
    ]


# The chart's day axis runs at least this many days past the last milestone reached.
CHART_TAIL_MIN_DAYS = 30


def longest_follow_up(overall: list[MilestoneFigures]) -> int:
    """Return the day on which the longest curve of `overall` ends: the longest follow-up of any journey."""
    return max((figures.survival[-1][0] for figures in overall), default=0)


def chart_end_day(overall: list[MilestoneFigures]) -> int | None:
    """Return the last day that the time-to-value chart shows, or None when it shows the whole follow-up.

    Each curve runs on flat to the longest follow-up, and one journey left
    open for years, or entered with a mistyped transaction date, would squeeze
    every drop into the first sliver of the axis. The axis therefore stops a
    quarter past the last milestone reached, and at least
    CHART_TAIL_MIN_DAYS days past it. With no milestone reached it shows the
    whole follow-up.
    """
    drops = [
        days
        for figures in overall
        for (days, share), (_, before) in zip(figures.survival[1:], figures.survival, strict=False)
        if share < before
    ]
    if not drops:
        return None
    last_drop = max(drops)
    end = last_drop + max(CHART_TAIL_MIN_DAYS, -(-last_drop // 4))
    return end if longest_follow_up(overall) > end else None


@dataclasses.dataclass(frozen=True)
class Report:
    filters: ReportFilters
    journeys: int
    overall: list[MilestoneFigures]
    groups: list[GroupFigures]
    marks_read: bool


def ttv_report(filters: ReportFilters, today: datetime.date, group_by: str = "cohort") -> Report:
    """Compute the report over the filtered journeys, and again for each cohort, segment or TAM.

    `group_by` is "cohort", "segment" or "tam". Overdue marks are read only when
    the report date is today, because they describe today.
    """
    facts = journey_facts(filters)
    targets = target_days()
    overdue = _overdue_ids(today, filters.as_of)
    groups: dict[str, list[JourneyFacts]] = {}
    for fact in facts:
        if group_by == "segment":
            key = fact.segment or "No segment"
        elif group_by == "tam":
            key = fact.tam_name
        else:
            key = cohort_label(fact.transaction_date, filters.cohort_period)
        groups.setdefault(key, []).append(fact)
    return Report(
        filters=filters,
        journeys=len(facts),
        overall=all_milestones(facts, filters.as_of, targets, overdue),
        groups=[
            GroupFigures(label, all_milestones(members, filters.as_of, targets, overdue))
            for label, members in sorted(groups.items())
        ],
        marks_read=overdue is not None,
    )


def export_figures(filters: ReportFilters) -> dict[str, dict]:
    """Return {milestone name: figures} as export_ttv prints them."""
    facts = journey_facts(filters)
    targets = target_days()
    return {
        milestone.value: milestone_figures(facts, milestone, filters.as_of, targets).as_json()
        for milestone in Milestone
    }
