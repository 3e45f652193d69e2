"""Each audited change, driven through its real command, page or service, records who, when and what."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.http import HttpResponse
from django.urls import reverse

from accounts.roles import Role
from accounts.services import import_accounts
from audit.context import ActingUserMiddleware, acting_as, current_user
from audit.models import AuditAction, AuditEvent, ObjectType
from common.fiscal import FiscalQuarter
from journeys.models import Milestone
from journeys.plan_models import ObjectiveStatus, PlanStatus, SuccessPlan
from journeys.services import start_journey
from retention import tasks
from retention.engine import recompute_retention
from retention.models import ImportKind, ImportRun, ImportStatus, PendingRecompute
from services_cost.models import CostRate
from tests.factories import AccountFactory, UserFactory
from tests.journeys.factories import PlaybookTaskFactory, ProductFactory
from tests.journeys.plan_factories import ContactFactory, ObjectiveFactory, SuccessPlanFactory
from tests.services_cost.factories import CostRateFactory, ServiceRoleFactory

D = datetime.date
NOW = datetime.datetime(2024, 6, 30, 12, tzinfo=datetime.UTC)
pytestmark = pytest.mark.django_db

ACCOUNTS = "account_id,account_name,parent_account_id,segment,tam_email\nACC-1,Globex,,SMB,\nACC-2,Initech,,Large,\n"
JOURNEYS_HEADER = (
    "account_id,transaction_date,kind,licenses,kickoff,onboarding,infrastructure_ready,"
    "infrastructure_type,first_value,first_value_basis,outcome_achieved\n"
)
MRR = (
    "month,account_id,subscription_id,product,quantity,mrr,charge_type\n"
    "2023-06,ACC-1,SUB-1,Premium,10,500.00,recurring\n"
    "2024-06,ACC-1,SUB-1,Premium,12,600.00,recurring\n"
)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def only_event(**filters):
    events = list(AuditEvent.objects.filter(**filters))
    assert len(events) == 1, events
    return events[0]


# Imports


def test_import_command_records_outcome(tmp_path):
    call_command("import_accounts", write(tmp_path, "accounts.csv", ACCOUNTS), stdout=StringIO(), stderr=StringIO())

    event = only_event(action=AuditAction.IMPORT_FINISHED)
    run = ImportRun.objects.get()
    assert event.when == NOW
    assert event.actor is None
    assert event.actor_name == "system"
    assert event.object_type == ObjectType.IMPORT
    assert event.object_id == str(run.pk)
    assert event.label.startswith("Accounts import of ")
    assert event.details["rows_read"] == 2
    assert event.details["accounts_created"] == 2
    assert event.details["kind"] == ImportKind.ACCOUNTS


def test_mrr_import_records_months_and_lines(tmp_path):
    call_command("import_accounts", write(tmp_path, "accounts.csv", ACCOUNTS), stdout=StringIO(), stderr=StringIO())

    call_command("import_mrr", write(tmp_path, "mrr.csv", MRR), stdout=StringIO(), stderr=StringIO())

    event = AuditEvent.objects.filter(action=AuditAction.IMPORT_FINISHED).first()
    assert event.details["kind"] == ImportKind.MRR
    assert event.details["lines_stored"] == 2
    assert event.details["months_replaced"] == 2
    assert event.details["months"] == "2023-06 to 2024-06"


def test_rejected_import_records_invalid_values(tmp_path):
    text = ACCOUNTS + "ACC-3,,,Huge,\n"

    with pytest.raises(CommandError):
        call_command("import_accounts", write(tmp_path, "bad.csv", text), stdout=StringIO(), stderr=StringIO())

    event = only_event(action=AuditAction.IMPORT_REJECTED)
    assert event.details["invalid_values"] == 2
    assert event.details["rows_read"] == 3


def test_failed_import_records_the_error(tmp_path, monkeypatch):
    def broken_import(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("accounts.services.import_accounts", broken_import)

    with pytest.raises(RuntimeError):
        call_command("import_accounts", write(tmp_path, "a.csv", ACCOUNTS), stdout=StringIO(), stderr=StringIO())

    event = only_event(action=AuditAction.IMPORT_FAILED)
    assert event.details["error"] == "RuntimeError: disk full"
    assert ImportRun.objects.get().status == ImportStatus.FAILED


def test_uploaded_import_names_the_uploader(client, cs_admin, django_capture_on_commit_callbacks):
    client.force_login(cs_admin)
    upload = SimpleUploadedFile("accounts.csv", ACCOUNTS.encode(), content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("retention:import_new"), {"kind": ImportKind.ACCOUNTS, "file": upload})

    event = only_event(action=AuditAction.IMPORT_FINISHED)
    assert event.actor == cs_admin
    assert event.actor_name == "csadmin"
    assert event.label == "Accounts import of accounts.csv"


def test_journeys_import_records_counts(tmp_path):
    AccountFactory(external_id="ACC-1")
    text = JOURNEYS_HEADER + "ACC-1,2024-06-01,new,100,,,,,,,\n"

    call_command("import_journeys", write(tmp_path, "journeys.csv", text), stdout=StringIO(), stderr=StringIO())

    event = only_event(action=AuditAction.IMPORT_FINISHED)
    assert event.label == "Journeys import of journeys.csv"
    assert event.details["journeys_created"] == 1
    assert event.details["rows_read"] == 1


def test_rejected_journeys_import_is_recorded(tmp_path):
    text = JOURNEYS_HEADER + "MISSING,2024-06-01,new,100,,,,,,,\n"

    with pytest.raises(CommandError):
        call_command("import_journeys", write(tmp_path, "journeys.csv", text), stdout=StringIO(), stderr=StringIO())

    event = only_event(action=AuditAction.IMPORT_REJECTED)
    assert event.details["invalid_values"] == 1


def test_cost_rates_import_recorded(tmp_path):
    ServiceRoleFactory(name="Engineer")
    text = "role,fiscal_quarter,ote,benefits,billable_hours\nEngineer,FY2026-Q1,150000.00,30000.00,1800\n"

    call_command("import_cost_rates", write(tmp_path, "rates.csv", text), stdout=StringIO(), stderr=StringIO())

    imported = only_event(action=AuditAction.IMPORT_FINISHED)
    created = only_event(action=AuditAction.RATE_CREATED)
    assert imported.details["rates_created"] == 1
    assert created.details["changes"]["ote"] == [None, "150000.00"]
    assert created.details["reason"] == "imported from rates.csv"


# Recomputations


def test_recompute_records_months_span_and_seconds(tmp_path):
    call_command("import_accounts", write(tmp_path, "accounts.csv", ACCOUNTS), stdout=StringIO(), stderr=StringIO())
    call_command("import_mrr", write(tmp_path, "mrr.csv", MRR), stdout=StringIO(), stderr=StringIO())

    count = recompute_retention([D(2024, 6, 1)])

    event = AuditEvent.objects.filter(action=AuditAction.RECOMPUTE).latest("id")
    assert count == 13
    assert event.object_type == ObjectType.RETENTION
    assert event.details["months_computed"] == 13
    assert event.details["months"] == "2023-06 to 2024-06"
    assert event.details["data_span"] == "2023-06 to 2024-06"
    assert event.details["seconds"] >= 0
    assert event.actor_name == "system"
    assert event.when == NOW


def test_recompute_names_the_acting_user(tmp_path, cs_admin):
    call_command("import_accounts", write(tmp_path, "accounts.csv", ACCOUNTS), stdout=StringIO(), stderr=StringIO())
    call_command("import_mrr", write(tmp_path, "mrr.csv", MRR), stdout=StringIO(), stderr=StringIO())

    with acting_as(cs_admin):
        recompute_retention(None)

    assert AuditEvent.objects.filter(action=AuditAction.RECOMPUTE).latest("id").actor == cs_admin


def test_pending_recompute_task_names_the_uploader(tmp_path, cs_admin):
    call_command("import_accounts", write(tmp_path, "accounts.csv", ACCOUNTS), stdout=StringIO(), stderr=StringIO())
    call_command("import_mrr", write(tmp_path, "mrr.csv", MRR), stdout=StringIO(), stderr=StringIO())
    upload = ImportRun.objects.create(kind=ImportKind.MRR, file_name="m.csv", created_by=cs_admin)
    PendingRecompute.objects.all().delete()
    PendingRecompute.objects.create(months=["2024-06"], import_run=upload)

    tasks.recompute_pending()

    event = AuditEvent.objects.filter(action=AuditAction.RECOMPUTE).latest("id")
    assert event.actor == cs_admin
    assert not PendingRecompute.objects.exists()


# Journeys and milestones


def test_pending_recompute_with_a_command_is_the_system(tmp_path, cs_admin):
    call_command("import_accounts", write(tmp_path, "accounts.csv", ACCOUNTS), stdout=StringIO(), stderr=StringIO())
    call_command("import_mrr", write(tmp_path, "mrr.csv", MRR), stdout=StringIO(), stderr=StringIO())
    upload = ImportRun.objects.create(kind=ImportKind.MRR, file_name="m.csv", created_by=cs_admin)
    PendingRecompute.objects.all().delete()
    PendingRecompute.objects.create(months=["2024-06"], import_run=upload)
    PendingRecompute.objects.create(months=["2024-05"], import_run=None)

    tasks.recompute_pending()

    event = AuditEvent.objects.filter(action=AuditAction.RECOMPUTE).latest("id")
    assert event.actor is None
    assert event.actor_name == "system"


def test_acting_as_none_means_system(rf, cs_admin):
    request = rf.get("/")
    request.user = cs_admin
    seen = []

    def view(request):
        with acting_as(None):
            seen.append(current_user())
        seen.append(current_user())
        return HttpResponse()

    ActingUserMiddleware(view)(request)

    assert seen == [None, cs_admin]


@pytest.fixture
def journey(tam):
    account = AccountFactory(tam=tam, name="Globex")
    return start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=100)


def test_start_journey_page_records_start(client, tam):
    AccountFactory(tam=tam, name="Globex")
    account = AccountFactory(tam=tam, name="Initech")
    client.force_login(tam)

    client.post(
        reverse("journeys:start"),
        {"account": account.pk, "transaction_date": "2024-06-01", "licenses": "40", "kind": "new"},
    )

    event = only_event(action=AuditAction.JOURNEY_STARTED)
    assert event.actor == tam
    assert event.label == "Initech, New customer of 2024-06-01"
    assert event.details["licenses"] == 40


def test_milestone_set_changed_cleared(client, tam, journey):
    client.force_login(tam)
    url = reverse("journeys:journey", args=[journey.pk])

    client.post(url, {"kickoff_date": "2024-06-05"})
    client.post(url, {"kickoff_date": "2024-06-07"})
    client.post(url, {"kickoff_date": ""})

    events = list(AuditEvent.objects.filter(object_type=ObjectType.JOURNEY).exclude(action="journey_started"))
    assert [event.action for event in events] == [
        AuditAction.MILESTONE_CLEARED,
        AuditAction.MILESTONE_CHANGED,
        AuditAction.MILESTONE_SET,
    ]
    assert [event.details["changes"]["kickoff_date"] for event in events] == [
        ["2024-06-07", None],
        ["2024-06-05", "2024-06-07"],
        [None, "2024-06-05"],
    ]
    assert {event.actor for event in events} == {tam}
    assert {event.when for event in events} == {NOW}
    assert {event.object_id for event in events} == {str(journey.pk)}
    assert events[0].label == "Globex, New customer of 2024-06-01: Kickoff"


def test_milestone_event_has_describing_fields(client, tam, journey):
    client.force_login(tam)

    client.post(
        reverse("journeys:journey", args=[journey.pk]),
        {"infrastructure_ready_date": "2024-06-10", "infrastructure_type": "hybrid"},
    )

    event = only_event(action=AuditAction.MILESTONE_SET)
    assert event.details["milestone"] == Milestone.INFRASTRUCTURE_READY.label
    assert event.details["changes"] == {
        "infrastructure_ready_date": [None, "2024-06-10"],
        "infrastructure_type": ["", "hybrid"],
    }


def test_closing_last_task_records_onboarding(client, tam):
    product = ProductFactory(name="Premium")
    PlaybookTaskFactory(playbook__product=product, title="Welcome")
    account = AccountFactory(tam=tam, name="Globex")
    journey = start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=10, products=[product])
    task = journey.tasks.get()
    client.force_login(tam)

    client.post(
        reverse("journeys:task", args=[journey.pk, task.pk]),
        {f"task-{task.pk}-status": "done", f"task-{task.pk}-closed_on": "2024-06-10"},
    )

    event = only_event(action=AuditAction.MILESTONE_SET)
    assert event.details["changes"] == {"onboarding_date": [None, "2024-06-10"]}
    assert event.actor == tam


def test_unchanged_milestones_record_nothing(client, tam, journey):
    client.force_login(tam)
    url = reverse("journeys:journey", args=[journey.pk])
    client.post(url, {"kickoff_date": "2024-06-05"})

    client.post(url, {"kickoff_date": "2024-06-05"})

    assert AuditEvent.objects.filter(action__startswith="milestone").count() == 1


# Success plans and objectives


def test_plan_pages_record_each_change(client, tam):
    account = AccountFactory(tam=tam, name="Globex")
    client.force_login(tam)

    client.post(reverse("journeys:plan_new", args=[account.pk]))
    plan = SuccessPlan.objects.get()
    client.post(reverse("journeys:plan", args=[plan.pk]), {"status": "active", "closing_summary": ""})
    client.post(reverse("journeys:plan", args=[plan.pk]), {"status": "closed", "closing_summary": "Live."})

    events = list(AuditEvent.objects.filter(object_type=ObjectType.SUCCESS_PLAN))
    assert [event.action for event in events] == [
        AuditAction.PLAN_CLOSED,
        AuditAction.PLAN_CHANGED,
        AuditAction.PLAN_CREATED,
    ]
    assert events[0].details["changes"]["status"] == [PlanStatus.ACTIVE, PlanStatus.CLOSED]
    assert events[0].details["changes"]["closing_summary"] == ["", "Live."]
    assert events[1].details["changes"] == {"status": [PlanStatus.DRAFT, PlanStatus.ACTIVE]}
    assert events[2].label == "Success plan of Globex"
    assert {event.actor for event in events} == {tam}
    assert {event.when for event in events} == {NOW}


def test_objective_pages_record_each_change(client, tam):
    plan = SuccessPlanFactory(account=AccountFactory(tam=tam, name="Globex"))
    contact = ContactFactory(account=plan.account, name="Dana")
    client.force_login(tam)
    values = {"business_outcome": "Cut build time", "success_criteria": "Under 5 minutes", "status": "planned"}

    client.post(reverse("journeys:objective_new", args=[plan.pk]), values)
    objective = plan.objectives.get()
    url = reverse("journeys:objective", args=[plan.pk, objective.pk])
    client.post(url, values | {"status": "in_progress", "stakeholders": [contact.pk]})
    client.post(url, values | {"status": "achieved", "achieved_date": "2024-06-20", "stakeholders": [contact.pk]})

    events = list(AuditEvent.objects.filter(object_type=ObjectType.OBJECTIVE))
    assert [event.action for event in events] == [
        AuditAction.OBJECTIVE_CLOSED,
        AuditAction.OBJECTIVE_CHANGED,
        AuditAction.OBJECTIVE_CREATED,
    ]
    assert events[0].details["changes"] == {
        "status": [ObjectiveStatus.IN_PROGRESS, ObjectiveStatus.ACHIEVED],
        "achieved_date": [None, "2024-06-20"],
    }
    assert events[1].details["changes"] == {
        "status": [ObjectiveStatus.PLANNED, ObjectiveStatus.IN_PROGRESS],
        "stakeholders": [[], [str(contact)]],
    }
    assert events[2].details["changes"]["business_outcome"] == [None, "Cut build time"]
    assert events[2].label == "Cut build time (Globex)"
    assert {event.actor for event in events} == {tam}
    assert {event.when for event in events} == {NOW}


def test_original_intent_flag_is_recorded(client, cs_admin, tam):
    account = AccountFactory(tam=tam, name="Globex")
    start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=10)
    objective = ObjectiveFactory(plan=SuccessPlanFactory(account=account), business_outcome="Ship")
    client.force_login(cs_admin)

    client.post(reverse("journeys:objective_intent", args=[objective.pk]), {"original_intent": "on"})

    event = only_event(action=AuditAction.OBJECTIVE_CHANGED)
    assert event.details["changes"] == {"original_intent": [False, True]}
    assert event.actor == cs_admin


# Cost rates


def test_rate_pages_record_each_change(client, cs_admin):
    role = ServiceRoleFactory(name="Engineer")
    client.force_login(cs_admin)

    client.post(
        reverse("services_cost:rate_create"),
        {"role": role.pk, "quarter": "FY2026-Q1", "ote": "150000.00", "benefits": "30000.00", "billable_hours": "1800"},
    )
    rate = CostRate.objects.get()
    client.post(
        reverse("services_cost:rate_edit", args=[rate.pk]),
        {"ote": "160000.00", "benefits": "30000.00", "billable_hours": "1800"},
    )
    client.post(reverse("services_cost:rates_copy"), {"quarter": "FY2026-Q1"})
    copy = CostRate.objects.get(quarter_start=FiscalQuarter(2026, 2).start)
    client.post(reverse("services_cost:rate_delete", args=[copy.pk]))

    events = list(AuditEvent.objects.filter(object_type=ObjectType.COST_RATE))
    assert [event.action for event in events] == [
        AuditAction.RATE_DELETED,
        AuditAction.RATE_CREATED,
        AuditAction.RATE_CHANGED,
        AuditAction.RATE_CREATED,
    ]
    deleted, copied, changed, created = events
    assert created.details["changes"] == {
        "ote": [None, "150000.00"],
        "benefits": [None, "30000.00"],
        "billable_hours": [None, 1800],
    }
    assert changed.details["changes"] == {"ote": ["150000.00", "160000.00"]}
    assert changed.label == "Engineer FY2026-Q1"
    assert copied.details["reason"] == "copied from FY2026-Q1"
    assert deleted.details["changes"]["ote"] == ["160000.00", None]
    assert deleted.object_id == str(copy.pk)
    assert {event.actor for event in events} == {cs_admin}
    assert {event.when for event in events} == {NOW}


def test_unchanged_rate_records_nothing(cs_admin):
    from services_cost import services

    rate = CostRateFactory(role__name="Engineer", quarter=FiscalQuarter(2026, 1))

    services.save_rate(
        role=rate.role,
        quarter=rate.quarter,
        ote=rate.ote,
        benefits=rate.benefits,
        billable_hours=rate.billable_hours,
        user=cs_admin,
        rate=rate,
    )

    assert not AuditEvent.objects.exists()


# Actors


def test_deleted_actor_keeps_its_name(client):
    admin = UserFactory(username="leaving_admin", role=Role.CS_ADMIN)
    role = ServiceRoleFactory(name="Engineer")
    client.force_login(admin)
    client.post(
        reverse("services_cost:rate_create"),
        {"role": role.pk, "quarter": "FY2026-Q1", "ote": "1.00", "benefits": "0.00", "billable_hours": "1800"},
    )
    client.logout()

    admin.delete()

    event = only_event(action=AuditAction.RATE_CREATED)
    assert event.actor is None
    assert event.actor_name == "leaving_admin"


def test_record_outside_transaction_raises(transactional_db):
    from audit.services import record

    with pytest.raises(RuntimeError, match="inside the transaction"):
        record(AuditAction.RECOMPUTE, object_type=ObjectType.RETENTION, label="x")

    assert not AuditEvent.objects.exists()


def test_amounts_are_stored_as_decimal_text(cs_admin):
    from services_cost import services

    role = ServiceRoleFactory(name="Engineer")

    services.save_rate(
        role=role,
        quarter=FiscalQuarter(2026, 1),
        ote=Decimal("150000.50"),
        benefits=Decimal("0.00"),
        billable_hours=1880,
        user=cs_admin,
    )

    assert only_event(action=AuditAction.RATE_CREATED).details["changes"]["ote"] == [None, "150000.50"]


def test_import_failing_after_commit_stays_done(tmp_path, monkeypatch):
    def import_then_fail(*args, **kwargs):
        import_accounts(*args, **kwargs)
        raise RuntimeError("connection lost")

    monkeypatch.setattr("accounts.services.import_accounts", import_then_fail)

    with pytest.raises(RuntimeError):
        call_command("import_accounts", write(tmp_path, "a.csv", ACCOUNTS), stdout=StringIO(), stderr=StringIO())

    run = ImportRun.objects.get()
    assert run.status == ImportStatus.DONE
    assert run.summary["warnings"] == [
        "The data is stored, but the import stopped before its summary: RuntimeError: connection lost"
    ]
    assert only_event(action=AuditAction.IMPORT_FINISHED).object_id == str(run.pk)
    assert not AuditEvent.objects.filter(action=AuditAction.IMPORT_FAILED).exists()
