"""In headless Chromium: a manager moves the book of a TAM who left to another TAM."""

import datetime
import os
import re

import pytest

from accounts.models import Account
from accounts.roles import Role
from journeys.models import Journey
from journeys.services import start_journey
from tests.factories import AccountFactory, UserFactory
from tests.retention.test_browser import browser, log_in  # noqa: F401  (the headless Chromium fixture)

# Playwright's sync API runs an event loop in this thread, and Django raises
# SynchronousOnlyOperation on database calls from such a thread unless this is set.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_manager_moves_every_account_of_a_book(live_server, browser, tmp_path):  # noqa: F811
    UserFactory(username="browser_manager", role=Role.MANAGER)
    leaving = UserFactory(username="leaving_tam", role=Role.TAM)
    UserFactory(username="taking_tam", role=Role.TAM)
    globex = AccountFactory(name="Globex", external_id="ACC-G", tam=leaving)
    AccountFactory(name="Initech", external_id="ACC-I", tam=leaving)
    AccountFactory(name="Umbrella", external_id="ACC-U", tam=leaving)
    journey = start_journey(account=globex, transaction_date=datetime.date(2024, 6, 1), licenses=10)
    page = browser.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))

    log_in(page, live_server.url, "browser_manager")
    page.goto(f"{live_server.url}/accounts/{globex.pk}/")
    page.click("#move-account")
    page.wait_for_url(re.compile(r"/accounts/reassign/\?"))
    preselected = page.locator("input[name=accounts]:checked").count()
    button_before = page.inner_text("#move")

    page.select_option("#from-tam", label="leaving_tam (3 accounts)")
    page.fill("#search", "")
    page.click("#book-form button[type=submit]")
    page.wait_for_url(re.compile(r"from_tam=\d+&q=$"))
    disabled_with_none = page.is_disabled("#move")
    page.check("#select-all")
    button_all = page.inner_text("#move")
    disabled_with_all = page.is_disabled("#move")
    page.select_option("#id_to_tam", label="taking_tam")
    page.screenshot(path=str(tmp_path / "move-accounts.png"), full_page=True)
    page.click("#move")
    page.wait_for_selector(".alert-success")
    message = page.inner_text(".alert-success")
    page.screenshot(path=str(tmp_path / "moved-accounts.png"), full_page=True)

    assert preselected == 1
    assert button_before == "Move 1 account"
    assert disabled_with_none
    assert button_all == "Move 3 accounts"
    assert not disabled_with_all
    assert "Moved 3 accounts to taking_tam, with 1 open journey." in message
    assert set(Account.objects.values_list("tam__username", flat=True)) == {"taking_tam"}
    assert Journey.objects.get(pk=journey.pk).tam.username == "taking_tam"
    assert page.locator("input[name=accounts]").count() == 0
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
def test_book_fields_line_up_beside_search_error(live_server, browser):  # noqa: F811
    UserFactory(username="browser_manager", role=Role.MANAGER)
    tam = UserFactory(username="book_tam", role=Role.TAM)
    AccountFactory(name="Globex", external_id="ACC-G", tam=tam)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, live_server.url, "browser_manager")

    page.goto(f"{live_server.url}/accounts/reassign/?from_tam={tam.pk}&q={'x' * 500}")

    form = page.locator("#book-form")
    assert form.locator(".invalid-feedback").count() == 1
    tops = [round(control.bounding_box()["y"]) for control in form.locator("select, input, button").all()]
    assert len(tops) == 3
    assert max(tops) - min(tops) <= 1
