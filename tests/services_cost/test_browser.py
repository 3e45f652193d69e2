"""In headless Chromium: a CS admin copies a quarter's rates and edits one; a TAM builds an estimate and exports it."""

import csv
import datetime
import io
import os
import re
from decimal import Decimal

import pytest
import time_machine

from accounts.roles import Role
from common.fiscal import FiscalQuarter
from services_cost.models import CostEstimate, CostRate
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, UserFactory
from tests.retention.test_browser import browser  # noqa: F401  (the headless Chromium fixture)

from .factories import CostEstimateFactory, CostRateFactory, EstimateLineFactory

# Playwright's sync API runs an event loop in this thread, and Django raises
# SynchronousOnlyOperation on database calls from such a thread unless this is set.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser

Q1 = FiscalQuarter(2026, 1)


def log_in(page, base_url, username):
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/retention/"))


@pytest.mark.django_db(transaction=True)
@time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC), tick=True)
def test_admin_copies_rates_and_tam_builds_estimate(live_server, browser):  # noqa: F811
    UserFactory(username="browser_admin", role=Role.CS_ADMIN)
    tam = UserFactory(username="browser_tam", role=Role.TAM)
    globex = AccountFactory(tam=tam, name="Globex")
    CostRateFactory(role__name="Engineer", quarter=Q1)
    CostRateFactory(role__name="Trainer", quarter=Q1, ote=Decimal("99875.00"), benefits=Decimal("0.00"))
    script_errors = []

    admin_page = browser.new_page()
    admin_page.on("pageerror", lambda error: script_errors.append(str(error)))
    log_in(admin_page, live_server.url, "browser_admin")
    admin_page.goto(f"{live_server.url}/services-cost/rates/?quarter=FY2026-Q1")
    assert admin_page.evaluate("Chart.getChart(document.getElementById('cost-rates-chart')).data.labels") == [
        "FY2026-Q1"
    ]
    admin_page.click("#copy-rates button")
    admin_page.wait_for_url(re.compile(r"quarter=FY2026-Q2"))
    assert "Copied 2 rate(s) from FY2026-Q1 to FY2026-Q2." in admin_page.locator(".alert-success").inner_text()
    engineer_row = admin_page.locator('#rates-table tr[data-role="Engineer"]')
    assert engineer_row.locator(".hourly-cost").inner_text() == "100.00"

    engineer_row.locator("a", has_text="Edit").click()
    admin_page.fill("input[name=ote]", "169200.00")
    admin_page.click("input[type=submit]")
    admin_page.wait_for_url(re.compile(r"quarter=FY2026-Q2"))
    assert admin_page.locator('#rates-table tr[data-role="Engineer"] .hourly-cost').inner_text() == "110.00"
    assert "169200.00" in admin_page.locator("#rate-changes").inner_text()
    assert "browser_admin" in admin_page.locator("#rate-changes").inner_text()
    assert CostRate.objects.get(quarter_start=FiscalQuarter(2026, 2).start, role__name="Engineer").ote == Decimal(
        "169200.00"
    )

    tam_page = browser.new_page()
    tam_page.on("pageerror", lambda error: script_errors.append(str(error)))
    log_in(tam_page, live_server.url, "browser_tam")
    tam_page.goto(f"{live_server.url}/services-cost/estimates/new/")
    tam_page.select_option("select[name=account]", value=str(globex.pk))
    tam_page.fill("input[name=title]", "Rollout SOW")
    tam_page.fill("input[name=estimate_date]", "2026-05-04")
    tam_page.fill("input[name=price]", "9000.00")
    tam_page.select_option("select[name=lines-0-role]", label="Engineer")
    tam_page.fill("input[name=lines-0-hours]", "40")
    tam_page.fill("input[name=lines-0-description]", "Migration")
    tam_page.click("#add-line")
    tam_page.select_option("select[name=lines-1-role]", label="Trainer")
    tam_page.fill("input[name=lines-1-hours]", "7.5")
    tam_page.click("#estimate-form button[type=submit]")
    tam_page.wait_for_url(re.compile(r"/services-cost/estimates/\d+/$"))

    # 2026-05-04 is in FY2026-Q2: engineer 40 h × 110.00 = 4400.00, trainer 7.5 h × 53.13 = 398.48.
    assert tam_page.locator("#total-cost").inner_text() == "4,798.48"
    assert tam_page.locator("#margin").inner_text() == "4,201.52"
    assert tam_page.locator("#margin-pct").inner_text() == "46.68%"
    page_costs = tam_page.locator("#estimate-lines tbody tr td:nth-child(6)").all_inner_texts()
    assert page_costs == ["4,400.00", "398.48"]

    with tam_page.expect_download() as download_info:
        tam_page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(open(download_info.value.path(), encoding="utf-8").read())))
    assert [row["line_cost"] for row in rows] == [cost.replace(",", "") for cost in page_costs]
    assert rows[0]["total_cost"] == tam_page.locator("#total-cost").inner_text().replace(",", "")
    assert rows[0]["margin"] == tam_page.locator("#margin").inner_text().replace(",", "")
    assert rows[0]["margin_pct"] + "%" == tam_page.locator("#margin-pct").inner_text()
    assert CostEstimate.objects.get().lines.count() == 2
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
@time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC), tick=True)
def test_rates_and_estimate_fit_phone_width(live_server, browser):  # noqa: F811
    UserFactory(username="phone_admin", role=Role.CS_ADMIN)
    rate = CostRateFactory(role__name="Professional services engineer", quarter=Q1)
    estimate = CostEstimateFactory(title="Kubernetes migration", price=Decimal("48000.00"))
    EstimateLineFactory(
        estimate=estimate, role=rate.role, hours=Decimal("260.00"), description="Migration of twelve services"
    )
    page = browser.new_page(viewport={"width": 390, "height": 900})
    log_in(page, live_server.url, "phone_admin")

    for path in (
        "/services-cost/rates/?quarter=FY2026-Q1",
        f"/services-cost/estimates/{estimate.pk}/",
        f"/services-cost/estimates/{estimate.pk}/edit/",
    ):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    # On the edit page the line's role select shows its role's name, not a sliver of it.
    assert page.locator("#estimate-lines select").first.bounding_box()["width"] >= 150


@pytest.mark.django_db(transaction=True)
@time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC), tick=True)
def test_estimate_costs_visible_on_phone(live_server, browser):  # noqa: F811
    UserFactory(username="phone_admin", role=Role.CS_ADMIN)
    rate = CostRateFactory(role__name="Professional services engineer", quarter=Q1)
    estimate = CostEstimateFactory(title="Kubernetes migration", price=Decimal("48000.00"))
    EstimateLineFactory(
        estimate=estimate, role=rate.role, hours=Decimal("260.00"), description="Migration of twelve services"
    )
    page = browser.new_page(viewport={"width": 390, "height": 900})
    log_in(page, live_server.url, "phone_admin")

    page.goto(f"{live_server.url}/services-cost/estimates/{estimate.pk}/")

    cost = page.locator("#estimate-lines tbody tr td").last
    box = cost.bounding_box()
    assert box["x"] + box["width"] <= 390
    assert cost.inner_text() == "26,000.00"
    assert page.locator("text=Migration of twelve services >> visible=true").count() == 1


@pytest.mark.django_db(transaction=True)
@time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC), tick=True)
def test_hourly_cost_and_edit_visible_on_phone(live_server, browser):  # noqa: F811
    UserFactory(username="phone_admin", role=Role.CS_ADMIN)
    CostRateFactory(role__name="Professional services engineer", quarter=Q1)
    page = browser.new_page(viewport={"width": 390, "height": 900})
    log_in(page, live_server.url, "phone_admin")

    page.goto(f"{live_server.url}/services-cost/rates/?quarter=FY2026-Q1")

    row = page.locator('#rates-table tr[data-role="Professional services engineer"]')
    for element in (row.locator(".hourly-cost"), row.locator("a", has_text="Edit")):
        box = element.bounding_box()
        assert box["x"] + box["width"] <= 390
    assert row.locator(".hourly-cost").inner_text() == "100.00"
    assert row.locator(".rate-inputs").inner_text() == "OTE 150,400.00, benefits 37,600.00, 1880 h"


@pytest.mark.django_db(transaction=True)
@time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC), tick=True)
def test_estimate_list_margin_visible_on_phone(live_server, browser):  # noqa: F811
    UserFactory(username="phone_admin", role=Role.CS_ADMIN)
    rate = CostRateFactory(role__name="Professional services engineer", quarter=Q1)
    estimate = CostEstimateFactory(title="Kubernetes migration", price=Decimal("48000.00"))
    EstimateLineFactory(estimate=estimate, role=rate.role, hours=Decimal("260.00"))
    page = browser.new_page(viewport={"width": 390, "height": 900})
    log_in(page, live_server.url, "phone_admin")

    page.goto(f"{live_server.url}/services-cost/estimates/")

    margin_pct = page.locator(f'#estimates tr[data-estimate="{estimate.pk}"] td').last
    box = margin_pct.bounding_box()
    assert box["x"] + box["width"] <= 390
    assert margin_pct.inner_text() == "45.83%"
    details = page.locator(f'#estimates tr[data-estimate="{estimate.pk}"] .estimate-details').inner_text()
    assert details.endswith("in FY2026-Q1, draft, price 48,000.00, cost 26,000.00")
