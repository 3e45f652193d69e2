"""Overdue marks written by the daily job while a TAM saves a milestone of the same journey."""

import datetime
import threading
import time
from unittest import mock

import pytest
from django.db import connection, connections
from django.utils import timezone

from journeys import services
from journeys.models import Milestone, OverdueMark
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and deadlocks need PostgreSQL")


@pytest.mark.django_db(transaction=True)
def test_daily_job_beside_milestone_save():
    tam = UserFactory(username="tam_locks", role="TAM")
    journey = services.start_journey(
        account=AccountFactory(tam=tam), transaction_date=datetime.date(2020, 1, 1), licenses=5
    )
    today = timezone.localdate()
    # The job finds the Kickoff mark's target date out of date, so it updates that row, and the
    # Onboarding mark missing, so it inserts one for the journey.
    OverdueMark.objects.filter(journey=journey, milestone=Milestone.KICKOFF).update(
        target_date=datetime.date(2000, 1, 1)
    )
    OverdueMark.objects.filter(journey=journey, milestone=Milestone.ONBOARDING).delete()
    job_thread = threading.get_ident()
    updated = threading.Event()
    real_bulk_create = OverdueMark.objects.bulk_create
    errors = []

    def bulk_create_after_the_save_waits(*args, **kwargs):
        if threading.get_ident() == job_thread:
            updated.set()
            time.sleep(1.5)
        return real_bulk_create(*args, **kwargs)

    def save_kickoff():
        try:
            services.record_milestones(journey, {"kickoff_date": datetime.date(2020, 1, 5)})
        except Exception as error:  # noqa: BLE001 - the test reports any failure of the save
            errors.append(error)
        finally:
            connections.close_all()

    saver = threading.Thread(target=save_kickoff)
    with mock.patch.object(OverdueMark.objects, "bulk_create", bulk_create_after_the_save_waits):
        starter = threading.Thread(target=lambda: (updated.wait(10), saver.start()))
        starter.start()
        try:
            services.mark_overdue(today)
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        starter.join()
        saver.join(20)

    assert errors == []
    assert not OverdueMark.objects.filter(journey=journey, milestone=Milestone.KICKOFF).exists()


@pytest.mark.django_db(transaction=True)
def test_milestone_saved_during_daily_job_unmarked():
    tam = UserFactory(username="tam_race", role="TAM")
    journey = services.start_journey(
        account=AccountFactory(tam=tam), transaction_date=datetime.date(2020, 1, 1), licenses=5
    )
    assert OverdueMark.objects.filter(journey=journey, milestone=Milestone.KICKOFF).exists()
    job_thread = threading.get_ident()
    read = threading.Event()
    real_overdue_milestones = services.overdue_milestones
    errors = []

    def overdue_milestones_then_wait(*args, **kwargs):
        due = real_overdue_milestones(*args, **kwargs)
        if threading.get_ident() == job_thread:
            read.set()
            time.sleep(1.5)
        return due

    def save_kickoff():
        try:
            services.record_milestones(journey, {"kickoff_date": datetime.date(2020, 1, 5)})
        except Exception as error:  # noqa: BLE001 - the test reports any failure of the save
            errors.append(error)
        finally:
            connections.close_all()

    saver = threading.Thread(target=save_kickoff)
    with mock.patch.object(services, "overdue_milestones", overdue_milestones_then_wait):
        starter = threading.Thread(target=lambda: (read.wait(10), saver.start()))
        starter.start()
        services.mark_overdue(timezone.localdate())
        starter.join()
        saver.join(20)

    assert errors == []
    assert not OverdueMark.objects.filter(journey=journey, milestone=Milestone.KICKOFF).exists()
