"""A manager reads churn and expansion by reason in headless Chromium: a reason, its customer, the customer's lines."""

import datetime
import os
import re

import pytest

from accounts.models import Segment
from accounts.roles import Role
from retention.engine import recompute_retention
from retention.models import Level, RetentionCustomer
from tests.factories import UserFactory

from .builders import add_lines, make_account
from .test_browser import browser, log_in  # noqa: F401  (browser is the headless Chromium fixture)

# Playwright's sync API runs an event loop in this thread, and Django raises
# SynchronousOnlyOperation on database calls from such a thread unless this is set.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser


def build_book():
    """Initech adds seats (Seat Expansion 60.00) and has a true-up of 25.00; Hooli cancels (Cancellation 100.00)."""
    make_account("ACC-I1", segment=Segment.SMB, name="Initech")
    make_account("ACC-H1", segment=Segment.LARGE, name="Hooli")
    add_lines(
        [
            ("2023-06", "ACC-I1", "SUB-I1", "Premium", 4, "200.00", "recurring"),
            ("2024-06", "ACC-I1", "SUB-I1", "Premium", 5, "260.00", "recurring"),
            ("2024-06", "ACC-I1", "SUB-I1", "Overage", 1, "25.00", "trueup"),
            ("2023-06", "ACC-H1", "SUB-H1", "Premium", 2, "100.00", "recurring"),
        ]
    )
    recompute_retention(None)


@pytest.mark.django_db(transaction=True)
def test_manager_follows_reason_to_customer_lines(live_server, browser):  # noqa: F811
    UserFactory(username="browser_manager", role=Role.MANAGER)
    build_book()
    page = browser.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))

    log_in(page, live_server.url, "browser_manager", next_path="/retention/reasons/")
    page.wait_for_url(re.compile(r"/retention/reasons/$"))

    assert page.locator("#reasons-net").inner_text() == "-40.00"
    assert page.locator("#recurring-change").inner_text() == "-40.00"
    assert page.locator("#reasons-chart").is_visible()
    chart = "Chart.getChart(document.getElementById('reasons-chart'))"
    assert page.evaluate(f"{chart}.data.labels") == ["2024-06"]
    assert page.evaluate(f"{chart}.data.datasets.map(d => [d.label, d.data[0]])") == [
        ["Cancellation", -100],
        ["Seat Expansion", 60],
    ]

    page.locator("#expansion-reasons a", has_text="Seat Expansion").click()
    page.wait_for_url(re.compile(r"/retention/reasons/2024-06/seat_expansion/\?level=parent"))
    assert "Initech" in page.locator("#reason-customers tbody").inner_text()
    assert "Hooli" not in page.locator("#reason-customers tbody").inner_text()

    page.locator("#reason-customers a", has_text="Initech").click()
    page.wait_for_url(re.compile(r"/retention/customers/\d+/lines/$"))
    assert "260.00" in page.locator("#lines-current").inner_text()
    assert "Overage" not in page.locator("#lines-current").inner_text()
    trueups = page.locator("#trueups")
    assert "True-ups, left out of the reasons" in trueups.inner_text()
    assert "Overage" in trueups.locator("table").inner_text()
    assert "25.00" in trueups.locator("table").inner_text()
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
def test_reason_shares_fit_a_phone(live_server, browser):  # noqa: F811
    """Four expansion reasons with seven-figure amounts, read on a 390 px wide screen."""
    UserFactory(username="browser_manager", role=Role.MANAGER)
    make_account("ACC-W1", segment=Segment.SMB, name="Wide One")
    make_account("ACC-W2", segment=Segment.SMB, name="Wide Two")
    make_account("ACC-W3", segment=Segment.SMB, name="Wide Three")
    make_account("ACC-W4", segment=Segment.SMB, name="Wide Four")
    add_lines(
        [
            ("2023-06", "ACC-W1", "SUB-W1", "Basic", 10, "1000.00", "recurring"),
            ("2024-06", "ACC-W1", "SUB-W1", "Basic", 900, "2054318.00", "recurring"),
            ("2023-06", "ACC-W2", "SUB-W2", "Basic", 10, "1000.00", "recurring"),
            ("2024-06", "ACC-W2", "SUB-W2", "Basic", 10, "4863.00", "recurring"),
            ("2023-06", "ACC-W3", "SUB-W3", "Basic", 10, "1000.00", "recurring"),
            ("2024-06", "ACC-W3", "SUB-W3", "Enterprise", 10, "635438.00", "recurring"),
            ("2023-06", "ACC-W4", "SUB-W4", "Basic", 10, "1000.00", "recurring"),
            ("2024-06", "ACC-W4", "SUB-W4", "Enterprise", 30, "91000.00", "recurring"),
        ]
    )
    recompute_retention(None)
    page = browser.new_page(viewport={"width": 390, "height": 900})
    log_in(page, live_server.url, "browser_manager")

    page.goto(f"{live_server.url}/retention/reasons/?month=2024-06")

    card = page.locator("#expansion-reasons").locator("xpath=..").bounding_box()
    shares = page.locator("#expansion-reasons tbody td:last-child").all()
    assert len(shares) == 4
    for share in shares:
        box = share.bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"], share.inner_text()


@pytest.mark.django_db(transaction=True)
def test_customer_lines_fit_a_phone(live_server, browser):  # noqa: F811
    UserFactory(username="browser_manager", role=Role.MANAGER)
    make_account("A-00cac8", segment=Segment.SMB, name="Company 26")
    add_lines(
        [
            ("2023-06", "A-00cac8", "S-138c41", "Basic", 19, "361.00", "recurring"),
            ("2024-06", "A-00cac8", "S-138c41", "Basic", 19, "361.00", "recurring"),
            ("2024-06", "A-00cac8", "S-0bdbb3", "Enterprise", 39, "1147761.00", "recurring"),
        ]
    )
    recompute_retention(None)
    customer = RetentionCustomer.objects.of_month(datetime.date(2024, 6, 1), Level.ACCOUNT).get()
    page = browser.new_page(viewport={"width": 390, "height": 900})
    log_in(page, live_server.url, "browser_manager")

    page.goto(f"{live_server.url}/retention/customers/{customer.pk}/lines/")

    card = page.locator("#lines-current").locator("xpath=..").bounding_box()
    amounts = page.locator("#lines-current tbody td:last-child").all()
    assert len(amounts) == 2
    for amount in amounts:
        box = amount.bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"], amount.inner_text()
    assert page.locator("h2", has_text="Recurring lines").locator(".text-nowrap").all_inner_texts() == [
        "2023-06",
        "2024-06",
    ]
