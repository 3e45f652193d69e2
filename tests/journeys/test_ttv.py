"""export_ttv and the report CSV on journeys worked by hand, as of 2024-06-30."""

import csv
import datetime
import io
import json
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.template.loader import render_to_string

from accounts.models import Segment
from journeys.models import Milestone
from journeys.tasks import mark_overdue_milestones
from journeys.ttv import MilestoneFigures, ReportFilters, chart_end_day, cohort_label, ttv_report
from tests.factories import AccountFactory, UserFactory
from tests.journeys.clock import NOW

from .factories import JourneyFactory

D = datetime.date
pytestmark = pytest.mark.django_db


def _journey(transaction_date, segment=Segment.SMB, **dates):
    return JourneyFactory(account=AccountFactory(segment=segment), transaction_date=transaction_date, **dates)


@pytest.fixture
def book():
    """SMB kickoffs after 4, 10 and 20 days; two open journeys aged 5 and 121 days; one Large; one after as-of."""
    _journey(D(2024, 1, 1), kickoff_date=D(2024, 1, 5))
    _journey(D(2024, 1, 1), kickoff_date=D(2024, 1, 21))
    _journey(D(2024, 2, 1), kickoff_date=D(2024, 2, 11))
    _journey(D(2024, 6, 25))
    _journey(D(2024, 3, 1))
    _journey(D(2024, 1, 1), segment=Segment.LARGE, kickoff_date=D(2024, 1, 2))
    _journey(D(2024, 7, 10))


def _export(*args):
    out = io.StringIO()
    call_command("export_ttv", *args, stdout=out)
    return json.loads(out.getvalue())


def test_export_kickoff_figures(book):
    figures = _export("--as-of", "2024-06-30", "--segment", "SMB", "--format", "json")

    assert list(figures) == ["kickoff", "onboarding", "infrastructure_ready", "first_value", "outcome_achieved"]
    # Reached: 4, 10, 20. Target 14 passed for four journeys (not the one aged 5), two within it.
    # Kaplan-Meier: S(4) = 4/5, S(10) = 4/5 * 2/3 = 8/15, S(20) = 8/15 * 1/2 = 4/15.
    assert figures["kickoff"] == {
        "journeys": 5,
        "reached": 3,
        "median_days": 10.0,
        "p75_days": 15.0,
        "p90_days": 18.0,
        "within_target_pct": 50.0,
        "km_median_days": 20,
    }


def test_export_unreached_milestone_nulls(book):
    figures = _export("--as-of", "2024-06-30", "--segment", "SMB")

    assert figures["onboarding"] == {
        "journeys": 5,
        "reached": 0,
        "median_days": None,
        "p75_days": None,
        "p90_days": None,
        "within_target_pct": 0.0,
        "km_median_days": None,
    }


def test_export_cohort_quarter(book):
    figures = _export("--as-of", "2024-06-30", "--segment", "SMB", "--cohort", "2024-Q1")

    # The journey of 2024-06-25 is in Q2. Kaplan-Meier: S(4) = 3/4, S(10) = 3/4 * 2/3 = 1/2.
    assert figures["kickoff"]["journeys"] == 4
    assert figures["kickoff"]["km_median_days"] == 10
    assert figures["kickoff"]["within_target_pct"] == 50.0


def test_export_all_segments_includes_large(book):
    figures = _export("--as-of", "2024-06-30")

    assert figures["kickoff"]["journeys"] == 6
    assert figures["kickoff"]["reached"] == 4


def test_export_ignores_dates_after_as_of(book):
    figures = _export("--as-of", "2024-01-10", "--segment", "SMB")

    # Only the two journeys of 2024-01-01 exist; the kickoff on 2024-01-21 is still ahead.
    assert figures["kickoff"]["journeys"] == 2
    assert figures["kickoff"]["reached"] == 1
    assert figures["kickoff"]["within_target_pct"] is None
    assert figures["kickoff"]["km_median_days"] == 4


def test_export_without_journeys_nulls():
    figures = _export("--as-of", "2024-06-30")

    assert figures["first_value"]["journeys"] == 0
    assert figures["first_value"]["within_target_pct"] is None
    assert figures["first_value"]["km_median_days"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "30/06/2024"], "expected YYYY-MM-DD"),
        (["--as-of", "2024-06-30", "--segment", "Enterprise"], "expected Large, Mid-Market or SMB"),
        (["--as-of", "2024-06-30", "--cohort", "2024-Q5"], "expected YYYY-MM or YYYY-Qn"),
    ],
)
def test_export_rejects_bad_options(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_ttv", *args)


def test_cohort_labels():
    assert cohort_label(D(2024, 3, 31), "quarter") == "2024-Q1"
    assert cohort_label(D(2024, 4, 1), "quarter") == "2024-Q2"
    assert cohort_label(D(2024, 12, 31), "month") == "2024-12"


def test_report_groups_by_tam_and_escapes_csv(book, client, manager):
    formula = UserFactory(username="=cmd|calc")
    _journey(D(2024, 2, 1))
    JourneyFactory(account=AccountFactory(tam=formula), transaction_date=D(2024, 2, 1))
    # A TAM whose username is the overall rows' group name.
    JourneyFactory(account=AccountFactory(tam=UserFactory(username="all")), transaction_date=D(2024, 2, 1))
    client.force_login(manager)

    with time_machine.travel(NOW, tick=False):
        response = client.get("/journeys/report.csv", {"group_by": "tam", "segment": "SMB"})

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    groups = {(row["group_by"], row["group"]) for row in rows}
    assert groups == {("all", "all"), ("tam", "No TAM"), ("tam", "'=cmd|calc"), ("tam", "all")}
    kickoffs = {row["group_by"]: row for row in rows if row["group"] == "all" and row["milestone"] == "kickoff"}
    overall_kickoff = kickoffs["all"]
    assert overall_kickoff["journeys"] == "8"
    assert kickoffs["tam"]["journeys"] == "1"
    assert overall_kickoff["as_of"] == "2024-06-30"


def test_report_reads_marks_only_for_today(book):
    with time_machine.travel(NOW, tick=False):
        mark_overdue_milestones()
        today = ttv_report(ReportFilters(as_of=D(2024, 6, 30)), D(2024, 6, 30))
        earlier = ttv_report(ReportFilters(as_of=D(2024, 5, 31)), D(2024, 6, 30))

    kickoff = today.overall[0]
    # The SMB journey of 2024-03-01 has no kickoff; the one of 2024-06-25 is within its 14 days.
    assert kickoff.overdue_marked == 1
    assert today.marks_read is True
    assert earlier.overall[0].overdue_marked is None


def test_export_rejects_future_report_date(book):
    with time_machine.travel(NOW, tick=False), pytest.raises(CommandError) as raised:
        call_command("export_ttv", "--as-of", "2024-07-01")

    assert str(raised.value) == "Invalid --as-of: The report date 2024-07-01 is in the future; today is 2024-06-30."


def test_report_page_rejects_future_report_date(book, client, manager):
    client.force_login(manager)

    with time_machine.travel(NOW, tick=False):
        response = client.get("/journeys/report/", {"as_of": "2024-07-31", "segment": "SMB"})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["as_of"] == ["The report date 2024-07-31 is in the future; today is 2024-06-30."]
    report = response.context["report"]
    assert report.filters.as_of == D(2024, 6, 30)
    assert report.filters.segment == "SMB"
    # As of 2024-07-31 the open journey of 2024-06-25 would count as past its 14 days: 2 of 5, not 2 of 4.
    assert report.overall[0].within_target_pct == 50


def test_report_page_keeps_valid_filters_beside_invalid(book, client, manager):
    client.force_login(manager)

    with time_machine.travel(NOW, tick=False):
        response = client.get("/journeys/report/", {"as_of": "2024-01-10", "cohort": "2024-13"})

    assert "cohort" in response.context["form"].errors
    report = response.context["report"]
    assert report.filters.as_of == D(2024, 1, 10)
    assert report.filters.cohort == ""
    assert "as of 2024-01-10" in response.content.decode()


@pytest.mark.parametrize("cohort", ["\u0662\u0660\u0662\u0664-Q1", "\uff12\uff10\uff12\uff14-Q1", "2024-q1"])
def test_report_page_cohort_in_other_digits(book, client, manager, cohort):
    client.force_login(manager)

    with time_machine.travel(NOW, tick=False):
        response = client.get("/journeys/report/", {"as_of": "2024-06-30", "cohort": cohort})

    report = response.context["report"]
    assert response.context["form"].errors == {}
    assert report.filters.cohort == "2024-Q1"
    assert report.journeys == 5


def test_report_page_rounds_within_target_once(client, manager):
    # 1 of 22 is 4.5454...%: rounded to 4.55 first and then to one decimal it would show 4.6%.
    _journey(D(2024, 1, 1), kickoff_date=D(2024, 1, 5))
    for _ in range(21):
        _journey(D(2024, 1, 1))
    client.force_login(manager)

    with time_machine.travel(NOW, tick=False):
        response = client.get("/journeys/report/", {"as_of": "2024-06-30"})

    kickoff = response.context["report"].overall[0]
    assert (kickoff.within_target, kickoff.target_passed) == (1, 22)
    html = response.content.decode()
    row = html[html.index('<tr data-milestone="kickoff">') :]
    row = row[: row.index("</tr>")]
    assert "4.5% " in row
    assert "4.6%" not in row


def test_report_csv_rejects_future_report_date(book, client, manager):
    client.force_login(manager)

    with time_machine.travel(NOW, tick=False):
        response = client.get("/journeys/report.csv", {"as_of": "2024-07-31"})

    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in response
    assert response.content.decode() == (
        "Invalid filters, so no file was made. "
        "as_of: The report date 2024-07-31 is in the future; today is 2024-06-30.\n"
    )


def _overall(*journeys):
    for transaction_date, dates in journeys:
        _journey(transaction_date, **dates)
    return ttv_report(ReportFilters(as_of=D(2024, 6, 30)), D(2024, 6, 30)).overall


def test_chart_stops_past_last_milestone():
    # Kickoffs on days 10 and 200, and one journey open since 1990: the axis stops a quarter past day 200.
    start = D(2023, 6, 1)
    overall = _overall(
        (start, {"kickoff_date": start + datetime.timedelta(days=10)}),
        (start, {"kickoff_date": start + datetime.timedelta(days=200)}),
        (D(1990, 1, 1), {}),
    )

    assert chart_end_day(overall) == 250


def test_chart_tail_at_least_thirty_days():
    overall = _overall((D(2024, 1, 1), {"kickoff_date": D(2024, 1, 9)}), (D(2023, 1, 1), {}))

    assert chart_end_day(overall) == 8 + 30


def test_chart_whole_when_follow_up_short():
    # The open journey's 60 days end before day 30 + 30.
    overall = _overall((D(2024, 5, 1), {"kickoff_date": D(2024, 5, 31)}), (D(2024, 5, 1), {}))

    assert chart_end_day(overall) is None


def test_chart_whole_without_milestone_reached():
    overall = _overall((D(1990, 1, 1), {}))

    assert chart_end_day(overall) is None


def test_report_page_names_chart_end(client, manager):
    _journey(D(2024, 1, 1), kickoff_date=D(2024, 1, 11))
    _journey(D(1990, 1, 1))
    client.force_login(manager)

    with time_machine.travel(NOW):
        response = client.get("/journeys/report/", {"as_of": "2024-06-30"})

    assert response.context["chart"]["end_day"] == 40
    assert "The chart stops at day 40" in response.text
    assert f"up to {(D(2024, 6, 30) - D(1990, 1, 1)).days:,} days" in response.text


def test_figures_table_groups_digits_of_counts():
    figures = MilestoneFigures(
        milestone=Milestone.KICKOFF,
        journeys=1_250_000,
        reached=1_000,
        median_days=Decimal("12"),
        p75_days=Decimal("20"),
        p90_days=Decimal("31"),
        target_passed=1_200,
        within_target=999,
        within_target_pct=Decimal("83.25"),
        km_median_days=12,
        overdue_marked=2_500,
        survival=[(0, 1.0)],
    )

    page = render_to_string("journeys/_figures.html", {"rows": [figures], "table_id": "", "marks_read": True})

    cells = re.findall(r'<td class="num">(.*?)</td>', page)
    assert cells[0] == "1,250,000"
    assert cells[1] == "1,000"
    assert "(999/1,200)" in cells[5]
    assert cells[6] == "2,500"
