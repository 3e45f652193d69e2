"""Every plan, account and timeline page as owning TAM, other TAM, manager, CS admin and anonymous."""

import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Contact, Persona
from journeys import plan_services
from journeys.plan_models import Activity, Objective, ObjectiveStatus, PlanStatus, SuccessPlan
from journeys.services import start_journey
from tests.conftest import expect_status
from tests.factories import AccountFactory
from tests.journeys.clock import NOW

from .plan_factories import ActivityFactory, ContactFactory, ObjectiveFactory, SuccessPlanFactory

D = datetime.date
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]

USERS = ["tam", "other_tam", "manager", "cs_admin", "anonymous"]


@pytest.fixture
def world(tam):
    account = AccountFactory(tam=tam, name="Globex")
    plan = SuccessPlanFactory(account=account)
    objective = ObjectiveFactory(plan=plan, business_outcome="Ship faster")
    journey = start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=100)
    contact = ContactFactory(account=account, name="Dana")
    meeting = ActivityFactory(account=account, date=D(2024, 6, 5))
    return {
        "account": account,
        "plan": plan,
        "objective": objective,
        "journey": journey,
        "contact": contact,
        "activity": meeting,
    }


PAGES = [
    ("/accounts/{account}/", (200, 403, 200, 200, "login")),
    ("/accounts/{account}/contacts/new/", (200, 403, 403, 403, "login")),
    ("/accounts/{account}/contacts/{contact}/", (200, 403, 403, 403, "login")),
    ("/journeys/plans/{plan}/", (200, 403, 200, 200, "login")),
    ("/journeys/plans/{plan}/print/", (200, 403, 200, 200, "login")),
    ("/journeys/plans/{plan}/objectives/new/", (200, 403, 403, 403, "login")),
    ("/journeys/plans/{plan}/objectives/{objective}/", (200, 403, 403, 403, "login")),
    ("/journeys/accounts/{account}/activities/new/", (200, 403, 403, 403, "login")),
    ("/journeys/activities/{activity}/", (200, 403, 403, 403, "login")),
    ("/journeys/activities/{activity}/kickoff/", (200, 403, 403, 403, "login")),
    ("/journeys/plans/", (403, 403, 200, 200, "login")),
]


def _url(url, world):
    return url.format(**{key: value.pk for key, value in world.items()})


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize(("url", "statuses"), PAGES, ids=[url for url, _ in PAGES])
def test_page_status_by_role(login, world, user, url, statuses):
    response = login(user).get(_url(url, world))

    expect_status(response, dict(zip(USERS, statuses, strict=True))[user])


def _posts(world):
    objective_values = {
        "business_outcome": "Cut build time",
        "success_criteria": "Under 5 minutes",
        "status": "planned",
    }
    return {
        "plan_new": ("/journeys/accounts/{account}/plan/new/", {}),
        "plan": ("/journeys/plans/{plan}/", {"status": "draft", "closing_summary": ""}),
        "objective_new": ("/journeys/plans/{plan}/objectives/new/", objective_values),
        "objective": ("/journeys/plans/{plan}/objectives/{objective}/", objective_values),
        "intent": ("/journeys/objectives/{objective}/intent/", {}),
        "contact_new": ("/accounts/{account}/contacts/new/", {"name": "Lee", "persona": Persona.CHAMPION}),
        "contact": ("/accounts/{account}/contacts/{contact}/", {"name": "Dana R", "persona": Persona.OTHER}),
        "activity_new": (
            "/journeys/accounts/{account}/activities/new/",
            {"kind": "call", "date": "2024-06-20", "summary": "Call"},
        ),
        "activity": ("/journeys/activities/{activity}/", {"kind": "meeting", "date": "2024-06-05", "summary": "X"}),
        "kickoff": ("/journeys/activities/{activity}/kickoff/", {"journey": world["journey"].pk}),
    }


POSTS = [
    # plan_new returns 302 for the owning TAM even though a plan is open, because it redirects to the open plan.
    ("plan_new", (302, 403, 403, 403, "login")),
    ("plan", (302, 403, 403, 403, "login")),
    ("objective_new", (302, 403, 403, 403, "login")),
    ("objective", (302, 403, 403, 403, "login")),
    ("intent", (403, 403, 403, 302, "login")),
    ("contact_new", (302, 403, 403, 403, "login")),
    ("contact", (302, 403, 403, 403, "login")),
    ("activity_new", (302, 403, 403, 403, "login")),
    ("activity", (302, 403, 403, 403, "login")),
    ("kickoff", (302, 403, 403, 403, "login")),
]


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize(("name", "statuses"), POSTS, ids=[name for name, _ in POSTS])
def test_post_status_by_role(login, world, user, name, statuses):
    url, data = _posts(world)[name]
    before = (Objective.objects.count(), Contact.objects.count(), Activity.objects.count(), SuccessPlan.objects.count())

    response = login(user).post(_url(url, world), data)

    expected = dict(zip(USERS, statuses, strict=True))[user]
    expect_status(response, expected)
    if expected != 302:
        after = (
            Objective.objects.count(),
            Contact.objects.count(),
            Activity.objects.count(),
            SuccessPlan.objects.count(),
        )
        assert after == before
        world["journey"].refresh_from_db()
        assert world["journey"].kickoff_date is None


def test_cs_admin_clears_flag(login, world):
    response = login("cs_admin").post(f"/journeys/objectives/{world['objective'].pk}/intent/", {})

    assert response.status_code == 302
    assert not Objective.objects.get(pk=world["objective"].pk).original_intent


def test_logging_first_meeting_redirects_to_offer(login, tam):
    account = AccountFactory(tam=tam)
    start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=10)

    response = login("tam").post(
        f"/journeys/accounts/{account.pk}/activities/new/", {"kind": "meeting", "date": "2024-06-04", "summary": "Hi"}
    )

    activity = Activity.objects.get(account=account)
    assert response.status_code == 302
    assert response.url == f"/journeys/activities/{activity.pk}/kickoff/"
    assert activity.logged_by == tam


def test_accepting_offer_page_completes_kickoff(login, world):
    response = login("tam").post(
        f"/journeys/activities/{world['activity'].pk}/kickoff/", {"journey": world["journey"].pk}
    )

    world["journey"].refresh_from_db()
    assert response.status_code == 302
    assert world["journey"].kickoff_date == D(2024, 6, 5)


def test_attendee_id_beyond_64_bits_rejected(login, world):
    response = login("tam").post(
        f"/journeys/accounts/{world['account'].pk}/activities/new/",
        {"kind": "call", "date": "2024-06-20", "summary": "x", "attendees": ["1" * 30]},
    )

    assert response.status_code == 400
    assert "attendees" in response.context["form"].errors
    assert Activity.objects.count() == 1


def test_future_activity_rejected(login, world):
    response = login("tam").post(
        f"/journeys/accounts/{world['account'].pk}/activities/new/",
        {"kind": "call", "date": "2024-07-02", "summary": "x"},
    )

    assert response.status_code == 400
    assert Activity.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "field", "data"),
    [
        ("/journeys/accounts/{account}/activities/new/", "summary", {"kind": "call", "date": "2024-06-20"}),
        ("/journeys/plans/{plan}/objectives/{objective}/", "success_criteria", {"business_outcome": "Ship faster"}),
        ("/journeys/plans/{plan}/objectives/{objective}/", "notes", {"business_outcome": "Ship faster"}),
        ("/journeys/plans/{plan}/", "closing_summary", {"status": PlanStatus.CLOSED}),
    ],
    ids=["summary", "success_criteria", "notes", "closing_summary"],
)
def test_oversized_text_rejected(login, world, url, field, data):
    data = {"status": ObjectiveStatus.PLANNED, **data, field: "x" * 10_001}
    before = (
        list(Activity.objects.values_list("summary", flat=True)),
        list(Objective.objects.values_list("success_criteria", "notes")),
        list(SuccessPlan.objects.values_list("status", "closing_summary")),
    )

    response = login("tam").post(_url(url, world), data)

    assert response.status_code == 400
    assert "at most 10000 characters" in response.context["form"].errors[field][0]
    after = (
        list(Activity.objects.values_list("summary", flat=True)),
        list(Objective.objects.values_list("success_criteria", "notes")),
        list(SuccessPlan.objects.values_list("status", "closing_summary")),
    )
    assert after == before


def test_achieved_needs_date(login, world):
    url = f"/journeys/plans/{world['plan'].pk}/objectives/{world['objective'].pk}/"

    response = login("tam").post(url, {"business_outcome": "Ship faster", "status": ObjectiveStatus.ACHIEVED})

    assert response.status_code == 400
    assert Objective.objects.get(pk=world["objective"].pk).status == ObjectiveStatus.PLANNED


def test_original_achieved_before_transaction_rejected(login, world):
    url = f"/journeys/plans/{world['plan'].pk}/objectives/{world['objective'].pk}/"
    data = {"business_outcome": "Ship faster", "status": ObjectiveStatus.ACHIEVED, "achieved_date": "2024-05-20"}

    response = login("tam").post(url, data)

    assert response.status_code == 400


def test_duplicate_contact_email_rejected(login, world):
    ContactFactory(account=world["account"], email="dana@globex.example")

    response = login("tam").post(
        f"/accounts/{world['account'].pk}/contacts/new/",
        {"name": "Dana 2", "email": "DANA@globex.example", "persona": Persona.OTHER},
    )

    assert response.status_code == 400


def test_account_page_shows_plan_state_and_mrr(login, world):
    response = login("manager").get(f"/accounts/{world['account'].pk}/")

    content = response.content.decode()
    assert 'data-state="green"' in content
    assert "Ship faster" in content
    assert "Dana" in content


def test_account_page_queries_flat_in_journeys(login, world):
    client = login("tam")
    url = f"/accounts/{world['account'].pk}/"
    with CaptureQueriesContext(connection) as one_journey:
        client.get(url)
    for day in (2, 3, 4):
        start_journey(account=world["account"], transaction_date=D(2024, 6, day), licenses=5, kind="expansion")

    with CaptureQueriesContext(connection) as four_journeys:
        response = client.get(url)

    assert response.status_code == 200
    assert len(response.context["journeys"]) == 4
    queries = len(four_journeys.captured_queries)
    assert queries == len(one_journey.captured_queries)


def test_my_accounts_shows_plan_state(login, world):
    response = login("tam").get("/journeys/")

    assert 'class="badge text-bg-success plan-state' in response.content.decode()


def test_overview_filters_by_tam_and_lists_due(login, world, other_tam):
    AccountFactory(tam=other_tam, name="Initech")
    ObjectiveFactory(plan=world["plan"], business_outcome="Late one", target_date=D(2024, 6, 1))

    response = login("manager").get("/journeys/plans/", {"tam": world["account"].tam.pk})

    by_state = response.context["by_state"]
    assert [account.name for account in by_state["green"]] == ["Globex"]
    assert by_state["red"] == []
    assert [objective.business_outcome for objective in response.context["due"]] == ["Late one"]


def test_overview_invalid_date_keeps_tam_filter(login, world, other_tam):
    AccountFactory(tam=other_tam, name="Initech")

    response = login("manager").get("/journeys/plans/", {"tam": world["account"].tam.pk, "achieved_from": "junk"})

    assert response.status_code == 200
    assert "achieved_from" in response.context["form"].errors
    accounts = [account.name for accounts in response.context["by_state"].values() for account in accounts]
    assert accounts == ["Globex"]


def test_overview_lists_achieved_in_period(login, world):
    ObjectiveFactory(
        plan=world["plan"], business_outcome="Done", status=ObjectiveStatus.ACHIEVED, achieved_date=D(2024, 5, 10)
    )

    inside = login("manager").get("/journeys/plans/", {"achieved_from": "2024-05-01", "achieved_to": "2024-05-31"})
    outside = login("manager").get("/journeys/plans/", {"achieved_from": "2024-06-01", "achieved_to": "2024-06-30"})

    assert [objective.business_outcome for objective in inside.context["achieved"]] == ["Done"]
    assert list(outside.context["achieved"]) == []


def test_closed_plan_read_only(login, world):
    SuccessPlan.objects.filter(pk=world["plan"].pk).update(
        status=PlanStatus.CLOSED, closing_summary="Done", closed_on=D(2024, 6, 29)
    )

    response = login("tam").get(f"/journeys/plans/{world['plan'].pk}/objectives/new/", follow=True)

    assert response.redirect_chain == [(f"/journeys/plans/{world['plan'].pk}/", 302)]
    assert "This success plan was closed on 2024-06-29" in response.text


def test_objective_saved_after_plan_closed_rejected(login, world):
    url = f"/journeys/plans/{world['plan'].pk}/objectives/{world['objective'].pk}/"
    client = login("tam")
    client.get(url)
    # Another tab closes the plan while this objective's page is open.
    SuccessPlan.objects.filter(pk=world["plan"].pk).update(
        status=PlanStatus.CLOSED, closing_summary="Done", closed_on=D(2024, 6, 29)
    )

    response = client.post(url, _new_objective_values(world, business_outcome="Ship much faster"))

    assert response.status_code == 400
    assert "so its objectives can no longer be added or changed" in response.text
    assert 'value="Ship much faster"' in response.text
    assert Objective.objects.get(pk=world["objective"].pk).business_outcome == "Ship faster"


def test_closing_with_open_original_objective_shows_message(login, world):
    plan = world["plan"]
    status_before = plan.status

    response = login("tam").post(
        f"/journeys/plans/{plan.pk}/", {"status": PlanStatus.CLOSED, "closing_summary": "Done."}
    )

    assert response.status_code == 400
    assert "Ship faster" in response.content.decode()
    assert response.context["form"]["closing_summary"].value() == "Done."
    assert "achieved or abandoned before closing the plan" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == status_before
    assert plan.closing_summary == ""


@pytest.mark.parametrize(
    ("url", "field", "data"),
    [
        ("/journeys/accounts/{account}/activities/new/", "date", {"kind": "call", "summary": "x"}),
        ("/journeys/plans/{plan}/objectives/new/", "target_date", {"business_outcome": "Cut costs"}),
        (
            "/journeys/plans/{plan}/objectives/new/",
            "achieved_date",
            {"business_outcome": "Cut costs", "status": ObjectiveStatus.ACHIEVED},
        ),
    ],
    ids=["activity date", "target date", "achieved date"],
)
def test_date_before_1900_rejected(login, world, url, field, data):
    data = {"status": ObjectiveStatus.PLANNED, **data, field: "1800-01-01"}

    response = login("tam").post(_url(url, world), data)

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [
        "The date 1800-01-01 is before 1900-01-01. Enter the year with four digits, as in YYYY-MM-DD."
    ]
    assert Activity.objects.count() == 1
    assert Objective.objects.count() == 1


def _new_objective_values(world, **changes):
    values = {
        "business_outcome": "Cut build time",
        "success_criteria": "Under 5 minutes",
        "target_date": "2024-09-30",
        "stakeholders": [world["contact"].pk],
        "status": ObjectiveStatus.PLANNED,
        "notes": "",
    }
    values.update(changes)
    return values


def test_objective_sent_twice_stored_once(login, world):
    url = f"/journeys/plans/{world['plan'].pk}/objectives/new/"
    client = login("tam")

    first = client.post(url, _new_objective_values(world))
    second = client.post(url, _new_objective_values(world), follow=True)

    created = Objective.objects.filter(plan=world["plan"], business_outcome="Cut build time")
    assert created.count() == 1
    assert first.url.endswith(f"#objective-{created.get().pk}")
    assert second.redirect_chain[0][0] == first.url
    assert "saved already" in second.content.decode()


def test_identical_objective_stored_again_later(login, world):
    url = f"/journeys/plans/{world['plan'].pk}/objectives/new/"
    client = login("tam")
    client.post(url, _new_objective_values(world))

    with time_machine.travel(NOW + plan_services.RESUBMIT_WINDOW + datetime.timedelta(seconds=1), tick=False):
        client.post(url, _new_objective_values(world))

    assert Objective.objects.filter(plan=world["plan"], business_outcome="Cut build time").count() == 2


@pytest.mark.parametrize(
    "changes",
    [{"stakeholders": []}, {"success_criteria": "Under 4 minutes"}, {"target_date": "2024-10-31"}],
    ids=["stakeholders", "criteria", "target"],
)
def test_objective_that_differs_stored(login, world, changes):
    url = f"/journeys/plans/{world['plan'].pk}/objectives/new/"
    client = login("tam")
    client.post(url, _new_objective_values(world))

    client.post(url, _new_objective_values(world, **changes))

    assert Objective.objects.filter(plan=world["plan"], business_outcome="Cut build time").count() == 2


def _opened_version(response):
    return re.search(r'name="opened_version" value="(\d+)"', response.text).group(1)


def test_objective_edit_from_stale_tab_rejected(login, world):
    url = f"/journeys/plans/{world['plan'].pk}/objectives/{world['objective'].pk}/"
    client = login("tam")
    stale_version = _opened_version(client.get(url))
    achieved = _new_objective_values(world, business_outcome="Ship faster", status="achieved")
    achieved |= {"achieved_date": "2024-06-20", "opened_version": _opened_version(client.get(url))}
    client.post(url, achieved)

    stale = _new_objective_values(world, business_outcome="Ship faster", status="in_progress")
    response = client.post(url, stale | {"opened_version": stale_version})

    assert response.status_code == 400
    assert "was changed by tam_owner at 2024-06-30 12:00 UTC after this page was opened" in response.text
    objective = Objective.objects.get(pk=world["objective"].pk)
    assert objective.status == ObjectiveStatus.ACHIEVED
    assert objective.achieved_date == D(2024, 6, 20)

    again = client.post(url, stale | {"opened_version": _opened_version(response)})

    assert again.status_code == 302
    assert Objective.objects.get(pk=world["objective"].pk).status == ObjectiveStatus.IN_PROGRESS


def test_plan_started_twice_shows_open_plan(login, world):
    account = world["account"]
    SuccessPlan.objects.filter(pk=world["plan"].pk).update(
        status=PlanStatus.CLOSED, closing_summary="Done", closed_on=D(2024, 6, 29)
    )
    client = login("tam")

    first = client.post(f"/journeys/accounts/{account.pk}/plan/new/")
    second = client.post(f"/journeys/accounts/{account.pk}/plan/new/", follow=True)

    plan = SuccessPlan.objects.get(account=account, status=PlanStatus.DRAFT)
    assert first.url == f"/journeys/plans/{plan.pk}/"
    assert second.redirect_chain == [(first.url, 302)]
    assert "already has an open success plan, shown here" in second.text
