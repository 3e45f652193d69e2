"""In headless Chromium: a CS admin filters the audit log of a day's imports, milestones, plans and rate changes."""

import datetime
import os
import re
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from accounts.roles import Role
from audit.context import acting_as
from common.fiscal import FiscalQuarter
from journeys import plan_services
from journeys.services import record_milestones, start_journey
from retention.engine import recompute_retention
from services_cost import services as cost_services
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, UserFactory
from tests.retention.test_browser import browser  # noqa: F401  (the headless Chromium fixture)
from tests.services_cost.factories import ServiceRoleFactory

# Playwright's sync API runs an event loop in this thread, and Django raises
# SynchronousOnlyOperation on database calls from such a thread unless this is set.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser

ACCOUNTS = "account_id,account_name,parent_account_id,segment,tam_email\nACC-1,Globex,,SMB,\nACC-2,Initech,,Large,\n"
MRR = (
    "month,account_id,subscription_id,product,quantity,mrr,charge_type\n"
    "2025-06,ACC-1,SUB-1,Premium,10,500.00,recurring\n"
    "2026-02,ACC-1,SUB-1,Premium,12,600.00,recurring\n"
)


def build_log(tmp_path, tam, admin):
    """Store a day of events through the real services: imports, a recompute, milestones, a plan and rates."""
    for name, text, command in (("accounts.csv", ACCOUNTS, "import_accounts"), ("mrr.csv", MRR, "import_mrr")):
        (tmp_path / name).write_text(text)
        call_command(command, str(tmp_path / name), stdout=StringIO(), stderr=StringIO())
    recompute_retention(None)
    globex = AccountFactory(tam=tam, name="Globex Corporation", external_id="ACC-G")
    with acting_as(tam):
        journey = start_journey(account=globex, transaction_date=datetime.date(2026, 2, 2), licenses=120)
        record_milestones(journey, {"kickoff_date": datetime.date(2026, 2, 9)})
        record_milestones(journey, {"kickoff_date": datetime.date(2026, 2, 10)})
        plan = plan_services.create_plan(globex, owner=tam)
        plan_services.update_plan(plan, status="active", closing_summary="", today=datetime.date(2026, 3, 10))
    engineer = ServiceRoleFactory(name="Engineer")
    rate = cost_services.save_rate(
        role=engineer,
        quarter=FiscalQuarter(2026, 1),
        ote=Decimal("150400.00"),
        benefits=Decimal("37600.00"),
        billable_hours=1880,
        user=admin,
    )
    cost_services.save_rate(
        role=engineer,
        quarter=rate.quarter,
        ote=Decimal("158000.00"),
        benefits=Decimal("37600.00"),
        billable_hours=1840,
        user=admin,
        rate=rate,
    )


@pytest.mark.django_db(transaction=True)
@time_machine.travel(datetime.datetime(2026, 3, 10, 9, tzinfo=datetime.UTC), tick=True)
def test_admin_filters_audit_log(live_server, browser, tmp_path):  # noqa: F811
    admin = UserFactory(username="audit_admin", role=Role.CS_ADMIN)
    tam = UserFactory(username="ana.tam", role=Role.TAM)
    build_log(tmp_path, tam, admin)
    console_errors = []

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "audit_admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/retention/"))

    page.click("text=Admin")
    page.click("text=Audit log")
    page.wait_for_url(re.compile(r"/audit/$"))
    every_action = page.locator("#audit-events tbody tr").evaluate_all("rows => rows.map(r => r.dataset.action)")
    page.set_viewport_size({"width": 1366, "height": 900})
    # The table fits a laptop's width without scrolling sideways.
    overflow = page.locator("#audit-events").evaluate(
        "table => table.parentElement.scrollWidth - table.parentElement.clientWidth"
    )
    page.set_viewport_size({"width": 1400, "height": 900})
    page.select_option("#id_actor", label="ana.tam")
    page.fill("#id_date_from", "2026-03-10")
    page.fill("#id_label", "Globex Corporation")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url(re.compile(r"label=Globex"))
    filtered = page.locator("#audit-events tbody tr").evaluate_all("rows => rows.map(r => r.dataset.action)")
    page.screenshot(path=str(tmp_path / "audit-log.png"), full_page=True)

    assert overflow <= 0
    assert "import_finished" in every_action
    assert "recompute" in every_action
    assert "rate_changed" in every_action
    assert filtered == ["plan_changed", "plan_created", "milestone_changed", "milestone_set", "journey_started"]
    assert page.locator("#event-count").inner_text() == "5 events, newest first."
    assert "date_from=2026-03-10" in page.locator("#csv-link").get_attribute("href")
    assert "label=Globex+Corporation" in page.locator("#csv-link").get_attribute("href")
    assert console_errors == []
