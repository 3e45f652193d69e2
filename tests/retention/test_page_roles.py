"""Which rows each role reads on the retention pages: owning TAM, other TAM, manager, CS admin, no role, anonymous."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Account, Segment
from retention.engine import recompute_retention
from tests.conftest import without_csrf_tokens
from tests.factories import UserFactory

from .builders import add_lines, make_account

OVERVIEW = reverse("retention:overview")
MONTH = reverse("retention:month", args=["2024-06"])
MONTH_CSV = reverse("retention:month_csv", args=["2024-06"])
JUNE_2024 = datetime.date(2024, 6, 1)


@pytest.fixture
def book(tam, other_tam):
    """Two parents of `tam`, one of `other_tam` and one without a TAM, from 2023-06 to 2024-06.

    2024-06 against 2023-06: T1 100 → 120, T2 50 → 0, O1 200 → 200, U1 300 → 150.
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
            ("2024-06", "O1", "SUB-O1", "Premium", 20, "200.00", "recurring"),
            ("2023-06", "U1", "SUB-U1", "Premium", 30, "300.00", "recurring"),
            ("2024-06", "U1", "SUB-U1", "Premium", 15, "150.00", "recurring"),
        ]
    )
    recompute_retention(None)


def june(response):
    (figures,) = [figures for figures in response.context["overview"].figures if figures.month == JUNE_2024]
    return figures


def listed_customers(response):
    return sorted(row.record.account.external_id for row in response.context["table"].paginated_rows)


def csv_customers(response):
    return sorted(row["customer_id"] for row in csv.DictReader(io.StringIO(response.content.decode())))


# Owning TAM


def test_owning_tam_overview_covers_own_accounts(client, tam, book):
    client.force_login(tam)
    response = client.get(OVERVIEW)

    assert response.status_code == 200
    figures = june(response)
    assert figures.customers == 2
    assert figures.a == Decimal("150.00")
    assert figures.b == Decimal("120.00")
    assert figures.c == Decimal("100.00")
    assert figures.gross_pct == Decimal("66.7")
    assert figures.net_pct == Decimal("80.0")
    assert "your accounts" in response.content.decode()


def test_owning_tam_overview_lists_every_span_month(client, tam, book):
    client.force_login(tam)
    response = client.get(OVERVIEW)

    figures = response.context["overview"].figures
    assert [figures.month for figures in figures] == [
        datetime.date(2023 + (5 + n) // 12, (5 + n) % 12 + 1, 1) for n in range(13)
    ]
    assert (figures[0].customers, figures[0].gross_pct, figures[0].net_pct) == (0, None, None)
    assert 'id="months-without-cohort"' in response.content.decode()


def test_owning_tam_overview_segment_filter(client, tam, book):
    client.force_login(tam)
    response = client.get(OVERVIEW, {"segment": "SMB"})

    figures = june(response)
    assert figures.customers == 1
    assert figures.a == Decimal("50.00")
    assert figures.gross_pct == Decimal("0.0")
    assert figures.net_pct == Decimal("0.0")


def test_owning_tam_month_lists_own_rows(client, tam, book):
    client.force_login(tam)
    response = client.get(MONTH)

    assert response.status_code == 200
    assert listed_customers(response) == ["T1", "T2"]
    figures = response.context["figures"]
    assert (figures.customers, figures.gross_pct, figures.net_pct) == (2, Decimal("66.7"), Decimal("80.0"))
    html = response.content.decode()
    assert "Unowned One" not in html
    assert "Other One" not in html


def test_owning_tam_csv_lists_own_rows(client, tam, book):
    client.force_login(tam)
    response = client.get(MONTH_CSV)

    assert response.status_code == 200
    assert csv_customers(response) == ["T1", "T2"]


def test_tam_reads_owned_child_account(client, tam, other_tam, book):
    make_account("T1-EU", parent=Account.objects.get(external_id="T1"), segment=Segment.LARGE, tam=other_tam)
    add_lines(
        [
            ("2023-06", "T1-EU", "SUB-T1-EU", "Premium", 1, "10.00", "recurring"),
            ("2024-06", "T1-EU", "SUB-T1-EU", "Premium", 1, "10.00", "recurring"),
        ]
    )
    recompute_retention(None)
    client.force_login(other_tam)

    parent_level = client.get(MONTH, {"level": "parent"})
    account_level = client.get(MONTH, {"level": "account"})

    assert listed_customers(parent_level) == ["O1"]
    assert listed_customers(account_level) == ["O1", "T1-EU"]


# Another TAM


def test_other_tam_overview_excludes_those_accounts(client, other_tam, book):
    client.force_login(other_tam)
    response = client.get(OVERVIEW)

    figures = june(response)
    assert figures.customers == 1
    assert figures.a == Decimal("200.00")
    assert figures.b == Decimal("200.00")
    assert figures.gross_pct == Decimal("100.0")


def test_other_tam_month_and_csv_exclude_those_rows(client, other_tam, book):
    client.force_login(other_tam)

    assert listed_customers(client.get(MONTH)) == ["O1"]
    assert csv_customers(client.get(MONTH_CSV)) == ["O1"]


def test_tam_without_accounts_sees_na(client, book):
    newcomer = UserFactory(username="tam_new", role="TAM")
    client.force_login(newcomer)

    figures = june(client.get(OVERVIEW))
    month = client.get(MONTH)

    assert (figures.customers, figures.gross_pct, figures.net_pct) == (0, None, None)
    assert "n/a: you own no accounts yet." in client.get(OVERVIEW).content.decode()
    assert month.context["table"] is None
    assert "n/a: you own no accounts yet." in month.content.decode()
    assert csv_customers(client.get(MONTH_CSV)) == []


def test_tam_month_without_cohort_explained(client, book, tam):
    client.force_login(tam)

    response = client.get(reverse("retention:month", args=["2023-06"]))

    assert response.context["table"] is None
    html = response.content.decode()
    assert "n/a: none of your accounts had MRR above zero in 2022-06, so 2023-06 has no customers to compare." in html


def test_tam_without_accounts_reasons_explained(client, book):
    newcomer = UserFactory(username="tam_new", role="TAM")
    client.force_login(newcomer)

    page = client.get(reverse("retention:reasons"), {"month": "2024-06"}).content.decode()

    assert 'id="no-cohort"' in page
    assert "n/a: you own no accounts yet." in page
    assert 'id="reason-summary"' not in page


def test_tam_with_new_accounts_sees_reason(client, book):
    newcomer = UserFactory(username="tam_new", role="TAM")
    make_account("N1", tam=newcomer, name="Newly signed")
    client.force_login(newcomer)

    page = client.get(OVERVIEW).content.decode()

    assert "none of your accounts had MRR above zero twelve months earlier" in page
    assert "you own no accounts" not in page


# Manager and CS admin


@pytest.mark.parametrize("role_fixture", ["manager", "cs_admin"])
def test_reader_of_all_accounts_sees_every_row(client, request, role_fixture, book):
    client.force_login(request.getfixturevalue(role_fixture))

    overview = client.get(OVERVIEW)
    month = client.get(MONTH)
    export = client.get(MONTH_CSV)

    figures = june(overview)
    assert figures.customers == 4
    assert figures.a == Decimal("650.00")
    assert figures.b == Decimal("470.00")
    assert figures.c == Decimal("450.00")
    assert figures.gross_pct == Decimal("69.2")
    assert figures.net_pct == Decimal("72.3")
    assert "Totals over every account." in overview.content.decode()
    assert listed_customers(month) == ["O1", "T1", "T2", "U1"]
    assert csv_customers(export) == ["O1", "T1", "T2", "U1"]


def test_manager_month_shows_tam_column(client, manager, book):
    client.force_login(manager)
    response = client.get(MONTH)

    assert "tam" in [column.name for column in response.context["table"].columns]
    assert "tam_owner" in response.content.decode()


# No role and anonymous


@pytest.mark.parametrize("url", [OVERVIEW, MONTH, MONTH_CSV], ids=["overview", "month", "csv"])
def test_user_without_role_is_forbidden(client, url, book):
    client.force_login(UserFactory(username="no_role"))

    response = client.get(url)

    content = without_csrf_tokens(response.content)
    assert response.status_code == 403
    assert b"Tam One" not in content
    assert b"T1" not in content


@pytest.mark.parametrize("url", [OVERVIEW, MONTH, MONTH_CSV], ids=["overview", "month", "csv"])
def test_anonymous_is_sent_to_login(client, url, book):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"
