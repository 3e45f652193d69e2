"""The reasons page, a reason's customers, a customer's lines and their CSVs, read as a manager."""

import csv
import io
import json
import re
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from accounts.models import Account, Segment
from common.months import add_months, format_month, parse_month
from retention.engine import recompute_retention
from retention.models import Level, ReasonTotal, RetentionCustomer

from .builders import add_lines, make_account

REASONS = reverse("retention:reasons")


def reasons_url(month, reason):
    return reverse("retention:reason_customers", args=[month, reason])


def shown(response, element_id):
    """Return the text of the element with this id, as the page renders it."""
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', response.content.decode())
    assert match, f"no element with id {element_id}"
    return match.group(1).strip()


def category_rows(response, table_id):
    """Return {reason label: (customers, amount, share)} from one category table of the page."""
    html = response.content.decode()
    if f'id="{table_id}"' not in html:
        return {}
    start = html.index(f'id="{table_id}"')
    body = html[html.index("<tbody>", start) : html.index("</tbody>", start)]
    rows = {}
    for row in re.findall(r"<tr.*?</tr>", body, flags=re.S):
        cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        rows[cells[0]] = tuple(cells[1:])
    return rows


def chart_from_html(response):
    html = response.content.decode()
    start = html.index('<script id="reasons-chart-data" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def table_customers(response):
    return [row.record.account.external_id for row in response.context["table"].paginated_rows]


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def customer_row(external_id, month="2024-06", level=Level.PARENT):
    return RetentionCustomer.objects.get(month=parse_month(month), level=level, account__external_id=external_id)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def mixed_month(db):
    """Five parents compared between 2023-06 and 2024-06, with 2024-07 imported but without a cohort.

    Churn: C1 cancels (100.00), C2 downgrades 100 → 50 (50.00), so shares 66.7% and 33.3%.
    Expansion: E1 seats 10 → 11, E2 price, E3 product, each 10.00, so shares 33.4%, 33.3% and 33.3%.
    E1 also has a true-up of 40.00 in 2024-06, which no reason counts.
    Recurring MRR goes from 500.00 to 380.00: expansion 30.00 − churn 150.00 = −120.00.
    """
    for external_id in ("C1", "C2", "E1", "E2", "E3"):
        make_account(
            external_id, segment=Segment.SMB if external_id != "E3" else Segment.LARGE, name=f"Mixed {external_id}"
        )
    add_lines(
        [
            ("2023-06", "C1", "SUB-C1", "Basic", 10, "100.00", "recurring"),
            ("2023-06", "C2", "SUB-C2", "Basic", 10, "100.00", "recurring"),
            ("2024-06", "C2", "SUB-C2", "Basic", 5, "50.00", "recurring"),
            ("2023-06", "E1", "SUB-E1", "Basic", 10, "100.00", "recurring"),
            ("2024-06", "E1", "SUB-E1", "Basic", 11, "110.00", "recurring"),
            ("2024-06", "E1", "SUB-E1", "Basic", 1, "40.00", "trueup"),
            ("2023-06", "E2", "SUB-E2", "Basic", 10, "100.00", "recurring"),
            ("2024-06", "E2", "SUB-E2", "Basic", 10, "110.00", "recurring"),
            ("2023-06", "E3", "SUB-E3", "Basic", 10, "100.00", "recurring"),
            ("2024-06", "E3", "SUB-E3", "Pro", 10, "110.00", "recurring"),
        ],
        cover=["2024-07"],
    )
    recompute_retention(None)


@pytest.fixture
def filter_accounts(db):
    """ACC-F1 (Mid-Market) goes 100 → 80 with fewer seats, ACC-F2 (SMB) 50 → 60 with more, from 2023-01 to 2024-01."""
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


@pytest.fixture
def globex(db):
    """Globex Holding 00123 (250.00, then nothing) is the parent of Globex EU 00456 (500.00 → 600.00)."""
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


# Reasons page


def test_reasons_page_shows_amounts_and_shares(manager_client, mixed_month):
    response = manager_client.get(REASONS, {"month": "2024-06"})

    assert response.status_code == 200
    assert category_rows(response, "churn-reasons") == {
        "Cancellation": ("1", "100.00", "66.7%"),
        "Downgrade": ("1", "50.00", "33.3%"),
    }
    assert category_rows(response, "expansion-reasons") == {
        "Seat Expansion": ("1", "10.00", "33.4%"),
        "Discount/Price Change": ("1", "10.00", "33.3%"),
        "Product Change": ("1", "10.00", "33.3%"),
    }
    assert shown(response, "churn-total") == "150.00"
    assert shown(response, "expansion-total") == "30.00"


def test_reasons_page_shares_add_up_to_100(manager_client, mixed_month):
    breakdown = manager_client.get(REASONS, {"month": "2024-06"}).context["breakdown"]

    assert sum(figure.share for figure in breakdown.churn) == Decimal("100.0")
    assert sum(figure.share for figure in breakdown.expansion) == Decimal("100.0")


def test_reasons_page_reconciles_with_recurring_change(manager_client, mixed_month):
    response = manager_client.get(REASONS, {"month": "2024-06"})

    assert shown(response, "reasons-net") == "-120.00"
    assert shown(response, "recurring-change") == "-120.00"
    assert shown(response, "reconciled") == "✓ Equals expansion − churn"
    assert "500.00" in response.content.decode()
    assert "380.00" in response.content.decode()


def test_reasons_page_flags_unreconciled_totals(manager_client, mixed_month):
    # A reason total changed outside the engine no longer adds up to the cohort's recurring change.
    total = ReasonTotal.objects.get(month=parse_month("2024-06"), level=Level.PARENT, segment="all", reason="downgrade")
    total.amount += Decimal("1.00")
    total.save(update_fields=["amount"])

    response = manager_client.get(REASONS, {"month": "2024-06"})

    assert shown(response, "reasons-net") == "-121.00"
    assert shown(response, "recurring-change") == "-120.00"
    assert shown(response, "not-reconciled") == "✗ Differs from expansion − churn"
    assert 'id="reconciled"' not in response.content.decode()


@pytest.mark.parametrize("segment", ["all", "SMB", "Large", "Commercial"])
def test_reasons_page_reconciles_in_every_segment(manager_client, mixed_month, segment):
    response = manager_client.get(REASONS, {"month": "2024-06", "segment": segment})

    assert shown(response, "reasons-net") == shown(response, "recurring-change")


def test_reasons_page_leaves_trueups_out(manager_client, mixed_month):
    response = manager_client.get(REASONS, {"month": "2024-06", "segment": "SMB"})

    # E1's true-up of 40.00 would make its gain 50.00 and the change −80.00.
    assert category_rows(response, "expansion-reasons") == {
        "Seat Expansion": ("1", "10.00", "50.0%"),
        "Discount/Price Change": ("1", "10.00", "50.0%"),
    }
    assert shown(response, "recurring-change") == "-130.00"


def test_reasons_page_default_month_is_latest_with_cohort(manager_client, mixed_month):
    response = manager_client.get(REASONS)

    assert response.context["month"] == parse_month("2024-06")
    assert shown(response, "churn-total") == "150.00"


def test_reasons_page_month_outside_span_says_no_data(manager_client, mixed_month):
    response = manager_client.get(REASONS, {"month": "2025-01"})

    assert response.status_code == 200
    assert response.context["breakdown"] is None
    html = response.content.decode()
    assert "No data for 2025-01" in html
    assert "Imports cover 2023-06 to 2024-07." in html
    assert "reasons-chart-data" not in html
    assert "0.00" not in html


def test_reasons_page_without_imports_says_no_data(manager_client, db):
    response = manager_client.get(REASONS)

    assert response.status_code == 200
    assert "No data: no MRR has been imported yet." in response.content.decode()


def test_reasons_page_invalid_month_falls_back(manager_client, mixed_month):
    response = manager_client.get(REASONS, {"month": "June", "level": "planet"})

    assert response.status_code == 200
    assert response.context["month"] == parse_month("2024-06")
    assert response.context["filters"].level == Level.PARENT
    assert "Enter a month as YYYY-MM" in response.content.decode()


def test_reasons_page_month_without_cohort_has_empty_categories(manager_client, mixed_month):
    response = manager_client.get(REASONS, {"month": "2024-07"})

    html = response.content.decode()
    assert "No churn this month." in html
    assert "No expansion this month." in html
    assert "%" not in re.sub(r"<script.*?</script>|<style.*?</style>|style=\"[^\"]*\"", "", html, flags=re.S)
    assert shown(response, "reasons-net") == "0.00"
    assert shown(response, "recurring-change") == "0.00"


def test_reasons_page_links_reasons_to_customers(manager_client, mixed_month):
    response = manager_client.get(REASONS, {"month": "2024-06", "level": "account", "segment": "SMB"})

    html = response.content.decode()
    assert 'href="/retention/reasons/2024-06/cancellation/?level=account&amp;segment=SMB"' in html
    assert 'href="/retention/reasons/2024-06/reasons.csv?level=account&amp;segment=SMB"' in html
    assert 'href="/retention/2024-06/?level=account&amp;segment=SMB"' in html


def test_overview_and_month_pages_link_to_reasons(manager_client, mixed_month):
    overview = manager_client.get(reverse("retention:overview"), {"level": "account"}).content.decode()
    month = manager_client.get(reverse("retention:month", args=["2024-06"]), {"segment": "SMB"}).content.decode()

    assert 'href="/retention/reasons/?level=account&amp;segment=all"' in overview
    assert 'href="/retention/reasons/?month=2024-06&amp;level=parent&amp;segment=SMB"' in month


def test_navigation_has_reasons_entry(manager_client, mixed_month):
    html = manager_client.get(REASONS).content.decode()

    assert re.search(r'<a class="dropdown-item active" href="/retention/reasons/">Reasons</a>', html)


# A baseline year before the first shown month, and a parent with ids that keep leading zeros


def test_baseline_year_reasons_2024_01(manager_client, filter_accounts):
    response = manager_client.get(REASONS, {"month": "2024-01"})

    assert category_rows(response, "churn-reasons") == {"Downgrade": ("1", "20.00", "100.0%")}
    assert category_rows(response, "expansion-reasons") == {"Seat Expansion": ("1", "10.00", "100.0%")}
    assert shown(response, "reasons-net") == "-10.00"
    assert shown(response, "recurring-change") == "-10.00"


def test_baseline_year_default_month(manager_client, filter_accounts):
    assert manager_client.get(REASONS).context["month"] == parse_month("2024-01")


def test_leading_zero_ids_parent_level(manager_client, globex):
    response = manager_client.get(REASONS, {"month": "2024-06", "level": "parent"})

    assert category_rows(response, "churn-reasons") == {"Downgrade": ("1", "150.00", "100.0%")}
    assert category_rows(response, "expansion-reasons") == {}
    assert "No expansion this month." in response.content.decode()
    assert shown(response, "reasons-net") == "-150.00"
    assert shown(response, "recurring-change") == "-150.00"


def test_leading_zero_ids_account_level(manager_client, globex):
    response = manager_client.get(REASONS, {"month": "2024-06", "level": "account"})

    assert category_rows(response, "churn-reasons") == {"Cancellation": ("1", "250.00", "100.0%")}
    assert category_rows(response, "expansion-reasons") == {"Seat Expansion": ("1", "100.00", "100.0%")}
    assert shown(response, "reasons-net") == "-150.00"
    assert shown(response, "recurring-change") == "-150.00"


def test_drill_down_keeps_leading_zeros(manager_client, globex):
    response = manager_client.get(reasons_url("2024-06", "cancellation"), {"level": "account"})

    assert table_customers(response) == ["00123"]
    rows = csv_rows(
        manager_client.get(
            reverse("retention:reason_customers_csv", args=["2024-06", "cancellation"]), {"level": "account"}
        )
    )
    assert [row["customer_id"] for row in rows] == ["00123"]


# Chart


@pytest.fixture
def three_years(db):
    """G1 grows by one seat and 10.00 every month from 2021-01 to 2024-06. L1 has 100.00 in 2023-06 and then nothing."""
    rows = []
    month = parse_month("2021-01")
    step = 0
    while month <= parse_month("2024-06"):
        rows.append((format_month(month), "G1", "SUB-G1", "Basic", 10 + step, f"{100 + 10 * step}.00", "recurring"))
        month = add_months(month, 1)
        step += 1
    rows.append(("2023-06", "L1", "SUB-L1", "Basic", 1, "100.00", "recurring"))
    add_lines(rows)
    recompute_retention(None)


def test_chart_covers_last_24_months(manager_client, three_years):
    chart = chart_from_html(manager_client.get(REASONS, {"month": "2024-06"}))

    assert len(chart["labels"]) == 24
    assert chart["labels"][0] == "2022-07"
    assert chart["labels"][-1] == "2024-06"
    assert chart["selected"] == 23
    assert chart["links"][0] == "/retention/reasons/?month=2022-07&level=parent&segment=all"


def test_chart_stacks_churn_below_zero(manager_client, three_years):
    chart = chart_from_html(manager_client.get(REASONS, {"month": "2024-06"}))

    series = {entry["key"]: entry for entry in chart["series"]}
    assert set(series) == {"seat_expansion", "cancellation"}
    assert series["seat_expansion"]["category"] == "expansion"
    assert series["seat_expansion"]["values"] == ["120.00"] * 24
    assert series["cancellation"]["category"] == "churn"
    assert series["cancellation"]["values"] == ["0.00"] * 23 + ["-100.00"]


def test_chart_starts_at_first_month_with_reasons(manager_client, mixed_month):
    chart = chart_from_html(manager_client.get(REASONS, {"month": "2024-07"}))

    assert chart["labels"] == ["2024-06", "2024-07"]
    series = {entry["key"]: entry["values"] for entry in chart["series"]}
    assert series["downgrade"] == ["-50.00", "0.00"]
    assert series["product_change"] == ["10.00", "0.00"]


def test_reasons_page_query_count_is_bounded(manager_client, mixed_month, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        manager_client.get(REASONS, {"month": "2024-06"})


# A reason's customers


def test_reason_customers_lists_columns(manager_client, db):
    make_account("ACC-P", segment=Segment.SMB, name="Product Mover")
    add_lines(
        [
            ("2023-06", "ACC-P", "SUB-P1", "Basic", 10, "100.00", "recurring"),
            ("2024-06", "ACC-P", "SUB-P1", "Basic", 10, "100.00", "recurring"),
            ("2024-06", "ACC-P", "SUB-P2", "Analytics", 4, "60.00", "recurring"),
        ]
    )
    recompute_retention(None)

    response = manager_client.get(reasons_url("2024-06", "product_seat_mix"))

    assert response.status_code == 200
    assert table_customers(response) == ["ACC-P"]
    headers = [" ".join(re.sub(r"<[^>]+>", " ", column.header).split()) for column in response.context["table"].columns]
    assert headers == [
        "Customer",
        "Account ID",
        "Segment",
        "TAM",
        "A 2023-06",
        "B 2024-06",
        "Amount, USD",
        "Seats 2023-06",
        "Seats 2024-06",
        "Products 2023-06",
        "Products 2024-06",
    ]
    html = response.content.decode()
    assert "Analytics, Basic" in html
    assert ">160.00<" in html
    assert ">60.00<" in html
    assert shown(response, "reason-amount") == "60.00"
    assert shown(response, "reason-share") == "100.0%"
    row = customer_row("ACC-P")
    assert f'href="/retention/customers/{row.pk}/lines/"' in html


def test_reason_customers_subscription_level(manager_client, mixed_month):
    response = manager_client.get(reasons_url("2024-06", "downgrade"), {"level": "subscription"})

    assert [row.record.subscription.external_id for row in response.context["table"].paginated_rows] == ["SUB-C2"]
    assert "subscription" in [column.name for column in response.context["table"].columns]


def test_reason_customers_segment_filter(manager_client, mixed_month):
    large = manager_client.get(reasons_url("2024-06", "product_change"), {"segment": "Large"})
    smb = manager_client.get(reasons_url("2024-06", "product_change"), {"segment": "SMB"})

    assert table_customers(large) == ["E3"]
    assert table_customers(smb) == []
    assert "No customers with this reason in this month." in smb.content.decode()


def test_reason_customers_unknown_reason_is_not_found(manager_client, mixed_month):
    assert manager_client.get(reasons_url("2024-06", "churn")).status_code == 404
    assert manager_client.get(reverse("retention:reason_customers_csv", args=["2024-06", "x"])).status_code == 404


def test_reason_customers_outside_span_says_no_data(manager_client, mixed_month):
    response = manager_client.get(reasons_url("2022-01", "cancellation"))

    assert response.status_code == 200
    assert "No data: no MRR was imported for 2022-01" in response.content.decode()
    assert response.context["table"] is None


@pytest.fixture
def thirty_downgrades(db):
    """D01…D30 in SMB each go from 100.00 to 90.00; D07 goes to 50.00."""
    rows = []
    for n in range(1, 31):
        make_account(f"D{n:02d}", segment=Segment.SMB, name="Tied Customer")
        rows.append(("2023-06", f"D{n:02d}", f"SUB-D{n:02d}", "Premium", 10, "100.00", "recurring"))
        rows.append(
            ("2024-06", f"D{n:02d}", f"SUB-D{n:02d}", "Premium", 10, "50.00" if n == 7 else "90.00", "recurring")
        )
    add_lines(rows)
    recompute_retention(None)


def test_reason_customers_tied_rows_paginate(manager_client, thirty_downgrades):
    url = reasons_url("2024-06", "downgrade")
    first = manager_client.get(url)
    assert table_customers(first)[0] == "D07"

    sortable = [column.name for column in first.context["table"].columns if column.orderable]
    assert {"customer", "external_id", "segment", "recurring_a", "recurring_b", "seats_a", "seats_b", "amount"} <= set(
        sortable
    )
    for name in sortable:
        for sort in (name, f"-{name}"):
            page_one = table_customers(manager_client.get(url, {"sort": sort, "page": 1}))
            page_two = table_customers(manager_client.get(url, {"sort": sort, "page": 2}))
            listed = page_one + page_two
            assert len(page_one) == 25, sort
            assert len(set(listed)) == 30, sort


@pytest.mark.parametrize("per_page", ["-5", "0", "1", "1000"])
def test_reason_customers_keep_25_rows_a_page(manager_client, thirty_downgrades, per_page):
    response = manager_client.get(reasons_url("2024-06", "downgrade"), {"per_page": per_page})

    assert response.status_code == 200
    assert response.context["table"].page.paginator.per_page == 25
    assert len(table_customers(response)) == 25


def test_reason_customers_every_sort_ends_with_primary_key(manager_client, thirty_downgrades):
    table = manager_client.get(reasons_url("2024-06", "downgrade")).context["table"]

    for column in table.columns:
        if column.orderable:
            assert [str(key) for key in column.order_by][-1] in {"pk", "-pk"}, column.name


def test_reason_customers_query_count_is_bounded(manager_client, thirty_downgrades, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        response = manager_client.get(reasons_url("2024-06", "downgrade"))

    assert len(table_customers(response)) == 25


# A customer's lines


def test_customer_lines_splits_trueups(manager_client, mixed_month):
    row = customer_row("E1")

    response = manager_client.get(reverse("retention:customer_lines", args=[row.pk]))

    assert response.status_code == 200
    lines = response.context["lines"]
    assert [(line.month, line.mrr) for line in lines.baseline] == [(parse_month("2023-06"), Decimal("100.00"))]
    assert [(line.month, line.mrr) for line in lines.current] == [(parse_month("2024-06"), Decimal("110.00"))]
    assert [(line.month, line.mrr, line.charge_type) for line in lines.trueups] == [
        (parse_month("2024-06"), Decimal("40.00"), "trueup")
    ]
    html = response.content.decode()
    assert "True-ups, left out of the reasons" in html
    assert shown(response, "baseline-total") == "100.00"
    assert shown(response, "current-total") == "110.00"
    assert shown(response, "trueup-total") == "40.00"
    assert shown(response, "customer-reason") == "Seat Expansion"
    trueups = html[html.index('id="trueups"') :]
    assert "40.00" in trueups
    assert 'href="/retention/reasons/2024-06/seat_expansion/?level=parent&amp;segment=all"' in html


def test_customer_lines_parent_level_includes_children(manager_client, globex):
    row = customer_row("00123")

    lines = manager_client.get(reverse("retention:customer_lines", args=[row.pk])).context["lines"]

    assert sorted(line.subscription.external_id for line in lines.baseline) == ["SUB-0008", "SUB-0009"]
    assert [line.subscription.external_id for line in lines.current] == ["SUB-0009"]
    assert lines.trueups == []


@pytest.mark.parametrize(
    "external_id, level, columns",
    [
        ("00123", Level.PARENT, ["account", "subscription", "product", "quantity", "mrr"]),
        ("00456", Level.ACCOUNT, ["subscription", "product", "quantity", "mrr"]),
    ],
)
def test_customer_lines_name_account_at_parent_level(manager_client, globex, external_id, level, columns):
    row = customer_row(external_id, level=level)

    response = manager_client.get(reverse("retention:customer_lines", args=[row.pk]))

    for name in ("baseline_table", "current_table"):
        assert [column.name for column in response.context[name].columns] == columns, name


def test_customer_lines_without_trueups_says_so(manager_client, globex):
    row = customer_row("00123")

    response = manager_client.get(reverse("retention:customer_lines", args=[row.pk]))

    assert "No true-ups in 2023-06 or 2024-06." in response.content.decode()


def test_customer_lines_unknown_customer_is_not_found(manager_client, mixed_month):
    assert manager_client.get(reverse("retention:customer_lines", args=[999999])).status_code == 404
    assert manager_client.get(reverse("retention:customer_lines_csv", args=[999999])).status_code == 404


# CSV exports


def test_reasons_csv_rows(manager_client, mixed_month):
    response = manager_client.get(reverse("retention:reasons_csv", args=["2024-06"]), {"segment": "all"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="reasons-2024-06-parent-all.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert [(row["category"], row["reason"], row["customers"], row["mrr"], row["share_pct"]) for row in rows] == [
        ("churn", "Cancellation", "1", "100.00", "66.67"),
        ("churn", "Downgrade", "1", "50.00", "33.33"),
        ("expansion", "Seat Expansion", "1", "10.00", "33.34"),
        ("expansion", "Discount/Price Change", "1", "10.00", "33.33"),
        ("expansion", "Product Change", "1", "10.00", "33.33"),
    ]
    assert {(row["month"], row["level"], row["segment"]) for row in rows} == {("2024-06", "parent", "all")}


@pytest.mark.parametrize(
    "name, args", [("retention:reasons_csv", ["2025-01"]), ("retention:reason_customers_csv", ["2025-01", "downgrade"])]
)
def test_reason_csvs_outside_span_are_not_found(manager_client, mixed_month, name, args):
    response = manager_client.get(reverse(name, args=args))

    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith(
        "No MRR data was imported for 2025-01, so no file was made. Imports cover "
    )


@pytest.mark.parametrize(
    "name, args",
    [("retention:reasons_csv", ["2024-06"]), ("retention:reason_customers_csv", ["2024-06", "product_change"])],
)
def test_reason_csvs_reject_invalid_filters(manager_client, mixed_month, name, args):
    response = manager_client.get(reverse(name, args=args), {"level": "zzz"})

    assert response.status_code == 400
    assert response.content.decode().startswith("Invalid filters, so no file was made. level: Select a valid choice.")


def test_reason_customers_csv_rows(manager_client, mixed_month):
    response = manager_client.get(reverse("retention:reason_customers_csv", args=["2024-06", "product_change"]))

    assert 'filename="reason-2024-06-product_change-parent-all.csv"' in response["Content-Disposition"]
    assert csv_rows(response) == [
        {
            "month": "2024-06",
            "level": "parent",
            "reason": "Product Change",
            "customer_id": "E3",
            "customer_name": "Mixed E3",
            "segment": "Large",
            "recurring_a": "100.00",
            "recurring_b": "110.00",
            "products_a": "Basic",
            "products_b": "Pro",
            "seats_a": "10",
            "seats_b": "10",
            "amount": "10.00",
        }
    ]


def test_customer_lines_csv_uses_import_format(manager_client, mixed_month):
    row = customer_row("E1")

    response = manager_client.get(reverse("retention:customer_lines_csv", args=[row.pk]))

    assert (
        response.content.decode().splitlines()[0] == "month,account_id,subscription_id,product,quantity,mrr,charge_type"
    )
    assert csv_rows(response) == [
        {
            "month": "2023-06",
            "account_id": "E1",
            "subscription_id": "SUB-E1",
            "product": "Basic",
            "quantity": "10",
            "mrr": "100.00",
            "charge_type": "recurring",
        },
        {
            "month": "2024-06",
            "account_id": "E1",
            "subscription_id": "SUB-E1",
            "product": "Basic",
            "quantity": "11",
            "mrr": "110.00",
            "charge_type": "recurring",
        },
        {
            "month": "2024-06",
            "account_id": "E1",
            "subscription_id": "SUB-E1",
            "product": "Basic",
            "quantity": "1",
            "mrr": "40.00",
            "charge_type": "trueup",
        },
    ]


@pytest.fixture
def formula_names(db):
    """A customer named like a formula downgrades to a negative B; a product named "+cmd" is cancelled."""
    make_account("=ID1", name='=HYPERLINK("http://example.invalid","x")')
    make_account("F2", name="-minus Ltd")
    add_lines(
        [
            ("2023-06", "=ID1", "SUB-F1", "@Seat", 10, "100.00", "recurring"),
            ("2024-06", "=ID1", "SUB-F1", "@Seat", 10, "-20.00", "recurring"),
            ("2023-06", "F2", "SUB-F2", "+cmd", 1, "1250.00", "recurring"),
            ("2024-06", "F2", "SUB-F2", "\tTab", 1, "5.00", "trueup"),
        ]
    )
    recompute_retention(None)


def test_csvs_escape_formula_text_but_not_numbers(manager_client, formula_names):
    downgrade = csv_rows(manager_client.get(reverse("retention:reason_customers_csv", args=["2024-06", "downgrade"])))
    cancellation = csv_rows(
        manager_client.get(reverse("retention:reason_customers_csv", args=["2024-06", "cancellation"]))
    )

    assert downgrade[0]["customer_id"] == "'=ID1"
    assert downgrade[0]["customer_name"] == '\'=HYPERLINK("http://example.invalid","x")'
    assert downgrade[0]["products_a"] == "'@Seat"
    assert downgrade[0]["products_b"] == ""
    assert downgrade[0]["recurring_b"] == "-20.00"
    assert downgrade[0]["amount"] == "120.00"
    assert cancellation[0]["customer_name"] == "'-minus Ltd"
    assert cancellation[0]["products_a"] == "'+cmd"


def test_lines_csv_escapes_formula_text_but_not_numbers(manager_client, formula_names):
    negative = csv_rows(manager_client.get(reverse("retention:customer_lines_csv", args=[customer_row("=ID1").pk])))
    commands = csv_rows(manager_client.get(reverse("retention:customer_lines_csv", args=[customer_row("F2").pk])))

    assert [(row["account_id"], row["product"], row["mrr"]) for row in negative] == [
        ("'=ID1", "'@Seat", "100.00"),
        ("'=ID1", "'@Seat", "-20.00"),
    ]
    assert [(row["product"], row["mrr"], row["charge_type"]) for row in commands] == [
        ("'+cmd", "1250.00", "recurring"),
        ("'\tTab", "5.00", "trueup"),
    ]


def test_csvs_ignore_locale(manager_client, formula_names):
    with override_settings(USE_THOUSAND_SEPARATOR=True, LANGUAGE_CODE="de"), translation.override("de"):
        reasons = csv_rows(manager_client.get(reverse("retention:reasons_csv", args=["2024-06"])))
        customers = csv_rows(
            manager_client.get(reverse("retention:reason_customers_csv", args=["2024-06", "cancellation"]))
        )
        lines = csv_rows(manager_client.get(reverse("retention:customer_lines_csv", args=[customer_row("F2").pk])))

    assert [row["mrr"] for row in reasons] == ["1250.00", "120.00"]
    assert customers[0]["recurring_a"] == "1250.00"
    assert customers[0]["amount"] == "1250.00"
    assert lines[0]["mrr"] == "1250.00"


def test_reason_customers_csv_lists_every_row(manager_client, thirty_downgrades, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = manager_client.get(reverse("retention:reason_customers_csv", args=["2024-06", "downgrade"]))

    rows = csv_rows(response)
    assert len(rows) == 30
    assert rows[0]["customer_id"] == "D07"
    assert len({row["customer_id"] for row in rows}) == 30
