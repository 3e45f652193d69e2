"""In headless Chromium: a TAM builds a success plan, accepts the kickoff offer and completes Outcome Achieved."""

import datetime
import os
import re

import pytest
from django.utils import timezone

from accounts.models import Segment
from accounts.roles import Role
from journeys.models import Journey
from tests.factories import AccountFactory, UserFactory

from .plan_factories import ContactFactory, ObjectiveFactory, SuccessPlanFactory
from .test_browser import _log_in, browser  # noqa: F401

# Playwright's sync API runs an event loop in this thread; see test_browser.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser


def _add_objective(page, outcome, criteria, stakeholder):
    page.click("#add-objective")
    page.fill("#id_business_outcome", outcome)
    page.fill("#id_success_criteria", criteria)
    page.get_by_label(stakeholder).check()
    page.click("#objective-form input[type=submit]")
    page.wait_for_url(re.compile(r"/journeys/plans/\d+/#objective-\d+$"))


def _achieve(page, row, day):
    row.locator("a:visible", has_text="Edit").click()
    page.select_option("#id_status", "achieved")
    page.fill("#id_achieved_date", day)
    page.click("#objective-form input[type=submit]")
    page.wait_for_url(re.compile(r"#objective-\d+$"))


@pytest.mark.django_db(transaction=True)
def test_tam_plan_kickoff_and_outcome(live_server, browser):  # noqa: F811
    tam = UserFactory(username="browser_tam", role=Role.TAM)
    account = AccountFactory(tam=tam, name="Globex", segment=Segment.SMB)
    ContactFactory(account=account, name="Dana Sponsor")
    today = timezone.localdate()
    transaction_date = today - datetime.timedelta(days=10)
    page = browser.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    _log_in(page, live_server.url, "browser_tam")

    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    assert page.locator(".plan-state").get_attribute("data-state") == "red"
    page.click("#start-plan")
    page.wait_for_url(re.compile(r"/journeys/plans/\d+/$"))
    _add_objective(page, "Ship releases faster", "Lead time under a day", "Dana Sponsor")
    _add_objective(page, "Retire the old build servers", "Servers switched off", "Dana Sponsor")
    page.select_option("#id_status", "active")
    page.click("#plan-form input[type=submit]")
    assert page.locator(".plan-state").get_attribute("data-state") == "green"

    page.goto(f"{live_server.url}/journeys/start/")
    page.select_option("#id_account", str(account.pk))
    page.fill("#id_transaction_date", transaction_date.isoformat())
    page.fill("#id_licenses", "50")
    page.click("input[name=start]")
    page.wait_for_url(re.compile(r"/journeys/\d+/$"))
    journey = Journey.objects.get(account=account)

    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    page.click("#log-activity")
    meeting = (transaction_date + datetime.timedelta(days=3)).isoformat()
    page.select_option("#id_kind", "meeting")
    page.fill("#id_date", meeting)
    page.get_by_label("Dana Sponsor").check()
    page.fill("#id_summary", "Kickoff with the sponsor.")
    page.click("#activity-form input[type=submit]")
    page.wait_for_url(re.compile(r"/journeys/activities/\d+/kickoff/$"))
    page.click(f'.kickoff-offer[data-journey="{journey.pk}"] .accept-kickoff')
    page.wait_for_url(re.compile(rf"/accounts/{account.pk}/#journeys$"))
    kickoff = page.locator(f'.journey[data-journey="{journey.pk}"] td[data-milestone="kickoff"] .completed')
    assert kickoff.inner_text() == meeting

    page.click("#open-plan")
    rows = page.locator("#objectives tbody tr")
    assert rows.count() == 2
    _achieve(page, rows.nth(0), (today - datetime.timedelta(days=2)).isoformat())
    assert "1 of 2" in page.locator(".outcome-status").inner_text()
    _achieve(page, page.locator("#objectives tbody tr").nth(1), (today - datetime.timedelta(days=1)).isoformat())

    outcome = page.locator(".outcome-status").inner_text()
    assert "complete on " + (today - datetime.timedelta(days=1)).isoformat() in outcome
    page.goto(f"{live_server.url}/journeys/{journey.pk}/")
    completed = page.locator('#milestones tr[data-milestone="outcome_achieved"] .completed').inner_text()
    assert completed == (today - datetime.timedelta(days=1)).isoformat()
    assert "browser_tam" in page.locator("#history").inner_text()
    assert script_errors == []


# Widths of a table and of the box it scrolls in, by the table's CSS selector.
TABLE_WIDTHS = """(selector) => {
  const table = document.querySelector(selector);
  return [table.scrollWidth, table.parentElement.clientWidth];
}"""


@pytest.mark.django_db(transaction=True)
def test_long_unbroken_text_fits_tables(live_server, browser):  # noqa: F811
    # A pasted link or a held-down key gives text without spaces, at the longest each field takes.
    tam = UserFactory(username="browser_tam", role=Role.TAM)
    UserFactory(username="browser_manager", role=Role.MANAGER)
    account = AccountFactory(tam=tam, name="Globex", segment=Segment.SMB)
    contact = ContactFactory(account=account, name="N" * 255, title="T" * 255, email=f"{'e' * 60}@example.com")
    plan = SuccessPlanFactory(account=account)
    ObjectiveFactory(
        plan=plan,
        business_outcome="O" * 300,
        success_criteria="C" * 500,
        target_date=timezone.localdate() + datetime.timedelta(days=5),
    ).stakeholders.add(contact)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    _log_in(page, live_server.url, "browser_tam")

    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    contact_widths = page.evaluate(TABLE_WIDTHS, "#contact-list")
    page.goto(f"{live_server.url}/journeys/plans/{plan.pk}/")
    objective_widths = page.evaluate(TABLE_WIDTHS, "#objectives")
    page.goto(f"{live_server.url}/journeys/plans/{plan.pk}/print/")
    print_width = page.evaluate("document.documentElement.scrollWidth")
    manager_page = browser.new_page(viewport={"width": 1366, "height": 900})
    _log_in(manager_page, live_server.url, "browser_manager")
    manager_page.goto(f"{live_server.url}/journeys/plans/")
    due_widths = manager_page.evaluate(TABLE_WIDTHS, "#objectives-due table")

    assert contact_widths[0] <= contact_widths[1]
    assert objective_widths[0] <= objective_widths[1]
    assert due_widths[0] <= due_widths[1]
    assert print_width <= 1366


@pytest.mark.django_db(transaction=True)
def test_objective_status_and_edit_on_phone(live_server, browser):  # noqa: F811
    tam = UserFactory(username="browser_tam", role=Role.TAM)
    account = AccountFactory(tam=tam, name="Globex", segment=Segment.SMB)
    plan = SuccessPlanFactory(account=account)
    objective = ObjectiveFactory(plan=plan, business_outcome="Ship releases faster", success_criteria="C " * 40)
    page = browser.new_page(viewport={"width": 390, "height": 900})
    _log_in(page, live_server.url, "browser_tam")

    page.goto(f"{live_server.url}/journeys/plans/{plan.pk}/")

    row = page.locator(f"#objective-{objective.pk}")
    for element in (row.locator(".badge:visible"), row.locator("a:visible", has_text="Edit")):
        box = element.bounding_box()
        assert box["x"] + box["width"] <= 390
    assert row.locator(".badge:visible").inner_text() == "Planned"
    row.locator("a:visible", has_text="Edit").click()
    page.wait_for_url(re.compile(rf"/objectives/{objective.pk}/$"))
