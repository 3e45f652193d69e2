"""Choice values in event details: stored as codes, shown with their labels on the page and in the CSV."""

import csv
import datetime
import html
import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from audit import selectors
from audit.models import AuditAction, AuditEvent, ObjectType
from journeys.audit import MILESTONE_DETAIL_FIELDS, OBJECTIVE_FIELDS, plan_values
from journeys.models import Journey
from journeys.plan_models import Objective, SuccessPlan
from journeys.services import start_journey
from tests.factories import AccountFactory

from .factories import AuditEventFactory

pytestmark = pytest.mark.django_db

# PostgreSQL's jsonb does not keep the order of an object's keys, and PostgreSQL 15 returns shorter keys
# first. The cases with two keys put the shorter key first, so both databases show the same line.

URL = reverse("audit:events")
CSV_URL = reverse("audit:events_csv")

ACCOUNTS = "account_id,account_name,parent_account_id,segment,tam_email\nACC-1,Globex,,SMB,\n"
SUBSCRIPTIONS = (
    "subscription_id,account_id,product,quantity,mrr,start_date,end_date\n"
    "SUB-1,ACC-1,Premium,10,500.00,2024-01-01,2024-03-31\n"
)


@pytest.fixture
def admin_client(client, cs_admin):
    client.force_login(cs_admin)
    return client


def page_text(response):
    return html.unescape(response.content.decode())


def read_csv(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize(
    "object_type, details, expected",
    [
        (ObjectType.IMPORT, {"kind": "mrr", "rows_read": 2}, "kind: Monthly MRR lines; rows read: 2"),
        (ObjectType.IMPORT, {"kind": "accounts"}, "kind: Accounts"),
        (
            ObjectType.IMPORT,
            {"kind": "subscriptions", "end_date": "inclusive"},
            "kind: Subscription periods; end date: End date is the last day of service",
        ),
        (ObjectType.IMPORT, {"kind": "journeys"}, "kind: Journeys"),
        (ObjectType.IMPORT, {"kind": "cost_rates"}, "kind: Cost rates"),
        (
            ObjectType.JOURNEY,
            {"changes": {"infrastructure_type": ["", "on_premises"]}},
            "infrastructure type: – → On premises: production implementation complete",
        ),
        (
            ObjectType.JOURNEY,
            {"changes": {"first_value_basis": ["team", "licenses_10pct"]}},
            "first value basis: A complete team in production → 10% of the purchased licenses in production",
        ),
        (ObjectType.SUCCESS_PLAN, {"status": "draft"}, "status: Draft"),
        (ObjectType.SUCCESS_PLAN, {"changes": {"status": ["active", "closed"]}}, "status: Active → Closed"),
        (ObjectType.OBJECTIVE, {"changes": {"status": ["in_progress", "achieved"]}}, "status: In progress → Achieved"),
        (ObjectType.OBJECTIVE, {"changes": {"original_intent": [False, True]}}, "original intent: no → yes"),
        (ObjectType.IMPORT, {"kind": "invoices"}, "kind: invoices"),
    ],
    ids=[
        "mrr kind",
        "accounts kind",
        "end date",
        "journeys kind",
        "cost rates kind",
        "infrastructure type",
        "first value basis",
        "plan status",
        "plan status change",
        "objective status",
        "boolean",
        "unknown code",
    ],
)
def test_details_show_labels(admin_client, object_type, details, expected):
    event = AuditEventFactory(object_type=object_type, object_id="", details=details)

    page = page_text(admin_client.get(URL))
    row = read_csv(admin_client.get(CSV_URL))[0]

    assert expected in page
    assert row["details_label"] == expected
    event.refresh_from_db()
    assert event.details == details


def test_csv_keeps_codes_beside_labels(admin_client):
    AuditEventFactory(
        action=AuditAction.IMPORT_FINISHED,
        object_type=ObjectType.IMPORT,
        object_id="",
        details={"kind": "mrr", "rows_read": 2},
    )

    response = admin_client.get(CSV_URL)

    rows = read_csv(response)
    assert len(rows) == 1
    assert rows[0]["action"] == "import_finished"
    assert rows[0]["action_label"] == "Import finished"
    assert rows[0]["object_type"] == "import"
    assert rows[0]["object_type_label"] == "Import"
    assert rows[0]["details"] == '{"kind": "mrr", "rows_read": 2}'
    assert rows[0]["details_label"] == "kind: Monthly MRR lines; rows read: 2"


def test_csv_details_label_is_escaped(admin_client):
    AuditEventFactory(object_type=ObjectType.IMPORT, object_id="", details={"=cmd": "x"})

    row = read_csv(admin_client.get(CSV_URL))[0]

    assert row["details_label"] == "'=cmd: x"


def test_object_column_shows_label(admin_client):
    AuditEventFactory(object_type=ObjectType.SUCCESS_PLAN, object_id="", label="Plan of Globex")

    response = admin_client.get(URL)

    row = response.context["table"].page.object_list[0]
    assert row.get_cell("object_type") == "Success plan"


def test_recorded_events_show_labels(client, cs_admin, tam, tmp_path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS, encoding="utf-8")
    subscriptions = tmp_path / "subscriptions.csv"
    subscriptions.write_text(SUBSCRIPTIONS, encoding="utf-8")
    call_command("import_accounts", str(accounts), stdout=StringIO(), stderr=StringIO())
    call_command(
        "import_subscriptions", str(subscriptions), "--end-date", "inclusive", stdout=StringIO(), stderr=StringIO()
    )
    account = AccountFactory(tam=tam, name="Initech")
    journey = start_journey(account=account, transaction_date=datetime.date(2024, 6, 1), licenses=100)
    client.force_login(tam)
    client.post(
        reverse("journeys:journey", args=[journey.pk]),
        {"infrastructure_ready_date": "2024-06-10", "infrastructure_type": "hybrid"},
    )
    client.post(reverse("journeys:plan_new", args=[account.pk]))
    imported = AuditEvent.objects.get(action=AuditAction.IMPORT_FINISHED, details__kind="subscriptions")
    milestone = AuditEvent.objects.get(action=AuditAction.MILESTONE_SET)
    plan = AuditEvent.objects.get(action=AuditAction.PLAN_CREATED)
    client.force_login(cs_admin)

    page = page_text(client.get(URL))

    assert imported.details["end_date"] == "inclusive"
    assert milestone.details["changes"]["infrastructure_type"] == ["", "hybrid"]
    assert plan.details["status"] == "draft"
    assert "kind: Subscription periods" in page
    assert "end date: End date is the last day of service" in page
    assert "kind: Accounts" in page
    assert "infrastructure type: – → Hybrid: cloud and on-premises environments ready" in page
    assert "status: Draft" in page


@pytest.mark.parametrize(
    "object_type, model, fields",
    [
        (ObjectType.JOURNEY, Journey, [field for fields in MILESTONE_DETAIL_FIELDS.values() for field in fields]),
        (ObjectType.SUCCESS_PLAN, SuccessPlan, list(plan_values(SuccessPlan()))),
        (ObjectType.OBJECTIVE, Objective, list(OBJECTIVE_FIELDS)),
    ],
    ids=["milestone", "plan", "objective"],
)
def test_recorded_choice_fields_have_labels(object_type, model, fields):
    for name in fields:
        choices = model._meta.get_field(name).choices
        if choices:
            assert selectors.DETAIL_CHOICES[object_type][name] == dict(choices), name
