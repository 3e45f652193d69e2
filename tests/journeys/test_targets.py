"""Targets per milestone and segment, the daily overdue marks and their beat schedule."""

import datetime

import pytest
from django.conf import settings

from accounts.models import Segment
from journeys.defaults import DEFAULT_TARGET_DAYS
from journeys.models import Milestone, MilestoneTarget, OverdueMark, TaskStatus
from journeys.selectors import my_open_journeys, target_days
from journeys.services import record_milestones, save_targets, start_journey, update_task
from journeys.tasks import mark_overdue_milestones
from tests.factories import AccountFactory
from tests.test_beat_schedule import YEAR_2024, fire_times

from .factories import JourneyFactory, PlaybookTaskFactory, ProductFactory

D = datetime.date


@pytest.mark.django_db
def test_migration_stores_default_targets():
    stored = {(t.milestone, t.segment): t.days for t in MilestoneTarget.objects.all()}

    assert stored[(Milestone.KICKOFF, Segment.LARGE)] == 14
    assert stored[(Milestone.KICKOFF, Segment.SMB)] == 14
    assert stored[(Milestone.ONBOARDING, Segment.LARGE)] == 60
    assert stored[(Milestone.ONBOARDING, Segment.SMB)] == 30
    assert len(stored) == 20
    assert stored == {(m, s): days for m, by_segment in DEFAULT_TARGET_DAYS.items() for s, days in by_segment.items()}


@pytest.mark.django_db
def test_save_targets_changes_one_segment():
    changed = save_targets({(Milestone.ONBOARDING.value, Segment.SMB.value): 21}, today=D(2024, 6, 30))

    assert changed == 1
    targets = target_days()
    assert targets[(Milestone.ONBOARDING, Segment.SMB)] == 21
    assert targets[(Milestone.ONBOARDING, Segment.LARGE)] == 60


def _journey(segment, days_ago, today, **dates):
    account = AccountFactory(segment=segment)
    return JourneyFactory(account=account, transaction_date=today - datetime.timedelta(days=days_ago), **dates)


@pytest.mark.django_db
def test_overdue_depends_on_segment_target():
    today = D(2024, 6, 30)
    # Day 40 with kickoff done: onboarding is past the SMB target (30) but not the Large one (60).
    smb = _journey(Segment.SMB, 40, today, kickoff_date=D(2024, 5, 25))
    large = _journey(Segment.LARGE, 40, today, kickoff_date=D(2024, 5, 25))

    mark_overdue_milestones("2024-06-30")

    assert set(OverdueMark.objects.filter(journey=smb).values_list("milestone", flat=True)) == {"onboarding"}
    assert not OverdueMark.objects.filter(journey=large).exists()


@pytest.mark.django_db
def test_overdue_not_on_target_day():
    today = D(2024, 6, 30)
    on_day = _journey(Segment.SMB, 14, today)
    past = _journey(Segment.SMB, 15, today)

    mark_overdue_milestones("2024-06-30")

    assert not OverdueMark.objects.filter(journey=on_day).exists()
    mark = OverdueMark.objects.get(journey=past)
    assert (mark.milestone, mark.target_date) == ("kickoff", D(2024, 6, 29))


@pytest.mark.django_db
def test_overdue_job_twice_changes_nothing():
    today = D(2024, 6, 30)
    _journey(Segment.SMB, 200, today)

    first = mark_overdue_milestones("2024-06-30")
    marks = list(OverdueMark.objects.order_by("pk").values_list("pk", "journey_id", "milestone", "marked_at"))
    second = mark_overdue_milestones("2024-06-30")

    assert first == {"overdue": 5, "added": 5, "removed": 0}
    assert second == {"overdue": 5, "added": 0, "removed": 0}
    assert list(OverdueMark.objects.order_by("pk").values_list("pk", "journey_id", "milestone", "marked_at")) == marks


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_clock")
def test_reaching_milestone_removes_mark():
    today = D(2024, 6, 30)
    journey = _journey(Segment.SMB, 20, today)
    mark_overdue_milestones("2024-06-30")
    assert OverdueMark.objects.filter(journey=journey, milestone="kickoff").exists()

    record_milestones(journey, {"kickoff_date": D(2024, 6, 20)})

    assert not OverdueMark.objects.filter(journey=journey).exists()


@pytest.mark.django_db
def test_raised_target_removes_mark_at_once():
    today = D(2024, 6, 30)
    journey = _journey(Segment.SMB, 20, today)
    mark_overdue_milestones("2024-06-30")
    assert OverdueMark.objects.filter(journey=journey, milestone="kickoff").exists()

    save_targets({("kickoff", Segment.SMB.value): 30}, today=today)

    assert not OverdueMark.objects.filter(journey=journey, milestone="kickoff").exists()


@pytest.mark.django_db
def test_lowered_target_marks_at_once():
    today = D(2024, 6, 30)
    journey = _journey(Segment.SMB, 10, today)
    mark_overdue_milestones("2024-06-30")
    assert not OverdueMark.objects.filter(journey=journey, milestone="kickoff").exists()

    save_targets({("kickoff", Segment.SMB.value): 5}, today=today)

    assert OverdueMark.objects.get(journey=journey, milestone="kickoff").target_date == today - datetime.timedelta(5)


@pytest.mark.django_db
def test_my_accounts_reads_marks(tam):
    today = D(2024, 6, 30)
    account = AccountFactory(segment=Segment.SMB, tam=tam)
    late = JourneyFactory(account=account, transaction_date=D(2024, 6, 1))
    fresh = JourneyFactory(account=account, transaction_date=D(2024, 6, 25), kind="expansion")

    before = {row.journey.pk: row.next_is_overdue for row in my_open_journeys(tam, today)}
    mark_overdue_milestones("2024-06-30")
    after = {row.journey.pk: row for row in my_open_journeys(tam, today)}

    assert before == {late.pk: False, fresh.pk: False}
    assert after[late.pk].next_is_overdue is True
    assert after[late.pk].next_milestone == Milestone.KICKOFF
    assert after[late.pk].days_since_transaction == 29
    assert after[late.pk].next_target_date == D(2024, 6, 15)
    assert after[fresh.pk].next_is_overdue is False


def test_overdue_job_fires_daily_at_three_utc():
    schedule = settings.CELERY_BEAT_SCHEDULE["mark-overdue-milestones-daily"]

    fired = fire_times(schedule["schedule"], *YEAR_2024)

    assert schedule["task"] == "journeys.tasks.mark_overdue_milestones"
    assert len(fired) == 366
    assert {(moment.hour, moment.minute) for moment in fired} == {(3, 0)}


@pytest.mark.usefixtures("frozen_clock")
def test_journey_started_past_target_marked(tam):
    # The clock is frozen at 2024-06-30, so the SMB Kickoff target of 2024-06-15 has passed and Onboarding's has not.
    account = AccountFactory(segment=Segment.SMB, tam=tam)

    journey = start_journey(account=account, transaction_date=D(2024, 6, 1), licenses=10)

    assert set(journey.overdue_marks.values_list("milestone", flat=True)) == {"kickoff"}
    assert my_open_journeys(tam, D(2024, 6, 30))[0].next_is_overdue is True


@pytest.mark.usefixtures("frozen_clock")
def test_cleared_milestone_marked_again(tam):
    journey = start_journey(
        account=AccountFactory(segment=Segment.SMB, tam=tam), transaction_date=D(2024, 6, 1), licenses=1
    )
    record_milestones(journey, {"kickoff_date": D(2024, 6, 20)})
    assert not journey.overdue_marks.exists()

    record_milestones(journey, {"kickoff_date": None})

    assert set(journey.overdue_marks.values_list("milestone", flat=True)) == {"kickoff"}


@pytest.mark.usefixtures("frozen_clock")
def test_reopened_task_marks_onboarding(tam):
    product = ProductFactory(name="Premium")
    PlaybookTaskFactory(playbook__product=product, title="Welcome")
    account = AccountFactory(segment=Segment.SMB, tam=tam)
    journey = start_journey(account=account, transaction_date=D(2024, 5, 1), licenses=1, products=[product])
    record_milestones(journey, {"kickoff_date": D(2024, 5, 5)})
    task = journey.tasks.get()
    update_task(task, status=TaskStatus.DONE, closed_on=D(2024, 5, 20))
    assert not journey.overdue_marks.filter(milestone="onboarding").exists()

    update_task(task, status=TaskStatus.OPEN, closed_on=None)

    assert journey.overdue_marks.filter(milestone="onboarding").exists()
