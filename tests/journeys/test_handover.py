"""Journeys after an accounts import or the admin site gives their account another TAM."""

import contextlib
import datetime
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts import admin as accounts_admin
from accounts.models import Account, Segment
from accounts.roles import Role
from audit.models import AuditAction, AuditEvent
from journeys.models import Journey, TaskStatus
from journeys.services import start_journey
from retention.models import ImportKind
from tests.factories import AccountFactory, UserFactory

from .factories import FinishedJourneyFactory, JourneyFactory, PlaybookTaskFactory, ProductFactory

D = datetime.date
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]

HEADER = "account_id,account_name,parent_account_id,segment,tam_email\n"
# The conftest fixtures `tam` and `other_tam` have these addresses.
OLD_TAM_EMAIL = "tam_owner@example.com"
NEW_TAM_EMAIL = "tam_other@example.com"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def account(tam):
    return AccountFactory(external_id="ACC-1", name="Globex", tam=tam, segment=Segment.SMB)


@pytest.fixture
def open_journey(account):
    product = ProductFactory(name="Premium")
    PlaybookTaskFactory(playbook__product=product, title="Welcome")
    return start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=100, products=[product])


@pytest.fixture
def finished_journey(account):
    return FinishedJourneyFactory(account=account)


def import_accounts_file(tmp_path, tam_email):
    path = tmp_path / "accounts.csv"
    path.write_text(HEADER + f"ACC-1,Globex,,SMB,{tam_email}\n", encoding="utf-8")
    output = StringIO()
    call_command("import_accounts", str(path), stdout=output, stderr=StringIO())
    return output.getvalue()


def post_milestone(client, journey):
    return client.post(f"/journeys/{journey.pk}/", {"kickoff_date": "2024-06-05"})


def post_task_done(client, journey):
    task = journey.tasks.get()
    prefix = f"task-{task.pk}"
    data = {f"{prefix}-status": "done", f"{prefix}-closed_on": "2024-06-10"}
    return client.post(f"/journeys/{journey.pk}/tasks/{task.pk}/", data)


def test_import_moves_open_journey_to_new_tam(tmp_path, open_journey, other_tam):
    output = import_accounts_file(tmp_path, NEW_TAM_EMAIL)

    open_journey.refresh_from_db()
    assert open_journey.tam == other_tam
    assert "Open journeys moved to a new TAM: 1" in output


def test_new_tam_records_milestone(tmp_path, login, open_journey, other_tam):
    import_accounts_file(tmp_path, NEW_TAM_EMAIL)

    response = post_milestone(login("other_tam"), open_journey)

    assert response.status_code == 302
    open_journey.refresh_from_db()
    assert open_journey.kickoff_date == D(2024, 6, 5)


def test_new_tam_closes_task(tmp_path, login, open_journey, other_tam):
    import_accounts_file(tmp_path, NEW_TAM_EMAIL)

    response = post_task_done(login("other_tam"), open_journey)

    assert response.status_code == 302
    task = open_journey.tasks.get()
    assert task.status == TaskStatus.DONE
    assert task.closed_on == D(2024, 6, 10)


@pytest.mark.parametrize("post", [post_milestone, post_task_done], ids=["milestone", "task"])
def test_old_tam_rejected(tmp_path, login, open_journey, other_tam, post):
    import_accounts_file(tmp_path, NEW_TAM_EMAIL)

    response = post(login("tam"), open_journey)

    assert response.status_code == 403
    open_journey.refresh_from_db()
    assert open_journey.kickoff_date is None
    assert open_journey.tasks.get().status == TaskStatus.OPEN


def test_old_tam_cannot_read_moved_journey(tmp_path, login, open_journey, other_tam):
    import_accounts_file(tmp_path, NEW_TAM_EMAIL)

    response = login("tam").get(f"/journeys/{open_journey.pk}/")

    assert response.status_code == 403


def test_my_accounts_follows_new_tam(tmp_path, login, open_journey, other_tam):
    import_accounts_file(tmp_path, NEW_TAM_EMAIL)

    new_tam_page = login("other_tam").get("/journeys/")
    old_tam_page = login("tam").get("/journeys/")

    assert new_tam_page.context["count"] == 1
    assert "Globex" in new_tam_page.content.decode()
    assert old_tam_page.context["count"] == 0
    assert "Globex" not in old_tam_page.content.decode()


def test_finished_journey_keeps_old_tam(tmp_path, tam, open_journey, finished_journey, other_tam):
    output = import_accounts_file(tmp_path, NEW_TAM_EMAIL)

    finished_journey.refresh_from_db()
    open_journey.refresh_from_db()
    assert finished_journey.tam == tam
    assert open_journey.tam == other_tam
    assert "Open journeys moved to a new TAM: 1" in output


def test_unchanged_tam_changes_no_journey(tmp_path, tam, open_journey):
    # A journey whose TAM differs from the account's, as one started before the account had its TAM.
    earlier_tam = UserFactory(username="earlier_tam")
    other_journey = JourneyFactory(account=open_journey.account, transaction_date=D(2024, 5, 1), tam=earlier_tam)
    history_before = Journey.history.count()

    output = import_accounts_file(tmp_path, OLD_TAM_EMAIL)

    open_journey.refresh_from_db()
    other_journey.refresh_from_db()
    assert open_journey.tam == tam
    assert other_journey.tam == earlier_tam
    assert Journey.history.count() == history_before
    assert "Open journeys moved to a new TAM: 0" in output


def test_cleared_tam_keeps_journey_tam(tmp_path, tam, open_journey):
    output = import_accounts_file(tmp_path, "")

    open_journey.refresh_from_db()
    open_journey.account.refresh_from_db()
    assert open_journey.account.tam is None
    assert open_journey.tam == tam
    assert "Open journeys moved to a new TAM: 0" in output


def test_first_tam_takes_open_journeys(tmp_path, other_tam):
    account = AccountFactory(external_id="ACC-1", name="Globex", tam=None)
    journey = start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=100)

    import_accounts_file(tmp_path, NEW_TAM_EMAIL)

    journey.refresh_from_db()
    assert journey.tam == other_tam


def test_move_in_history_and_audit_log(client, cs_admin, open_journey, other_tam, django_capture_on_commit_callbacks):
    client.force_login(cs_admin)
    upload = SimpleUploadedFile("accounts.csv", (HEADER + f"ACC-1,Globex,,SMB,{NEW_TAM_EMAIL}\n").encode())

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("retention:import_new"), {"kind": ImportKind.ACCOUNTS, "file": upload})

    response = client.get(f"/journeys/{open_journey.pk}/")
    moves = [entry for entry in response.context["history"] if entry.changes == ["owning TAM: tam_owner → tam_other"]]
    assert len(moves) == 1
    assert moves[0].who == "csadmin"
    assert moves[0].subject == "Journey"
    event = AuditEvent.objects.get(action=AuditAction.IMPORT_FINISHED)
    assert event.details["journeys_reassigned"] == 1


def test_history_names_deleted_old_tam(tmp_path, client, tam, open_journey, other_tam):
    import_accounts_file(tmp_path, NEW_TAM_EMAIL)
    old_tam_id = tam.pk
    tam.delete()
    client.force_login(other_tam)

    response = client.get(f"/journeys/{open_journey.pk}/")

    changes = [change for entry in response.context["history"] for change in entry.changes]
    assert f"owning TAM: deleted user {old_tam_id} → tam_other" in changes


def test_rejected_import_moves_no_journey(tmp_path, tam, open_journey, other_tam):
    path = tmp_path / "accounts.csv"
    path.write_text(HEADER + f"ACC-1,Globex,,SMB,{NEW_TAM_EMAIL}\nACC-2,Initech,,Huge,\n", encoding="utf-8")

    with pytest.raises(CommandError, match="unknown segment"):
        call_command("import_accounts", str(path), stdout=StringIO(), stderr=StringIO())

    open_journey.refresh_from_db()
    assert open_journey.tam == tam


def admin_change(client, account, tam):
    return client.post(
        f"/admin/accounts/account/{account.pk}/change/",
        {
            "external_id": account.external_id,
            "name": account.name,
            "parent": "",
            "segment": account.segment,
            "tam": tam.pk if tam else "",
            "subscriptions-TOTAL_FORMS": "0",
            "subscriptions-INITIAL_FORMS": "0",
            "contacts-TOTAL_FORMS": "0",
            "contacts-INITIAL_FORMS": "0",
        },
    )


def test_admin_tam_change_moves_open_journey(client, cs_admin, tam, open_journey, finished_journey, other_tam):
    cs_admin.is_staff = True
    cs_admin.save()
    client.force_login(cs_admin)

    response = admin_change(client, open_journey.account, other_tam)

    assert response.status_code == 302
    open_journey.refresh_from_db()
    finished_journey.refresh_from_db()
    assert open_journey.tam == other_tam
    assert finished_journey.tam == tam
    record = open_journey.history.order_by("-history_date", "-history_id").first()
    assert record.history_user == cs_admin


def test_admin_tam_change_in_audit_log(client, cs_admin, tam, open_journey, finished_journey, other_tam):
    cs_admin.is_staff = True
    cs_admin.save()
    client.force_login(cs_admin)

    admin_change(client, open_journey.account, other_tam)

    event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_REASSIGNED)
    assert (event.object_id, event.label, event.actor) == (str(open_journey.account.pk), "Globex (ACC-1)", cs_admin)
    assert event.details == {"changes": {"owning_TAM": ["tam_owner", "tam_other"]}, "open_journeys_moved": 1}


def test_admin_audit_names_tam_set_before_lock(client, cs_admin, tam, open_journey, other_tam, monkeypatch):
    """A move on the Move accounts page commits while the admin form waits for the report lock."""
    cs_admin.is_staff = True
    cs_admin.save()
    client.force_login(cs_admin)
    third = UserFactory(username="tam_third", role=Role.TAM)
    real_lock = accounts_admin.report_lock

    @contextlib.contextmanager
    def move_then_lock():
        Account.objects.filter(pk=open_journey.account.pk).update(tam=third)
        with real_lock():
            yield

    monkeypatch.setattr(accounts_admin, "report_lock", move_then_lock)

    admin_change(client, open_journey.account, other_tam)

    event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_REASSIGNED)
    assert event.details["changes"] == {"owning_TAM": ["tam_third", "tam_other"]}
