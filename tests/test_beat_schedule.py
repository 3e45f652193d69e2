"""The beat schedule, evaluated over 2024 with Celery's own schedule objects and a fixed clock."""

import datetime

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.test import override_settings

from config.celery import app

UTC = datetime.UTC


def fire_times(schedule, start, end):
    """Return every time the schedule fires in [start, end), asking Celery for each next run."""
    clock = [start]
    probe = crontab(
        minute=schedule._orig_minute,
        hour=schedule._orig_hour,
        day_of_week=schedule._orig_day_of_week,
        day_of_month=schedule._orig_day_of_month,
        month_of_year=schedule._orig_month_of_year,
        nowfun=lambda: clock[0],
        app=app,
    )
    fired = []
    last_run = start - datetime.timedelta(minutes=1)
    while True:
        clock[0] = last_run
        next_run = last_run + probe.remaining_estimate(last_run)
        if next_run >= end:
            return fired
        clock[0] = next_run
        due, _ = probe.is_due(last_run)
        assert due, f"schedule not due at its own next run {next_run}"
        fired.append(next_run)
        last_run = next_run


YEAR_2024 = (datetime.datetime(2024, 1, 1, tzinfo=UTC), datetime.datetime(2025, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("time_zone", ["Europe/Berlin", "America/Los_Angeles"])
def test_monthly_recompute_fires_once_on_each_first(time_zone):
    with override_settings(TIME_ZONE=time_zone):
        schedule = settings.CELERY_BEAT_SCHEDULE["recompute-retention-monthly"]["schedule"]
        fired = fire_times(schedule, *YEAR_2024)

    assert len(fired) == 12
    assert [moment.month for moment in fired] == list(range(1, 13))
    assert {(moment.day, moment.hour, moment.minute) for moment in fired} == {(1, 2, 0)}
    assert {moment.utcoffset() for moment in fired} == {datetime.timedelta(0)}


def test_beat_runs_in_utc():
    assert app.conf.timezone == "UTC"
    assert app.conf.enable_utc is True


def test_positional_day_of_week_counter_example_fires_twice():
    """crontab(0, 0, 0, day_of_month="1") also needs a Sunday: only 1 September and 1 December 2024."""
    fired = fire_times(crontab(0, 0, 0, day_of_month="1"), *YEAR_2024)

    assert [moment.date() for moment in fired] == [datetime.date(2024, 9, 1), datetime.date(2024, 12, 1)]


def test_visibility_timeout_exceeds_a_long_import():
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] >= 3600


def test_abandoned_imports_are_swept_every_ten_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["close-abandoned-imports"]
    start = datetime.datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    fired = fire_times(entry["schedule"], start, start + datetime.timedelta(hours=1))

    assert entry["task"] == "retention.tasks.close_abandoned_imports"
    assert [moment.minute for moment in fired] == [0, 10, 20, 30, 40, 50]
