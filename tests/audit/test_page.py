"""The audit log page and its CSV export: who may read them, the filters, the order and the query count."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditAction, ObjectType
from tests.factories import UserFactory

from .factories import AuditEventFactory

pytestmark = pytest.mark.django_db

URL = reverse("audit:events")
CSV_URL = reverse("audit:events_csv")
USERS = ["tam", "other_tam", "manager", "cs_admin", "no_role", "anonymous"]


@pytest.fixture
def no_role(db):
    return UserFactory(username="nobody")


@pytest.fixture
def book(tam, cs_admin):
    """Events of a TAM's milestone, a CS admin's rate change and a system import, on three days of June 2024."""
    return {
        "milestone": AuditEventFactory(
            when=datetime.datetime(2024, 6, 3, 10, tzinfo=datetime.UTC),
            actor=tam,
            action=AuditAction.MILESTONE_SET,
            object_type=ObjectType.JOURNEY,
            label="Globex, New customer of 2024-06-01: Kickoff",
            details={"milestone": "Kickoff", "changes": {"kickoff_date": [None, "2024-06-05"]}},
        ),
        "rate": AuditEventFactory(
            when=datetime.datetime(2024, 6, 4, 23, 59, tzinfo=datetime.UTC),
            actor=cs_admin,
            action=AuditAction.RATE_CHANGED,
            label="Engineer FY2026-Q1",
        ),
        "import": AuditEventFactory(
            when=datetime.datetime(2024, 6, 5, 0, 0, tzinfo=datetime.UTC),
            action=AuditAction.IMPORT_FINISHED,
            object_type=ObjectType.IMPORT,
            label='=HYPERLINK("http://x") import of accounts.csv',
            details={"kind": "accounts", "rows_read": 2},
        ),
    }


def client_for(client, request, who):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    return client


def listed(response):
    return [row.record.pk for row in response.context["table"].page.object_list]


# Roles


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("url", [URL, CSV_URL], ids=["page", "csv"])
def test_audit_pages_by_role(client, request, book, who, url):
    response = client_for(client, request, who).get(url)

    if who == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        expected = 200 if who == "cs_admin" else 403
        assert response.status_code == expected


@pytest.mark.parametrize("who", ["tam", "manager", "cs_admin"])
def test_audit_nav_link_for_cs_admin(client, request, who):
    page = client_for(client, request, who).get(reverse("about")).content.decode()

    assert (URL in page) == (who == "cs_admin")


def test_post_is_not_allowed(client, cs_admin):
    client.force_login(cs_admin)

    assert client.post(URL).status_code == 405


# Listing and filters


@pytest.fixture
def admin_client(client, cs_admin):
    client.force_login(cs_admin)
    return client


def test_events_newest_first(admin_client, book):
    response = admin_client.get(URL)

    assert listed(response) == [book["import"].pk, book["rate"].pk, book["milestone"].pk]
    page = response.content.decode()
    assert 'kickoff date: – → <span class="text-nowrap">2024-06-05</span>' in page
    assert "tam_owner" in page
    assert "2024-06-04 23:59:00" in page


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"action": AuditAction.RATE_CHANGED}, ["rate"]),
        ({"object_type": ObjectType.JOURNEY}, ["milestone"]),
        ({"label": "engineer"}, ["rate"]),
        ({"date_from": "2024-06-04"}, ["import", "rate"]),
        ({"date_to": "2024-06-04"}, ["rate", "milestone"]),
        ({"date_from": "2024-06-04", "date_to": "2024-06-04"}, ["rate"]),
        ({"date_to": "9999-12-31"}, ["import", "rate", "milestone"]),
        ({"actor": "null"}, ["import"]),
        ({"action": AuditAction.RATE_CHANGED, "object_type": ObjectType.JOURNEY}, []),
    ],
    ids=["action", "object type", "label text", "from", "to", "one day", "last date", "system", "no match"],
)
def test_filters(admin_client, book, query, expected):
    response = admin_client.get(URL, query)

    assert response.status_code == 200
    assert listed(response) == [book[name].pk for name in expected]


def test_actor_choices_have_events(admin_client, book, tam, manager):
    response = admin_client.get(URL, {"actor": tam.pk})

    assert listed(response) == [book["milestone"].pk]
    choices = [label for _, label in response.context["filter"].form.fields["actor"].choices]
    assert choices == ["Anyone", "System", "csadmin", "tam_owner"]


def test_invalid_filter_keeps_others(admin_client, book):
    response = admin_client.get(URL, {"date_from": "June", "action": AuditAction.RATE_CHANGED})

    assert response.status_code == 200
    assert "date_from" in response.context["filter"].form.errors
    assert listed(response) == [book["rate"].pk]


def test_no_match_says_so(admin_client, book):
    page = admin_client.get(URL, {"label": "nothing like this"}).content.decode()

    assert 'id="no-events"' in page
    assert "0 events" in page


def test_pages_of_fifty(admin_client):
    events = [AuditEventFactory() for _ in range(51)]

    first = admin_client.get(URL)
    second = admin_client.get(URL, {"page": 2})

    assert listed(first) == [event.pk for event in reversed(events[1:])]
    assert listed(second) == [events[0].pk]


@pytest.mark.parametrize("per_page", ["-1", "0", "100000", "x"])
def test_pages_of_fifty_whatever_per_page(admin_client, per_page):
    events = [AuditEventFactory() for _ in range(51)]

    response = admin_client.get(URL, {"per_page": per_page})

    assert response.status_code == 200
    assert listed(response) == [event.pk for event in reversed(events[1:])]


def test_label_and_details_are_escaped(admin_client):
    AuditEventFactory(label="<b>Acme</b> 2024-06", details={"note": "<i>x</i>"})

    page = admin_client.get(URL).content.decode()

    assert '&lt;b&gt;Acme&lt;/b&gt; <span class="text-nowrap">2024-06</span>' in page
    assert "note: &lt;i&gt;x&lt;/i&gt;" in page
    assert "<b>Acme" not in page


def test_deleted_user_is_shown_by_name(admin_client):
    leaving = UserFactory(username="leaving_tam")
    AuditEventFactory(actor=leaving)
    leaving.delete()

    page = admin_client.get(URL).content.decode()

    assert "leaving_tam" in page
    assert "(deleted user)" in page


def test_query_count_stays_fixed(admin_client, tam):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(URL, {"actor": tam.pk}).status_code == 200
        return len(queries)

    AuditEventFactory(actor=tam)
    few = count_queries()
    for _ in range(120):
        AuditEventFactory(actor=tam, object_type=ObjectType.JOURNEY, object_id="7")
    many = count_queries()

    assert few == many
    assert many <= 10


# CSV


def read_csv(response):
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_filtered_and_escaped(admin_client, book):
    response = admin_client.get(CSV_URL, {"date_from": "2024-06-04"})

    rows = read_csv(response)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert rows[0] == [
        "when",
        "actor",
        "action",
        "action_label",
        "object_type",
        "object_type_label",
        "object_id",
        "label",
        "details",
        "details_label",
    ]
    assert [row[2] for row in rows[1:]] == [AuditAction.IMPORT_FINISHED, AuditAction.RATE_CHANGED]
    assert rows[1][0] == "2024-06-05T00:00:00+00:00"
    assert rows[1][1] == "system"
    assert rows[1][7] == '\'=HYPERLINK("http://x") import of accounts.csv'
    assert rows[1][8] == '{"kind": "accounts", "rows_read": 2}'
    assert rows[1][9] == "kind: Accounts; rows read: 2"
    assert rows[2][1] == "csadmin"


def test_csv_link_keeps_the_filters(admin_client, book):
    response = admin_client.get(URL, {"action": AuditAction.RATE_CHANGED, "page": 1})

    assert response.context["csv_url"] == f"{CSV_URL}?action=rate_changed"
