"""Every journey page as owning TAM, other TAM, manager, CS admin and anonymous, and what the pages store."""

import datetime
import re

import pytest

from accounts.models import Segment
from journeys import services as journey_services
from journeys.forms import PlaybookForm
from journeys.models import Journey, Milestone, MilestoneTarget, Playbook, PlaybookTask, TaskStatus
from journeys.services import start_journey
from tests.factories import AccountFactory

from .factories import PlaybookTaskFactory, ProductFactory

D = datetime.date
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]

USERS = ["tam", "other_tam", "manager", "cs_admin", "anonymous"]


@pytest.fixture
def journey(tam):
    product = ProductFactory(name="Premium")
    PlaybookTaskFactory(playbook__product=product, title="Welcome")
    PlaybookTaskFactory(playbook=product.playbooks.get(), title="Train")
    account = AccountFactory(tam=tam, name="Globex", segment=Segment.SMB)
    return start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=100, products=[product])


PAGES = [
    ("/journeys/", (200, 200, 200, 200, "login")),
    ("/journeys/{pk}/", (200, 403, 200, 200, "login")),
    ("/journeys/start/", (200, 200, 403, 403, "login")),
    ("/journeys/playbooks/", (403, 403, 403, 200, "login")),
    ("/journeys/playbooks/new/", (403, 403, 403, 200, "login")),
    ("/journeys/playbooks/{playbook}/", (403, 403, 403, 200, "login")),
    ("/journeys/targets/", (403, 403, 403, 200, "login")),
    ("/journeys/report/", (403, 403, 200, 200, "login")),
    ("/journeys/report.csv", (403, 403, 200, 200, "login")),
]


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize(("url", "statuses"), PAGES, ids=[url for url, _ in PAGES])
def test_page_status_by_role(login, journey, user, url, statuses):
    url = url.format(pk=journey.pk, playbook=Playbook.objects.get().pk)

    response = login(user).get(url)

    expected = dict(zip(USERS, statuses, strict=True))[user]
    if expected == "login":
        assert response.status_code == 302
        assert response.url.startswith("/login/")
    else:
        assert response.status_code == expected


POSTS = [
    ("milestones", (302, 403, 403, 403, "login")),
    ("task", (302, 403, 403, 403, "login")),
    ("targets", (403, 403, 403, 302, "login")),
    ("playbook", (403, 403, 403, 302, "login")),
]


def _post(client, change, journey):
    task = journey.tasks.first()
    if change == "milestones":
        return client.post(f"/journeys/{journey.pk}/", {"kickoff_date": "2024-06-05"})
    if change == "task":
        prefix = f"task-{task.pk}"
        data = {f"{prefix}-status": "done", f"{prefix}-closed_on": "2024-06-10"}
        return client.post(f"/journeys/{journey.pk}/tasks/{task.pk}/", data)
    if change == "targets":
        data = {f"target_{m.value}_{s}": 20 for m in Milestone for s in ("large", "mid_market", "smb", "none")}
        return client.post("/journeys/targets/", data)
    data = {
        "product": ProductFactory(name="Basic").pk,
        "segment": "Large",
        "tasks-TOTAL_FORMS": "1",
        "tasks-INITIAL_FORMS": "0",
        "tasks-0-title": "Kickoff call",
        "tasks-0-owner_side": "tam",
        "tasks-0-due_offset_days": "3",
        "tasks-0-position": "0",
    }
    return client.post("/journeys/playbooks/new/", data)


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize(("change", "statuses"), POSTS, ids=[change for change, _ in POSTS])
def test_change_by_role(login, journey, user, change, statuses):
    response = _post(login(user), change, journey)

    expected = dict(zip(USERS, statuses, strict=True))[user]
    if expected == "login":
        assert response.status_code == 302
        assert response.url.startswith("/login/")
    else:
        assert response.status_code == expected
    journey.refresh_from_db()
    changed = {
        "milestones": journey.kickoff_date is not None,
        "task": journey.tasks.filter(status=TaskStatus.DONE).exists(),
        "targets": MilestoneTarget.objects.filter(days=20).count() == 20,
        "playbook": Playbook.objects.filter(segment="Large").exists(),
    }[change]
    assert changed is (expected == 302)


def test_milestone_errors_name_field(login, journey):
    client = login("tam")

    response = client.post(
        f"/journeys/{journey.pk}/",
        {
            "kickoff_date": "2024-05-31",
            "first_value_date": "2024-06-20",
            "first_value_basis": "licenses_10pct",
            "first_value_users": "9",
            "outcome_achieved_date": "2024-07-01",
        },
    )

    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["kickoff_date"] == ["The date 2024-05-31 is before the transaction date 2024-06-01."]
    assert form.errors["outcome_achieved_date"] == ["The date 2024-07-01 is in the future; today is 2024-06-30."]
    assert "10% not met: 9 users" in form.errors["first_value_users"][0]
    assert Journey.objects.get().kickoff_date is None


def test_out_of_order_saved_with_warning(login, journey):
    client = login("tam")

    response = client.post(
        f"/journeys/{journey.pk}/",
        {"kickoff_date": "2024-06-20", "infrastructure_ready_date": "2024-06-10", "infrastructure_type": "hybrid"},
        follow=True,
    )

    texts = [str(message) for message in response.context["messages"]]
    assert "Milestones saved." in texts
    assert "Out of the usual order: Infrastructure Ready (2024-06-10) is dated before Kickoff (2024-06-20)." in texts
    assert response.context["warnings"] == ["Infrastructure Ready (2024-06-10) is dated before Kickoff (2024-06-20)."]
    journey.refresh_from_db()
    assert journey.infrastructure_ready_date == D(2024, 6, 10)
    assert journey.kickoff_date == D(2024, 6, 20)


def test_closing_tasks_completes_onboarding_and_history(login, journey):
    client = login("tam")
    for task, day in zip(journey.tasks.order_by("position"), ["2024-06-10", "2024-06-12"], strict=True):
        prefix = f"task-{task.pk}"
        client.post(
            f"/journeys/{journey.pk}/tasks/{task.pk}/", {f"{prefix}-status": "done", f"{prefix}-closed_on": day}
        )

    response = client.get(f"/journeys/{journey.pk}/")

    journey.refresh_from_db()
    assert journey.onboarding_date == D(2024, 6, 12)
    history = response.context["history"]
    onboarding = [entry for entry in history if entry.changes == ["onboarding date: – → 2024-06-12"]]
    assert len(onboarding) == 1
    assert onboarding[0].who == "tam_owner"
    assert onboarding[0].subject == "Journey"
    assert any(entry.subject == "Task “Train”" and entry.who == "tam_owner" for entry in history)


def test_task_date_before_transaction_rejected(login, journey):
    client = login("tam")
    task = journey.tasks.first()
    prefix = f"task-{task.pk}"

    response = client.post(
        f"/journeys/{journey.pk}/tasks/{task.pk}/", {f"{prefix}-status": "done", f"{prefix}-closed_on": "2024-05-01"}
    )

    assert response.status_code == 400
    bound = dict(response.context["tasks"])[task]
    assert bound.errors["closed_on"] == ["The date 2024-05-01 is before the transaction date 2024-06-01."]


def test_task_of_other_journey_not_found(login, journey, tam):
    other = start_journey(account=AccountFactory(tam=tam), transaction_date=D(2024, 6, 1), licenses=5)
    task = journey.tasks.first()

    response = login("tam").post(f"/journeys/{other.pk}/tasks/{task.pk}/", {})

    assert response.status_code == 404


def test_start_journey_page_creates_tasks(login, tam):
    product = ProductFactory(name="Premium")
    PlaybookTaskFactory(playbook__product=product)
    account = AccountFactory(tam=tam)

    response = login("tam").post(
        "/journeys/start/",
        {
            "account": account.pk,
            "kind": "new",
            "transaction_date": "2024-06-20",
            "licenses": "40",
            "products": [product.pk],
        },
    )

    journey = Journey.objects.get(account=account)
    assert response.status_code == 302
    assert response.url == f"/journeys/{journey.pk}/"
    assert journey.tam == tam
    assert journey.tasks.count() == 1


def test_start_journey_product_id_beyond_64_bits(login, tam):
    account = AccountFactory(tam=tam)

    data = {"account": account.pk, "kind": "new", "transaction_date": "2024-06-20", "licenses": "40"}

    response = login("tam").post("/journeys/start/", {**data, "products": "9" * 30})

    assert response.status_code == 200
    assert "products" in response.context["form"].errors
    assert not Journey.objects.exists()


def test_start_journey_posted_twice_at_once(login, tam, monkeypatch):
    account = AccountFactory(tam=tam)
    data = {"account": account.pk, "kind": "new", "transaction_date": "2024-06-20", "licenses": "40"}
    start = journey_services.start_journey

    def started_by_another_request_first(**arguments):
        # A second post of the same form passed its check before the first one stored the journey.
        start(**arguments)
        return start(**arguments)

    monkeypatch.setattr(journey_services, "start_journey", started_by_another_request_first)

    response = login("tam").post("/journeys/start/", data)

    assert response.status_code == 200
    assert response.context["form"].errors["transaction_date"] == [
        "This account already has a journey of this kind on this date."
    ]
    assert Journey.objects.filter(account=account).count() == 1


def test_start_journey_rejects_other_tams_account(login, other_tam):
    account = AccountFactory(tam=other_tam)

    response = login("tam").post(
        "/journeys/start/", {"account": account.pk, "kind": "new", "transaction_date": "2024-06-20", "licenses": "40"}
    )

    assert response.status_code == 200
    assert "account" in response.context["form"].errors
    assert not Journey.objects.exists()


def test_my_accounts_lists_only_own_open_journeys(login, journey, other_tam):
    start_journey(account=AccountFactory(tam=other_tam, name="Initech"), transaction_date=D(2024, 6, 1), licenses=5)

    response = login("tam").get("/journeys/")

    body = response.content.decode()
    assert "Globex" in body
    assert "Initech" not in body
    assert response.context["count"] == 1


def test_start_journey_rejects_year_before_1900(login, tam):
    account = AccountFactory(tam=tam)

    response = login("tam").post(
        "/journeys/start/", {"account": account.pk, "kind": "new", "transaction_date": "0024-06-20", "licenses": "40"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["transaction_date"] == [
        "The date 0024-06-20 is before 1900-01-01. Enter the year with four digits, as in YYYY-MM-DD."
    ]
    assert not Journey.objects.exists()


def test_playbook_saved_twice_at_once(login, monkeypatch):
    product = ProductFactory(name="Basic")
    is_valid = PlaybookForm.is_valid

    def checked_before_another_request_stored(form):
        # A second post of the same form passed the form's check before the first one stored the playbook.
        valid = is_valid(form)
        Playbook.objects.create(product=product, segment="SMB")
        return valid

    monkeypatch.setattr(PlaybookForm, "is_valid", checked_before_another_request_stored)
    data = {"product": product.pk, "segment": "SMB", "tasks-TOTAL_FORMS": "0", "tasks-INITIAL_FORMS": "0"}

    response = login("cs_admin").post("/journeys/playbooks/new/", data)

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["Playbook with this Segment and Product already exists."]
    assert Playbook.objects.filter(product=product).count() == 1


def test_playbook_offset_beyond_ten_years_rejected(login, tam, journey):
    product = ProductFactory(name="Basic")
    data = {
        "product": product.pk,
        "segment": "SMB",
        "tasks-TOTAL_FORMS": "1",
        "tasks-INITIAL_FORMS": "0",
        "tasks-0-title": "Renewal review",
        "tasks-0-owner_side": "tam",
        "tasks-0-due_offset_days": "99999999",
        "tasks-0-position": "0",
    }

    response = login("cs_admin").post("/journeys/playbooks/new/", data)

    assert response.status_code == 400
    errors = response.context["formset"].forms[0].errors
    assert errors["due_offset_days"] == ["Ensure this value is less than or equal to 3650."]
    # The list above the table repeats the message, because on a phone the table scrolls it out of view.
    assert "Task 1, Due offset days: Ensure this value is less than or equal to 3650." in response.text
    assert not Playbook.objects.filter(product=product).exists()
    started = start_journey(account=journey.account, transaction_date=D(2024, 6, 2), licenses=5, products=[product])
    assert started.tasks.count() == 0


def test_playbook_offset_in_other_digits_rejected(login):
    product = ProductFactory(name="Basic")
    data = {
        "product": product.pk,
        "segment": "SMB",
        "tasks-TOTAL_FORMS": "1",
        "tasks-INITIAL_FORMS": "0",
        "tasks-0-title": "Renewal review",
        "tasks-0-owner_side": "tam",
        # A browser's number box sends what was typed, and Python's int() reads full-width digits as 14.
        "tasks-0-due_offset_days": "１４",
        "tasks-0-position": "0",
    }

    response = login("cs_admin").post("/journeys/playbooks/new/", data)

    assert response.status_code == 400
    assert response.context["formset"].forms[0].errors["due_offset_days"] == ["Enter a whole number."]
    assert not Playbook.objects.filter(product=product).exists()


@pytest.mark.parametrize("page", ["abc", "-1", "0", "99999"])
def test_my_accounts_odd_page_number(login, journey, page):
    response = login("tam").get("/journeys/", {"page": page})

    assert response.status_code == 200
    assert "Globex" in response.content.decode()


def test_my_accounts_sorts_by_column(login, journey, tam):
    start_journey(account=AccountFactory(tam=tam, name="Acme"), transaction_date=D(2024, 5, 1), licenses=5)
    start_journey(account=AccountFactory(tam=tam, name="Zenith"), transaction_date=D(2024, 4, 1), licenses=5)
    client = login("tam")

    by_name = client.get("/journeys/", {"sort": "account"}).context["table"]
    by_name_descending = client.get("/journeys/", {"sort": "-account"}).context["table"]

    assert [row.record.journey.account.name for row in by_name.paginated_rows] == ["Acme", "Globex", "Zenith"]
    assert [row.record.journey.account.name for row in by_name_descending.paginated_rows] == [
        "Zenith",
        "Globex",
        "Acme",
    ]


def _notice_items(body: str) -> list[str]:
    """Return the items of the notice of a rejected form, which sits above the milestone table."""
    notice = body[body.index('id="not-saved"') : body.index("</div>", body.index('id="not-saved"'))]
    return [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", notice, re.S)]


def test_rejected_milestones_noticed_at_top(login, journey):
    response = login("tam").post(f"/journeys/{journey.pk}/", {"kickoff_date": "2024-05-31"})

    body = response.content.decode()
    assert response.status_code == 400
    assert body.index('id="not-saved"') < body.index('id="milestones"')
    assert "The milestones were not saved" in body
    assert _notice_items(body) == ["Kickoff: The date 2024-05-31 is before the transaction date 2024-06-01."]


def test_rejected_task_noticed_at_top(login, journey):
    task = journey.tasks.get(title="Train")
    prefix = f"task-{task.pk}"

    response = login("tam").post(
        f"/journeys/{journey.pk}/tasks/{task.pk}/", {f"{prefix}-status": "done", f"{prefix}-closed_on": "2024-07-01"}
    )

    body = response.content.decode()
    assert response.status_code == 400
    assert body.index('id="not-saved"') < body.index('id="milestones"')
    assert "The task “Train” was not saved" in body
    assert _notice_items(body) == ["Closed on: The date 2024-07-01 is in the future; today is 2024-06-30."]


def test_start_journey_without_accounts_explains(login, tam):
    response = login("tam").get("/journeys/start/")

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="no-accounts"' in body
    assert "You own no accounts yet" in body
    assert 'name="account"' not in body


def test_start_journey_with_accounts_shows_form(login, tam):
    AccountFactory(tam=tam)

    body = login("tam").get("/journeys/start/").content.decode()

    assert 'id="no-accounts"' not in body
    assert 'name="account"' in body


def test_my_accounts_milestone_sort_order(login, tam):
    # Each journey has reached the milestones before the one named, so that one is its next milestone.
    reached = {
        "Kickoff": {},
        "First Value": {"kickoff_date": D(2024, 6, 2), "onboarding_date": D(2024, 6, 3)}
        | {"infrastructure_ready_date": D(2024, 6, 4), "infrastructure_type": "saas"},
        "Onboarding": {"kickoff_date": D(2024, 6, 2)},
    }
    for name, dates in reached.items():
        journey = start_journey(account=AccountFactory(tam=tam, name=name), transaction_date=D(2024, 6, 1), licenses=5)
        journey_services.record_milestones(journey, dates)
    client = login("tam")

    ascending = client.get("/journeys/", {"sort": "next_milestone"}).context["table"]
    descending = client.get("/journeys/", {"sort": "-next_milestone"}).context["table"]

    assert [row.record.next_milestone.label for row in ascending.paginated_rows] == [
        "Kickoff",
        "Onboarding",
        "First Value",
    ]
    assert [row.record.next_milestone.label for row in descending.paginated_rows] == [
        "First Value",
        "Onboarding",
        "Kickoff",
    ]


@pytest.mark.parametrize("per_page", ["-5", "0", "1"])
def test_my_accounts_keeps_fifty_rows_a_page(login, journey, tam, per_page):
    start_journey(account=AccountFactory(tam=tam, name="Acme"), transaction_date=D(2024, 5, 1), licenses=5)

    response = login("tam").get("/journeys/", {"per_page": per_page, "page": "1"})

    assert response.status_code == 200
    assert response.context["table"].page.paginator.per_page == 50
    assert len(response.context["table"].page.object_list) == 2


def test_playbook_task_deleted_meanwhile_named(login):
    playbook = Playbook.objects.create(product=ProductFactory(name="Basic"), segment="SMB")
    kept_task = PlaybookTask.objects.create(playbook=playbook, title="Kickoff call", due_offset_days=7)
    deleted_task = PlaybookTask.objects.create(
        playbook=playbook, title="Admin training", due_offset_days=14, position=1
    )
    data = {"product": playbook.product_id, "segment": "SMB", "tasks-TOTAL_FORMS": "2", "tasks-INITIAL_FORMS": "2"}
    for index, task in enumerate([kept_task, deleted_task]):
        data |= {
            f"tasks-{index}-id": str(task.pk),
            f"tasks-{index}-title": f"{task.title} (renamed)",
            f"tasks-{index}-owner_side": "tam",
            f"tasks-{index}-due_offset_days": str(task.due_offset_days),
            f"tasks-{index}-position": str(task.position),
        }
    # Another tab deleted the second task after this form was opened.
    deleted_task.delete()

    response = login("cs_admin").post(f"/journeys/playbooks/{playbook.pk}/", data)

    assert response.status_code == 400
    assert "Task 2: This task was deleted after the page was opened." in response.text
    assert list(playbook.tasks.values_list("title", flat=True)) == ["Kickoff call"]


def test_targets_from_stale_tab_keep_other_changes(login):
    client = login("cs_admin")
    shown = {
        f"target_{m.value}_{s}": str(MilestoneTarget.objects.get(milestone=m, segment=segment).days)
        for m in Milestone
        for s, segment in (("large", "Large"), ("mid_market", "Mid-Market"), ("smb", "SMB"), ("none", ""))
    }
    page = shown | {f"initial-{name}": value for name, value in shown.items()}
    # Another admin lowers the Large kickoff target after this page was shown.
    client.post("/journeys/targets/", page | {"target_kickoff_large": "10"})

    response = client.post("/journeys/targets/", page | {"target_onboarding_smb": "25"})

    assert response.status_code == 302
    assert MilestoneTarget.objects.get(milestone=Milestone.KICKOFF, segment="Large").days == 10
    assert MilestoneTarget.objects.get(milestone=Milestone.ONBOARDING, segment="SMB").days == 25


def test_targets_page_sends_shown_values(login):
    response = login("cs_admin").get("/journeys/targets/")

    assert 'name="initial-target_kickoff_large" value="14"' in response.text


def test_milestones_from_stale_tab_rejected(login, journey):
    url = f"/journeys/{journey.pk}/"
    client = login("tam")
    stale_version = re.search(r'name="opened_version" value="(\d+)"', client.get(url).text).group(1)
    fresh_version = re.search(r'name="opened_version" value="(\d+)"', client.get(url).text).group(1)
    client.post(url, {"kickoff_date": "2024-06-05", "opened_version": fresh_version})

    stale = {"first_value_date": "2024-06-20", "first_value_basis": "team", "opened_version": stale_version}
    response = client.post(url, stale)

    assert response.status_code == 400
    assert "This journey was changed by tam_owner at" in response.text
    journey.refresh_from_db()
    assert journey.kickoff_date == D(2024, 6, 5)
    assert journey.first_value_date is None
