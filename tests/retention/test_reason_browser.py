"""A manager reads churn and expansion by reason in headless Chromium: a reason, its customer, the customer's lines."""

import os
import re

import pytest

from accounts.models import Segment
from accounts.roles import Role
from retention.engine import recompute_retention
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
