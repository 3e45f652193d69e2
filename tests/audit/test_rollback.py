"""An audit event commits with its change or not at all: a rolled-back change leaves no event behind.

These tests commit for real, so an event written outside the change's transaction would stay.
"""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from accounts.models import Account
from audit.context import acting_as
from audit.models import AuditAction, AuditEvent
from common.fiscal import FiscalQuarter
from journeys import services as journey_services
from journeys.models import Journey
from retention.engine import recompute_retention
from retention.models import ImportRun, ImportStatus, RetentionResult
from services_cost import services as cost_services
from services_cost.models import CostRate
from tests.factories import AccountFactory
from tests.journeys.factories import JourneyFactory
from tests.services_cost.factories import CostRateFactory

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = "account_id,account_name,parent_account_id,segment,tam_email\nACC-1,Globex,,SMB,\n"


class Boom(Exception):
    pass


def raise_ote(rate, user):
    """Save `rate` with its OTE raised to 200.00 through the service that records the change."""
    cost_services.save_rate(
        role=rate.role,
        quarter=rate.quarter,
        ote=Decimal("200.00"),
        benefits=rate.benefits,
        billable_hours=rate.billable_hours,
        user=user,
        rate=rate,
    )


def test_rate_change_rolled_back_by_caller(cs_admin):
    rate = CostRateFactory(role__name="Engineer", quarter=FiscalQuarter(2026, 1), ote=Decimal("100.00"))

    with pytest.raises(Boom), transaction.atomic():
        raise_ote(rate, cs_admin)
        raise Boom

    assert CostRate.objects.get(pk=rate.pk).ote == Decimal("100.00")
    assert not AuditEvent.objects.exists()


def test_rate_change_committed_keeps_event(cs_admin):
    rate = CostRateFactory(role__name="Engineer", quarter=FiscalQuarter(2026, 1), ote=Decimal("100.00"))

    raise_ote(rate, cs_admin)

    assert AuditEvent.objects.count() == 1


def test_failing_audit_write_rolls_back_rate(cs_admin, monkeypatch):
    rate = CostRateFactory(role__name="Engineer", quarter=FiscalQuarter(2026, 1), ote=Decimal("100.00"))

    def failing_record(*args, **kwargs):
        raise Boom

    monkeypatch.setattr("services_cost.services.record", failing_record)

    with pytest.raises(Boom):
        cost_services.save_rate(
            role=rate.role,
            quarter=rate.quarter,
            ote=Decimal("200.00"),
            benefits=rate.benefits,
            billable_hours=rate.billable_hours,
            user=cs_admin,
            rate=rate,
        )

    assert CostRate.objects.get(pk=rate.pk).ote == Decimal("100.00")


def test_failed_milestone_save_leaves_no_event(tam, monkeypatch):
    journey = JourneyFactory(account=AccountFactory(tam=tam))

    def failing_sync(journey):
        raise Boom

    monkeypatch.setattr(journey_services, "_sync_overdue_marks", failing_sync)

    with pytest.raises(Boom), acting_as(tam):
        journey_services.record_milestones(journey, {"kickoff_date": datetime.date(2024, 1, 5)})

    assert Journey.objects.get(pk=journey.pk).kickoff_date is None
    assert not AuditEvent.objects.exists()


def test_recompute_rolled_back_leaves_no_event(tmp_path):
    (tmp_path / "accounts.csv").write_text(
        "account_id,account_name,parent_account_id,segment,tam_email\nACC-1,G,,SMB,\n"
    )
    (tmp_path / "mrr.csv").write_text(
        "month,account_id,subscription_id,product,quantity,mrr,charge_type\n"
        "2023-06,ACC-1,SUB-1,Premium,10,500.00,recurring\n"
        "2024-06,ACC-1,SUB-1,Premium,12,600.00,recurring\n"
    )
    for command, name in (("import_accounts", "accounts.csv"), ("import_mrr", "mrr.csv")):
        call_command(command, str(tmp_path / name), stdout=StringIO(), stderr=StringIO())
    # The imports enqueue a recomputation when they commit; only the one below matters here.
    RetentionResult.objects.all().delete()
    AuditEvent.objects.filter(action="recompute").delete()

    with pytest.raises(Boom), transaction.atomic():
        recompute_retention(None)
        raise Boom

    assert not RetentionResult.objects.exists()
    assert not AuditEvent.objects.filter(action="recompute").exists()


def test_failing_audit_write_stores_nothing(tmp_path, monkeypatch):
    # The finished import's event is written in the transaction that stores its data.
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS)

    def failing_record(*args, **kwargs):
        raise Boom

    monkeypatch.setattr("retention.services.record_import_outcome", failing_record)

    with pytest.raises(Boom):
        call_command("import_accounts", str(path), stdout=StringIO(), stderr=StringIO())

    assert not Account.objects.exists()
    assert ImportRun.objects.get().status == ImportStatus.FAILED
    assert not AuditEvent.objects.filter(action=AuditAction.IMPORT_FINISHED).exists()
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT_FAILED).count() == 1
