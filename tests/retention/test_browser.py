"""Pages in headless Chromium: a manager reads retention, a CS admin follows an import."""

import os
import re
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import Account, Segment
from accounts.roles import Role
from retention.engine import recompute_retention
from retention.models import ImportKind, ImportRun, ImportStatus
from tests.conftest import IN_CI, PASSWORD
from tests.factories import UserFactory

from .builders import add_lines, make_account

# Playwright's sync API runs an event loop in this thread, and Django raises
# SynchronousOnlyOperation on database calls from such a thread unless this is set.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.browser


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
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            headless=True,
        )
        yield chromium
        chromium.close()


def log_in(page, base_url: str, username: str, next_path: str = "") -> None:
    """Log in through the login form and wait until it has sent the browser on."""
    page.goto(f"{base_url}/login/" + (f"?next={next_path}" if next_path else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def build_book():
    """Globex (a parent with one child) and Initech, compared between 2023-06 and 2024-06.

    Parent level: Globex 750 → 600 and Initech 200 → 260, so gross 84.2% and net 90.5%.
    Account level: Globex Holding 250 → 0, Globex EU 500 → 600 and Initech 200 → 260, so gross 73.7%.
    """
    make_account("00123", segment=Segment.LARGE, name="Globex Holding")
    make_account("00456", parent=Account.objects.get(external_id="00123"), segment=Segment.LARGE, name="Globex EU")
    make_account("ACC-I1", segment=Segment.SMB, name="Initech")
    add_lines(
        [
            ("2023-06", "00123", "SUB-0008", "Premium", 5, "250.00", "recurring"),
            ("2023-06", "00456", "SUB-0009", "Premium", 10, "500.00", "recurring"),
            ("2024-06", "00456", "SUB-0009", "Premium", 12, "600.00", "recurring"),
            ("2023-06", "ACC-I1", "SUB-I1", "Premium", 4, "200.00", "recurring"),
            ("2024-06", "ACC-I1", "SUB-I1", "Premium", 5, "260.00", "recurring"),
        ]
    )
    recompute_retention(None)


@pytest.mark.django_db(transaction=True)
def test_manager_drills_from_overview_to_customers(live_server, browser):
    UserFactory(username="browser_manager", role=Role.MANAGER)
    build_book()
    page = browser.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))

    log_in(page, live_server.url, "browser_manager")
    page.wait_for_url(re.compile(r"/retention/$"))

    june = page.locator('#retention-months tr[data-month="2024-06"]')
    assert "84.2%" in june.inner_text()
    assert "90.5%" in june.inner_text()
    assert page.locator("#retention-chart").is_visible()
    assert page.evaluate("Chart.getChart(document.getElementById('retention-chart')).data.labels") == ["2024-06"]

    page.select_option("select[name=level]", "account")
    page.wait_for_url(re.compile(r"level=account"))
    june = page.locator('#retention-months tr[data-month="2024-06"]')
    assert "73.7%" in june.inner_text()

    june.locator("a").click()
    page.wait_for_url(re.compile(r"/retention/2024-06/\?level=account"))
    customers = page.locator("#month-customers tbody").inner_text()
    assert "Globex Holding" in customers
    assert "Globex EU" in customers
    assert "Initech" in customers
    assert page.locator("#total-customers").inner_text() == "3"
    assert page.locator("#total-gross").inner_text() == "73.7%"
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
def test_import_page_shows_run_starting(live_server, browser):
    UserFactory(username="browser_admin", role=Role.CS_ADMIN)
    run = ImportRun.objects.create(kind=ImportKind.MRR, file_name="m.csv", status=ImportStatus.QUEUED)
    page = browser.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    log_in(page, live_server.url, "browser_admin")
    page.goto(f"{live_server.url}{reverse('retention:import_detail', args=[run.pk])}")
    status = page.locator("#import-status [data-status]")
    assert status.inner_text() == "Queued"

    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.RUNNING, rows_read=15000, bytes_read=500, total_bytes=1000
    )

    from playwright.sync_api import expect

    expect(page.locator("#import-rows")).to_have_text("15,000")
    assert status.inner_text() == "Running"
    assert page.locator("#import-progress").get_attribute("aria-valuenow") == "50"
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "page_name, query",
    [("retention:overview", "level=xyz&month_from=2024-13"), ("retention:reasons", "month=2024-13&level=xyz")],
    ids=["overview", "reasons"],
)
def test_filter_fields_line_up_beside_errors(live_server, browser, page_name, query):
    UserFactory(username="browser_manager", role=Role.MANAGER)
    build_book()
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, live_server.url, "browser_manager")

    page.goto(f"{live_server.url}{reverse(page_name)}?{query}")

    filters = page.locator("form.retention-filters")
    assert filters.locator(".invalid-feedback").count() == 2
    tops = [
        round(box["y"])
        for box in (control.bounding_box() for control in filters.locator("select, input, button").all())
        if box is not None
    ]
    assert len(tops) >= 4
    assert max(tops) - min(tops) <= 1


def open_running_import(browser, live_server):
    """Log a CS admin in, open the page of a running import, and return the page and its script errors."""
    UserFactory(username="browser_admin", role=Role.CS_ADMIN)
    run = ImportRun.objects.create(
        kind=ImportKind.MRR, file_name="m.csv", status=ImportStatus.RUNNING, bytes_read=250, total_bytes=1000
    )
    page = browser.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    log_in(page, live_server.url, "browser_admin")
    page.goto(f"{live_server.url}{reverse('retention:import_detail', args=[run.pk])}")
    return page, script_errors


@pytest.mark.django_db(transaction=True)
def test_import_progress_shows_ended_session(live_server, browser):
    page, script_errors = open_running_import(browser, live_server)
    notice = page.locator("#import-progress-notice")
    assert notice.is_hidden()

    page.context.clear_cookies()

    from playwright.sync_api import expect

    expect(notice).to_have_text(
        "Your session has ended, so progress updates stopped. Log in again and reload the page."
    )
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
def test_import_progress_shows_failing_polls(live_server, browser):
    page, script_errors = open_running_import(browser, live_server)
    answered = []

    def fail(route):
        answered.append(route.request.url)
        route.fulfill(status=503, body="unavailable")

    page.route("**/progress.json", fail)

    from playwright.sync_api import expect

    expect(page.locator("#import-progress-notice")).to_have_text(
        "Progress updates stopped: the server answered 503. Reload the page to see the import's state.",
        timeout=10_000,
    )
    assert len(answered) == 3
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "page_name, status",
    [("retention:import_detail", ImportStatus.DONE), ("retention:import_mapping", ImportStatus.MAPPING)],
    ids=["detail", "mapping"],
)
def test_import_page_wraps_long_file_name(live_server, browser, settings, tmp_path, page_name, status):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "m.csv").write_text("month,account,subscription\n", encoding="utf-8")
    UserFactory(username="browser_admin", role=Role.CS_ADMIN)
    run = ImportRun.objects.create(
        kind=ImportKind.MRR, file_name="a" * 250 + ".csv", stored_path="imports/m.csv", status=status
    )
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, live_server.url, "browser_admin")

    page.goto(f"{live_server.url}{reverse(page_name, args=[run.pk])}")

    assert page.url.endswith(reverse(page_name, args=[run.pk]))
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


@pytest.mark.django_db(transaction=True)
def test_import_list_keeps_file_names_legible_on_phone(live_server, browser):
    UserFactory(username="browser_admin", role=Role.CS_ADMIN)
    ImportRun.objects.create(
        kind=ImportKind.MRR, file_name="/srv/exports/billing/mrr_2024_06.csv", status=ImportStatus.DONE
    )
    page = browser.new_page(viewport={"width": 390, "height": 900})
    log_in(page, live_server.url, "browser_admin")

    page.goto(f"{live_server.url}{reverse('retention:import_list')}")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The other columns do not wrap, so the file's cell had shrunk to two or three characters a line.
    # The table now scrolls inside its card instead.
    assert page.locator("td", has_text="mrr_2024_06.csv").bounding_box()["width"] >= 150


# Counts the lines that an element's text takes up on the screen.
LINES_OF_TEXT = """element => {
    const range = document.createRange();
    range.selectNodeContents(element);
    return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size;
}"""


@pytest.mark.django_db(transaction=True)
def test_month_ids_unbroken_on_phone(live_server, browser):
    UserFactory(username="browser_manager", role=Role.MANAGER)
    make_account("A-43a9e3", segment=Segment.MID_MARKET, name="Hooli")
    add_lines(
        [
            ("2023-06", "A-43a9e3", "SUB-H1", "Premium", 5, "250.00", "recurring"),
            ("2024-06", "A-43a9e3", "SUB-H1", "Premium", 5, "250.00", "recurring"),
        ]
    )
    recompute_retention(None)
    page = browser.new_page(viewport={"width": 390, "height": 900})
    log_in(page, live_server.url, "browser_manager")

    page.goto(f"{live_server.url}{reverse('retention:month', args=['2024-06'])}?level=subscription")

    for text in ("A-43a9e3", "SUB-H1", "Mid-Market"):
        cell = page.locator("#month-customers td", has_text=text).first
        assert cell.evaluate(LINES_OF_TEXT) == 1, text
