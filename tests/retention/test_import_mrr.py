"""The monthly MRR lines import: import_mrr command and retention.importing.import_mrr."""

import datetime
import tracemalloc
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, Subscription
from retention.importing import import_mrr
from retention.models import CoveredMonth, ImportRun, ImportStatus, MrrLine
from tests.factories import AccountFactory, SubscriptionFactory

HEADER = "month,account_id,subscription_id,product,quantity,mrr,charge_type\n"


def write_csv(path, text, *, bom=False, crlf=False):
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"))
    return str(path)


def lines():
    return sorted(
        (f"{month:%Y-%m}", subscription, product, quantity, mrr, charge_type)
        for month, subscription, product, quantity, mrr, charge_type in MrrLine.objects.values_list(
            "month", "subscription__external_id", "product", "quantity", "mrr", "charge_type"
        )
    )


def snapshot():
    return {
        "accounts": sorted(Account.objects.values_list("external_id", flat=True)),
        "subscriptions": sorted(Subscription.objects.values_list("external_id", "account__external_id")),
        "lines": lines(),
        "covered": sorted(CoveredMonth.objects.values_list("month", flat=True)),
    }


def covered():
    return [f"{month:%Y-%m}" for month in CoveredMonth.objects.values_list("month", flat=True)]


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
        call_command("import_mrr", path, **options)
    assert snapshot() == before
    return str(raised.value)


def make_accounts(*external_ids):
    for external_id in external_ids:
        AccountFactory(external_id=external_id)


def test_import_stores_lines_and_covered_months(tmp_path, db, recorded_recomputes):
    make_accounts("ACC-1")
    path = write_csv(
        tmp_path / "m.csv",
        HEADER + "2023-06,ACC-1,SUB-1,Premium,10,100.00,recurring\n2024-06,ACC-1,SUB-1,Premium,12,-20.5,trueup\n",
    )
    call_command("import_mrr", path)

    assert lines() == [
        ("2023-06", "SUB-1", "Premium", 10, Decimal("100.00"), "recurring"),
        ("2024-06", "SUB-1", "Premium", 12, Decimal("-20.50"), "trueup"),
    ]
    assert Subscription.objects.get(external_id="SUB-1").account.external_id == "ACC-1"
    assert covered() == ["2023-06", "2024-06"]
    assert CoveredMonth.objects.filter(import_run=ImportRun.objects.get()).count() == 2
    assert recorded_recomputes == [
        [datetime.date(2023, 6, 1), datetime.date(2024, 6, 1), datetime.date(2025, 6, 1)],
    ]


def test_rows_with_same_key_add_up(tmp_path, db):
    make_accounts("ACC-1")
    path = write_csv(
        tmp_path / "m.csv",
        HEADER
        + "2024-06,ACC-1,SUB-1,Premium,10,100.00,recurring\n"
        + "2024-06,ACC-1,SUB-1,Premium,2,20.25,recurring\n"
        + "2024-06,ACC-1,SUB-1,Premium,1,5.00,trueup\n"
        + "2024-06,ACC-1,SUB-1,Basic,1,1.00,recurring\n",
    )
    summary = import_mrr(path)

    assert lines() == [
        ("2024-06", "SUB-1", "Basic", 1, Decimal("1.00"), "recurring"),
        ("2024-06", "SUB-1", "Premium", 1, Decimal("5.00"), "trueup"),
        ("2024-06", "SUB-1", "Premium", 12, Decimal("120.25"), "recurring"),
    ]
    assert (summary["rows_read"], summary["lines_stored"]) == (4, 3)
    assert summary["warnings"] == [
        "1 row repeats the month, subscription, product and charge type of an earlier row, so the amounts"
        " and quantities of such rows were added up into one line."
    ]


def test_reimport_of_same_file_changes_nothing(tmp_path, db):
    make_accounts("ACC-R1", "ACC-R2")
    path = write_csv(
        tmp_path / "m.csv",
        HEADER + "2023-06,ACC-R1,SUB-R1,Premium,10,100.00,recurring\n2023-06,ACC-R2,SUB-R2,Premium,5,50.00,recurring\n",
    )
    call_command("import_mrr", path)
    first = snapshot()

    call_command("import_mrr", path)

    assert snapshot() == first


def test_reimport_of_month_replaces_it_whole(tmp_path, db):
    make_accounts("ACC-1", "ACC-2")
    call_command(
        "import_mrr",
        write_csv(
            tmp_path / "1.csv",
            HEADER
            + "2024-05,ACC-1,SUB-1,Premium,1,10.00,recurring\n"
            + "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n"
            + "2024-06,ACC-2,SUB-2,Premium,1,20.00,recurring\n",
        ),
    )
    call_command(
        "import_mrr", write_csv(tmp_path / "2.csv", HEADER + "2024-06,ACC-1,SUB-1,Premium,3,30.00,recurring\n")
    )

    assert lines() == [
        ("2024-05", "SUB-1", "Premium", 1, Decimal("10.00"), "recurring"),
        ("2024-06", "SUB-1", "Premium", 3, Decimal("30.00"), "recurring"),
    ]
    assert covered() == ["2024-05", "2024-06"]


def test_partial_reimport_warns_of_removed_lines(tmp_path, db, capsys):
    make_accounts("ACC-1", "ACC-2", "ACC-3")
    everyone = (
        "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n"
        "2024-06,ACC-2,SUB-2,Premium,1,20.00,recurring\n"
        "2024-06,ACC-3,SUB-3,Premium,1,30.00,recurring\n"
    )
    call_command("import_mrr", write_csv(tmp_path / "all.csv", HEADER + everyone))
    capsys.readouterr()

    summary = import_mrr(write_csv(tmp_path / "one.csv", HEADER + "2024-06,ACC-1,SUB-1,Premium,1,12.00,recurring\n"))

    assert summary["lines_stored"] == 1
    assert summary["lines_deleted"] == 3
    assert summary["warnings"][0].startswith(
        "The replaced months held 3 MRR line(s) before this import and hold 1 now."
    )
    call_command("import_mrr", write_csv(tmp_path / "again.csv", HEADER + everyone))
    assert "MRR lines removed from the replaced months: 1" in capsys.readouterr().out


def test_partial_reimport_with_as_many_lines_warns(tmp_path, db):
    make_accounts("ACC-1", "ACC-2")
    both = "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n2024-06,ACC-2,SUB-2,Premium,1,20.00,recurring\n"
    import_mrr(write_csv(tmp_path / "both.csv", HEADER + both))
    one_customer = "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n2024-06,ACC-1,SUB-1,Addon,1,5.00,recurring\n"

    summary = import_mrr(write_csv(tmp_path / "one.csv", HEADER + one_customer))

    assert summary["lines_stored"] == 2
    assert summary["lines_deleted"] == 2
    assert not MrrLine.objects.filter(subscription__external_id="SUB-2").exists()
    assert summary["warnings"][0].startswith(
        "The replaced months held 2 MRR line(s) before this import and hold 2 now. "
        "1 subscription(s) had lines in a replaced month and have none in it now."
    )


def test_large_reimport_compares_line_counts(tmp_path, db, monkeypatch):
    make_accounts("ACC-1", "ACC-2", "ACC-3")
    three = (
        "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n"
        "2024-06,ACC-2,SUB-2,Premium,1,20.00,recurring\n"
        "2024-06,ACC-3,SUB-3,Premium,1,30.00,recurring\n"
    )
    import_mrr(write_csv(tmp_path / "three.csv", HEADER + three))
    # Months that hold more lines than the limit are not compared subscription by subscription.
    monkeypatch.setattr("retention.importing.lines.COMPARED_LINES_MAX", 2)

    fewer = import_mrr(write_csv(tmp_path / "one.csv", HEADER + "2024-06,ACC-1,SUB-1,Premium,1,12.00,recurring\n"))
    import_mrr(write_csv(tmp_path / "again.csv", HEADER + three))
    as_many = import_mrr(
        write_csv(tmp_path / "same.csv", HEADER + three.replace("ACC-3,SUB-3,Premium", "ACC-2,SUB-2,Addon"))
    )

    assert fewer["warnings"][0] == (
        "The replaced months held 3 MRR line(s) before this import and hold 1 now. "
        "An import replaces whole months, so the customers that this file leaves out have no MRR in those months. "
        "If the file was meant to correct some customers only, import a file with every customer of those months."
    )
    # A count alone cannot tell that SUB-3 has no line left.
    assert as_many["lines_stored"] == 3
    assert not MrrLine.objects.filter(subscription__external_id="SUB-3").exists()
    assert not any("replaced months held" in warning for warning in as_many["warnings"])


def test_reimport_merging_lines_warns_of_nothing(tmp_path, db):
    make_accounts("ACC-1")
    two_rows = "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n2024-06,ACC-1,SUB-1,Addon,1,5.00,recurring\n"
    import_mrr(write_csv(tmp_path / "two.csv", HEADER + two_rows))

    summary = import_mrr(write_csv(tmp_path / "one.csv", HEADER + "2024-06,ACC-1,SUB-1,Premium,2,15.00,recurring\n"))

    assert summary["lines_deleted"] == 2
    assert summary["lines_stored"] == 1
    assert not any("replaced months held" in warning for warning in summary["warnings"])


def test_full_reimport_warns_of_nothing_removed(tmp_path, db):
    make_accounts("ACC-1", "ACC-2")
    path = write_csv(
        tmp_path / "m.csv",
        HEADER + "2024-06,ACC-1,SUB-1,Premium,1,10.00,recurring\n2024-06,ACC-2,SUB-2,Premium,1,20.00,recurring\n",
    )
    first = import_mrr(path)

    again = import_mrr(path)

    assert first["lines_deleted"] == 0
    assert again["lines_deleted"] == 2
    assert not any("replaced months held" in warning for warning in first["warnings"] + again["warnings"])


def test_unknown_account_rejected_and_never_created(tmp_path, db):
    make_accounts("00123", "00456")
    call_command(
        "import_mrr",
        write_csv(
            tmp_path / "m.csv",
            HEADER
            + "2023-06,00123,SUB-0008,Premium,5,250.00,recurring\n2023-06,00456,SUB-0009,Premium,10,500.00,recurring\n",
        ),
    )
    resaved = write_csv(tmp_path / "resaved.csv", HEADER + "2024-06,456,SUB-0009,Premium,12,600.00,recurring\n")

    message = run_rejected(resaved)

    assert "line 2, column account_id, value '456': unknown account" in message
    assert not Account.objects.filter(external_id="456").exists()


def test_leading_zero_and_long_ids_match_exactly(tmp_path, db):
    make_accounts("00456", "123456789012345678")
    path = write_csv(
        tmp_path / "m.csv",
        HEADER
        + "2024-06,00456,0009,Premium,12,600.00,recurring\n"
        + "2024-06,123456789012345678,000000000000000001,Premium,1,1.00,recurring\n",
    )
    call_command("import_mrr", path)

    assert sorted(Subscription.objects.values_list("external_id", "account__external_id")) == [
        ("000000000000000001", "123456789012345678"),
        ("0009", "00456"),
    ]


def test_subscription_of_another_stored_account_rejected(tmp_path, db):
    make_accounts("ACC-2")
    SubscriptionFactory(external_id="SUB-1", account=AccountFactory(external_id="ACC-1"))
    message = run_rejected(write_csv(tmp_path / "m.csv", HEADER + "2024-06,ACC-2,SUB-1,Premium,1,1.00,recurring\n"))
    assert (
        "line 2, column subscription_id, value 'SUB-1': subscription SUB-1 belongs to account ACC-1, not ACC-2"
        in message
    )


def test_subscription_with_two_accounts_in_file_rejected(tmp_path, db):
    make_accounts("ACC-1", "ACC-2")
    path = write_csv(
        tmp_path / "m.csv",
        HEADER + "2024-06,ACC-1,SUB-9,Premium,1,1.00,recurring\n2024-07,ACC-2,SUB-9,Premium,1,1.00,recurring\n",
    )
    message = run_rejected(path)
    assert (
        "line 3, column subscription_id, value 'SUB-9': subscription SUB-9 belongs to account ACC-1 (line 2), not ACC-2"
        in (message)
    )


@pytest.mark.parametrize(
    "name, text",
    [
        ("mrr_a", HEADER + '2024-06,ACC-N1,SUB-N1,Premium,50,"1,250.00",recurring\n'),
        ("mrr_b", HEADER.replace(",", ";") + "2024-06;ACC-N1;SUB-N1;Premium;50;1.250,00;recurring\n"),
    ],
)
def test_grouped_or_comma_amounts_rejected_naming_line_and_column(tmp_path, db, name, text):
    make_accounts("ACC-N1")
    value = "1,250.00" if name == "mrr_a" else "1.250,00"
    message = run_rejected(write_csv(tmp_path / f"{name}.csv", text))
    assert f"line 2, column mrr, value '{value}': invalid amount: use digits with a dot as decimal mark" in message
    assert not MrrLine.objects.exists()


def test_ambiguous_thousands_amount_rejected(tmp_path, db):
    make_accounts("ACC-N1")
    message = run_rejected(
        write_csv(tmp_path / "mrr_c.csv", HEADER + '2024-06,ACC-N1,SUB-N1,Premium,50,"173,900",recurring\n')
    )
    assert "line 2, column mrr, value '173,900'" in message
    assert not MrrLine.objects.exists()


def test_semicolon_file_with_dot_decimals_imports(tmp_path, db):
    make_accounts("ACC-N1")
    path = write_csv(
        tmp_path / "s.csv", HEADER.replace(",", ";") + "2024-06;ACC-N1;SUB-N1;Premium;50;1250.00;recurring\n"
    )
    call_command("import_mrr", path)
    assert lines() == [("2024-06", "SUB-N1", "Premium", 50, Decimal("1250.00"), "recurring")]


def test_bom_crlf_file_imports(tmp_path, db):
    make_accounts("ACC-B1")
    path = write_csv(
        tmp_path / "bom.csv",
        HEADER + "2023-06,ACC-B1,SUB-B1,Premium,5,250.00,recurring\n2024-06,ACC-B1,SUB-B1,Premium,6,300.00,recurring\n",
        bom=True,
        crlf=True,
    )
    call_command("import_mrr", path)
    assert lines() == [
        ("2023-06", "SUB-B1", "Premium", 5, Decimal("250.00"), "recurring"),
        ("2024-06", "SUB-B1", "Premium", 6, Decimal("300.00"), "recurring"),
    ]


def test_bom_file_with_mapping_of_first_column(tmp_path, db):
    make_accounts("ACC-B1")
    path = write_csv(
        tmp_path / "bom.csv",
        "month,acct,subscription_id,product,quantity,amount,charge_type\n"
        + "2024-06,ACC-B1,SUB-B1,Premium,6,300.00,recurring\n",
        bom=True,
        crlf=True,
    )
    call_command("import_mrr", path, columns="month=month,account_id=acct,mrr=amount")
    assert lines() == [("2024-06", "SUB-B1", "Premium", 6, Decimal("300.00"), "recurring")]


def test_mapping_to_absent_column_rejected(tmp_path, db):
    make_accounts("ACC-1")
    path = write_csv(tmp_path / "m.csv", HEADER + "2024-06,ACC-1,SUB-1,Premium,1,1.00,recurring\n")
    message = run_rejected(path, columns="mrr=mrr_amount")
    assert (
        "line 1, column mrr (file column mrr_amount), value 'mrr_amount': "
        "the column mapping names mrr_amount, which the file lacks" in message
    )


def test_mapped_file_errors_name_file_column(tmp_path, db):
    make_accounts("ACC-1")
    path = write_csv(
        tmp_path / "m.csv",
        "month,account_id,subscription_id,product,quantity,amount,charge_type\n"
        + "2024-06,ACC-1,SUB-1,Premium,1,1.5.0,recurring\n"
        + "2024-6,ACC-1,SUB-1,Premium,1,1.00,recurring\n",
    )

    message = run_rejected(path, columns="mrr=amount")

    assert "line 2, column mrr (file column amount), value '1.5.0'" in message
    # A column that the mapping leaves alone keeps one name.
    assert "line 3, column month, value '2024-6'" in message


def test_invalid_month_quantity_and_charge_type_rejected(tmp_path, db):
    make_accounts("ACC-1")
    path = write_csv(
        tmp_path / "m.csv",
        HEADER
        + "2024-6,ACC-1,SUB-1,Premium,1,1.00,recurring\n"
        + "2024-06,ACC-1,SUB-1,Premium,1.5,1.00,recurring\n"
        + "2024-06,ACC-1,SUB-1,Premium,1,1.00,monthly\n"
        + "2024-06,ACC-1,SUB-1,Premium,1,1.00,recurring\n",
    )
    message = run_rejected(path)
    assert "line 2, column month, value '2024-6': expected YYYY-MM" in message
    assert "line 3, column quantity, value '1.5'" in message
    assert "line 4, column charge_type, value 'monthly': expected recurring or trueup" in message
    assert "line 5" not in message


def test_one_bad_row_among_many_rejects_everything(tmp_path, db):
    make_accounts("ACC-1")
    good = "".join(f"2024-{month:02d},ACC-1,SUB-1,Premium,1,1.00,recurring\n" for month in range(1, 13))
    path = write_csv(tmp_path / "m.csv", HEADER + good + "2025-01,ACC-1,SUB-1,Premium,1,1e3,recurring\n")
    message = run_rejected(path)
    assert "line 14, column mrr" in message
    assert ImportRun.objects.get().status == ImportStatus.REJECTED


def test_summary_warns_about_uncovered_months(tmp_path, db):
    make_accounts("ACC-Y1")
    path = write_csv(
        tmp_path / "m.csv",
        HEADER
        + "2023-06,ACC-Y1,SUB-Y1,Premium,10,100.00,recurring\n2024-05,ACC-Y1,SUB-Y1,Premium,10,100.00,recurring\n",
    )
    summary = import_mrr(path)

    assert summary["rows_read"] == 2
    assert summary["lines_stored"] == 2
    assert summary["months_replaced"] == ["2023-06", "2024-05"]
    assert summary["subscriptions_created"] == 1
    assert summary["uncovered_months"][0] == "2023-07"
    assert len(summary["uncovered_months"]) == 10
    assert "10 month(s) inside the data span are not covered" in summary["warnings"][0]


def test_command_prints_summary_and_progress(tmp_path, db, capsys):
    make_accounts("ACC-1")
    call_command("import_mrr", write_csv(tmp_path / "m.csv", HEADER + "2024-06,ACC-1,SUB-1,Premium,1,1.00,recurring\n"))
    captured = capsys.readouterr()
    assert "Rows read: 1" in captured.out
    assert "MRR lines stored: 1" in captured.out
    assert "Months replaced: 2024-06" in captured.out
    assert "Read 1 rows (100% of the file)" in captured.err


def test_missing_file_is_command_error(db):
    with pytest.raises(CommandError, match="File not found"):
        call_command("import_mrr", "/nonexistent/file.csv")


def test_large_file_imports_in_bounded_memory(tmp_path, db):
    make_accounts("ACC-1")
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(HEADER)
        for index in range(60_000):
            handle.write(f"2024-{index % 12 + 1:02d},ACC-1,SUB-{index // 12 % 500},Premium,1,1.00,recurring\n")

    tracemalloc.start()
    summary = import_mrr(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert summary["rows_read"] == 60_000
    # 500 subscriptions in 12 months, 10 rows each.
    assert summary["lines_stored"] == 500 * 12
    assert MrrLine.objects.filter(
        subscription__external_id="SUB-7", month=datetime.date(2024, 8, 1)
    ).get().mrr == Decimal("10.00")
    assert peak < 8 * 1024 * 1024


def test_progress_reported_in_steps_of_5000_rows(tmp_path, db, capsys):
    make_accounts("ACC-1")
    path = tmp_path / "m.csv"
    rows = "".join(f"2024-06,ACC-1,SUB-{index},Premium,1,1.00,recurring\n" for index in range(12_000))
    path.write_text(HEADER + rows, encoding="utf-8")

    call_command("import_mrr", str(path))

    progress_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Read ")]
    counts = [int(line.split()[1]) for line in progress_lines]
    # The row-by-row import reports every 5000 rows. The COPY path of PostgreSQL reports at most once per
    # tenth of the rows, and its one month ends the loading at once.
    assert counts[0] == 5000
    assert all(count % 5000 == 0 for count in counts[:-1])
    assert counts == sorted(set(counts))
    assert progress_lines[-1] == "Read 12000 rows (100% of the file)"
    run = ImportRun.objects.get()
    assert run.rows_read == 12_000
    assert run.bytes_read == run.total_bytes == path.stat().st_size


def test_amounts_whose_total_overflows_rejected(tmp_path, db):
    make_accounts("ACC-1")
    # 100 rows of a 15-digit amount add up past the 64-bit range of the cents column.
    rows = "2024-06,ACC-1,SUB-1,Premium,1,999999999999999.99,recurring\n" * 100
    message = run_rejected(write_csv(tmp_path / "m.csv", HEADER + rows))

    assert "100 invalid value(s)" in message
    assert "line 2, column mrr, value '999999999999999.99': invalid amount" in message
    assert "and 50 more" in message


def test_quantities_whose_total_overflows_rejected(tmp_path, db):
    make_accounts("ACC-1")
    # 10,000 rows of a 15-digit quantity add up past the 64-bit range of the quantity column.
    rows = "2024-06,ACC-1,SUB-1,Premium,999999999999999,1.00,recurring\n" * 10_000
    message = run_rejected(write_csv(tmp_path / "m.csv", HEADER + rows))

    assert "line 2, column quantity, value '999999999999999': expected a whole number of seats" in message


def test_last_month_schedules_no_later_recompute(tmp_path, db, recorded_recomputes):
    make_accounts("ACC-1")
    import_mrr(write_csv(tmp_path / "m.csv", HEADER + "2999-12,ACC-1,SUB-1,Premium,1,1.00,recurring\n"))

    # The recomputation parses each month with the import's year range.
    assert recorded_recomputes == [[datetime.date(2999, 12, 1)]]


@pytest.mark.parametrize("month", ["1899-12", "0000-01", "3000-01", "9999-06"])
def test_month_outside_supported_years_rejected(tmp_path, db, month):
    make_accounts("ACC-1")
    message = run_rejected(write_csv(tmp_path / "m.csv", HEADER + f"{month},ACC-1,SUB-1,Premium,1,1.00,recurring\n"))

    assert f"line 2, column month, value '{month}': expected YYYY-MM from 1900-01 to 2999-12" in message


def test_nul_byte_in_field(tmp_path, db):
    make_accounts("ACC-1")
    rows = "2024-06,ACC-1,SUB-1,Premium,1,1.00,recurring\n2024-06,ACC-1,SUB-2,Ba\x00sic,1,1.00,recurring\n"

    message = run_rejected(write_csv(tmp_path / "m.csv", HEADER + rows))

    assert "line 3, column product, value 'Ba\\\\x00sic': contains a NUL byte, which text cannot hold" in message
    assert ImportRun.objects.get().errors[0]["value"] == "Ba\\x00sic"


class ClosedStream:
    """An output stream whose reader has gone, as when the command's output goes through `head`."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_closed_output_leaves_import_done(tmp_path, db):
    make_accounts("ACC-1")
    path = tmp_path / "m.csv"
    rows = "".join(f"2024-06,ACC-1,SUB-{index},Premium,1,1.00,recurring\n" for index in range(12_000))
    path.write_text(HEADER + rows, encoding="utf-8")

    call_command("import_mrr", str(path), stdout=ClosedStream(), stderr=ClosedStream())

    run = ImportRun.objects.get()
    assert run.status == ImportStatus.DONE
    assert run.summary["lines_stored"] == 12_000
    assert MrrLine.objects.count() == 12_000
