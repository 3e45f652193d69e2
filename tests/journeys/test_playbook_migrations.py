"""Task offsets stored before the ten-year limit come down to it, so that journeys start from their playbooks again."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from journeys.models import MAX_DUE_OFFSET_DAYS, PlaybookTask
from journeys.services import start_journey
from tests.factories import AccountFactory
from tests.migrations import latest, migrate

from .factories import PlaybookFactory, PlaybookTaskFactory

BEFORE_LIMIT = [("journeys", "0004_playbook_task_due_offset_max")]


@pytest.mark.django_db(transaction=True)
def test_stored_offsets_brought_to_limit():
    migrate(BEFORE_LIMIT)
    try:
        playbook = PlaybookFactory()
        # The factory skips the form's validators, as every save did before the limit existed.
        beyond = PlaybookTaskFactory(playbook=playbook, title="Renewal review", due_offset_days=99_999_999)
        within = PlaybookTaskFactory(playbook=playbook, title="Kickoff", due_offset_days=14)
    finally:
        migrate(latest("journeys"))

    assert PlaybookTask.objects.get(pk=beyond.pk).due_offset_days == MAX_DUE_OFFSET_DAYS
    assert PlaybookTask.objects.get(pk=within.pk).due_offset_days == 14

    journey = start_journey(
        account=AccountFactory(),
        transaction_date=datetime.date(2024, 1, 1),
        licenses=10,
        products=[playbook.product],
    )
    assert sorted(journey.tasks.values_list("title", "due_date")) == [
        ("Kickoff", datetime.date(2024, 1, 15)),
        ("Renewal review", datetime.date(2033, 12, 29)),
    ]


@pytest.mark.django_db
def test_database_rejects_offset_beyond_limit():
    task = PlaybookTaskFactory(due_offset_days=MAX_DUE_OFFSET_DAYS)

    with pytest.raises(IntegrityError), transaction.atomic():
        PlaybookTask.objects.filter(pk=task.pk).update(due_offset_days=MAX_DUE_OFFSET_DAYS + 1)
