"""The retention overview, the month detail page and its CSV, read as a manager."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from accounts.models import Account, Segment
from accounts.roles import Role
from common.months import parse_month
from retention.engine import recompute_retention
from retention.models import ChargeType, MrrLine
from retention.page_forms import OverviewFilterForm
from tests.factories import UserFactory

from .builders import add_lines, make_account

OVERVIEW = reverse("retention:overview")


def overview_rows(response):
    """Return every month the overview covers, including a leading run without a cohort, as {YYYY-MM: figures}."""
    return {figures.month.strftime("%Y-%m"): figures for figures in response.context["overview"].figures}


def table_months(response):
    """Return the months that have their own row in the overview table."""
    return [figures.month.strftime("%Y-%m") for figures, _url in response.context["rows"]]


def chart_from_html(response):
    """Read the chart data the way the script does: from the json_script element."""
    html = response.content.decode()
    start = html.index('<script id="retention-chart-data" type="application/json">')
    start = html.index(">", start) + 1
    end = html.index("</script>", start)
    return json.loads(html[start:end])


def page_customers(response):
    """Return the external ids of the customers on the month page's current table page."""
    return [row.record.account.external_id for row in response.context["table"].paginated_rows]


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def worked_example(db):
    """X had 50 and has 100, Y had 125 and has 100: gross 150/175 = 85.7%, net 200/175 = 114.3%."""
    add_lines(
        [
            ("2023-06", "X", "SUB-X", "Premium", 5, "50.00", "recurring"),
            ("2024-06", "X", "SUB-X", "Premium", 10, "100.00", "recurring"),
            ("2023-06", "Y", "SUB-Y", "Premium", 5, "125.00", "recurring"),
            ("2024-06", "Y", "SUB-Y", "Premium", 4, "100.00", "recurring"),
        ]
    )
    recompute_retention(None)


@pytest.fixture
def filter_accounts(db):
    """ACC-F1 (Mid-Market) went from 100 to 80, ACC-F2 (SMB) from 50 to 60, between 2023-01 and 2024-01."""
    make_account("ACC-F1", segment=Segment.MID_MARKET, name="Filter One")
    make_account("ACC-F2", segment=Segment.SMB, name="Filter Two")
    add_lines(
        [
            ("2023-01", "ACC-F1", "SUB-F1", "Premium", 10, "100.00", "recurring"),
            ("2024-01", "ACC-F1", "SUB-F1", "Premium", 8, "80.00", "recurring"),
            ("2023-01", "ACC-F2", "SUB-F2", "Premium", 5, "50.00", "recurring"),
            ("2024-01", "ACC-F2", "SUB-F2", "Premium", 6, "60.00", "recurring"),
        ]
    )
    recompute_retention(None)


# Overview


def test_overview_shows_worked_example(manager_client, worked_example):
    response = manager_client.get(OVERVIEW)

    assert response.status_code == 200
    rows = overview_rows(response)
    assert list(rows) == [
        f"{year}-{month:02d}" for year, month in [(2023, m) for m in range(6, 13)] + [(2024, m) for m in range(1, 7)]
    ]
    june = rows["2024-06"]
    assert june.customers == 2
    assert june.a == Decimal("175.00")
    assert june.b == Decimal("200.00")
    assert june.c == Decimal("150.00")
    assert june.gross_pct == Decimal("85.7")
    assert june.net_pct == Decimal("114.3")
    assert "85.7%" in response.content.decode()
    assert "114.3%" in response.content.decode()


def test_overview_months_without_cohort_show_na(manager_client, worked_example):
    response = manager_client.get(OVERVIEW)

    rows = overview_rows(response)
    assert rows["2023-06"].customers == 0
    assert rows["2023-06"].gross_pct is None
    assert rows["2023-06"].net_pct is None
    assert table_months(response) == ["2024-06"]
    html = response.content.decode()
    start = html.index('<tr class="text-secondary" id="months-without-cohort">')
    row_html = html[start : html.index("</tr>", start)]
    assert "2023-06 to 2024-05" in row_html
    assert row_html.count("n/a") == 2
    assert "0.0%" not in row_html
    assert "100.0%" not in row_html


def test_overview_month_without_cohort_inside_span_is_na(manager_client, db):
    add_lines(
        [
            ("2023-01", "ACC-M1", "SUB-M1", "Premium", 1, "100.00", "recurring"),
            ("2024-01", "ACC-M1", "SUB-M1", "Premium", 1, "100.00", "recurring"),
        ],
        cover=["2024-03"],
    )
    recompute_retention(None)

    response = manager_client.get(OVERVIEW)

    assert table_months(response) == ["2024-01", "2024-02", "2024-03"]
    chart = chart_from_html(response)
    assert chart["gross"] == ["100.0", None, None]
    assert chart["net"] == ["100.0", None, None]
    html = response.content.decode()
    start = html.index('<tr data-month="2024-02">')
    row_html = html[start : html.index("</tr>", start)]
    assert row_html.count("n/a") == 2
    assert "0.0%" not in row_html
    assert "100.0%" not in row_html


def test_overview_chart_data_is_embedded_as_json(manager_client, worked_example):
    response = manager_client.get(OVERVIEW, {"level": "account", "segment": "SMB"})

    chart = chart_from_html(response)
    assert chart["labels"] == ["2024-06"]
    assert chart["gross"] == ["85.7"]
    assert chart["net"] == ["114.3"]
    assert chart["targets"] == {"gross": "90", "net": "180", "industry_gross": "92"}
    assert chart["links"][-1] == "/retention/2024-06/?level=account&segment=SMB"


def test_overview_month_links_keep_level_and_segment(manager_client, worked_example):
    response = manager_client.get(OVERVIEW, {"level": "subscription", "segment": "Commercial"})

    assert 'href="/retention/2024-06/?level=subscription&amp;segment=Commercial"' in response.content.decode()


def test_overview_month_range_keeps_baseline_year(manager_client, filter_accounts):
    response = manager_client.get(OVERVIEW, {"month_from": "2024-01", "month_to": "2024-06"})

    rows = overview_rows(response)
    assert list(rows) == ["2024-01"]
    january = rows["2024-01"]
    assert january.customers == 2
    assert january.a == Decimal("150.00")
    assert january.b == Decimal("140.00")
    assert january.c == Decimal("130.00")
    assert january.gross_pct == Decimal("86.7")
    assert january.net_pct == Decimal("93.3")
    assert chart_from_html(response)["labels"] == ["2024-01"]


def test_overview_range_past_span_no_data(manager_client, filter_accounts):
    response = manager_client.get(OVERVIEW, {"month_from": "2024-01", "month_to": "2024-06"})

    assert response.context["overview"].months_without_data == [(parse_month("2024-02"), parse_month("2024-06"))]
    html = response.content.decode()
    assert "No data for 2024-02 to 2024-06" in html
    assert '<tr data-month="2024-02">' not in html


def test_overview_range_outside_span_no_data(manager_client, filter_accounts):
    response = manager_client.get(OVERVIEW, {"month_from": "2025-01", "month_to": "2025-03"})

    assert overview_rows(response) == {}
    html = response.content.decode()
    assert 'id="no-data"' in html
    assert "No data for 2025-01 to 2025-03" in html
    assert "retention-chart-data" not in html


@pytest.mark.parametrize("query", [{"month_to": "2022-06"}, {"month_from": "2025-01"}], ids=["before", "after"])
def test_overview_open_range_outside_span_names_span(manager_client, filter_accounts, query):
    response = manager_client.get(OVERVIEW, query)

    assert overview_rows(response) == {}
    html = response.content.decode()
    assert 'id="no-data"' in html
    assert "imports cover 2023-01 to 2024-01" in html


def test_overview_segment_filter_mid_market(manager_client, filter_accounts):
    response = manager_client.get(OVERVIEW, {"segment": "Mid-Market", "month_from": "2024-01"})

    january = overview_rows(response)["2024-01"]
    assert january.customers == 1
    assert january.gross_pct == Decimal("80.0")
    assert january.net_pct == Decimal("80.0")


def test_overview_commercial_sums_amounts_not_percentages(manager_client, filter_accounts):
    make_account("ACC-L1", segment=Segment.LARGE)
    add_lines(
        [
            ("2023-01", "ACC-L1", "SUB-L1", "Premium", 1, "1000.00", "recurring"),
            ("2024-01", "ACC-L1", "SUB-L1", "Premium", 1, "1000.00", "recurring"),
        ]
    )
    recompute_retention(None)

    response = manager_client.get(OVERVIEW, {"segment": "Commercial", "month_from": "2024-01"})

    january = overview_rows(response)["2024-01"]
    assert january.customers == 2
    assert january.a == Decimal("150.00")
    assert january.b == Decimal("140.00")
    assert january.c == Decimal("130.00")
    # The mean of 80.0% and 120.0% would be 100.0%.
    assert january.gross_pct == Decimal("86.7")
    assert january.net_pct == Decimal("93.3")


def test_overview_level_selector_changes_figures(manager_client, db):
    make_account("00123", segment=Segment.LARGE, name="Globex Holding")
    make_account("00456", parent=Account.objects.get(external_id="00123"), segment=Segment.LARGE, name="Globex EU")
    add_lines(
        [
            ("2023-06", "00123", "SUB-0008", "Premium", 5, "250.00", "recurring"),
            ("2023-06", "00456", "SUB-0009", "Premium", 10, "500.00", "recurring"),
            ("2024-06", "00456", "SUB-0009", "Premium", 12, "600.00", "recurring"),
        ]
    )
    recompute_retention(None)

    parent = overview_rows(manager_client.get(OVERVIEW))["2024-06"]
    account = overview_rows(manager_client.get(OVERVIEW, {"level": "account"}))["2024-06"]

    assert (parent.customers, parent.gross_pct, parent.net_pct) == (1, Decimal("80.0"), Decimal("80.0"))
    assert (account.customers, account.gross_pct, account.net_pct) == (2, Decimal("66.7"), Decimal("80.0"))


def test_overview_month_where_everyone_left_is_zero(manager_client, db):
    add_lines([("2023-06", "GONE", "SUB-G", "Premium", 1, "100.00", "recurring")], cover=["2024-06"])
    recompute_retention(None)

    june = overview_rows(manager_client.get(OVERVIEW))["2024-06"]

    assert june.customers == 1
    assert june.gross_pct == Decimal("0.0")
    assert june.net_pct == Decimal("0.0")


def test_overview_month_not_imported_is_not_drawn(manager_client, db):
    add_lines(
        [
            ("2023-06", "ACC-Y1", "SUB-Y1", "Premium", 10, "100.00", "recurring"),
            ("2024-05", "ACC-Y1", "SUB-Y1", "Premium", 10, "100.00", "recurring"),
            ("2023-05", "ACC-Y2", "SUB-Y2", "Premium", 10, "100.00", "recurring"),
            ("2024-05", "ACC-Y2", "SUB-Y2", "Premium", 10, "100.00", "recurring"),
        ]
    )
    recompute_retention(None)

    response = manager_client.get(OVERVIEW, {"month_from": "2024-05", "month_to": "2024-06"})

    assert list(overview_rows(response)) == ["2024-05"]
    assert chart_from_html(response)["labels"] == ["2024-05"]
    assert "No data for 2024-06" in response.content.decode()


def test_overview_without_any_cohort_says_na(manager_client, db):
    add_lines([("2024-01", "ACC-A1", "SUB-A1", "Premium", 1, "100.00", "recurring")], cover=["2024-06"])
    recompute_retention(None)

    response = manager_client.get(OVERVIEW)

    assert len(overview_rows(response)) == 6
    html = response.content.decode()
    assert "n/a for 2024-01 to 2024-06" in html
    assert "retention-chart-data" not in html


def test_overview_without_imports_says_no_data(manager_client):
    response = manager_client.get(OVERVIEW)

    assert response.status_code == 200
    assert "No data: no MRR has been imported yet." in response.content.decode()
    assert response.context["rows"] == []


def test_overview_invalid_filters_fall_back_to_defaults(manager_client, worked_example):
    response = manager_client.get(OVERVIEW, {"level": "planet", "segment": "Enterprise", "month_from": "June"})

    assert response.status_code == 200
    assert response.context["filters"].level == "parent"
    assert response.context["filters"].segment == "all"
    assert response.context["filters"].month_from is None
    assert "Enter a month as YYYY-MM" in response.content.decode()
    assert overview_rows(response)["2024-06"].net_pct == Decimal("114.3")


def test_overview_form_rejects_reversed_range():
    form = OverviewFilterForm({"month_from": "2024-06", "month_to": "2024-01"})

    assert not form.is_valid()
    assert form.errors["month_to"] == ["The last month must not come before the first month."]


def test_overview_reads_stored_results_only(manager_client, worked_example):
    MrrLine.objects.filter(subscription__external_id="SUB-X", month="2024-06-01").update(mrr=0)

    june = overview_rows(manager_client.get(OVERVIEW))["2024-06"]

    assert june.b == Decimal("200.00")
    assert june.net_pct == Decimal("114.3")


def test_overview_query_count_is_bounded(manager_client, worked_example, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        manager_client.get(OVERVIEW)


# Month detail


def test_month_detail_lists_customers_and_totals(manager_client, worked_example):
    response = manager_client.get(reverse("retention:month", args=["2024-06"]))

    assert response.status_code == 200
    figures = response.context["figures"]
    assert (figures.customers, figures.gross_pct, figures.net_pct) == (2, Decimal("85.7"), Decimal("114.3"))
    assert sorted(page_customers(response)) == ["X", "Y"]
    html = response.content.decode()
    assert "Account X" in html
    assert "Account Y" in html
    # X: C 50 of A 50 and B 100 of A 50; Y: C 100 of A 125.
    assert "200.0%" in html
    assert "80.0%" in html
    assert 'href="/retention/2024-06/customers.csv?level=parent&amp;segment=all"' in html


def test_month_detail_subscription_level_shows_subscription_ids(manager_client, db):
    make_account("ACC-S", segment=Segment.LARGE, name="Split Corp")
    add_lines(
        [
            ("2023-06", "ACC-S", "SUB-S1", "Premium", 1, "100.00", "recurring"),
            ("2023-06", "ACC-S", "SUB-S2", "Premium", 1, "40.00", "recurring"),
            ("2024-06", "ACC-S", "SUB-S1", "Premium", 1, "100.00", "recurring"),
        ]
    )
    recompute_retention(None)

    response = manager_client.get(reverse("retention:month", args=["2024-06"]), {"level": "subscription"})

    records = [row.record for row in response.context["table"].paginated_rows]
    assert sorted(record.subscription.external_id for record in records) == ["SUB-S1", "SUB-S2"]
    assert "SUB-S2" in response.content.decode()


def test_month_detail_outside_span_says_no_data(manager_client, worked_example):
    response = manager_client.get(reverse("retention:month", args=["2024-07"]))

    assert response.status_code == 200
    assert response.context["figures"] is None
    assert "No data: no MRR was imported for 2024-07" in response.content.decode()


def test_month_detail_without_cohort_is_na(manager_client, worked_example):
    response = manager_client.get(reverse("retention:month", args=["2023-06"]))

    assert response.context["figures"].customers == 0
    html = response.content.decode()
    assert 'id="total-gross">n/a<' in html
    assert 'id="total-net">n/a<' in html
    assert "n/a: no customer had MRR above zero in 2022-06, so 2023-06 has no customers to compare." in html
    assert response.context["table"] is None


def test_month_detail_invalid_month_is_not_found(manager_client, worked_example):
    assert manager_client.get("/retention/2024-13/").status_code == 404


def test_month_detail_query_count_is_bounded(manager_client, db, django_assert_max_num_queries):
    add_lines(
        [
            (month, f"P{n:02d}", f"SUB-P{n:02d}", "Premium", 1, "100.00", "recurring")
            for n in range(40)
            for month in ("2023-06", "2024-06")
        ]
    )
    recompute_retention(None)

    with django_assert_max_num_queries(10):
        response = manager_client.get(reverse("retention:month", args=["2024-06"]))
    assert len(page_customers(response)) == 25


@pytest.fixture
def thirty_tied_parents(db):
    """P01…P30 in SMB with 100.00 in both months, except P07, which has nothing in 2024-06."""
    rows = []
    for n in range(1, 31):
        make_account(f"P{n:02d}", segment=Segment.SMB, name="Tied Customer")
        rows.append(("2023-06", f"P{n:02d}", f"SUB-P{n:02d}", "Premium", 10, "100.00", "recurring"))
        if n != 7:
            rows.append(("2024-06", f"P{n:02d}", f"SUB-P{n:02d}", "Premium", 10, "100.00", "recurring"))
    add_lines(rows)
    recompute_retention(None)


def test_month_detail_tied_rows_paginate(manager_client, thirty_tied_parents):
    url = reverse("retention:month", args=["2024-06"])
    first = manager_client.get(url)
    figures = first.context["figures"]
    assert (figures.customers, figures.a, figures.b, figures.c) == (
        30,
        Decimal("3000.00"),
        Decimal("2900.00"),
        Decimal("2900.00"),
    )
    assert (figures.gross_pct, figures.net_pct) == (Decimal("96.7"), Decimal("96.7"))

    sortable = [column.name for column in first.context["table"].columns if column.orderable]
    assert {"customer", "external_id", "segment", "a", "b", "c", "gross", "net"} <= set(sortable)
    for name in sortable:
        for sort in (name, f"-{name}"):
            page_one = page_customers(manager_client.get(url, {"sort": sort, "page": 1}))
            page_two = page_customers(manager_client.get(url, {"sort": sort, "page": 2}))
            listed = page_one + page_two
            assert len(page_one) == 25, sort
            assert len(listed) == 30, sort
            assert len(set(listed)) == 30, sort
            assert listed.count("P07") == 1, sort


@pytest.mark.parametrize("per_page", ["-5", "0", "1", "1000"])
def test_month_detail_keeps_25_rows_a_page(manager_client, thirty_tied_parents, per_page):
    response = manager_client.get(reverse("retention:month", args=["2024-06"]), {"per_page": per_page})

    assert response.status_code == 200
    assert response.context["table"].page.paginator.per_page == 25
    assert len(page_customers(response)) == 25


def test_month_detail_sorts_by_gross(manager_client, thirty_tied_parents):
    response = manager_client.get(reverse("retention:month", args=["2024-06"]), {"sort": "gross"})

    assert page_customers(response)[0] == "P07"


# CSV export


def test_month_csv_lists_every_row(manager_client, thirty_tied_parents):
    response = manager_client.get(
        reverse("retention:month_csv", args=["2024-06"]), {"level": "parent", "segment": "SMB"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="retention-2024-06-parent-SMB.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert len(rows) == 30
    assert len({row["customer_id"] for row in rows}) == 30
    assert list(rows[0]) == [
        "month",
        "level",
        "customer_id",
        "customer_name",
        "segment",
        "tam",
        "a",
        "b",
        "c",
        "gross_pct",
        "net_pct",
    ]
    cancelled = next(row for row in rows if row["customer_id"] == "P07")
    assert cancelled == {
        "month": "2024-06",
        "level": "parent",
        "customer_id": "P07",
        "customer_name": "Tied Customer",
        "segment": "SMB",
        "tam": "",
        "a": "100.00",
        "b": "0.00",
        "c": "0.00",
        "gross_pct": "0.00",
        "net_pct": "0.00",
    }


def test_month_csv_amounts_ignore_locale(manager_client, db):
    add_lines(
        [
            ("2023-06", "ACC-N1", "SUB-N1", "Premium", 50, "1250.00", "recurring"),
            ("2024-06", "ACC-N1", "SUB-N1", "Premium", 50, "1234567.89", "recurring"),
        ]
    )
    recompute_retention(None)

    with override_settings(USE_THOUSAND_SEPARATOR=True, LANGUAGE_CODE="de"), translation.override("de"):
        response = manager_client.get(reverse("retention:month_csv", args=["2024-06"]))

    row = csv_rows(response)[0]
    assert row["a"] == "1250.00"
    assert row["b"] == "1234567.89"
    assert row["c"] == "1250.00"
    assert row["gross_pct"] == "100.00"
    assert row["net_pct"] == "98765.43"


def test_month_csv_names_owning_tam(manager_client, db):
    make_account("T1", tam=UserFactory(username="ana", role=Role.TAM))
    make_account("T2", tam=UserFactory(username="+lead", role=Role.TAM))
    make_account("T3")
    rows = [
        ("2023-06", external_id, f"SUB-{external_id}", "Premium", 1, "100.00", "recurring")
        for external_id in ("T1", "T2", "T3")
    ]
    add_lines([*rows, ("2024-06", "T1", "SUB-T1", "Premium", 1, "100.00", "recurring")])
    recompute_retention(None)

    response = manager_client.get(reverse("retention:month_csv", args=["2024-06"]))

    by_id = {row["customer_id"]: row for row in csv_rows(response)}
    assert by_id["T1"]["tam"] == "ana"
    # A username may start with a character that a spreadsheet reads as a formula.
    assert by_id["T2"]["tam"] == "'+lead"
    assert by_id["T3"]["tam"] == ""


def test_month_csv_escapes_formula_text_but_not_numbers(manager_client, db):
    names = {
        "F1": "=HYPERLINK(1)",
        "F2": "+1 Corp",
        "F3": "-minus Ltd",
        "F4": "@SUM",
        "F5": "\tTab",
        "F6": "\rCR",
        "F7": "Plain",
    }
    for external_id, name in names.items():
        make_account(external_id, name=name)
    make_account("=ID", name="Formula Id")
    rows = []
    for external_id in [*names, "=ID"]:
        rows.append(("2023-06", external_id, f"SUB-{external_id}", "Premium", 1, "100.00", "recurring"))
    rows.append(("2024-06", "F7", "SUB-F7", "Premium", 1, "-20.00", "recurring"))
    add_lines(rows)
    recompute_retention(None)

    response = manager_client.get(reverse("retention:month_csv", args=["2024-06"]))

    by_id = {row["customer_id"]: row for row in csv_rows(response)}
    assert by_id["F1"]["customer_name"] == "'=HYPERLINK(1)"
    assert by_id["F2"]["customer_name"] == "'+1 Corp"
    assert by_id["F3"]["customer_name"] == "'-minus Ltd"
    assert by_id["F4"]["customer_name"] == "'@SUM"
    assert by_id["F5"]["customer_name"] == "'\tTab"
    assert by_id["F6"]["customer_name"] == "'\rCR"
    assert by_id["F7"]["customer_name"] == "Plain"
    assert "'=ID" in by_id
    assert by_id["F7"]["b"] == "-20.00"
    assert by_id["F7"]["c"] == "-20.00"
    assert by_id["F7"]["gross_pct"] == "-20.00"


def test_month_csv_subscription_level_uses_subscription_ids(manager_client, db):
    add_lines(
        [
            ("2023-06", "ACC-S", "SUB-S1", "Premium", 1, "100.00", "recurring"),
            ("2023-06", "ACC-S", "SUB-S2", "Premium", 1, "40.00", "recurring"),
            ("2024-06", "ACC-S", "SUB-S1", "Premium", 1, "100.00", "recurring"),
        ]
    )
    recompute_retention(None)

    response = manager_client.get(reverse("retention:month_csv", args=["2024-06"]), {"level": "subscription"})

    rows = csv_rows(response)
    assert sorted(row["customer_id"] for row in rows) == ["SUB-S1", "SUB-S2"]
    assert {row["level"] for row in rows} == {"subscription"}


def test_month_csv_commercial_segment(manager_client, filter_accounts):
    make_account("ACC-L1", segment=Segment.LARGE)
    add_lines([("2023-01", "ACC-L1", "SUB-L1", "Premium", 1, "1000.00", "recurring")])
    recompute_retention(None)

    response = manager_client.get(reverse("retention:month_csv", args=["2024-01"]), {"segment": "Commercial"})

    rows = csv_rows(response)
    assert sorted(row["customer_id"] for row in rows) == ["ACC-F1", "ACC-F2"]
    assert all(row["month"] == "2024-01" for row in rows)


def test_month_csv_outside_span_is_not_found(manager_client, worked_example):
    response = manager_client.get(reverse("retention:month_csv", args=["2024-07"]))

    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == (
        "No MRR data was imported for 2024-07, so no file was made. Imports cover 2023-06 to 2024-06.\n"
    )


def test_month_csv_before_any_import_is_not_found(manager_client, db):
    response = manager_client.get(reverse("retention:month_csv", args=["2024-07"]))

    assert response.status_code == 404
    assert response.content.decode() == (
        "No MRR data was imported for 2024-07, so no file was made. No MRR was imported yet.\n"
    )


@pytest.mark.parametrize(
    "query, invalid",
    [
        ({"level": "zzz"}, ["level"]),
        ({"segment": "Huge"}, ["segment"]),
        ({"level": "account", "segment": "x"}, ["segment"]),
    ],
)
def test_month_csv_rejects_invalid_filters(manager_client, worked_example, query, invalid):
    # A file of the parent level would otherwise pass for the level asked for.
    response = manager_client.get(reverse("retention:month_csv", args=["2024-06"]), query)

    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("Invalid filters, so no file was made.")
    assert [name for name in ("level", "segment") if f"{name}: Select a valid choice." in text] == invalid


def test_pages_count_trueup_lines(manager_client, db):
    add_lines(
        [
            ("2023-06", "ACC-T", "SUB-T", "Premium", 1, "100.00", ChargeType.RECURRING),
            ("2024-06", "ACC-T", "SUB-T", "Premium", 1, "100.00", ChargeType.RECURRING),
            ("2024-06", "ACC-T", "SUB-T", "Premium", 1, "10.00", ChargeType.TRUEUP),
        ]
    )
    recompute_retention(None)

    june = overview_rows(manager_client.get(OVERVIEW))["2024-06"]

    assert june.net_pct == Decimal("110.0")


def test_month_detail_every_sort_ends_with_primary_key(manager_client, thirty_tied_parents):
    table = manager_client.get(reverse("retention:month", args=["2024-06"])).context["table"]

    for column in table.columns:
        if column.orderable:
            assert [str(key) for key in column.order_by][-1] in {"pk", "-pk"}, column.name


def test_month_csv_query_count_is_bounded(manager_client, thirty_tied_parents, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = manager_client.get(reverse("retention:month_csv", args=["2024-06"]))

    assert len(csv_rows(response)) == 30


@pytest.mark.parametrize(
    "url", [OVERVIEW, reverse("retention:month", args=["2024-06"]), reverse("retention:month_csv", args=["2024-06"])]
)
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_retention_pages_reject_methods_other_than_get(manager_client, worked_example, url, method):
    response = getattr(manager_client, method)(url)

    assert response.status_code == 405


@pytest.mark.parametrize("text", ["1899-12", "3000-01", "2024-13"])
def test_overview_form_names_month_range(text):
    form = OverviewFilterForm({"month_from": text})

    assert not form.is_valid()
    assert form.errors["month_from"] == ["Enter a month as YYYY-MM from 1900-01 to 2999-12, for example 2024-06."]
