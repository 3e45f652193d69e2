"""The shared CSV reader and the strict field parsers."""

import datetime
import tracemalloc
from decimal import Decimal

import pytest

from common.csvimport import (
    ColumnSpec,
    CsvFile,
    ErrorCollector,
    InvalidValue,
    count_plain_rows,
    parse_amount,
    parse_column_option,
    parse_date,
    parse_id,
    parse_month,
    parse_quantity,
    parse_row,
    plain_header,
)

SPEC = ColumnSpec(required=("month", "mrr"), optional=("note",))


def write_csv(path, text, *, bom=False, crlf=False):
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"))
    return path


def read_all(path, spec=SPEC, mapping=None):
    errors = ErrorCollector()
    csv_file = CsvFile(path, spec, mapping, errors)
    return list(csv_file.rows()), errors


@pytest.mark.parametrize(
    "text, expected",
    [("2786", Decimal("2786.00")), ("100.5", Decimal("100.50")), ("-12.25", Decimal("-12.25")), ("0", Decimal("0.00"))],
)
def test_amount_accepts_dot_decimals(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["1,250.00", "1.250,00", "173,900", "1e3", "", "12.345", "$5", "1 250", ".5", "+5"])
def test_amount_rejects_other_notations(text):
    with pytest.raises(InvalidValue, match="digits with a dot as decimal mark and no thousands separators"):
        parse_amount(text)


def test_date_accepts_iso_date():
    assert parse_date("2024-01-31") == datetime.date(2024, 1, 31)


@pytest.mark.parametrize("text", ["45322", "01/02/2024", "2024-01-31T23:30:00-05:00", "2024-1-31", "", "2024-02-30"])
def test_date_rejects_serials_day_month_orders_and_timestamps(text):
    with pytest.raises(InvalidValue, match="expected YYYY-MM-DD"):
        parse_date(text)


def test_month_parses_to_first_day():
    assert parse_month("2024-06") == datetime.date(2024, 6, 1)


@pytest.mark.parametrize("text", ["2024-6", "2024-13", "06/2024", "2024-06-01", ""])
def test_month_rejects_other_forms(text):
    with pytest.raises(InvalidValue, match="expected YYYY-MM"):
        parse_month(text)


@pytest.mark.parametrize("text", ["1.5", "10 ", "ten", "", "1,000"])
def test_quantity_rejects_non_whole_numbers(text):
    with pytest.raises(InvalidValue):
        parse_quantity(text)


def test_ids_keep_leading_zeros_and_long_digit_strings():
    assert parse_id("00123") == "00123"
    assert parse_id("123456789012345678") == "123456789012345678"


def test_column_option_parses_pairs():
    assert parse_column_option("mrr=mrr_amount, product=plan_tier") == {"mrr": "mrr_amount", "product": "plan_tier"}
    with pytest.raises(ValueError, match="product_column=file_column"):
        parse_column_option("mrr")


def test_reader_strips_bom_and_accepts_crlf(tmp_path):
    path = write_csv(tmp_path / "bom.csv", "month,mrr\n2024-06,1.00\n", bom=True, crlf=True)
    rows, errors = read_all(path)
    assert not errors
    assert rows == [(2, {"month": "2024-06", "mrr": "1.00"})]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_reader_detects_delimiter_from_header(tmp_path, delimiter):
    path = write_csv(tmp_path / "d.csv", f"month{delimiter}mrr\n2024-06{delimiter}1.00\n")
    rows, errors = read_all(path)
    assert not errors
    assert rows[0][1] == {"month": "2024-06", "mrr": "1.00"}


def test_reader_maps_columns_and_ignores_extra_ones(tmp_path):
    path = write_csv(tmp_path / "m.csv", "period,extra,amount\n2024-06,x,5\n", bom=True)
    rows, errors = read_all(path, mapping={"month": "period", "mrr": "amount"})
    assert not errors
    assert rows == [(2, {"month": "2024-06", "mrr": "5"})]


def test_reader_maps_first_column_after_bom(tmp_path):
    path = write_csv(tmp_path / "m.csv", "month,amount\n2024-06,5\n", bom=True, crlf=True)
    rows, errors = read_all(path, mapping={"month": "month", "mrr": "amount"})
    assert not errors
    assert rows == [(2, {"month": "2024-06", "mrr": "5"})]


def test_reader_reports_missing_required_column(tmp_path):
    path = write_csv(tmp_path / "m.csv", "period,mrr\n2024-06,5\n")
    rows, errors = read_all(path)
    assert rows == []
    assert [(error.line, error.column) for error in errors.kept] == [(1, "month")]
    assert "missing column month" in errors.kept[0].reason
    assert "period, mrr" in errors.kept[0].reason


def test_reader_reports_mapping_to_absent_column(tmp_path):
    path = write_csv(tmp_path / "m.csv", "month,mrr\n2024-06,5\n")
    _, errors = read_all(path, mapping={"mrr": "mrr_amount"})
    assert errors.count == 1
    assert errors.kept[0].column == "mrr"
    assert "mrr_amount" in errors.kept[0].reason


def test_reader_counts_lines_across_quoted_newlines_and_blank_lines(tmp_path):
    path = write_csv(tmp_path / "m.csv", 'month,mrr,note\n2024-06,1,"two\nlines"\n\n2024-07,2,\n')
    rows, errors = read_all(path)
    assert not errors
    assert [line for line, _ in rows] == [2, 5]


def test_reader_rejects_row_with_wrong_field_count(tmp_path):
    path = write_csv(tmp_path / "m.csv", "month,mrr\n2024-06,1,250.00\n")
    rows, errors = read_all(path)
    assert rows == []
    assert (errors.kept[0].line, errors.kept[0].reason) == (2, "expected 2 fields as in the header, found 3")


def test_reader_names_a_quote_left_open(tmp_path):
    path = write_csv(tmp_path / "m.csv", 'month,mrr,note\n2024-06,"1,open\n2024-07"\n2024-08,2,closed\n')
    rows, errors = read_all(path)
    assert rows == [(4, {"month": "2024-08", "mrr": "2", "note": "closed"})]
    assert errors.kept[0].line == 2
    assert errors.kept[0].reason == (
        "expected 3 fields as in the header, found 2 (a quote in this row leaves a field open through line 3)"
    )


def test_reader_names_a_quote_open_at_end(tmp_path):
    path = write_csv(tmp_path / "m.csv", 'month,mrr,note\n2024-06,"1,open\n2024-07,2,closed\n')
    rows, errors = read_all(path)
    assert rows == []
    assert [(e.line, e.reason) for e in errors.kept] == [
        (2, "malformed CSV: a quote in this row is not closed before the end of the file")
    ]


@pytest.mark.parametrize(
    "text, line",
    [
        ('month,mrr,note\n2024-06,1,"Prem"ium\n', 2),
        ('month,mrr,note\n2024-06,1,ok\n2024-07,"12"34,\n', 3),
        ('month,mrr,note\n2024-06,1,"Acme, Inc." ,\n', 2),
        ('"month"s,mrr\n2024-06,1\n', 1),
    ],
)
def test_reader_rejects_text_after_closing_quote(tmp_path, text, line):
    # Python's default reader would join the text to the quoted value and read "Prem"ium as Premium.
    rows, errors = read_all(write_csv(tmp_path / "m.csv", text))
    expected = (
        "malformed CSV: text follows the closing quote of a field; quote the whole value and double each quote in it"
    )
    assert [(e.line, e.reason) for e in errors.kept] == [(line, expected)]
    assert all(row["note"] != "Premium" for _, row in rows)


def test_reader_checks_rows_after_stray_quote(tmp_path):
    text = 'month,mrr,note\n2024-06,1,"Prem"ium\n2024-07,x,ok\n2024-08,"3"4,\n2024-09,5,"two\nlines"\n'
    rows, errors = read_all(write_csv(tmp_path / "m.csv", text))
    assert [line for line, _ in rows] == [3, 5]
    assert [error.line for error in errors.kept] == [2, 4]
    assert all(error.reason.startswith("malformed CSV: text follows") for error in errors.kept)


def test_reader_keeps_quoted_delimiters_and_doubled_quotes(tmp_path):
    path = write_csv(tmp_path / "m.csv", 'month,mrr,note\n2024-06,1,"Acme, ""Inc."" and co"\n')
    rows, errors = read_all(path)
    assert not errors
    assert rows == [(2, {"month": "2024-06", "mrr": "1", "note": 'Acme, "Inc." and co'})]


def test_reader_matches_header_names_in_any_case(tmp_path):
    rows, errors = read_all(write_csv(tmp_path / "m.csv", " Month ,MRR\n2024-06,1\n"))
    assert (rows, errors.count) == ([(2, {"month": "2024-06", "mrr": "1"})], 0)


def test_reader_rejects_header_name_repeated_in_other_case(tmp_path):
    _, errors = read_all(write_csv(tmp_path / "m.csv", "month,mrr,MRR\n2024-06,1,2\n"))
    assert [(e.line, e.value, e.reason) for e in errors.kept] == [(1, "MRR", "the header names column MRR twice")]


def test_reader_rejects_text_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"month,mrr\n2024-06,1\n" + "Société".encode("latin-1") + b"\n")
    _, errors = read_all(path)
    assert errors.count == 1
    assert "not UTF-8" in errors.kept[0].reason


def test_reader_locates_each_latin1_byte(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"month,mrr,note\n2024-06,1,plain\n" + "2024-07,2,Société\n2024-08,3,ok\n2024-09,4,Ünité\n".encode("latin-1")
    )
    _, errors = read_all(path)
    reason = "the file is not UTF-8 text; save it as CSV UTF-8"
    assert [(e.line, e.column, e.value, e.reason) for e in errors.kept] == [
        (3, "note", "Soci\\xe9t\\xe9", reason),
        (5, "note", "\\xdcnit\\xe9", reason),
    ]


def test_reader_locates_latin1_byte_past_first_block(tmp_path):
    rows = "".join(f"2024-06,{n},row {n}\n" for n in range(2, 2000))
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"month,mrr,note\n" + rows.encode() + "2024-07,9,Caf\xe9\n".encode("latin-1"))
    _, errors = read_all(path)
    assert [(e.line, e.column) for e in errors.kept] == [(2000, "note")]


def test_reader_names_latin1_byte_and_later_stray_quote(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b'month,mrr,note\n2024-06,1,Caf\xe9\n2024-07,2,"Prem"ium\n2024-08,3,ok\n')
    _, errors = read_all(path)
    assert [(e.line, e.column, e.value) for e in errors.kept] == [(2, "note", "Caf\\xe9"), (3, "", "")]
    assert errors.kept[1].reason.startswith("malformed CSV: text follows the closing quote of a field")


def test_reader_names_a_latin1_header(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("month,mrr,Notiz über\n2024-06,1,x\n".encode("latin-1"))
    _, errors = read_all(path)
    assert [(e.line, e.column, e.value) for e in errors.kept] == [(1, "", "Notiz \\xfcber")]


def test_reader_locates_latin1_byte_with_cr_line_ends(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"month,mrr,note\r2024-06,1,plain\r2024-07,2,Caf\xe9\r")
    _, errors = read_all(path)
    assert [(e.line, e.column, e.value) for e in errors.kept] == [(3, "note", "Caf\\xe9")]


def test_reader_locates_latin1_byte_in_quoted_lines(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b'month,mrr,note\n2024-06,1,"first line\nsecond, Caf\xe9"\n2024-07,2,ok\n')
    _, errors = read_all(path)
    assert [(e.line, e.column, e.value) for e in errors.kept] == [(2, "note", "first line\nsecond, Caf\\xe9")]


def test_reader_names_a_field_over_the_size_limit(tmp_path):
    path = write_csv(tmp_path / "m.csv", "month,mrr\n2024-06,1\n2024-07," + "9" * 131_073 + "\n")
    _, errors = read_all(path)
    assert errors.count == 1
    assert (errors.kept[0].line, errors.kept[0].reason) == (
        3,
        "a field is longer than 131,072 characters, the most a field may hold",
    )


def test_error_collector_keeps_first_fifty_and_counts_the_rest():
    errors = ErrorCollector()
    for line in range(120, 1, -1):
        errors.add(line, "mrr", "x", "bad")
    assert errors.count == 119
    assert len(errors.kept) == 50
    assert [error.line for error in errors.kept] == list(range(2, 52))
    assert errors.not_shown == 69


def test_error_collector_cuts_long_values():
    errors = ErrorCollector()

    errors.add(2, "product", "P" * 100_000, "longer than 100 characters")
    errors.add(3, "product", "Q" * 200, "unknown product")

    assert errors.kept[0].value == "P" * 200 + "…"
    assert errors.kept[1].value == "Q" * 200
    assert errors.count == 2


def test_parse_row_collects_each_invalid_field(tmp_path):
    errors = ErrorCollector()
    values, valid = parse_row(
        7, {"month": "06/2024", "mrr": "1,5"}, {"month": parse_month, "mrr": parse_amount}, errors
    )
    assert not valid
    assert values == {"month": None, "mrr": None}
    assert [(error.line, error.column, error.value) for error in errors.kept] == [
        (7, "month", "06/2024"),
        (7, "mrr", "1,5"),
    ]


def test_reader_streams_a_million_lines_in_bounded_memory(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("month,mrr\n")
        line = "2024-06,1250.00\n"
        for _ in range(1000):
            handle.write(line * 1000)
    progress = []
    errors = ErrorCollector()
    csv_file = CsvFile(path, SPEC, None, errors, on_progress=lambda rows, read, total: progress.append((rows, read)))

    tracemalloc.start()
    count = sum(1 for _ in csv_file.rows())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert count == 1_000_000
    assert not errors
    assert peak < 2 * 1024 * 1024
    assert len(progress) == 200
    assert progress[-1] == (1_000_000, path.stat().st_size)


def test_amount_and_quantity_limits():
    assert parse_amount("-9999999999.99") == Decimal("-9999999999.99")
    assert parse_amount("00009999999999") == Decimal("9999999999.00")
    assert parse_quantity("999999999") == 999_999_999
    with pytest.raises(InvalidValue, match="at most 10 digits before the decimal mark"):
        parse_amount("10000000000")
    with pytest.raises(InvalidValue, match="at most 9 digits"):
        parse_quantity("-1000000000")


def test_date_and_month_year_limits():
    assert parse_date("9999-12-31") == datetime.date(9999, 12, 31)
    assert parse_month("2999-12") == datetime.date(2999, 12, 1)
    with pytest.raises(InvalidValue, match="from 1900-01-01 on"):
        parse_date("1899-12-31")
    with pytest.raises(InvalidValue, match="from 1900-01 to 2999-12"):
        parse_month("3000-01")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("month,mrr\n2024-05,1.00\n2024-06,2.00\n", 2),
        ("month,mrr\r\n2024-05,1.00\r\n2024-06,2.00", 2),
        ("month;mrr;\n2024-05;1.00;\n", 1),
        ("month,mrr\n2024-05,1.00,\n2024-06,2.00\n", None),
        ("month,mrr\n2024-05,1.00\n2024-06,2.00,,\n", None),
        ("month\tmrr\n2024-05\t1.00\t\n", None),
        ('month,mrr\n2024-05,"1.00"\n', None),
        ("month,mrr\n2024-05,1.00\r2024-06,2.00\n", None),
        ("month,mrr\r\n2024-05,1.00\r\n2024-06,2.00\r", None),
        ("month,mrr\n2024-05,1.00\x00\n", None),
    ],
)
def test_plain_row_count_needs_header_width(tmp_path, text, expected):
    path = write_csv(tmp_path / "plain.csv", text)
    layout = plain_header(path, SPEC, None)

    assert count_plain_rows(path, layout) == expected
