import datetime
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Account, User
from retention.models import CoveredMonth, ImportRun, ImportStatus, MrrLine, RetentionResult


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
