"""Small inputs that broke other retention tools, run through the real imports and export_retention.

Each test imports the files with the management commands, lets the recompute
that the import enqueues run, and reads the figures back as JSON.
"""

import datetime
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from retention.models import MrrLine, RetentionCustomer, RetentionResult

NOW = datetime.datetime(2025, 6, 15, 12, 0, tzinfo=datetime.UTC)
ACCOUNTS_HEADER = "account_id,account_name,parent_account_id,segment,tam_email\n"
MRR_HEADER = "month,account_id,subscription_id,product,quantity,mrr,charge_type\n"
PERIODS_HEADER = "subscription_id,account_id,product,quantity,mrr,start_date,end_date\n"


@pytest.fixture
def run_import(db, tmp_path, time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to(NOW)

    def run(command, text, *options, encoding="utf-8"):
        path = tmp_path / f"file{len(list(tmp_path.iterdir()))}.csv"
        path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
        with django_capture_on_commit_callbacks(execute=True):
            call_command(command, str(path), *options, stdout=StringIO(), stderr=StringIO())

    return run


def accounts(*ids, segment="SMB"):
    return ACCOUNTS_HEADER + "".join(f"{account_id},Customer {account_id},,{segment},\n" for account_id in ids)


def export(month, level="parent", segment="all"):
    out = StringIO()
    call_command("export_retention", "--month", month, "--level", level, "--segment", segment, stdout=out)
    return json.loads(out.getvalue())


def figures(data):
    return (data["customers"], data["a"], data["b"], data["c"], data["gross_pct"], data["net_pct"])


def test_month_end_start_and_drifting_steps(run_import):
    run_import("import_accounts", accounts("ACC-E1", "ACC-E2"))
    run_import(
        "import_subscriptions",
        PERIODS_HEADER
        + "SUB-E1,ACC-E1,Premium,10,100.00,2024-01-31,2024-04-30\n"
        + "SUB-E2,ACC-E2,Premium,10,100.00,2024-01-31,2024-03-30\n",
    )

    assert figures(export("2025-01", "subscription")) == (2, "200.00", "0.00", "0.00", "0.00", "0.00")
    assert figures(export("2025-02", "subscription")) == (2, "200.00", "0.00", "0.00", "0.00", "0.00")
    assert figures(export("2025-03", "subscription")) == (1, "100.00", "0.00", "0.00", "0.00", "0.00")
    assert figures(export("2025-04", "subscription")) == (0, "0.00", "0.00", "0.00", None, None)


def test_next_start_periods_under_the_default(run_import):
    run_import("import_accounts", accounts("ACC-K1"))
    run_import(
        "import_subscriptions",
        PERIODS_HEADER
        + "SUB-K1,ACC-K1,Premium,10,100.00,2023-01-31,2023-02-28\n"
        + "SUB-K1,ACC-K1,Premium,10,100.00,2023-02-28,2023-03-31\n"
        + "SUB-K1,ACC-K1,Premium,10,100.00,2023-03-31,2023-04-30\n",
    )

    data = export("2024-02", "subscription")
    assert data["customers"] == 1
    assert data["a"] == "100.00"


def test_last_day_periods_read_as_inclusive(run_import):
    run_import("import_accounts", accounts("ACC-K2"))
    run_import(
        "import_subscriptions",
        PERIODS_HEADER
        + "SUB-K2,ACC-K2,Premium,10,100.00,2023-01-01,2023-01-31\n"
        + "SUB-K2,ACC-K2,Premium,10,100.00,2023-02-01,2023-02-28\n"
        + "SUB-K2,ACC-K2,Premium,10,100.00,2023-03-01,2023-03-31\n",
        "--end-date",
        "inclusive",
    )

    for month in ("2024-01", "2024-02", "2024-03"):
        assert export(month, "subscription")["a"] == "100.00"


def test_open_subscription_never_churns_at_end_of_data(run_import):
    run_import("import_accounts", accounts("ACC-O1", "ACC-O2"))
    run_import(
        "import_subscriptions",
        PERIODS_HEADER
        + "SUB-O1,ACC-O1,Premium,10,100.00,2023-03-15,\n"
        + "SUB-O2,ACC-O2,Premium,5,50.00,2023-03-01,2024-02-10\n",
    )

    data = export("2024-03")
    assert figures(data) == (2, "150.00", "100.00", "100.00", "66.67", "66.67")
    assert data["churn"] == {"Cancellation": {"mrr": "50.00", "pct": "100.00"}}
    assert data["expansion"] == {}
    assert not RetentionCustomer.objects.filter(account__external_id="ACC-O1").exclude(reason="").exists()
    assert not MrrLine.objects.filter(month__gt=datetime.date(2025, 6, 1)).exists()


def test_month_everyone_left_is_zero_not_missing(run_import):
    run_import("import_accounts", accounts("ACC-Z1"))
    run_import("import_subscriptions", PERIODS_HEADER + "SUB-Z1,ACC-Z1,Premium,10,100.00,2023-01-01,2024-03-01\n")

    for month in ["2024-03", "2024-06", "2024-12", "2025-02"]:
        data = export(month)
        assert figures(data) == (1, "100.00", "0.00", "0.00", "0.00", "0.00")
        assert data["churn"] == {"Cancellation": {"mrr": "100.00", "pct": "100.00"}}
    assert figures(export("2025-03")) == (0, "0.00", "0.00", "0.00", None, None)


def test_month_not_yet_imported_is_no_data(run_import):
    run_import("import_accounts", accounts("ACC-Y1"))
    run_import(
        "import_mrr",
        MRR_HEADER
        + "2023-06,ACC-Y1,SUB-Y1,Premium,10,100.00,recurring\n2024-05,ACC-Y1,SUB-Y1,Premium,10,100.00,recurring\n",
    )

    with pytest.raises(CommandError, match="No MRR data was imported for 2024-06"):
        export("2024-06")
    assert not RetentionResult.objects.filter(month=datetime.date(2024, 6, 1)).exists()


def test_segment_filter_keeps_the_baseline_year(run_import):
    run_import("import_accounts", ACCOUNTS_HEADER + "ACC-F1,Filter One,,Mid-Market,\nACC-F2,Filter Two,,SMB,\n")
    run_import(
        "import_mrr",
        MRR_HEADER
        + "2023-01,ACC-F1,SUB-F1,Premium,10,100.00,recurring\n"
        + "2024-01,ACC-F1,SUB-F1,Premium,8,80.00,recurring\n"
        + "2023-01,ACC-F2,SUB-F2,Premium,5,50.00,recurring\n"
        + "2024-01,ACC-F2,SUB-F2,Premium,6,60.00,recurring\n",
    )

    data = export("2024-01")
    assert figures(data) == (2, "150.00", "140.00", "130.00", "86.67", "93.33")
    assert data["churn"] == {"Downgrade": {"mrr": "20.00", "pct": "100.00"}}
    assert data["expansion"] == {"Seat Expansion": {"mrr": "10.00", "pct": "100.00"}}
    mid_market = export("2024-01", segment="Mid-Market")
    assert (mid_market["gross_pct"], mid_market["net_pct"]) == ("80.00", "80.00")


def test_excel_file_with_bom_and_crlf(run_import):
    bom = b"\xef\xbb\xbf"
    run_import(
        "import_accounts", bom + (ACCOUNTS_HEADER + "ACC-B1,Société Ünité,,SMB,\n").replace("\n", "\r\n").encode()
    )
    run_import(
        "import_mrr",
        bom
        + (
            MRR_HEADER
            + "2023-06,ACC-B1,SUB-B1,Premium,5,250.00,recurring\n"
            + "2024-06,ACC-B1,SUB-B1,Premium,6,300.00,recurring\n"
        )
        .replace("\n", "\r\n")
        .encode(),
    )

    assert Account.objects.get(external_id="ACC-B1").name == "Société Ünité"
    data = export("2024-06")
    assert figures(data) == (1, "250.00", "300.00", "250.00", "100.00", "120.00")
    assert data["expansion"] == {"Seat Expansion": {"mrr": "50.00", "pct": "100.00"}}


def test_leading_zero_ids_at_two_levels(run_import):
    run_import("import_accounts", ACCOUNTS_HEADER + "00123,Globex Holding,,Large,\n00456,Globex EU,00123,Large,\n")
    run_import(
        "import_mrr",
        MRR_HEADER
        + "2023-06,00123,SUB-0008,Premium,5,250.00,recurring\n"
        + "2023-06,00456,SUB-0009,Premium,10,500.00,recurring\n"
        + "2024-06,00456,SUB-0009,Premium,12,600.00,recurring\n",
    )

    parent = export("2024-06", "parent")
    assert figures(parent) == (1, "750.00", "600.00", "600.00", "80.00", "80.00")
    assert parent["churn"] == {"Downgrade": {"mrr": "150.00", "pct": "100.00"}}
    assert parent["expansion"] == {}
    account = export("2024-06", "account")
    assert figures(account) == (2, "750.00", "600.00", "500.00", "66.67", "80.00")
    assert account["churn"] == {"Cancellation": {"mrr": "250.00", "pct": "100.00"}}
    assert account["expansion"] == {"Seat Expansion": {"mrr": "100.00", "pct": "100.00"}}

    with pytest.raises(CommandError, match="unknown account"):
        run_import("import_mrr", MRR_HEADER + "2024-06,456,SUB-0009,Premium,12,600.00,recurring\n")
    assert not Account.objects.filter(external_id="456").exists()


def test_import_delivered_twice_counts_once(run_import):
    run_import("import_accounts", accounts("ACC-R1", "ACC-R2"))
    run_import(
        "import_mrr",
        MRR_HEADER
        + "2023-06,ACC-R1,SUB-R1,Premium,10,100.00,recurring\n2023-06,ACC-R2,SUB-R2,Premium,5,50.00,recurring\n",
    )
    june = MRR_HEADER + "2024-06,ACC-R1,SUB-R1,Premium,12,120.00,recurring\n"
    run_import("import_mrr", june)
    run_import("import_mrr", june)

    assert MrrLine.objects.filter(month=datetime.date(2024, 6, 1)).count() == 1
    data = export("2024-06")
    assert figures(data) == (2, "150.00", "120.00", "100.00", "66.67", "80.00")
    assert data["churn"] == {"Cancellation": {"mrr": "50.00", "pct": "100.00"}}
    assert data["expansion"] == {"Seat Expansion": {"mrr": "20.00", "pct": "100.00"}}
    assert RetentionResult.objects.filter(month=datetime.date(2024, 6, 1), level="parent", segment="all").count() == 1
