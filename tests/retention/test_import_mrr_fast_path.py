"""The COPY fast path of import_mrr against the row-by-row import, on the same files.

Each valid file is imported twice, once as import_mrr chooses and once with the
fast path turned off, and both must store the same lines and return the same
summary. Each invalid file must give the same error list both ways.
"""

import pytest
from django.db import connection

from accounts.models import Subscription
from common.csvimport import ImportRejected
from retention.importing import import_mrr
from retention.models import CoveredMonth, MrrLine
from tests.factories import AccountFactory, SubscriptionFactory
from tests.retention.test_import_mrr import HEADER, lines, write_csv

ROWS = (
    "2024-05,ACC-1,SUB-1,Premium,10,100.00,recurring\n"
    "2024-06,ACC-1,SUB-1,Premium,12,-20.5,trueup\n"
    "2024-06,ACC-2,SUB-2,Basic,0003,0001250,recurring\n"
)


@pytest.fixture(autouse=True)
def recorded_recomputes(monkeypatch):
    monkeypatch.setattr("retention.importing.lines.schedule_recompute", lambda months, import_run_id=None: None)


@pytest.fixture
def accounts(db):
    for external_id in ("ACC-1", "ACC-2"):
        AccountFactory(external_id=external_id)


def stored():
    return {
        "lines": lines(),
        "subscriptions": sorted(Subscription.objects.values_list("external_id", "account__external_id")),
        "covered": sorted(CoveredMonth.objects.values_list("month", flat=True)),
    }


def clear_import():
    MrrLine.objects.all().delete()
    CoveredMonth.objects.all().delete()
    Subscription.objects.all().delete()


def import_both_ways(monkeypatch, path, **options):
    """Import `path` as import_mrr chooses, then row by row; return both (summary, stored data) pairs."""
    chosen = import_mrr(path, **options)
    chosen_data = stored()
    clear_import()
    with monkeypatch.context() as patch:
        patch.setattr("retention.importing.mrr.import_plain_mrr", lambda *arguments: None)
        row_by_row = import_mrr(path, **options)
    return (chosen, chosen_data), (row_by_row, stored())


def rejection(path, **options):
    with pytest.raises(ImportRejected) as raised:
        import_mrr(path, **options)
    return [error.as_dict() for error in raised.value.errors], raised.value.error_count


def rejections_both_ways(monkeypatch, path, **options):
    chosen = rejection(path, **options)
    with monkeypatch.context() as patch:
        patch.setattr("retention.importing.mrr.import_plain_mrr", lambda *arguments: None)
        row_by_row = rejection(path, **options)
    assert not MrrLine.objects.exists()
    return chosen, row_by_row


def without_marker(summary):
    return {key: value for key, value in summary.items() if key != "fast_path"}


VALID_FILES = {
    "comma": (HEADER + ROWS, {}, {}),
    "semicolon": (HEADER.replace(",", ";") + ROWS.replace(",", ";"), {}, {}),
    "tab": (HEADER.replace(",", "\t") + ROWS.replace(",", "\t"), {}, {}),
    "crlf": (HEADER + ROWS, {"crlf": True}, {}),
    "bom": (HEADER + ROWS, {"bom": True}, {}),
    "bom_crlf_semicolon": (HEADER.replace(",", ";") + ROWS.replace(",", ";"), {"bom": True, "crlf": True}, {}),
    "no_final_line_end": (HEADER + ROWS.rstrip("\n"), {}, {}),
    "header_only": (HEADER, {}, {}),
    "mapped_columns_and_extra_column": (
        "note,amount,charge_type,seats,acct,month,plan,subscription_id\n"
        "a,100.00,recurring,10,ACC-1,2024-05,Premium,SUB-1\n"
        ",-20.5,trueup,12,ACC-1,2024-06,Premium,SUB-1\n",
        {},
        {"columns": {"mrr": "amount", "quantity": "seats", "account_id": "acct", "product": "plan"}},
    ),
    "duplicates_add_up": (
        HEADER
        + "2024-06,ACC-1,SUB-1,Premium,10,100.00,recurring\n"
        + "2024-06,ACC-1,SUB-1,Premium,2,20.25,recurring\n"
        + "2024-06,ACC-1,SUB-1,Premium,1,5.00,trueup\n"
        + "2024-06,ACC-1,SUB-1,Premium,1,1.00,RECURRING\n",
        {},
        {},
    ),
    "padded_fields": (
        HEADER
        + " 2024-05 ,ACC-1\t, SUB-1,  Premium Plus ,\t10, 100.00 , Recurring\n"
        + "2024-06,  ACC-1,SUB-1 ,Premium Plus,12,-20.5,TrueUp \n",
        {},
        {},
    ),
    "header_and_rows_ending_in_delimiter": (HEADER.replace("\n", ",\n") + ROWS.replace("\n", ",\n"), {}, {}),
    # Python's csv module accepts a field of up to 131,072 characters, spaces around the value included.
    "product_padded_to_csv_limit": (
        HEADER + "2024-05,ACC-1,SUB-1," + " " * (131_072 - len("Premium")) + "Premium,10,1.00,recurring\n",
        {},
        {},
    ),
    "padded_ids_only": (
        HEADER + "2024-05, ACC-1,SUB-1,Premium,10,100.00,recurring\n2024-06,ACC-1 ,SUB-1 ,Premium,1,1.00,recurring\n",
        {},
        {},
    ),
}


@pytest.mark.parametrize("name", list(VALID_FILES))
def test_fast_path_stores_what_row_by_row_stores(tmp_path, accounts, monkeypatch, name):
    text, file_options, import_options = VALID_FILES[name]
    path = write_csv(tmp_path / f"{name}.csv", text, **file_options)

    (chosen, chosen_data), (row_by_row, row_by_row_data) = import_both_ways(monkeypatch, path, **import_options)

    assert chosen_data == row_by_row_data
    assert without_marker(chosen) == without_marker(row_by_row)
    assert chosen["fast_path"] is (connection.vendor == "postgresql")
    assert row_by_row["fast_path"] is False


def test_padded_fields_stored_trimmed(tmp_path, accounts):
    text, _, _ = VALID_FILES["padded_fields"]
    import_mrr(write_csv(tmp_path / "padded.csv", text))

    assert [line[:3] + line[5:] for line in lines()] == [
        ("2024-05", "SUB-1", "Premium Plus", "recurring"),
        ("2024-06", "SUB-1", "Premium Plus", "trueup"),
    ]


def test_plain_file_takes_fast_path_only_on_postgresql(tmp_path, accounts):
    summary = import_mrr(write_csv(tmp_path / "plain.csv", HEADER + ROWS))

    assert summary["fast_path"] is (connection.vendor == "postgresql")
    assert summary["lines_stored"] == 3


FIRST_ROW = "2024-05,ACC-1,SUB-1,Premium,10,1.00,recurring"

FALLBACK_FILES = {
    "quoted_field": HEADER + '2024-05,ACC-1,SUB-1,"Premium, annual",10,100.00,recurring\n',
    "blank_line": HEADER + FIRST_ROW + "\n\n2024-06,ACC-1,SUB-1,Premium,1,1.00,trueup\n",
    "row_of_empty_fields": HEADER + "2024-05,ACC-1,SUB-1,Premium,10,100.00,recurring\n,,,,,,\n",
    "mixed_line_ends": HEADER + FIRST_ROW + "\r\n2024-06,ACC-1,SUB-1,Premium,1,1.00,trueup\n",
    "id_padded_with_no_break_space": HEADER + "2024-05,ACC-1\u00a0,SUB-1,Premium,10,100.00,recurring\n",
    "product_starting_with_accent": HEADER + "2024-05,ACC-1,SUB-1,Écran,10,100.00,recurring\n",
    "vertical_tab_around_amount": HEADER + "2024-05,ACC-1,SUB-1,Premium,10,\x0b100.00,recurring\n",
    "product_ending_in_vertical_tab": HEADER + "2024-05,ACC-1,SUB-1,Premium\x0b,10,100.00,recurring\n",
}


@pytest.mark.parametrize("name", list(FALLBACK_FILES))
def test_file_only_python_reads_falls_back(tmp_path, accounts, monkeypatch, name):
    path = write_csv(tmp_path / f"{name}.csv", FALLBACK_FILES[name])

    (chosen, chosen_data), (row_by_row, row_by_row_data) = import_both_ways(monkeypatch, path)

    assert chosen["fast_path"] is False
    assert chosen == row_by_row
    assert chosen_data == row_by_row_data
    assert chosen["lines_stored"] >= 1


def test_product_and_subscription_read_from_one_file_column(tmp_path, accounts, monkeypatch):
    header = "month,account_id,subscription_id,quantity,mrr,charge_type\n"
    path = write_csv(tmp_path / "shared.csv", header + "2024-05,ACC-1,SUB-1,10,100.00,recurring\n")

    (chosen, chosen_data), (row_by_row, row_by_row_data) = import_both_ways(
        monkeypatch, path, columns={"product": "subscription_id"}
    )

    assert chosen["fast_path"] is False
    assert chosen == row_by_row
    assert chosen_data == row_by_row_data
    assert chosen_data["lines"][0][2] == "SUB-1"


INVALID_FILES = {
    "field_count_mismatch": HEADER + "2024-05,ACC-1,SUB-1,Premium,10,100.00\n2024-06,ACC-1,SUB-1,Premium,1,1.00,a,b\n",
    "invalid_amount": HEADER + "2024-05,ACC-1,SUB-1,Premium,10,1e3,recurring\n2024-06,ACC-1,SUB-1,Premium,1,1,250\n",
    "invalid_month_and_charge_type": HEADER
    + "2024-13,ACC-1,SUB-1,Premium,10,1.00,recurring\n"
    + "1899-12,ACC-1,SUB-1,Premium,10,1.00,monthly\n",
    "missing_ids": HEADER + "2024-05,,SUB-1,Premium,10,1.00,recurring\n2024-05,ACC-1,,Premium,10,1.00,recurring\n",
    "long_product": HEADER + f"2024-05,ACC-1,SUB-1,{'P' * 101},10,1.00,recurring\n",
    "too_many_digits": HEADER
    + "2024-05,ACC-1,SUB-1,Premium,1234567890,1.00,recurring\n"
    + "2024-05,ACC-1,SUB-2,Premium,1,12345678901.00,recurring\n",
    "unknown_account": HEADER + FIRST_ROW + "\n2024-05,456,SUB-9,Premium,1,1.00,recurring\n",
    "subscription_under_two_accounts": HEADER
    + "2024-05,ACC-1,SUB-1,Premium,10,1.00,recurring\n"
    + "2024-06,ACC-2,SUB-1,Premium,10,1.00,recurring\n",
    "end_of_data_marker": HEADER + FIRST_ROW + "\n\\.\n2024-06,ACC-1,SUB-1,Premium,1,1.00,x\n",
    "unread_field_over_csv_limit": HEADER.rstrip("\n")
    + ",note\n"
    + "2024-05,ACC-1,SUB-1,Premium,10,1.00,recurring,"
    + "x" * 200_000
    + "\n",
    "product_padded_over_csv_limit": HEADER
    + "2024-05,ACC-1,SUB-1,"
    + " " * (131_073 - len("Premium"))
    + "Premium,10,1.00,recurring\n",
    "quantity_padded_with_tabs_over_csv_limit": HEADER
    + "2024-05,ACC-1,SUB-1,Premium,10"
    + "\t" * 131_072
    + ",1.00,recurring\n",
    "row_ending_in_extra_empty_fields": HEADER + FIRST_ROW + ",\n" + "2024-06,ACC-1,SUB-1,Premium,1,1.00,recurring,,\n",
    "semicolon_crlf_row_ending_in_delimiter": (
        HEADER + FIRST_ROW + "\n" + "2024-06,ACC-1,SUB-1,Premium,1,1.00,recurring,\n"
    )
    .replace(",", ";")
    .replace("\n", "\r\n"),
    "lone_carriage_return": HEADER + "2024-05,ACC-1,SUB-1,Premium,10,1.00,recurring\r2024-06,ACC-1,SUB-1,Premium,1,1\n",
}


@pytest.mark.parametrize("name", list(INVALID_FILES))
def test_invalid_file_gets_same_errors_both_ways(tmp_path, accounts, monkeypatch, name):
    path = write_csv(tmp_path / f"{name}.csv", INVALID_FILES[name])

    chosen, row_by_row = rejections_both_ways(monkeypatch, path)

    assert chosen == row_by_row
    assert chosen[1] >= 1


def test_invalid_utf8_gets_same_errors_both_ways(tmp_path, accounts, monkeypatch):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "2024-05,ACC-1,SUB-1,Caf\xe9,10,1.00,recurring\n").encode("latin-1"))

    chosen, row_by_row = rejections_both_ways(monkeypatch, str(path))

    assert chosen == row_by_row
    assert chosen[0][0]["reason"] == "the file is not UTF-8 text; save it as CSV UTF-8"


def test_stored_owner_conflict_same_errors(tmp_path, accounts, monkeypatch):
    SubscriptionFactory(external_id="SUB-1", account=AccountFactory(external_id="ACC-0"))
    path = write_csv(
        tmp_path / "m.csv",
        HEADER + "2024-05,ACC-1,SUB-1,Premium,10,1.00,recurring\n2024-06,ACC-1,SUB-1,Premium,10,1.00,recurring\n",
    )

    chosen, row_by_row = rejections_both_ways(monkeypatch, path)

    assert chosen == row_by_row
    assert [error["line"] for error in chosen[0]] == [2, 3]


# Files aimed at the fast path's checks of distinct values. Each is imported with DuckDB in memory and
# with DuckDB in a database file.
FIELDS = {
    "month": "2024-05",
    "account_id": "ACC-1",
    "subscription_id": "SUB-1",
    "product": "Premium",
    "quantity": "10",
    "mrr": "100.00",
    "charge_type": "recurring",
}


def row(**changes):
    return ",".join({**FIELDS, **changes}.values()) + "\n"


DISTINCT_VALID_FILES = {
    **{
        f"{name}_padded_on_one_row": HEADER + row() + row(**{"product": "Basic", name: f" {FIELDS[name]}\t"})
        for name in FIELDS
    },
    "zeros_negatives_and_leading_zeros": HEADER
    + row(quantity="0", mrr="0")
    + row(product="Basic", quantity="-0", mrr="-0.00")
    + row(product="Credit", quantity="-007", mrr="-0000000000009999999999.99", charge_type="trueup")
    + row(product="Seats", quantity="000000000000999999999", mrr="000123.4"),
    "largest_values_added_up": HEADER + row(quantity="999999999", mrr="9999999999.99") * 3,
    "keys_repeated_after_trimming_and_lowercasing": HEADER
    + row()
    + row(product=" Premium", charge_type="RECURRING")
    + row(subscription_id="SUB-1 ", charge_type="Recurring\t"),
    "many_distinct_amounts_and_products": HEADER
    + "".join(
        row(
            month=f"2024-{index % 12 + 1:02d}",
            subscription_id=f"SUB-{index % 40}",
            product=f"P{index}",
            quantity=str(index),
            mrr=f"{index}.{index % 100:02d}",
        )
        for index in range(3000)
    ),
}

DISTINCT_INVALID_FILES = {
    **{f"{name}_empty_on_one_row": HEADER + row() + row(**{name: ""}) for name in FIELDS},
    **{f"{name}_only_spaces_on_one_row": HEADER + row() + row(**{name: " \t "}) for name in FIELDS},
    "month_without_leading_zero": HEADER + row(month="2024-1"),
    "quantity_of_ten_digits": HEADER + row() + row(product="Basic", quantity="-0001234567890"),
    "amount_of_eleven_digits": HEADER + row() + row(product="Basic", mrr="0012345678901.5"),
    "account_missing_on_one_row_of_subscription": HEADER + row() + row(month="2024-06", account_id=""),
    "subscription_under_padded_other_account": HEADER + row() + row(month="2024-06", account_id=" ACC-2"),
    "invalid_values_next_to_padded_ones": HEADER
    + row(product=" Premium ")
    + row(quantity="1.5", mrr="1,250.00")
    + row(month="2024-13", charge_type="monthly"),
}


@pytest.mark.parametrize("name", list(DISTINCT_VALID_FILES))
def test_distinct_value_checks_accept_valid_file(tmp_path, accounts, monkeypatch, name):
    path = write_csv(tmp_path / f"{name}.csv", DISTINCT_VALID_FILES[name])

    (chosen, chosen_data), (row_by_row, row_by_row_data) = import_both_ways(monkeypatch, path)

    assert chosen_data == row_by_row_data
    assert without_marker(chosen) == without_marker(row_by_row)
    assert chosen["fast_path"] is (connection.vendor == "postgresql")


@pytest.mark.parametrize("name", list(DISTINCT_INVALID_FILES))
def test_distinct_value_checks_reject_like_row_by_row(tmp_path, accounts, monkeypatch, name):
    path = write_csv(tmp_path / f"{name}.csv", DISTINCT_INVALID_FILES[name])

    chosen, row_by_row = rejections_both_ways(monkeypatch, path)

    assert chosen == row_by_row
    assert chosen[1] >= 1
