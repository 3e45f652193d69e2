"""import_cost_rates (all rows or none, every bad row named) and export_cost_rates."""

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from common.fiscal import FiscalQuarter
from services_cost.models import CostRate, ServiceRole

from .factories import CostRateFactory

HEADER = "role,fiscal_quarter,ote,benefits,billable_hours\n"


@pytest.fixture
def roles(db):
    return [ServiceRole.objects.create(name=name) for name in ("Engineer", "Project manager", "Trainer")]


def write(tmp_path, text, name="rates.csv", bom=False):
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return str(path)


def run_import(path):
    out = []

    class Out:
        def write(self, text):
            out.append(text)

        def flush(self):
            pass

    call_command("import_cost_rates", path, stdout=Out())
    return "".join(out)


def stored():
    return sorted(
        (rate.role.name, str(rate.quarter), rate.ote, rate.benefits, rate.billable_hours)
        for rate in CostRate.objects.select_related("role")
    )


def test_import_creates_rates(tmp_path, roles):
    path = write(
        tmp_path,
        HEADER + "Engineer,FY2027-Q1,150400.00,37600.00,1880\nproject manager,FY2027-Q1,120000,30000.5,1800\n",
    )

    output = run_import(path)

    assert "Rates created: 2, updated: 0, unchanged: 0" in output
    assert stored() == [
        ("Engineer", "FY2027-Q1", Decimal("150400.00"), Decimal("37600.00"), 1880),
        ("Project manager", "FY2027-Q1", Decimal("120000.00"), Decimal("30000.50"), 1800),
    ]


def test_import_reads_bom_and_crlf(tmp_path, roles):
    path = write(
        tmp_path, "role,fiscal_quarter,ote,benefits,billable_hours\r\nTrainer,FY2027-Q2,94000.00,0,1880\r\n", bom=True
    )

    run_import(path)

    assert stored() == [("Trainer", "FY2027-Q2", Decimal("94000.00"), Decimal("0.00"), 1880)]


def test_import_updates_existing_rate_with_history(tmp_path, roles):
    rate = CostRateFactory(role=roles[0], quarter=FiscalQuarter(2027, 1))
    path = write(tmp_path, HEADER + "Engineer,FY2027-Q1,169200.00,37600.00,1880\n")

    output = run_import(path)
    again = run_import(path)

    rate.refresh_from_db()
    assert "updated: 1" in output
    assert "unchanged: 1" in again
    assert rate.hourly_cost == Decimal("110.00")
    assert rate.history.first().history_change_reason == "imported from rates.csv"


@pytest.mark.parametrize(
    "row, column, value, reason",
    [
        ("Architect,FY2027-Q1,1.00,1.00,1880", "role", "Architect", "unknown role"),
        ("Engineer,FY2027-Q5,1.00,1.00,1880", "fiscal_quarter", "FY2027-Q5", "unknown fiscal quarter"),
        ("Engineer,2027-Q1,1.00,1.00,1880", "fiscal_quarter", "2027-Q1", "unknown fiscal quarter"),
        ("Engineer,FY9999-Q4,1.00,1.00,1880", "fiscal_quarter", "FY9999-Q4", "a year from 1901 to 9998"),
        ("Engineer,FY2027-Q1,-1.00,1.00,1880", "ote", "-1.00", "negative amount"),
        ("Engineer,FY2027-Q1,1.00,-0.50,1880", "benefits", "-0.50", "negative amount"),
        ("Engineer,FY2027-Q1,1.00,1.00,0", "billable_hours", "0", "expected billable hours from 1 to 8784"),
        ("Engineer,FY2027-Q1,1.00,1.00,-1880", "billable_hours", "-1880", "expected a whole number of hours"),
        ("Engineer,FY2027-Q1,1.00,1.00,1880.5", "billable_hours", "1880.5", "expected a whole number of hours"),
        ('Engineer,FY2027-Q1,"1,250.00",1.00,1880', "ote", "1,250.00", "no thousands separators"),
        ('Engineer,FY2027-Q1,"173,900",1.00,1880', "ote", "173,900", "no thousands separators"),
        ("Engineer,FY2027-Q1,1e5,1.00,1880", "ote", "1e5", "invalid amount"),
    ],
    ids=[
        "unknown-role",
        "quarter-5",
        "quarter-without-fy",
        "quarter-past-fy9998",
        "negative-ote",
        "negative-benefits",
        "zero-hours",
        "negative-hours",
        "fractional-hours",
        "grouped-amount",
        "ambiguous-separator",
        "exponent",
    ],
)
def test_import_rejects_row_and_stores_nothing(tmp_path, roles, row, column, value, reason):
    path = write(tmp_path, HEADER + "Trainer,FY2027-Q1,94000.00,0,1880\n" + row + "\n")

    with pytest.raises(CommandError) as raised:
        run_import(path)

    message = str(raised.value)
    assert "Import rejected, nothing was stored: 1 invalid value(s)" in message
    assert f"line 3, column {column}, value {value!r}: " in message
    assert reason in message
    assert not CostRate.objects.exists()


def test_import_names_every_bad_row(tmp_path, roles):
    path = write(
        tmp_path,
        HEADER
        + "Engineer,FY2027-Q1,1.00,1.00,1880\n"
        + "Nobody,FY2027-Q9,-1,x,0\n"
        + "engineer,FY2027-Q1,2.00,2.00,1880\n",
    )

    with pytest.raises(CommandError) as raised:
        run_import(path)

    message = str(raised.value)
    assert "6 invalid value(s)" in message
    for column in ("role", "fiscal_quarter", "ote", "benefits", "billable_hours"):
        assert f"line 3, column {column}" in message
    assert (
        "line 4, column fiscal_quarter, value 'FY2027-Q1': duplicate rate of Engineer in FY2027-Q1, first on line 2"
        in (message)
    )
    assert not CostRate.objects.exists()


def test_import_rejects_semicolon_file_with_decimal_comma(tmp_path, roles):
    path = write(tmp_path, "role;fiscal_quarter;ote;benefits;billable_hours\nEngineer;FY2027-Q1;1.250,00;0;1880\n")

    with pytest.raises(CommandError, match=r"line 2, column ote, value '1.250,00'"):
        run_import(path)

    assert not CostRate.objects.exists()


def test_import_rejects_missing_column(tmp_path, roles):
    path = write(tmp_path, "role,fiscal_quarter,ote,benefits\nEngineer,FY2027-Q1,1.00,1.00\n")

    with pytest.raises(CommandError, match="missing column billable_hours"):
        run_import(path)


def test_import_of_missing_file(tmp_path, roles):
    with pytest.raises(CommandError, match="File not found"):
        run_import(str(tmp_path / "nope.csv"))


def test_export_prints_decimal_strings(capsys, settings, roles):
    settings.USE_THOUSAND_SEPARATOR = True
    CostRateFactory(role=roles[0], quarter=FiscalQuarter(2027, 1), ote=Decimal("1250000.00"), benefits=Decimal(0))
    CostRateFactory(role=roles[2], quarter=FiscalQuarter(2027, 1), ote=Decimal("99875.00"), benefits=Decimal(0))
    CostRateFactory(role=roles[2], quarter=FiscalQuarter(2027, 2))

    call_command("export_cost_rates", "--quarter", "FY2027-Q1", "--format", "json")

    assert json.loads(capsys.readouterr().out) == [
        {
            "role": "Engineer",
            "fiscal_quarter": "FY2027-Q1",
            "ote": "1250000.00",
            "benefits": "0.00",
            "billable_hours": 1880,
            "hourly_cost": "664.89",
        },
        {
            "role": "Trainer",
            "fiscal_quarter": "FY2027-Q1",
            "ote": "99875.00",
            "benefits": "0.00",
            "billable_hours": 1880,
            "hourly_cost": "53.13",
        },
    ]


def test_export_csv_imports_back_unchanged(tmp_path, capsys, roles):
    CostRateFactory(role=roles[1], quarter=FiscalQuarter(2027, 1), ote=Decimal("128000.10"))
    call_command("export_cost_rates", "--quarter", "FY2027-Q1", "--format", "csv")
    path = write(tmp_path, capsys.readouterr().out)
    before = stored()

    output = run_import(path)

    assert "Rates created: 0, updated: 0, unchanged: 1" in output
    assert stored() == before


@pytest.mark.parametrize(
    "quarter, message", [("FY2027-Q3", "No standard cost rates in FY2027-Q3"), ("2027Q3", "invalid")]
)
def test_export_rejects_empty_or_invalid_quarter(roles, quarter, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_cost_rates", "--quarter", quarter)
