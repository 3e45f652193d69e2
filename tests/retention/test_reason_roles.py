"""Which rows each role reads on the reasons pages and CSVs: owning TAM, other TAM, manager, CS admin, anonymous."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Segment
from common.months import parse_month
from retention.engine import recompute_retention
from retention.models import Level, RetentionCustomer
from tests.conftest import without_csrf_tokens
from tests.factories import UserFactory

from .builders import add_lines, make_account

REASONS = reverse("retention:reasons")
REASONS_CSV = reverse("retention:reasons_csv", args=["2024-06"])
CANCELLED = reverse("retention:reason_customers", args=["2024-06", "cancellation"])
CANCELLED_CSV = reverse("retention:reason_customers_csv", args=["2024-06", "cancellation"])


@pytest.fixture
def book(tam, other_tam):
    """Two parents of `tam`, one of `other_tam` and one without a TAM, compared between 2023-06 and 2024-06.

    T1 100 → 120 with more seats (Seat Expansion 20), T2 50 → 0 (Cancellation 50),
    O1 200 → 150 with fewer seats (Downgrade 50), U1 300 → 0 (Cancellation 300).
    """
    make_account("T1", segment=Segment.LARGE, tam=tam, name="Tam One")
    make_account("T2", segment=Segment.SMB, tam=tam, name="Tam Two")
    make_account("O1", segment=Segment.SMB, tam=other_tam, name="Other One")
    make_account("U1", segment=Segment.MID_MARKET, name="Unowned One")
    add_lines(
        [
            ("2023-06", "T1", "SUB-T1", "Premium", 10, "100.00", "recurring"),
            ("2024-06", "T1", "SUB-T1", "Premium", 12, "120.00", "recurring"),
            ("2023-06", "T2", "SUB-T2", "Premium", 5, "50.00", "recurring"),
            ("2023-06", "O1", "SUB-O1", "Premium", 20, "200.00", "recurring"),
            ("2024-06", "O1", "SUB-O1", "Premium", 15, "150.00", "recurring"),
            ("2023-06", "U1", "SUB-U1", "Premium", 30, "300.00", "recurring"),
        ]
    )
    recompute_retention(None)


def lines_url(external_id, csv_file=False):
    row = RetentionCustomer.objects.get(
        month=parse_month("2024-06"), level=Level.PARENT, account__external_id=external_id
    )
    return reverse("retention:customer_lines_csv" if csv_file else "retention:customer_lines", args=[row.pk])


def page_reasons(response):
    """Return {reason value: amount} over both categories of the reasons page."""
    breakdown = response.context["breakdown"]
    return {figure.reason.value: figure.amount for figure in breakdown.churn + breakdown.expansion}


def listed_customers(response):
    return sorted(row.record.account.external_id for row in response.context["table"].paginated_rows)


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def chart_totals(response):
    """Return {reason value: amount of the last month} from the chart data."""
    return {series["key"]: series["values"][-1] for series in response.context["chart"]["series"]}


# Owning TAM


def test_owning_tam_reasons_cover_own_accounts(client, tam, book):
    client.force_login(tam)
    response = client.get(REASONS, {"month": "2024-06"})

    assert response.status_code == 200
    assert page_reasons(response) == {"cancellation": Decimal("50.00"), "seat_expansion": Decimal("20.00")}
    assert response.context["breakdown"].recurring_change == Decimal("-30.00")
    assert chart_totals(response) == {"cancellation": "-50.00", "seat_expansion": "20.00"}
    html = response.content.decode()
    assert "your accounts" in html
    assert "Downgrade" not in html


def test_owning_tam_reasons_csv(client, tam, book):
    client.force_login(tam)

    rows = csv_rows(client.get(REASONS_CSV))

    assert [(row["reason"], row["mrr"], row["share_pct"]) for row in rows] == [
        ("Cancellation", "50.00", "100.00"),
        ("Seat Expansion", "20.00", "100.00"),
    ]


def test_owning_tam_drill_down_lists_own_rows(client, tam, book):
    client.force_login(tam)

    page = client.get(CANCELLED)
    export = csv_rows(client.get(CANCELLED_CSV))

    assert listed_customers(page) == ["T2"]
    assert [row["customer_id"] for row in export] == ["T2"]
    assert "Unowned One" not in page.content.decode()
    assert "tam" not in [column.name for column in page.context["table"].columns]


def test_owning_tam_reads_own_customer_lines(client, tam, book):
    client.force_login(tam)

    page = client.get(lines_url("T2"))
    export = csv_rows(client.get(lines_url("T2", csv_file=True)))

    assert page.status_code == 200
    assert [line.mrr for line in page.context["lines"].baseline] == [Decimal("50.00")]
    assert [(row["account_id"], row["mrr"]) for row in export] == [("T2", "50.00")]


# Another TAM


def test_other_tam_reasons_exclude_those_accounts(client, other_tam, book):
    client.force_login(other_tam)
    response = client.get(REASONS, {"month": "2024-06"})

    assert page_reasons(response) == {"downgrade": Decimal("50.00")}
    assert "No expansion this month." in response.content.decode()
    assert [row["reason"] for row in csv_rows(client.get(REASONS_CSV))] == ["Downgrade"]


def test_other_tam_drill_down_lists_none_of_those_rows(client, other_tam, book):
    client.force_login(other_tam)

    page = client.get(CANCELLED)
    export = csv_rows(client.get(CANCELLED_CSV))

    assert listed_customers(page) == []
    assert export == []
    html = page.content.decode()
    assert "Tam Two" not in html
    assert "Unowned One" not in html


@pytest.mark.parametrize("csv_file", [False, True], ids=["page", "csv"])
def test_other_tam_customer_lines_not_found(client, other_tam, book, csv_file):
    client.force_login(other_tam)

    response = client.get(lines_url("T2", csv_file=csv_file))

    assert response.status_code == 404
    assert b"Tam Two" not in response.content
    assert b"50.00" not in response.content


def test_tam_without_accounts_sees_no_reasons(client, book):
    client.force_login(UserFactory(username="tam_new", role="TAM"))

    response = client.get(REASONS, {"month": "2024-06"})

    assert page_reasons(response) == {}
    html = response.content.decode()
    assert "n/a: you own no accounts yet." in html
    assert "No churn this month." not in html
    assert csv_rows(client.get(REASONS_CSV)) == []
    assert csv_rows(client.get(CANCELLED_CSV)) == []


# Manager and CS admin


@pytest.mark.parametrize("role_fixture", ["manager", "cs_admin"])
def test_reader_of_all_accounts_sees_every_row(client, request, role_fixture, book):
    client.force_login(request.getfixturevalue(role_fixture))

    page = client.get(REASONS, {"month": "2024-06"})
    drill_down = client.get(CANCELLED)
    reasons_export = csv_rows(client.get(REASONS_CSV))
    customers_export = csv_rows(client.get(CANCELLED_CSV))

    assert page_reasons(page) == {
        "cancellation": Decimal("350.00"),
        "downgrade": Decimal("50.00"),
        "seat_expansion": Decimal("20.00"),
    }
    assert page.context["breakdown"].recurring_change == Decimal("-380.00")
    assert "Totals over every account." in page.content.decode()
    assert listed_customers(drill_down) == ["T2", "U1"]
    assert "tam_owner" in drill_down.content.decode()
    assert [(row["reason"], row["mrr"]) for row in reasons_export] == [
        ("Cancellation", "350.00"),
        ("Downgrade", "50.00"),
        ("Seat Expansion", "20.00"),
    ]
    assert sorted(row["customer_id"] for row in customers_export) == ["T2", "U1"]


@pytest.mark.parametrize("role_fixture", ["manager", "cs_admin"])
@pytest.mark.parametrize("external_id", ["T2", "O1", "U1"])
def test_reader_of_all_accounts_reads_any_customer_lines(client, request, role_fixture, external_id, book):
    client.force_login(request.getfixturevalue(role_fixture))

    page = client.get(lines_url(external_id))
    export = csv_rows(client.get(lines_url(external_id, csv_file=True)))

    assert page.status_code == 200
    assert page.context["customer"].account.external_id == external_id
    assert {row["account_id"] for row in export} == {external_id}


# Navigation


@pytest.mark.parametrize("role_fixture", ["tam", "manager", "cs_admin"])
def test_navigation_shows_reasons_to_each_role(client, request, role_fixture, book):
    client.force_login(request.getfixturevalue(role_fixture))

    assert 'href="/retention/reasons/">Reasons</a>' in client.get(reverse("retention:overview")).content.decode()


def test_navigation_hides_reasons_without_role(client, book):
    client.force_login(UserFactory(username="no_role"))

    assert 'href="/retention/reasons/">Reasons</a>' not in client.get(reverse("home")).content.decode()


# No role and anonymous


def all_urls():
    return [
        pytest.param(lambda: REASONS, id="reasons"),
        pytest.param(lambda: REASONS_CSV, id="reasons-csv"),
        pytest.param(lambda: CANCELLED, id="customers"),
        pytest.param(lambda: CANCELLED_CSV, id="customers-csv"),
        pytest.param(lambda: lines_url("T2"), id="lines"),
        pytest.param(lambda: lines_url("T2", csv_file=True), id="lines-csv"),
    ]


@pytest.mark.parametrize("url", all_urls())
def test_user_without_role_is_forbidden(client, url, book):
    client.force_login(UserFactory(username="no_role"))

    response = client.get(url())

    content = without_csrf_tokens(response.content)
    assert response.status_code == 403
    assert b"Tam Two" not in content
    assert b"T2" not in content


@pytest.mark.parametrize("url", all_urls())
def test_anonymous_is_sent_to_login(client, url, book):
    target = url()

    response = client.get(target)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={target}"
