"""Overdue marks written by the daily job while a TAM saves a milestone of the same journey."""

import datetime
import threading
import time
from unittest import mock

import pytest
from django.db import connection, connections
from django.utils import timezone

from journeys import services
from journeys.models import Journey, Milestone, OverdueMark
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and deadlocks need PostgreSQL")


def _open_journey() -> Journey:
    """Return a journey from 2020 with no milestone reached, so every milestone is marked past target."""
    tam = UserFactory(username="tam_locks", role="TAM")
    return services.start_journey(
        account=AccountFactory(tam=tam), transaction_date=datetime.date(2020, 1, 1), licenses=5
    )


def _save_kickoff_during_daily_job(journey: Journey, target, name: str, *, pause_after: bool) -> list[Exception]:
    """Run the daily job and, while it pauses at `target.name`, save the journey's Kickoff in another thread.

    The job pauses for 1.5 seconds before the call, or after it with `pause_after`. Return the errors of both.
    """
    job_thread = threading.get_ident()
    paused = threading.Event()
    real = getattr(target, name)
    errors = []

    def pausing(*args, **kwargs):
        result = real(*args, **kwargs) if pause_after else None
        if threading.get_ident() == job_thread:
            paused.set()
            time.sleep(1.5)
        return result if pause_after else real(*args, **kwargs)

    def save_kickoff():
        try:
            services.record_milestones(journey, {"kickoff_date": datetime.date(2020, 1, 5)})
        except Exception as error:  # noqa: BLE001 - the test reports any failure of the save
            errors.append(error)
        finally:
            connections.close_all()

    saver = threading.Thread(target=save_kickoff)
    with mock.patch.object(target, name, pausing):
        starter = threading.Thread(target=lambda: (paused.wait(10), saver.start()))
        starter.start()
        try:
            services.mark_overdue(timezone.localdate())
        except Exception as error:  # noqa: BLE001 - the test reports any failure of the job
            errors.append(error)
        starter.join()
        saver.join(20)
    return errors


@pytest.mark.django_db(transaction=True)
def test_daily_job_beside_milestone_save():
    journey = _open_journey()
    # The job finds the Kickoff mark's target date out of date, so it updates that row, and the
    # Onboarding mark missing, so it inserts one for the journey.
    kickoff = OverdueMark.objects.filter(journey=journey, milestone=Milestone.KICKOFF)
    kickoff.update(target_date=datetime.date(2000, 1, 1))
    OverdueMark.objects.filter(journey=journey, milestone=Milestone.ONBOARDING).delete()

    errors = _save_kickoff_during_daily_job(journey, OverdueMark.objects, "bulk_create", pause_after=False)

    assert errors == []
    assert not kickoff.exists()


@pytest.mark.django_db(transaction=True)
def test_milestone_saved_during_daily_job_unmarked():
    journey = _open_journey()
    kickoff = OverdueMark.objects.filter(journey=journey, milestone=Milestone.KICKOFF)
    assert kickoff.exists()

    errors = _save_kickoff_during_daily_job(journey, services, "overdue_milestones", pause_after=True)

    assert errors == []
    assert not kickoff.exists()
