import csv
import datetime
from collections import defaultdict
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from accounts.models import Account, User
from common.months import add_months, first_of_month, month_range
from retention.management.commands.load_demo import demo_files, demo_shift, shifted_subscriptions
from retention.models import CoveredMonth, ImportRun, ImportStatus, MrrLine, ReasonTotal, RetentionResult


@pytest.fixture
def demo(db, monkeypatch, time_machine):
    time_machine.move_to(datetime.datetime(2025, 1, 15, tzinfo=datetime.UTC))
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def test_demo_imports_ravenstack_through_the_imports(demo):
    assert Account.objects.count() == 500
    assert Account.objects.filter(parent__isnull=False).count() == 321
    assert list(ImportRun.objects.order_by("id").values_list("kind", "status")) == [
        ("accounts", ImportStatus.DONE),
        ("accounts", ImportStatus.DONE),
        ("subscriptions", ImportStatus.DONE),
    ]
    assert CoveredMonth.objects.first().month == datetime.date(2023, 1, 1)
    assert CoveredMonth.objects.last().month == datetime.date(2025, 1, 1)
    assert MrrLine.objects.filter(month__gt=datetime.date(2025, 1, 1)).count() == 0


def test_demo_computes_retention_for_the_span(demo):
    december = RetentionResult.objects.get(month=datetime.date(2024, 12, 1), level="parent", segment="all")
    assert december.customers > 0
    assert december.gross_pct is not None
    assert (
        RetentionResult.objects.get(month=datetime.date(2023, 12, 1), level="parent", segment="all").gross_pct is None
    )


def test_demo_creates_one_login_per_role(demo):
    for username, role in [("tam", "TAM"), ("manager", "Manager"), ("csadmin", "CS admin")]:
        user = User.objects.get(username=username)
        assert user.check_password("demo-password-for-tests")
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert "password in DEMO_PASSWORD" in demo
    assert "demo-password-for-tests" not in demo
    assert Account.objects.filter(tam__username="tam").count() > 100


def test_demo_loads_once(demo):
    lines = MrrLine.objects.count()
    out = StringIO()

    call_command("load_demo", stdout=out)

    assert "not loaded again" in out.getvalue()
    assert "password" not in out.getvalue()
    assert MrrLine.objects.count() == lines
    assert ImportRun.objects.count() == 3


def test_demo_prints_random_password_once(db, monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    out = StringIO()

    call_command("load_demo", stdout=out)

    printed = out.getvalue().split("use the password: ")[1].split()[0]
    assert User.objects.get(username="manager").check_password(printed)
    assert len(printed) >= 12


def test_demo_password_note_names_changepassword(db, monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    out = StringIO()

    call_command("load_demo", stdout=out)

    assert "Set DEMO_PASSWORD before the first run" in out.getvalue()
    assert "manage.py changepassword tam" in out.getvalue()


def mrr_by_month(path, last_month):
    """Add up the subscriptions file's MRR per month to `last_month`, reading end dates as exclusive.

    A subscription counts in every month from its start's month to the month before its end's.
    """
    totals = defaultdict(Decimal)
    with open(path, newline="") as source:
        for row in csv.DictReader(source):
            start = first_of_month(datetime.date.fromisoformat(row["start_date"]))
            if row["end_date"]:
                end = add_months(first_of_month(datetime.date.fromisoformat(row["end_date"])), -1)
            else:
                end = last_month
            for month in month_range(start, min(end, last_month)):
                totals[month] += Decimal(row["mrr_amount"])
    return totals


def test_demo_dates_move_to_last_month(db, monkeypatch, time_machine):
    time_machine.move_to(datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC))
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")
    out = StringIO()

    call_command("load_demo", stdout=out)

    assert "moved 23 months forward, so that the demo's data runs to 2026-11" in out.getvalue()
    moved_file = "data/ravenstack/ravenstack_subscriptions.csv, dates 23 months later"
    assert f"Importing RavenStack subscriptions from {moved_file}" in out.getvalue()
    assert ImportRun.objects.get(kind="subscriptions").file_name == moved_file
    assert CoveredMonth.objects.first().month == datetime.date(2024, 12, 1)
    assert CoveredMonth.objects.last().month == datetime.date(2026, 12, 1)
    original = mrr_by_month(demo_files()["subscriptions"], datetime.date(2024, 12, 1))
    stored = dict(MrrLine.objects.values_list("month").annotate(total=Sum("mrr")))
    assert {add_months(month, 23): total for month, total in original.items()} == {
        month: total for month, total in stored.items() if month <= datetime.date(2026, 11, 1)
    }
    november = RetentionResult.objects.get(month=datetime.date(2026, 11, 1), level="account", segment="all")
    assert november.gross_pct < 100
    reasons = set(
        ReasonTotal.objects.filter(month=november.month, level="account", segment="all").values_list(
            "reason", flat=True
        )
    )
    assert {"downgrade", "seat_expansion"} <= reasons


def test_demo_shift_never_moves_back(tmp_path):
    path = tmp_path / "subscriptions.csv"
    path.write_text("subscription_id,start_date,end_date\nS-1,2023-01-31,\nS-2,2023-03-01,2024-12-31\n")

    assert demo_shift(path, datetime.date(2025, 1, 15)) == 0
    assert demo_shift(path, datetime.date(2024, 6, 1)) == 0
    assert demo_shift(path, datetime.date(2025, 3, 1)) == 2


def test_shifted_subscriptions_move_every_date(tmp_path):
    path = tmp_path / "subscriptions.csv"
    path.write_text("subscription_id,start_date,end_date,mrr\nS-1,2023-01-31,,10\nS-2,2023-03-01,2023-03-31,5\n")

    shifted = shifted_subscriptions(path, 1, str(tmp_path))

    with open(shifted, newline="") as copy:
        rows = list(csv.DictReader(copy))
    assert rows == [
        {"subscription_id": "S-1", "start_date": "2023-02-28", "end_date": "", "mrr": "10"},
        {"subscription_id": "S-2", "start_date": "2023-04-01", "end_date": "2023-04-30", "mrr": "5"},
    ]
    assert shifted.name == "subscriptions_dates_1_months_later.csv"
