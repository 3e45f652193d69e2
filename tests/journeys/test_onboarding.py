"""Starting a journey from its playbook, and the Onboarding milestone following the tasks both ways."""

import datetime

import pytest

from accounts.models import Segment
from journeys.models import JourneyTask, OwnerSide, TaskStatus
from journeys.services import record_milestones, start_journey, update_task
from tests.factories import AccountFactory

from .factories import PlaybookFactory, PlaybookTaskFactory, ProductFactory

D = datetime.date
pytestmark = pytest.mark.django_db


def _playbooks():
    """Premium has a Large playbook with two tasks and an any-segment playbook with three."""
    premium = ProductFactory(name="Premium")
    large = PlaybookFactory(product=premium, segment=Segment.LARGE)
    PlaybookTaskFactory(playbook=large, title="Executive kickoff", due_offset_days=5, owner_side=OwnerSide.TAM)
    PlaybookTaskFactory(playbook=large, title="Security review", due_offset_days=30, owner_side=OwnerSide.CUSTOMER)
    general = PlaybookFactory(product=premium, segment="")
    for title in ("Welcome", "Sign in", "Train"):
        PlaybookTaskFactory(playbook=general, title=title, due_offset_days=10)
    return premium


def _journey(segment=Segment.SMB, tam=None):
    premium = _playbooks()
    account = AccountFactory(segment=segment, tam=tam)
    return start_journey(account=account, transaction_date=D(2024, 1, 1), licenses=100, products=[premium])


def test_start_uses_segment_playbook():
    journey = _journey(segment=Segment.LARGE)

    tasks = list(journey.tasks.order_by("position"))
    assert [(task.title, task.owner_side, task.due_date) for task in tasks] == [
        ("Executive kickoff", OwnerSide.TAM, D(2024, 1, 6)),
        ("Security review", OwnerSide.CUSTOMER, D(2024, 1, 31)),
    ]
    assert {task.status for task in tasks} == {TaskStatus.OPEN}


def test_start_falls_back_to_any_segment_playbook():
    journey = _journey(segment=Segment.SMB)

    assert list(journey.tasks.values_list("title", flat=True)) == ["Welcome", "Sign in", "Train"]


def test_start_uses_segment_of_ultimate_parent():
    premium = _playbooks()
    parent = AccountFactory(segment=Segment.LARGE)
    child = AccountFactory(parent=parent, segment=Segment.SMB)

    journey = start_journey(account=child, transaction_date=D(2024, 1, 1), licenses=10, products=[premium])

    assert journey.tasks.count() == 2


def test_start_without_products_has_no_tasks(tam):
    account = AccountFactory(tam=tam)

    journey = start_journey(account=account, transaction_date=D(2024, 1, 1), licenses=10)

    assert journey.tasks.count() == 0
    assert journey.tam == tam


def test_onboarding_completes_when_last_task_closes():
    journey = _journey()
    first, second, third = journey.tasks.order_by("position")

    update_task(first, status=TaskStatus.DONE, closed_on=D(2024, 1, 20))
    update_task(third, status=TaskStatus.NOT_APPLICABLE, closed_on=D(2024, 1, 25))
    journey.refresh_from_db()
    assert journey.onboarding_date is None

    update_task(second, status=TaskStatus.DONE, closed_on=D(2024, 1, 22))
    journey.refresh_from_db()
    # The latest closing date, even though the last task to close was backdated before it.
    assert journey.onboarding_date == D(2024, 1, 25)


def test_onboarding_reopens_when_task_reopens():
    journey = _journey()
    tasks = list(journey.tasks.order_by("position"))
    for task in tasks:
        update_task(task, status=TaskStatus.DONE, closed_on=D(2024, 2, 1))
    journey.refresh_from_db()
    assert journey.onboarding_date == D(2024, 2, 1)

    update_task(tasks[1], status=TaskStatus.OPEN, closed_on=D(2024, 2, 1))

    journey.refresh_from_db()
    assert journey.onboarding_date is None
    reopened = JourneyTask.objects.get(pk=tasks[1].pk)
    assert reopened.status == TaskStatus.OPEN
    assert reopened.closed_on is None


def test_onboarding_moves_with_changed_closing_date():
    journey = _journey()
    tasks = list(journey.tasks.order_by("position"))
    for task in tasks:
        update_task(task, status=TaskStatus.DONE, closed_on=D(2024, 2, 1))

    update_task(tasks[0], status=TaskStatus.DONE, closed_on=D(2024, 2, 9))

    journey.refresh_from_db()
    assert journey.onboarding_date == D(2024, 2, 9)


def test_onboarding_date_of_journey_with_tasks_not_entered_directly():
    journey = _journey()

    record_milestones(journey, {"onboarding_date": D(2024, 1, 15), "kickoff_date": D(2024, 1, 3)})

    journey.refresh_from_db()
    assert journey.onboarding_date is None
    assert journey.kickoff_date == D(2024, 1, 3)


def test_task_changes_recorded_in_history():
    journey = _journey()
    task = journey.tasks.first()

    update_task(task, status=TaskStatus.DONE, closed_on=D(2024, 1, 20))

    records = list(task.history.order_by("history_date").values_list("status", "closed_on"))
    assert records == [(TaskStatus.OPEN, None), (TaskStatus.DONE, D(2024, 1, 20))]
