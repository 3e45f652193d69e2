"""The subscription periods import: import_subscriptions command and retention.importing.import_subscriptions."""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command

from accounts.models import Account, Subscription
from common.months import add_months
from retention.importing import import_subscriptions
from retention.models import CoveredMonth, MrrLine
from tests.factories import AccountFactory, SubscriptionFactory

HEADER = "subscription_id,account_id,product,quantity,mrr,start_date,end_date\n"
TODAY = datetime.datetime(2025, 6, 15, 12, 0, tzinfo=datetime.UTC)
RAVENSTACK = Path(settings.BASE_DIR) / "data" / "ravenstack"


def write_csv(path, text, *, bom=False, crlf=False):
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"))
    return str(path)


def lines():
    return sorted(
        (f"{month:%Y-%m}", subscription, mrr)
        for month, subscription, mrr in MrrLine.objects.values_list("month", "subscription__external_id", "mrr")
    )


def snapshot():
    return {
        "accounts": sorted(Account.objects.values_list("external_id", flat=True)),
        "subscriptions": sorted(Subscription.objects.values_list("external_id", "account__external_id")),
        "lines": sorted(MrrLine.objects.values_list("month", "subscription_id", "product", "quantity", "mrr")),
        "covered": sorted(CoveredMonth.objects.values_list("month", flat=True)),
    }


def make_accounts(*external_ids):
    for external_id in external_ids:
        AccountFactory(external_id=external_id)


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture(autouse=True)
def recorded_recomputes(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "retention.importing.lines.schedule_recompute", lambda months, import_run_id=None: calls.append(months)
    )
    return calls


def run_rejected(path, **options):
    before = snapshot()
    with pytest.raises(CommandError) as raised:
        call_command("import_subscriptions", path, **options)
    assert snapshot() == before
    return str(raised.value)


def hundred(*months_and_subscriptions):
    return sorted((month, subscription, Decimal("100.00")) for month, subscription in months_and_subscriptions)


def test_month_end_start_does_not_drift(tmp_path, db):
    make_accounts("ACC-E1", "ACC-E2")
    path = write_csv(
        tmp_path / "month_end.csv",
        HEADER
        + "SUB-E1,ACC-E1,Premium,10,100.00,2024-01-31,2024-04-30\n"
        + "SUB-E2,ACC-E2,Premium,10,100.00,2024-01-31,2024-03-30\n",
    )
    call_command("import_subscriptions", path)

    assert lines() == hundred(
        ("2024-01", "SUB-E1"),
        ("2024-02", "SUB-E1"),
        ("2024-03", "SUB-E1"),
        ("2024-01", "SUB-E2"),
        ("2024-02", "SUB-E2"),
    )


# Each end date is the next period's start date.
NEXT_START_PERIODS = (
    HEADER
    + "SUB-K1,ACC-K1,Premium,10,100.00,2023-01-31,2023-02-28\n"
    + "SUB-K1,ACC-K1,Premium,10,100.00,2023-02-28,2023-03-31\n"
    + "SUB-K1,ACC-K1,Premium,10,100.00,2023-03-31,2023-04-30\n"
)
# Each end date is the last day of service.
LAST_DAY_PERIODS = (
    HEADER
    + "SUB-K2,ACC-K2,Premium,10,100.00,2023-01-01,2023-01-31\n"
    + "SUB-K2,ACC-K2,Premium,10,100.00,2023-02-01,2023-02-28\n"
    + "SUB-K2,ACC-K2,Premium,10,100.00,2023-03-01,2023-03-31\n"
)


def test_next_start_periods_exclusive(tmp_path, db):
    make_accounts("ACC-K1")
    summary = import_subscriptions(write_csv(tmp_path / "a.csv", NEXT_START_PERIODS))

    assert lines() == hundred(("2023-01", "SUB-K1"), ("2023-02", "SUB-K1"), ("2023-03", "SUB-K1"))
    assert summary["periods_without_lines"] == 0
    assert summary["warnings"] == []


def test_next_start_periods_inclusive_warns(tmp_path, db):
    make_accounts("ACC-K1")
    summary = import_subscriptions(write_csv(tmp_path / "a.csv", NEXT_START_PERIODS), end_date="inclusive")

    assert lines() == [
        ("2023-01", "SUB-K1", Decimal("100.00")),
        ("2023-02", "SUB-K1", Decimal("200.00")),
        ("2023-03", "SUB-K1", Decimal("200.00")),
        ("2023-04", "SUB-K1", Decimal("100.00")),
    ]
    assert any("2 monthly line(s) add up two or more periods" in warning for warning in summary["warnings"])


def test_last_day_periods_exclusive_warns(tmp_path, db, capsys):
    make_accounts("ACC-K2")
    call_command("import_subscriptions", write_csv(tmp_path / "b.csv", LAST_DAY_PERIODS))

    assert lines() == []
    output = capsys.readouterr().out
    assert "Warning: The file produced no monthly lines at all: none of its 3 periods" in output
    assert "3 of them end on the last day of a month." in output
    assert "inclusive end-date convention" in output


def test_period_within_a_month_warns_without_advice(tmp_path, db, capsys):
    make_accounts("ACC-K2")
    rows = "SUB-K3,ACC-K2,Premium,10,100.00,2023-01-10,2023-01-20\nSUB-K4,ACC-K2,Premium,10,100.00,2023-01-01,\n"
    call_command("import_subscriptions", write_csv(tmp_path / "short.csv", HEADER + rows))

    output = capsys.readouterr().out
    assert "1 of 2 periods produced no monthly line" in output
    # The inclusive convention would not give it a line either, so the warning does not suggest it.
    assert "inclusive" not in output


def test_last_day_periods_inclusive(tmp_path, db):
    make_accounts("ACC-K2")
    call_command("import_subscriptions", write_csv(tmp_path / "b.csv", LAST_DAY_PERIODS), end_date="inclusive")

    assert lines() == hundred(("2023-01", "SUB-K2"), ("2023-02", "SUB-K2"), ("2023-03", "SUB-K2"))


def test_open_subscription_has_lines_up_to_current_month(tmp_path, db, recorded_recomputes):
    make_accounts("ACC-O1", "ACC-O2")
    path = write_csv(
        tmp_path / "open.csv",
        HEADER + "SUB-O1,ACC-O1,Premium,10,100.00,2023-03-15,\nSUB-O2,ACC-O2,Premium,5,50.00,2023-03-01,2024-02-10\n",
    )
    summary = import_subscriptions(path)

    o1 = [month for month, subscription, _ in lines() if subscription == "SUB-O1"]
    o2 = [month for month, subscription, _ in lines() if subscription == "SUB-O2"]
    months = [datetime.date(2023, 3, 1)]
    while months[-1] < datetime.date(2025, 6, 1):
        months.append(add_months(months[-1], 1))
    assert o1 == [f"{month:%Y-%m}" for month in months]
    assert o2 == [f"{month:%Y-%m}" for month in months if month <= datetime.date(2024, 1, 1)]
    assert MrrLine.objects.get(subscription__external_id="SUB-O2", month=datetime.date(2024, 1, 1)).mrr == Decimal(
        "50.00"
    )
    assert not MrrLine.objects.filter(month__gt=datetime.date(2025, 6, 1)).exists()
    covered = list(CoveredMonth.objects.values_list("month", flat=True))
    assert covered == months
    assert summary["months_replaced"][0] == "2023-03"
    assert summary["months_replaced"][-1] == "2025-06"
    recomputed = recorded_recomputes[0]
    assert recomputed[0] == datetime.date(2023, 3, 1)
    assert recomputed[-1] == datetime.date(2026, 6, 1)


def test_quantities_and_amounts_are_stored(tmp_path, db):
    make_accounts("ACC-1")
    call_command(
        "import_subscriptions",
        write_csv(tmp_path / "s.csv", HEADER + "SUB-1,ACC-1,Premium,7,12.5,2025-05-01,2025-06-01\n"),
    )
    line = MrrLine.objects.get()
    assert (line.month, line.product, line.quantity, line.mrr, line.charge_type) == (
        datetime.date(2025, 5, 1),
        "Premium",
        7,
        Decimal("12.50"),
        "recurring",
    )


def test_covered_months_replace_lines_of_earlier_imports(tmp_path, db):
    make_accounts("ACC-1")
    stale = SubscriptionFactory(external_id="SUB-OLD", account=Account.objects.get(external_id="ACC-1"))
    MrrLine.objects.create(
        month=datetime.date(2025, 2, 1), subscription=stale, product="X", quantity=1, mrr=5, charge_type="recurring"
    )
    MrrLine.objects.create(
        month=datetime.date(2024, 12, 1), subscription=stale, product="X", quantity=1, mrr=5, charge_type="recurring"
    )

    call_command(
        "import_subscriptions", write_csv(tmp_path / "s.csv", HEADER + "SUB-1,ACC-1,Premium,1,1.00,2025-01-15,\n")
    )

    assert lines() == [
        ("2024-12", "SUB-OLD", Decimal("5.00")),
        ("2025-01", "SUB-1", Decimal("1.00")),
        ("2025-02", "SUB-1", Decimal("1.00")),
        ("2025-03", "SUB-1", Decimal("1.00")),
        ("2025-04", "SUB-1", Decimal("1.00")),
        ("2025-05", "SUB-1", Decimal("1.00")),
        ("2025-06", "SUB-1", Decimal("1.00")),
    ]


def test_reimport_of_same_file_changes_nothing(tmp_path, db):
    make_accounts("ACC-E1", "ACC-E2")
    path = write_csv(
        tmp_path / "s.csv",
        HEADER
        + "SUB-E1,ACC-E1,Premium,10,100.00,2024-01-31,2024-04-30\n"
        + "SUB-E2,ACC-E2,Premium,10,100.00,2024-01-31,\n",
    )
    call_command("import_subscriptions", path)
    first = snapshot()

    call_command("import_subscriptions", path)

    assert snapshot() == first


def test_excel_dates_rejected_naming_each_line(tmp_path, db):
    make_accounts("ACC-D1", "ACC-D2", "ACC-D3")
    path = write_csv(
        tmp_path / "dates.csv",
        HEADER
        + "SUB-D1,ACC-D1,Premium,10,100.00,45322,\n"
        + "SUB-D2,ACC-D2,Premium,10,100.00,01/02/2024,\n"
        + "SUB-D3,ACC-D3,Premium,10,100.00,2024-01-31T23:30:00-05:00,\n",
    )
    message = run_rejected(path)

    assert "3 invalid value(s)" in message
    assert "line 2, column start_date, value '45322': expected YYYY-MM-DD" in message
    assert "line 3, column start_date, value '01/02/2024': expected YYYY-MM-DD" in message
    assert "line 4, column start_date, value '2024-01-31T23:30:00-05:00': expected YYYY-MM-DD" in message
    assert not Subscription.objects.exists()


def test_end_before_start_rejected(tmp_path, db):
    make_accounts("ACC-1")
    message = run_rejected(write_csv(tmp_path / "s.csv", HEADER + "SUB-1,ACC-1,Premium,1,1.00,2024-03-01,2024-02-01\n"))
    assert "line 2, column end_date, value '2024-02-01': end_date is before start_date" in message


def test_unknown_account_rejected_and_never_created(tmp_path, db):
    make_accounts("00456")
    message = run_rejected(write_csv(tmp_path / "s.csv", HEADER + "SUB-1,456,Premium,1,1.00,2024-03-01,\n"))
    assert "line 2, column account_id, value '456': unknown account" in message
    assert not Account.objects.filter(external_id="456").exists()


def test_subscription_of_another_account_rejected(tmp_path, db):
    make_accounts("ACC-2")
    SubscriptionFactory(external_id="SUB-1", account=AccountFactory(external_id="ACC-1"))
    message = run_rejected(write_csv(tmp_path / "s.csv", HEADER + "SUB-1,ACC-2,Premium,1,1.00,2024-03-01,\n"))
    assert "subscription SUB-1 belongs to account ACC-1, not ACC-2" in message


def test_bom_crlf_file_imports(tmp_path, db):
    make_accounts("ACC-B1")
    path = write_csv(tmp_path / "s.csv", HEADER + "SUB-B1,ACC-B1,Premium,5,250.00,2025-05-01,\n", bom=True, crlf=True)
    call_command("import_subscriptions", path)
    assert lines() == [("2025-05", "SUB-B1", Decimal("250.00")), ("2025-06", "SUB-B1", Decimal("250.00"))]


def test_invalid_convention_is_command_error(tmp_path, db):
    path = write_csv(tmp_path / "s.csv", HEADER)
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("import_subscriptions", path, "--end-date=last-day")
    with pytest.raises(CommandError, match="expected exclusive or inclusive"):
        call_command("import_subscriptions", path, end_date="last-day")


def test_ravenstack_file_imports_with_column_mapping(db):
    call_command("import_accounts", str(RAVENSTACK / "ravenstack_accounts.csv"))
    path = RAVENSTACK / "ravenstack_subscriptions.csv"

    summary = import_subscriptions(path, columns={"product": "plan_tier", "quantity": "seats", "mrr": "mrr_amount"})

    assert summary["rows_read"] == 5000
    assert summary["subscriptions_created"] == 5000
    assert Subscription.objects.get(external_id="S-8cec59").account.external_id == "A-3c1a3f"
    # S-8cec59 runs from 2023-12-23 to 2024-04-12 on the Enterprise plan with 14 seats at 2786 a month.
    stored = MrrLine.objects.filter(subscription__external_id="S-8cec59")
    assert sorted(stored.values_list("month", "product", "quantity", "mrr")) == [
        (datetime.date(2023, 12, 1), "Enterprise", 14, Decimal("2786.00")),
        (datetime.date(2024, 1, 1), "Enterprise", 14, Decimal("2786.00")),
        (datetime.date(2024, 2, 1), "Enterprise", 14, Decimal("2786.00")),
        (datetime.date(2024, 3, 1), "Enterprise", 14, Decimal("2786.00")),
    ]


@pytest.mark.parametrize(
    "column, row",
    [
        ("start_date", "SUB-1,ACC-1,Premium,1,1.00,0001-01-01,\n"),
        ("end_date", "SUB-1,ACC-1,Premium,1,1.00,1800-01-01,1899-12-31\n"),
    ],
)
def test_date_before_1900_rejected(tmp_path, db, column, row):
    make_accounts("ACC-1")
    message = run_rejected(write_csv(tmp_path / "s.csv", HEADER + row))

    assert f"line 2, column {column}, value" in message
    assert "expected YYYY-MM-DD from 1900-01-01 on" in message


def test_open_end_written_as_9999_12_31_accepted(tmp_path, db):
    make_accounts("ACC-1")
    call_command(
        "import_subscriptions",
        write_csv(tmp_path / "s.csv", HEADER + "SUB-1,ACC-1,Premium,1,1.00,2024-01-01,9999-12-31\n"),
    )

    assert MrrLine.objects.filter(subscription__external_id="SUB-1").count() > 0


def test_periods_replacing_other_lines_warn(tmp_path, db):
    make_accounts("ACC-1", "ACC-2")
    import_subscriptions(
        write_csv(
            tmp_path / "both.csv",
            HEADER + "SUB-1,ACC-1,Premium,1,10.00,2025-05-01,\nSUB-2,ACC-2,Premium,1,20.00,2025-05-01,\n",
        )
    )

    summary = import_subscriptions(
        write_csv(tmp_path / "one.csv", HEADER + "SUB-1,ACC-1,Premium,1,10.00,2025-05-01,\n")
    )

    assert summary["months_replaced"] == ["2025-05", "2025-06"]
    assert summary["lines_stored"] == 2
    assert summary["lines_deleted"] == 4
    assert summary["warnings"][0].startswith(
        "The replaced months held 4 MRR line(s) before this import and hold 2 now."
    )
