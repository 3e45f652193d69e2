"""Pages keep working, charts included, under the content security policy, in headless Chromium."""

import os
import re
from pathlib import Path

import pytest

from accounts.roles import Role
from retention.engine import recompute_retention
from tests.conftest import IN_CI, PASSWORD
from tests.factories import UserFactory
from tests.retention.builders import add_lines

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser

PAGES = [
    "/retention/",
    "/retention/reasons/?month=2024-06",
    "/retention/2024-06/",
    "/journeys/",
    "/journeys/report/",
    "/services-cost/rates/",
    "/services-cost/estimates/",
    "/retention/imports/",
    "/accounts/reassign/?from_tam=none",
]


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        message = f"Chromium is missing at {CHROMIUM}. Install it to run the browser tests."
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


@pytest.mark.django_db(transaction=True)
def test_pages_raise_no_policy_violations(live_server, browser):
    UserFactory(username="csp_admin", role=Role.CS_ADMIN)
    add_lines(
        [
            ("2023-06", "ACC-1", "SUB-1", "Premium", 10, "100.00", "recurring"),
            ("2024-06", "ACC-1", "SUB-1", "Premium", 12, "120.00", "recurring"),
            ("2023-06", "ACC-2", "SUB-2", "Premium", 5, "50.00", "recurring"),
        ]
    )
    recompute_retention(None)
    page = browser.new_page()
    problems = []
    page.on(
        "console", lambda message: problems.append(f"{page.url}: {message.text}") if message.type == "error" else None
    )
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    page.on(
        "response",
        lambda response: problems.append(f"{response.url}: {response.status}") if response.status >= 400 else None,
    )

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "csp_admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/retention/$"))
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/retention/")
    page.wait_for_load_state("networkidle")
    chart_width = page.evaluate("document.querySelector('canvas') ? document.querySelector('canvas').width : 0")
    page.click("nav >> text=Customers")

    assert problems == [], problems
    assert chart_width > 0
    assert page.locator("nav .dropdown-menu.show").count() == 1
