"""Celery tasks of the journeys app. Each takes dates as YYYY-MM-DD text, never model instances."""

import datetime

from celery import shared_task


@shared_task(acks_late=True)
def mark_overdue_milestones(today: str | None = None) -> dict:
    """Mark milestones past their target and unmark reached ones. Beat runs this daily at 03:00 UTC.

    Safe to run twice: the marks are made to match the day's state, not added to.
    """
    from django.utils import timezone

    from .services import mark_overdue

    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    return mark_overdue(day)
