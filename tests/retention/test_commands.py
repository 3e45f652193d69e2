import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Segment
from retention.models import RetentionResult

from .builders import add_lines, make_account


def export(*args):
    out = StringIO()
    call_command("export_retention", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def filter_accounts(db):
    """Two customers of January 2023 and 2024, one Mid-Market and one SMB."""
    make_account("ACC-F1", segment=Segment.MID_MARKET, name="Filter One")
    make_account("ACC-F2", segment=Segment.SMB, name="Filter Two")
    add_lines(
        [
            ("2023-01", "ACC-F1", "SUB-F1", "Premium", 10, "100.00", "recurring"),
            ("2024-01", "ACC-F1", "SUB-F1", "Premium", 8, "80.00", "recurring"),
            ("2023-01", "ACC-F2", "SUB-F2", "Premium", 5, "50.00", "recurring"),
            ("2024-01", "ACC-F2", "SUB-F2", "Premium", 6, "60.00", "recurring"),
        ]
    )
    call_command("recompute_retention", stdout=StringIO())


# The figures of 2024-01 over the Mid-Market and the SMB customer of `filter_accounts`.
BOTH_CUSTOMERS = {
    "customers": 2,
    "a": "150.00",
    "b": "140.00",
    "c": "130.00",
    "gross_pct": "86.67",
    "net_pct": "93.33",
    "churn": {"Downgrade": {"mrr": "20.00", "pct": "100.00"}},
    "expansion": {"Seat Expansion": {"mrr": "10.00", "pct": "100.00"}},
}


def test_export_json_labels_figure_with_month_of_b(filter_accounts):
    data = json.loads(export("--month", "2024-01", "--level", "parent", "--format", "json"))

    assert data == {"month": "2024-01", "level": "parent", "segment": "all", **BOTH_CUSTOMERS}


def test_export_json_for_one_segment(filter_accounts):
    data = json.loads(export("--month", "2024-01", "--segment", "Mid-Market"))

    assert (data["gross_pct"], data["net_pct"]) == ("80.00", "80.00")


def test_export_json_for_commercial_segments(filter_accounts):
    make_account("ACC-F3", segment=Segment.LARGE, name="Filter Three")
    add_lines([("2023-01", "ACC-F3", "SUB-F3", "Premium", 4, "200.00", "recurring")])
    call_command("recompute_retention", stdout=StringIO())

    data = json.loads(export("--month", "2024-01", "--segment", "Commercial"))
    everyone = json.loads(export("--month", "2024-01"))

    # Commercial adds up the Mid-Market and SMB customers and leaves out the Large one.
    assert data == {"month": "2024-01", "level": "parent", "segment": "Commercial", **BOTH_CUSTOMERS}
    assert (everyone["customers"], everyone["a"]) == (3, "350.00")


def test_export_csv_for_commercial_segments(filter_accounts):
    lines = export("--month", "2024-01", "--segment", "Commercial", "--format", "csv").splitlines()

    assert lines[1] == "2024-01,parent,Commercial,2,150.00,140.00,130.00,86.67,93.33"


def test_export_json_month_without_cohort_is_null(filter_accounts):
    data = json.loads(export("--month", "2023-06"))

    assert data["customers"] == 0
    assert data["a"] == "0.00"
    assert data["gross_pct"] is None
    assert data["net_pct"] is None


def test_export_csv_has_one_row_with_plain_numbers(filter_accounts):
    lines = export("--month", "2024-01", "--format", "csv").splitlines()

    assert lines == [
        "month,level,segment,customers,a,b,c,gross_pct,net_pct",
        "2024-01,parent,all,2,150.00,140.00,130.00,86.67,93.33",
    ]


def test_export_month_without_imported_data_fails(db):
    add_lines(
        [
            ("2023-06", "ACC-Y1", "SUB-Y1", "Premium", 10, "100.00", "recurring"),
            ("2024-05", "ACC-Y1", "SUB-Y1", "Premium", 10, "100.00", "recurring"),
        ]
    )
    call_command("recompute_retention", stdout=StringIO())

    with pytest.raises(CommandError, match="No MRR data was imported for 2024-06"):
        export("--month", "2024-06")


def test_export_rejects_malformed_month(db):
    with pytest.raises(CommandError, match="expected YYYY-MM"):
        export("--month", "2024-6")


def test_recompute_command_for_named_months(filter_accounts):
    RetentionResult.objects.all().delete()
    out = StringIO()

    call_command("recompute_retention", "--month", "2024-01", stdout=out)

    assert "Recomputed" in out.getvalue()
    assert RetentionResult.objects.filter(level="parent", segment="all").count() == 13


def test_recompute_command_rejects_bad_month(db):
    with pytest.raises(CommandError, match="Invalid month 'June': expected YYYY-MM"):
        call_command("recompute_retention", "--month", "June")


def test_export_json_reasons_at_parent_and_account_level(db):
    holding = make_account("00123", segment=Segment.LARGE, name="Globex Holding")
    make_account("00456", parent=holding, segment=Segment.LARGE, name="Globex EU")
    add_lines(
        [
            ("2023-06", "00123", "SUB-0008", "Premium", 5, "250.00", "recurring"),
            ("2023-06", "00456", "SUB-0009", "Premium", 10, "500.00", "recurring"),
            ("2024-06", "00456", "SUB-0009", "Premium", 12, "600.00", "recurring"),
        ]
    )
    call_command("recompute_retention", stdout=StringIO())

    parent = json.loads(export("--month", "2024-06", "--level", "parent"))
    account = json.loads(export("--month", "2024-06", "--level", "account"))

    assert parent["churn"] == {"Downgrade": {"mrr": "150.00", "pct": "100.00"}}
    assert parent["expansion"] == {}
    assert account["churn"] == {"Cancellation": {"mrr": "250.00", "pct": "100.00"}}
    assert account["expansion"] == {"Seat Expansion": {"mrr": "100.00", "pct": "100.00"}}


def test_export_json_shares_within_each_category(db):
    add_lines(
        [
            ("2023-06", "C1", "SUB-C1", "P1", 1, "100.00", "recurring"),
            ("2023-06", "C2", "SUB-C2", "P1", 1, "100.00", "recurring"),
            ("2023-06", "C3", "SUB-C3", "P1", 1, "100.00", "recurring"),
            ("2024-06", "C2", "SUB-C2", "P1", 1, "50.00", "recurring"),
            ("2024-06", "C3", "SUB-C3", "P1", 1, "50.00", "recurring"),
        ]
    )
    call_command("recompute_retention", stdout=StringIO())

    data = json.loads(export("--month", "2024-06"))

    assert data["churn"] == {
        "Cancellation": {"mrr": "100.00", "pct": "50.00"},
        "Downgrade": {"mrr": "100.00", "pct": "50.00"},
    }
    assert data["expansion"] == {}
