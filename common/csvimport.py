"""Streaming CSV reading and strict field parsers shared by every import.

A file is read one row at a time, so memory does not grow with its length. The
reader strips a UTF-8 byte-order mark, accepts LF and CRLF line endings and
detects the delimiter (comma, semicolon or tab) from the header line. Rejected
rows are collected as `RowError`s: the first `ERROR_LIMIT` by line are kept and
the rest are only counted.
"""

import bisect
import csv
import dataclasses
import datetime
import io
import itertools
import os
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal

from common import months

ERROR_LIMIT = 50
# Characters of a rejected value kept in its error. A field may hold up to 131,072 characters (the csv module's
# default field_size_limit), and ERROR_LIMIT of those would be stored with the run and shown on its page.
ERROR_VALUE_MAX_CHARS = 200
# Rows between two progress reports.
PROGRESS_EVERY = 5000
DELIMITERS = (",", ";", "\t")
MAX_ID_LENGTH = 100

# Called with rows read, bytes read and the file's size in bytes.
ProgressCallback = Callable[[int, int, int], None]


@dataclasses.dataclass(frozen=True, order=True)
class RowError:
    """One rejected value. Line 1 is the header; `column` is the product's column name, or "" for a whole row."""

    line: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}, value {self.value!r}: {self.reason}"


class ErrorCollector:
    """Keeps the `limit` rejected values with the lowest line numbers and counts all of them.

    A kept value longer than ERROR_VALUE_MAX_CHARS is cut and ends in "…".
    """

    def __init__(self, limit: int = ERROR_LIMIT):
        self.limit = limit
        self.kept: list[RowError] = []
        self.count = 0

    def add(self, line: int, column: str, value: str, reason: str) -> None:
        self.count += 1
        if len(value) > ERROR_VALUE_MAX_CHARS:
            value = value[:ERROR_VALUE_MAX_CHARS] + "…"
        error = RowError(line, column, value, reason)
        if len(self.kept) < self.limit or error < self.kept[-1]:
            bisect.insort(self.kept, error)
            del self.kept[self.limit :]

    def add_counted(self, first: list[RowError], total: int) -> None:
        """Add the first errors of a query and count the `total - len(first)` that the query did not return."""
        for error in first:
            self.add(error.line, error.column, error.value, error.reason)
        self.count += total - len(first)

    def __bool__(self) -> bool:
        return self.count > 0

    @property
    def not_shown(self) -> int:
        return self.count - len(self.kept)


class ImportRejected(Exception):
    """The file has invalid rows; nothing was stored."""

    def __init__(self, errors: ErrorCollector):
        self.errors = list(errors.kept)
        self.error_count = errors.count
        super().__init__(f"{errors.count} invalid value(s); nothing was stored")

    def lines(self) -> list[str]:
        """Return one line per kept error, then how many more were rejected."""
        lines = [str(error) for error in self.errors]
        if self.error_count > len(self.errors):
            lines.append(f"and {self.error_count - len(self.errors)} more")
        return lines


class InvalidValue(ValueError):
    """A field value that a parser rejects; the message is the reason shown to the user."""


# Field parsers. Each takes the stripped text of one field and returns the value or raises InvalidValue.

_AMOUNT_RE = re.compile(r"^-?(\d+)(\.\d{1,2})?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_QUANTITY_RE = re.compile(r"^-?(\d+)$")

# Amounts and quantities are summed into 64-bit integer columns (amounts as
# cents), whose maximum is about 9.2e18. With these limits the sum of about
# nine million rows of the largest value still fits.
AMOUNT_MAX_DIGITS = 10
QUANTITY_MAX_DIGITS = 9
# A date before FIRST_YEAR is a typo or a placeholder, and would make a
# subscription import cover centuries of months. Months have the same range
# and end well before the year 9999, because an import also recomputes the
# month twelve months later.
FIRST_YEAR = months.FIRST_YEAR

NOT_UTF8_REASON = "the file is not UTF-8 text; save it as CSV UTF-8"
AMOUNT_REASON = "invalid amount: use digits with a dot as decimal mark and no thousands separators, e.g. 1250.00"
AMOUNT_RANGE_REASON = f"invalid amount: at most {AMOUNT_MAX_DIGITS} digits before the decimal mark"


def parse_amount(text: str) -> Decimal:
    """Parse a US-dollar amount such as 2786, 100.5 or -12.25 into a two-place Decimal.

    Thousands separators, decimal commas and exponents are rejected instead of
    guessed, because "1,250" means 1250 in one locale and 1.25 in another.
    """
    match = _AMOUNT_RE.match(text)
    if not match:
        raise InvalidValue(AMOUNT_REASON)
    if len(match.group(1).lstrip("0")) > AMOUNT_MAX_DIGITS:
        raise InvalidValue(AMOUNT_RANGE_REASON)
    return Decimal(text).quantize(Decimal("0.01"))


def parse_date(text: str) -> datetime.date:
    """Parse YYYY-MM-DD from 1900 on. Spreadsheet serial numbers, day/month orders and timestamps are rejected.

    Dates as late as 9999-12-31 are accepted, because some billing systems
    write that as the end date of an open period.
    """
    if not _DATE_RE.match(text):
        raise InvalidValue("expected YYYY-MM-DD")
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise InvalidValue("expected YYYY-MM-DD: no such calendar date") from None
    if day.year < FIRST_YEAR:
        raise InvalidValue(f"expected YYYY-MM-DD from {FIRST_YEAR}-01-01 on")
    return day


def parse_month(text: str) -> datetime.date:
    """Parse YYYY-MM into the first day of the month, with the rules of common.months."""
    try:
        return months.parse_month(text)
    except ValueError as error:
        raise InvalidValue(str(error)) from None


def parse_quantity(text: str) -> int:
    """Parse a whole number of seats; a minus sign is allowed for credit lines."""
    match = _QUANTITY_RE.match(text)
    if not match:
        raise InvalidValue("expected a whole number of seats, e.g. 10")
    if len(match.group(1).lstrip("0")) > QUANTITY_MAX_DIGITS:
        raise InvalidValue(f"expected a whole number of seats of at most {QUANTITY_MAX_DIGITS} digits")
    return int(text)


def parse_id(text: str) -> str:
    """Return an identifier exactly as written: "00123" stays "00123" and long digit strings are not rounded."""
    if not text:
        raise InvalidValue("missing id")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidValue(f"id longer than {MAX_ID_LENGTH} characters")
    return text


def parse_text(max_length: int) -> Callable[[str], str]:
    """Return a parser for a required text field of at most `max_length` characters."""

    def parse(text: str) -> str:
        if not text:
            raise InvalidValue("missing value")
        if len(text) > max_length:
            raise InvalidValue(f"longer than {max_length} characters")
        return text

    return parse


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    """The product's column names for one kind of file. Optional columns may be absent or empty."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return self.required + self.optional


def parse_column_option(text: str) -> dict[str, str]:
    """Parse `product=file_column,...` as given to the import commands' --columns option."""
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, file_column = part.partition("=")
        if not sep or not name.strip() or not file_column.strip():
            raise ValueError(f"invalid column mapping {part!r}: expected product_column=file_column")
        mapping[name.strip()] = file_column.strip()
    return mapping


def _normalize(name: str) -> str:
    return name.strip().casefold()


def resolve_columns(spec: ColumnSpec, header: list[str], mapping: Mapping[str, str] | None) -> tuple[dict, list]:
    """Match the product's columns to header positions.

    Return ({product column: index in the row}, [problems as (column, value, reason)]).
    A column that the mapping does not name is looked up by its own name; names
    match without regard to case or surrounding spaces. Optional columns that
    the file lacks are left out of the result.
    """
    mapping = dict(mapping or {})
    positions = {}
    for index, name in enumerate(header):
        positions.setdefault(_normalize(name), index)
    problems = []
    for name in mapping:
        if name not in spec.names:
            problems.append((name, mapping[name], f"unknown column {name}; expected one of {', '.join(spec.names)}"))
    indexes = {}
    for name in spec.names:
        file_column = mapping.get(name, name)
        index = positions.get(_normalize(file_column))
        if index is not None:
            indexes[name] = index
        elif name in mapping:
            problems.append(
                (
                    name,
                    file_column,
                    f"the column mapping names {file_column}, which the file lacks; "
                    f"the file's columns are {', '.join(header)}",
                )
            )
        elif name in spec.required:
            problems.append(
                (
                    name,
                    "",
                    f"missing column {name}; the file's columns are {', '.join(header)}; rename the column or map it",
                )
            )
    return indexes, problems


def check_header(spec: ColumnSpec, header: list[str], mapping: Mapping[str, str] | None) -> tuple[dict, list]:
    """Resolve the columns as `resolve_columns` does and also report a column that the header names twice."""
    indexes, problems = resolve_columns(spec, header, mapping)
    seen = set()
    for name in header:
        if name and _normalize(name) in seen:
            problems.append(("", name, f"the header names column {name} twice"))
        seen.add(_normalize(name))
    return indexes, problems


def detect_delimiter(header_line: str) -> str:
    """Return the delimiter that occurs most often in the header line: comma, semicolon or tab."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def read_header(path: str | os.PathLike) -> list[str]:
    """Return the header names of a CSV file, or [] when the file is empty or not UTF-8 text."""
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            header_line = text.readline()
        except UnicodeDecodeError:
            return []
        if not header_line.strip():
            return []
        row = next(csv.reader([header_line], delimiter=detect_delimiter(header_line)), [])
        return [name.strip() for name in row]


# Bytes read at a time by `count_plain_rows`.
CHUNK_SIZE = 1 << 20


@dataclasses.dataclass(frozen=True)
class PlainCsv:
    """A CSV file whose rows PostgreSQL's COPY splits into the same fields as `CsvFile` does.

    `data_offset` is the byte where the first data row starts, after the header
    line. `data_rows` counts the lines after the header, a last line without a
    line end included.
    """

    delimiter: str
    header: list[str]
    indexes: dict[str, int]
    data_offset: int
    data_rows: int


def _is_plain(chunk: bytes) -> bool:
    # Without a quote character no field is quoted or spans lines, so Python's
    # csv module and COPY split rows and fields alike. A carriage return outside
    # a CRLF line end is a line end to the csv module but data to COPY.
    if b'"' in chunk or b"\0" in chunk:
        return False
    # A search stops at the first match: over a 16 MB file without one it took 0.4 ms, and a count 5.1 ms.
    if b"\r" not in chunk:
        return True
    carriage_returns = chunk.count(b"\r")
    return carriage_returns == 0 or carriage_returns == chunk.count(b"\r\n")


def plain_header(path: str | os.PathLike, spec: ColumnSpec, mapping: Mapping[str, str] | None) -> PlainCsv | None:
    """Return the layout that the header line of a plain CSV file gives, with no data rows counted yet.

    A file is plain when its header has no problem and its bytes contain no
    quote character, no NUL and no carriage return outside a CRLF line end.
    This function checks the header line, and `count_plain_rows` the rest.
    Neither checks the UTF-8 encoding, the number of fields per row or blank
    lines: COPY rejects a file with any of these. Return None when the header
    line is not plain or has a problem.
    """
    with open(path, "rb") as raw:
        header_bytes = raw.readline()
    if not _is_plain(header_bytes):
        return None
    try:
        header_line = header_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not header_line.strip():
        return None
    delimiter = detect_delimiter(header_line)
    header = [name.strip() for name in next(csv.reader([header_line], delimiter=delimiter))]
    indexes, problems = check_header(spec, header, mapping)
    if problems:
        return None
    return PlainCsv(delimiter, header, indexes, len(header_bytes), 0)


def count_plain_rows(
    path: str | os.PathLike, layout: PlainCsv, on_chunk: Callable[[int, int], None] | None = None
) -> int | None:
    """Return the number of lines after the header, or None when the bytes after it are not plain.

    The bytes are scanned in chunks without splitting them into rows, and a
    last line without a line end counts. Return None too when the lines contain
    more or fewer delimiters in total than lines of the header's width would.
    After each chunk `on_chunk` gets the line ends and the bytes of the file
    scanned so far.
    """
    line_ends = 0
    delimiters = 0
    delimiter = layout.delimiter.encode()
    last_byte = b"\n"
    with open(path, "rb") as raw:
        raw.seek(layout.data_offset)
        while chunk := raw.read(CHUNK_SIZE):
            if chunk.endswith(b"\r"):
                # Keep a CRLF line end in one chunk.
                chunk += raw.read(1)
            if not _is_plain(chunk):
                return None
            line_ends += chunk.count(b"\n")
            delimiters += chunk.count(delimiter)
            last_byte = chunk[-1:]
            if on_chunk is not None:
                on_chunk(line_ends, raw.tell())
    rows = line_ends + (0 if last_byte == b"\n" else 1)
    # Without quotes every delimiter byte separates two fields. DuckDB 2.0 reads a row that ends in
    # extra empty fields, such as "a,b,c,," under a header of three names, as a row of three fields,
    # while `CsvFile` rejects it. DuckDB rejects a row with too few fields, so a short row cannot make
    # up for a long one in this count.
    if delimiters != rows * (len(layout.header) - 1):
        return None
    return rows


class CsvFile:
    """A CSV file read row by row against a `ColumnSpec` and an optional column mapping.

    `rows()` yields (line number, {product column: stripped text}). Problems with
    the header, undecodable bytes, malformed quoting and rows with the wrong
    number of fields go to `errors`. A row with the wrong number of fields is
    skipped, while header problems and undecodable bytes stop the reading.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        spec: ColumnSpec,
        mapping: Mapping[str, str] | None,
        errors: ErrorCollector,
        on_progress: ProgressCallback | None = None,
    ):
        self.path = path
        self.spec = spec
        self.mapping = mapping
        self.errors = errors
        self.on_progress = on_progress
        self.total_bytes = os.path.getsize(path)
        self.rows_read = 0
        self.bytes_read = 0
        self.present_columns: set[str] = set()

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        with open(self.path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            try:
                header_line = text.readline()
            except UnicodeDecodeError:
                self._report_undecodable()
                return
            if not header_line.strip():
                self.errors.add(1, "", "", "the file is empty; expected a header line")
                return
            # In strict mode text after a closing quote is an error. Python's default joins it to the value,
            # so that "Prem"ium would read as Premium.
            reader = csv.reader(
                itertools.chain([header_line], text), delimiter=detect_delimiter(header_line), strict=True
            )
            try:
                header = [name.strip() for name in next(reader)]
            except csv.Error as error:
                self.errors.add(1, "", "", _malformed_reason(error))
                return
            indexes = self._resolve(header)
            if indexes is None:
                return
            self.present_columns = set(indexes)
            try:
                yield from self._data_rows(raw, reader, len(header), indexes)
            except UnicodeDecodeError:
                self._report_undecodable()
                return
        self.bytes_read = self.total_bytes
        if self.rows_read == 0 or self.rows_read % PROGRESS_EVERY:
            self._report_progress()

    def _resolve(self, header: list[str]) -> dict | None:
        indexes, problems = check_header(self.spec, header, self.mapping)
        for column, value, reason in problems:
            self.errors.add(1, column, value, reason)
        return None if problems else indexes

    def _data_rows(self, raw, reader, width: int, indexes: dict[str, int]):
        line = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                # The csv module stops inside the row, so the row's first line is named.
                self.errors.add(line + 1, "", "", _malformed_reason(error))
                if not _reading_resumes(error):
                    return
                # The reader drops the rest of the bad line and starts the next row on the line after it.
                self.rows_read += 1
                line = reader.line_num
                continue
            start, line = line + 1, reader.line_num
            if not any(field.strip() for field in row):
                continue
            self.rows_read += 1
            if self.rows_read % PROGRESS_EVERY == 0:
                self.bytes_read = raw.tell()
                self._report_progress()
            if len(row) != width:
                reason = f"expected {width} fields as in the header, found {len(row)}"
                if line > start:
                    # Only a quoted field carries a row past its line end, so a short row of several
                    # lines most likely has a quote that does not close where it should.
                    reason += f" (a quote in this row leaves a field open through line {line})"
                self.errors.add(start, "", "", reason)
                continue
            yield start, {name: row[index].strip() for name, index in indexes.items()}

    def _report_undecodable(self) -> None:
        """Report each record that is not UTF-8, with the column and value that contain the bad bytes.

        The text decoder reads ahead in blocks, so its error gives neither the line nor the field.
        The file is therefore read again with the bad bytes decoded as surrogates, through the same
        CSV reader, so CR line ends and quoted fields that span lines count as in `rows()`. Each
        record is reported at its first line, and fields of the header line get no column.
        """
        with open(self.path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            header_line = text.readline()
            reader = csv.reader(
                itertools.chain([header_line], text), delimiter=detect_delimiter(header_line), strict=True
            )
            names: dict[int, str] = {}
            line = 0
            try:
                for fields in reader:
                    start, line = line + 1, reader.line_num
                    if start == 1:
                        header = [name.strip() for name in fields]
                        indexes, _ = resolve_columns(self.spec, header, self.mapping)
                        names = dict(enumerate(header)) | {index: name for name, index in indexes.items()}
                    index = next((i for i, field in enumerate(fields) if _SURROGATE_RE.search(field)), None)
                    if index is not None:
                        column = names.get(index, "") if start > 1 else ""
                        self.errors.add(start, column, _escaped(fields[index].strip()), NOT_UTF8_REASON)
            except csv.Error as error:
                # The records before the malformed one are reported, but the rest cannot be split into fields.
                self.errors.add(line + 1, "", "", _malformed_reason(error))

    def _report_progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.rows_read, self.bytes_read, self.total_bytes)


def _reading_resumes(error: csv.Error) -> bool:
    """Return whether the rows after a malformed one can still be read and checked.

    Text after a closing quote spoils only its own line. A field over the size limit or a quote open
    at the end of the file leaves no row boundary to start again from.
    """
    return "expected after" in str(error)


def _malformed_reason(error: csv.Error) -> str:
    """Return the reason shown for a row that the csv module cannot split into fields."""
    message = str(error)
    if "field larger than field limit" in message:
        # The csv module does not say which field was too long.
        return f"a field is longer than {csv.field_size_limit():,} characters, the most a field may hold"
    if "expected after" in message:
        return (
            "malformed CSV: text follows the closing quote of a field; "
            "quote the whole value and double each quote in it"
        )
    if "unexpected end of data" in message:
        return "malformed CSV: a quote in this row is not closed before the end of the file"
    return f"malformed CSV: {message}"


# Bytes that are not UTF-8, decoded with the surrogateescape handler.
_SURROGATE_RE = re.compile("[\udc80-\udcff]")


def _escaped(text: str) -> str:
    """Show each byte that is not UTF-8 as a \\xNN escape and the rest as it is."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def parse_row(
    line: int,
    row: Mapping[str, str],
    parsers: Mapping[str, Callable[[str], object]],
    errors: ErrorCollector,
    optional: tuple[str, ...] = (),
) -> tuple[dict, bool]:
    """Parse the fields of one row and record every invalid one.

    Return (values, valid). An invalid field's value is None, so that checks
    across rows can still use the row's other fields. Fields named in
    `optional` are None when empty or absent instead of being parsed.
    """
    values = {}
    valid = True
    for column, parse in parsers.items():
        text = row.get(column, "")
        values[column] = None
        if column in optional and not text:
            continue
        if "\x00" in text:
            # The database cannot store a NUL in text, so the value is shown with the byte spelled out.
            errors.add(line, column, text.replace("\x00", "\\x00"), "contains a NUL byte, which text cannot hold")
            valid = False
            continue
        try:
            values[column] = parse(text)
        except InvalidValue as error:
            errors.add(line, column, text, str(error))
            valid = False
    return values, valid
