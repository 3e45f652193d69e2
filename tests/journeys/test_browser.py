"""In headless Chromium: a TAM records a kickoff and closes every task, a manager opens the report,
and a CS admin edits a playbook on a phone."""

import datetime
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import Segment
from accounts.roles import Role
from journeys.services import start_journey
from tests.conftest import IN_CI, PASSWORD
from tests.factories import AccountFactory, UserFactory

from .factories import JourneyFactory, PlaybookTaskFactory, ProductFactory

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


def _log_in(page, base_url, username):
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/retention/$"))


@pytest.mark.django_db(transaction=True)
def test_tam_records_kickoff_and_completes_onboarding(live_server, browser):
    tam = UserFactory(username="browser_tam", role=Role.TAM)
    product = ProductFactory(name="Premium")
    PlaybookTaskFactory(playbook__product=product, title="Send the welcome pack", due_offset_days=3)
    PlaybookTaskFactory(playbook=product.playbooks.get(), title="Train the first team", due_offset_days=20)
    account = AccountFactory(tam=tam, name="Globex", segment=Segment.SMB)
    today = timezone.localdate()
    transaction_date = today - datetime.timedelta(days=20)
    journey = start_journey(account=account, transaction_date=transaction_date, licenses=50, products=[product])
    page = browser.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))

    _log_in(page, live_server.url, "browser_tam")
    page.goto(f"{live_server.url}/journeys/")
    row = page.locator(f'#open-journeys tr[data-journey="{journey.pk}"]')
    assert "Kickoff" in row.inner_text()
    row.locator("a").click()
    page.wait_for_url(re.compile(rf"/journeys/{journey.pk}/$"))

    kickoff = (transaction_date + datetime.timedelta(days=2)).isoformat()
    page.fill("#id_kickoff_date", kickoff)
    page.click("#milestone-form input[type=submit]")
    page.wait_for_url(re.compile(rf"/journeys/{journey.pk}/$"))
    assert page.locator('#milestones tr[data-milestone="kickoff"] .completed').inner_text() == kickoff

    for task in journey.tasks.order_by("position"):
        task_row = page.locator(f'#task-list tr[data-task="{task.pk}"]')
        task_row.locator("select").select_option("done")
        task_row.locator("input[type=date]").fill(today.isoformat())
        task_row.locator("input[type=submit]").click()
        page.wait_for_url(re.compile(rf"/journeys/{journey.pk}/#tasks$"))
        assert "Done" in page.locator(f'#task-list tr[data-task="{task.pk}"] .task-status').inner_text()

    onboarding = page.locator('#milestones tr[data-milestone="onboarding"]')
    assert onboarding.locator(".completed").inner_text() == today.isoformat()
    assert "Complete" in onboarding.locator(".status").inner_text()
    assert "browser_tam" in page.locator("#history").inner_text()
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
def test_manager_opens_time_to_value_report(live_server, browser):
    UserFactory(username="browser_manager", role=Role.MANAGER)
    today = timezone.localdate()
    # Kickoff after 5 and 12 days, and one journey still waiting: median 8.5 of those reached.
    for age, kickoff in [(40, 5), (30, 12), (10, None)]:
        transaction_date = today - datetime.timedelta(days=age)
        JourneyFactory(
            account=AccountFactory(segment=Segment.SMB),
            transaction_date=transaction_date,
            kickoff_date=None if kickoff is None else transaction_date + datetime.timedelta(days=kickoff),
        )
    page = browser.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))

    _log_in(page, live_server.url, "browser_manager")
    page.click("nav >> text=Customers")
    page.click("nav >> text=Time to value")
    page.wait_for_url(re.compile(r"/journeys/report/$"))

    kickoff = page.locator('#ttv-overall tr[data-milestone="kickoff"]').inner_text()
    assert "8.5" in kickoff
    assert page.locator("#ttv-chart").is_visible()
    datasets = page.evaluate("Chart.getChart(document.getElementById('ttv-chart')).data.datasets.length")
    assert datasets == 5
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
def test_playbook_fields_and_errors_fit_phone(live_server, browser):
    UserFactory(username="phone_admin", role=Role.CS_ADMIN)
    task = PlaybookTaskFactory(playbook__product=ProductFactory(name="Premium"), title="Kickoff", due_offset_days=3)
    page = browser.new_page(viewport={"width": 390, "height": 900})
    _log_in(page, live_server.url, "phone_admin")

    page.goto(f"{live_server.url}/journeys/playbooks/{task.playbook_id}/")
    page.fill("input[name=tasks-0-due_offset_days]", "3651")
    page.click("text=Save playbook")
    page.wait_for_load_state()

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Each field shows its value, not a sliver of it, because the table scrolls inside its card instead.
    assert page.locator("input[name=tasks-0-title]").bounding_box()["width"] >= 150
    assert page.locator("select[name=tasks-0-owner_side]").bounding_box()["width"] >= 110
    assert page.locator("input[name=tasks-0-due_offset_days]").bounding_box()["width"] >= 100
    errors = page.locator("#playbook-task-errors")
    assert "Task 1, Due offset days: Ensure this value is less than or equal to 3650." in errors.inner_text()
    box = errors.bounding_box()
    assert box["x"] + box["width"] <= 390
    task.refresh_from_db()
    assert task.due_offset_days == 3


# Reads the canvas pixels around a point of the time-to-value chart, given in days and percent.
CHART_PIXELS = """([days, percent]) => {
  const canvas = document.getElementById('ttv-chart');
  const chart = Chart.getChart(canvas);
  const ratio = window.devicePixelRatio;
  const x = Math.round(chart.scales.x.getPixelForValue(days) * ratio);
  const y = Math.round(chart.scales.y.getPixelForValue(percent) * ratio);
  const pixels = canvas.getContext('2d').getImageData(x, y - 2, 1, 5).data;
  const colors = [];
  for (let i = 0; i < pixels.length; i += 4) colors.push([pixels[i], pixels[i + 1], pixels[i + 2]]);
  return colors;
}"""
KICKOFF_BLUE = (13, 110, 253)


def _has_color(colors, expected):
    return any(all(abs(part - want) <= 40 for part, want in zip(color, expected, strict=True)) for color in colors)


@pytest.mark.django_db(transaction=True)
def test_time_to_value_curve_drops_at_event(live_server, browser):
    UserFactory(username="browser_manager", role=Role.MANAGER)
    transaction_date = timezone.localdate() - datetime.timedelta(days=60)
    # Kickoff on day 10 for one journey and day 30 for the other, so the Kickoff curve is 100% until day 10,
    # 50% until day 30 and 0% after. Every other milestone comes after day 40 and keeps its curve at 100% before.
    for kickoff, later in [(10, 40), (30, 44)]:
        day = [transaction_date + datetime.timedelta(days=offset) for offset in (kickoff, later, later + 1)]
        JourneyFactory(
            account=AccountFactory(segment=Segment.SMB),
            transaction_date=transaction_date,
            kickoff_date=day[0],
            onboarding_date=day[1],
            infrastructure_ready_date=day[2],
            infrastructure_type="saas",
            first_value_date=day[2] + datetime.timedelta(days=1),
            first_value_basis="team",
            outcome_achieved_date=day[2] + datetime.timedelta(days=2),
        )
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    _log_in(page, live_server.url, "browser_manager")
    page.goto(f"{live_server.url}/journeys/report/")
    page.wait_for_function("Chart.getChart(document.getElementById('ttv-chart')) !== undefined")
    # Chart.js animates the first drawing.
    page.wait_for_timeout(1500)

    assert _has_color(page.evaluate(CHART_PIXELS, [20, 50]), KICKOFF_BLUE)
    assert not _has_color(page.evaluate(CHART_PIXELS, [5, 50]), KICKOFF_BLUE)
    assert not _has_color(page.evaluate(CHART_PIXELS, [20, 0]), KICKOFF_BLUE)


@pytest.mark.django_db(transaction=True)
def test_chart_axis_ignores_decades_old_journey(live_server, browser):
    UserFactory(username="browser_manager", role=Role.MANAGER)
    today = timezone.localdate()
    JourneyFactory(
        account=AccountFactory(segment=Segment.SMB),
        transaction_date=today - datetime.timedelta(days=100),
        kickoff_date=today - datetime.timedelta(days=60),
    )
    # Entered with a mistyped year and never started.
    JourneyFactory(account=AccountFactory(segment=Segment.SMB), transaction_date=datetime.date(1900, 1, 1))
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    _log_in(page, live_server.url, "browser_manager")
    page.goto(f"{live_server.url}/journeys/report/")
    page.wait_for_function("Chart.getChart(document.getElementById('ttv-chart')) !== undefined")
    page.wait_for_timeout(1500)

    # Kickoff on day 40 for one of the two journeys, so the axis stops 30 days later at day 70.
    assert page.evaluate("Chart.getChart(document.getElementById('ttv-chart')).scales.x.max") == 70
    assert _has_color(page.evaluate(CHART_PIXELS, [50, 50]), KICKOFF_BLUE)
    assert "The chart stops at day 70" in page.locator("#ttv-chart-end").inner_text()


@pytest.mark.django_db(transaction=True)
def test_targets_show_whole_values_on_phone(live_server, browser):
    UserFactory(username="phone_admin", role=Role.CS_ADMIN)
    page = browser.new_page(viewport={"width": 390, "height": 900})
    _log_in(page, live_server.url, "phone_admin")

    page.goto(f"{live_server.url}/journeys/targets/")
    page.fill("input[name=target_first_value_smb]", "0")
    page.evaluate("document.querySelector('input[name=target_first_value_smb]').removeAttribute('min')")
    page.click("text=Save targets")
    page.wait_for_load_state()

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # A box that fits two digits showed the Large target of 270 days as 27. The table scrolls inside its
    # card instead, and the invalid field keeps room for its value beside the warning icon.
    assert page.locator("input[name=target_outcome_achieved_large]").input_value() == "270"
    for name in ("target_outcome_achieved_large", "target_first_value_smb"):
        assert page.locator(f"input[name={name}]").bounding_box()["width"] >= 96
    assert "greater than or equal to 1" in page.locator("#targets-form .invalid-feedback").inner_text()
    # That message sits in the part of the table out of view, so the page also lists it above the table.
    errors = page.locator("#target-errors")
    assert errors.inner_text() == "First Value, SMB: Ensure this value is greater than or equal to 1."
    box = errors.bounding_box()
    assert box["x"] + box["width"] <= 390


@pytest.mark.django_db(transaction=True)
def test_playbook_title_wider_than_numbers(live_server, browser):
    UserFactory(username="desk_admin", role=Role.CS_ADMIN)
    task = PlaybookTaskFactory(playbook__product=ProductFactory(name="Premium"), title="Kickoff", due_offset_days=3)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    _log_in(page, live_server.url, "desk_admin")

    page.goto(f"{live_server.url}/journeys/playbooks/{task.playbook_id}/")

    title_box = page.locator("input[name=tasks-0-title]").bounding_box()
    offset_box = page.locator("input[name=tasks-0-due_offset_days]").bounding_box()
    assert title_box["width"] >= 2 * offset_box["width"]
    assert title_box["width"] >= 450


@pytest.mark.django_db(transaction=True)
def test_task_form_in_view_on_phone(live_server, browser):
    tam = UserFactory(username="phone_tam", role=Role.TAM)
    product = ProductFactory(name="Premium")
    PlaybookTaskFactory(playbook__product=product, title="Hold the technical onboarding session", due_offset_days=3)
    account = AccountFactory(tam=tam, name="Globex", segment=Segment.SMB)
    today = timezone.localdate()
    journey = start_journey(
        account=account, transaction_date=today - datetime.timedelta(days=5), licenses=50, products=[product]
    )
    task = journey.tasks.get()
    page = browser.new_page(viewport={"width": 390, "height": 900})
    _log_in(page, live_server.url, "phone_tam")

    page.goto(f"{live_server.url}/journeys/{journey.pk}/")

    row = page.locator(f'#task-list tr[data-task="{task.pk}"]')
    for element in (row.locator("select"), row.locator("input[type=date]"), row.locator("input[type=submit]")):
        box = element.bounding_box()
        assert box["x"] + box["width"] <= 390
    due = (today - datetime.timedelta(days=2)).isoformat()
    assert row.locator(".task-details").inner_text() == f"TAM, due {due}, open"
    row.locator("select").select_option("done")
    row.locator("input[type=date]").fill(today.isoformat())
    row.locator("input[type=submit]").click()
    page.wait_for_url(re.compile(rf"/journeys/{journey.pk}/#tasks$"))
    task.refresh_from_db()
    assert task.closed_on == today
