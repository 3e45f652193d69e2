"""The fast path of the MRR lines import on PostgreSQL: COPY of a plain file and checks in SQL.

`import_plain_mrr` loads the file's bytes with COPY into a table of text
columns and proves every value valid with SQL. It returns None whenever it
cannot, and the caller then reads the file row by row with `CsvFile`, which
accepts the file or names every invalid value. The SQL accepts a subset of
what the field parsers of `common.csvimport` accept: ASCII digits only, and
ids, products and other values whose first and last characters are printable
ASCII once spaces and tabs are trimmed. For such a value Python's `str.strip`
and the SQL's `btrim(value, ' \t')` give the same text.
"""

import csv
import dataclasses
import datetime
import logging
import os

from django.db import IntegrityError, connection, transaction

from common.csvimport import (
    AMOUNT_MAX_DIGITS,
    MAX_ID_LENGTH,
    PROGRESS_EVERY,
    QUANTITY_MAX_DIGITS,
    ColumnSpec,
    ErrorCollector,
    ImportRejected,
    ProgressCallback,
    scan_plain_csv,
)
from common.months import FIRST_YEAR, LAST_YEAR, parse_month
from retention.models import ChargeType

from .lines import ACCOUNT, MRR_LINE, SUBSCRIPTION, check_accounts_and_subscriptions, replace_months
from .staging import StagingTable

logger = logging.getLogger(__name__)

RAW_STAGE = "tamarind_stage_mrr_raw"
SUBSCRIPTION_STAGE = "tamarind_stage_mrr_subscriptions"
LINE_PRIMARY_KEY = "retention_mrrline_pkey"

# The staged text column of each product column; `check_accounts_and_subscriptions`
# reads line, account_ext and subscription_ext.
STAGE_NAMES = {
    "month": "month",
    "account_id": "account_ext",
    "subscription_id": "subscription_ext",
    "product": "product",
    "quantity": "quantity",
    "mrr": "mrr",
    "charge_type": "charge_type",
}
# Product and ids have the same length limit in the field parsers.
MAX_TEXT_LENGTH = MAX_ID_LENGTH


def trimmed(column: str) -> str:
    return f"btrim({column}, E' \\t')"


def valid_text(column: str) -> str:
    value = trimmed(column)
    return (
        f"(char_length({value}) BETWEEN 1 AND {MAX_TEXT_LENGTH}"
        f" AND ascii({value}) BETWEEN 33 AND 126 AND ascii(right({value}, 1)) BETWEEN 33 AND 126)"
    )


def valid_month(column: str) -> str:
    value = trimmed(column)
    return (
        f"(CASE WHEN {value} ~ '^[0-9]{{4}}-(0[1-9]|1[0-2])$'"
        f" THEN left({value}, 4)::integer BETWEEN {FIRST_YEAR} AND {LAST_YEAR} ELSE false END)"
    )


def valid_quantity(column: str) -> str:
    # Leading zeros do not count towards the digit limit, as in parse_quantity.
    return f"({trimmed(column)} ~ '^-?0*[0-9]{{1,{QUANTITY_MAX_DIGITS}}}$')"


def valid_amount(column: str) -> str:
    # The rule of parse_amount: leading zeros do not count towards the digit limit.
    return f"({trimmed(column)} ~ '^-?0*[0-9]{{1,{AMOUNT_MAX_DIGITS}}}([.][0-9]{{1,2}})?$')"


def valid_charge_type(column: str) -> str:
    # Under the "C" collation lower() changes only A to Z. Python's str.lower()
    # maps no other character to a letter of these words.
    names = ", ".join(f"'{value}'" for value in ChargeType.values)
    return f'(lower({trimmed(column)} COLLATE "C") IN ({names}))'


def padded(columns: list[str]) -> str:
    return "(" + " OR ".join(f"{column} <> {trimmed(column)}" for column in columns) + ")"


@dataclasses.dataclass
class Outcome:
    """Rows read, months replaced and counts of a finished import, for its summary."""

    rows_read: int
    months: list[datetime.date]
    counts: dict


def import_plain_mrr(
    path: str | os.PathLike,
    spec: ColumnSpec,
    columns: dict[str, str] | None,
    import_run_id: int | None,
    on_progress: ProgressCallback | None,
) -> Outcome | None:
    """Import a plain file with COPY and SQL checks; return None when the row-by-row import has to read it.

    Raise ImportRejected, with nothing stored, when every value is valid but
    an account is unknown or a subscription belongs to another account. The
    errors then name the same lines as the row-by-row import's.
    """
    if connection.vendor != "postgresql" or not _database_is_utf8():
        return None
    plain = scan_plain_csv(path, spec, columns)
    if plain is None:
        logger.info("import run %s: the file has quotes, NULs or lone carriage returns", import_run_id)
        return None

    if len(set(plain.indexes.values())) != len(plain.indexes):
        # The staging table has one column per file column, so it cannot hold one value under two names.
        logger.info("import run %s: two product columns read the same file column", import_run_id)
        return None
    names = {index: STAGE_NAMES[name] for name, index in plain.indexes.items()}
    stage_columns = [names.get(index, f"unused_{index}") for index in range(len(plain.header))]
    # Line 1 is the header and COPY keeps the file's order, so the identity is the line number.
    definition = [("line", "bigint GENERATED ALWAYS AS IDENTITY (START WITH 2)")]
    definition += [(column, "text") for column in stage_columns]
    with StagingTable(RAW_STAGE, definition) as stage:
        rows = _copy(stage, path, plain, stage_columns, on_progress)
        if rows is None:
            logger.info("import run %s: COPY rejected the file or read another number of rows", import_run_id)
            return None
        unused = [column for column in stage_columns if column not in STAGE_NAMES.values()]
        if _has_oversized_field(stage, unused):
            logger.info("import run %s: a field is longer than Python's CSV reader accepts", import_run_id)
            return None
        months = _check_values(stage)
        if months is None:
            logger.info("import run %s: a value needs the row-by-row checks", import_run_id)
            return None
        subscription_columns = [
            ("subscription_ext", "text"),
            ("account_ext", "text"),
            ("other_account_ext", "text"),
            ("rows_without_account", "bigint"),
        ]
        with StagingTable(SUBSCRIPTION_STAGE, subscription_columns) as subscriptions:
            if not _check_ids(stage, subscriptions):
                logger.info("import run %s: an id needs the row-by-row checks", import_run_id)
                return None
            if _listed_under_two_accounts(subscriptions):
                # Some account ids of such a subscription were not checked.
                logger.info("import run %s: a subscription is listed under two accounts", import_run_id)
                return None
            if _accounts_conflict(subscriptions):
                errors = ErrorCollector()
                check_accounts_and_subscriptions(stage, errors)
                logger.info("import run %s rejected: %d invalid values in %d rows", import_run_id, errors.count, rows)
                raise ImportRejected(errors)
            counts = {"lines_stored": 0, "subscriptions_created": 0}
            if months:
                counts = replace_months(subscriptions, months, lambda: _write_lines(stage), import_run_id)
    return Outcome(rows, months, counts)


def _has_oversized_field(stage: StagingTable, columns: list[str]) -> bool:
    """Return True when a column that the import does not read contains a field the row-by-row reader rejects.

    Python's csv module rejects a field longer than its field size limit. The
    columns the import reads fail the SQL length checks long before that.
    """
    if not columns:
        return False
    too_long = " OR ".join(f"char_length({column}) > %s" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {stage.name} WHERE {too_long})", [csv.field_size_limit()] * len(columns)
        )
        return cursor.fetchone()[0]


def _database_is_utf8() -> bool:
    # COPY checks the bytes against the server encoding, which must be UTF-8 as the file is.
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_encoding")
        return cursor.fetchone()[0] == "UTF8"


def _copy(stage, path, plain, stage_columns, on_progress) -> int | None:
    """COPY the file, reporting progress every PROGRESS_EVERY rows as `CsvFile` does."""
    total_bytes = os.path.getsize(path)
    reported = 0

    def report(rows: int, bytes_read: int) -> None:
        nonlocal reported
        if on_progress is None:
            return
        for rows_so_far in range(reported + PROGRESS_EVERY, rows + 1, PROGRESS_EVERY):
            on_progress(rows_so_far, bytes_read, total_bytes)
            reported = rows_so_far

    rows = stage.copy_plain_csv(path, plain, stage_columns, report)
    # COPY reads a line that is only "\." as the end of the data, and any other
    # difference in line splitting would also show in the count.
    if rows is None or rows != plain.data_rows:
        return None
    if on_progress is not None and (rows == 0 or rows % PROGRESS_EVERY):
        on_progress(rows, total_bytes, total_bytes)
    return rows


def _check_values(stage: StagingTable) -> list[datetime.date] | None:
    """Return the file's months when every month, product, quantity, amount and charge type is valid, else None.

    The checks run on the distinct combinations of these columns, which are
    far fewer than the rows.
    """
    columns = ["month", "product", "quantity", "mrr", "charge_type"]
    valid = " AND ".join(
        [
            valid_month("month"),
            valid_text("product"),
            valid_quantity("quantity"),
            valid_amount("mrr"),
            valid_charge_type("charge_type"),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {trimmed("month")}, bool_and(({valid}) IS TRUE), bool_or({padded(columns)}) IS TRUE
            FROM (SELECT {", ".join(columns)} FROM {stage.name} GROUP BY {", ".join(columns)}) combination
            GROUP BY 1"""
        )
        found = cursor.fetchall()
    if not all(all_valid for _, all_valid, _ in found):
        return None
    if any(any_padded for _, _, any_padded in found):
        _trim(stage)
    return sorted({parse_month(month) for month, _, _ in found})


def _trim(stage: StagingTable) -> None:
    # Values were checked trimmed; store them trimmed, as the field parsers return them.
    columns = list(STAGE_NAMES.values())
    assignments = ", ".join(f"{column} = {trimmed(column)}" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {stage.name} SET {assignments} WHERE {padded(columns)}")


def _check_ids(stage: StagingTable, subscriptions: StagingTable) -> bool:
    """Fill the table of subscriptions with their accounts; return whether every id checked is valid.

    Each subscription gets the lowest and highest account id of its rows, and
    only these two are checked. When they are equal for every subscription,
    every account id of the file has been checked.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {subscriptions.name}
            SELECT subscription_ext, MIN(account_ext), MAX(account_ext), COUNT(*) - COUNT(account_ext)
            FROM {stage.name} GROUP BY subscription_ext"""
        )
        valid = " AND ".join(
            [
                valid_text("subscription_ext"),
                valid_text("account_ext"),
                valid_text("other_account_ext"),
                "rows_without_account = 0",
            ]
        )
        cursor.execute(
            f"""
            SELECT COALESCE(bool_and(({valid}) IS TRUE), true),
                   COALESCE(bool_or({padded(["subscription_ext", "account_ext", "other_account_ext"])}), false)
            FROM {subscriptions.name}"""
        )
        all_valid, any_padded = cursor.fetchone()
        if all_valid and any_padded:
            # Values of other columns were trimmed already; ids differ only once trimmed.
            _trim(stage)
            cursor.execute(f"TRUNCATE {subscriptions.name}")
            cursor.execute(
                f"""
                INSERT INTO {subscriptions.name}
                SELECT subscription_ext, MIN(account_ext), MAX(account_ext), 0
                FROM {stage.name} GROUP BY subscription_ext"""
            )
    return all_valid


def _listed_under_two_accounts(subscriptions: StagingTable) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {subscriptions.name} WHERE account_ext <> other_account_ext)")
        return cursor.fetchone()[0]


def _accounts_conflict(subscriptions: StagingTable) -> bool:
    """Return whether a row has an unknown account or a subscription stored under another account.

    Each is an error of `check_accounts_and_subscriptions`. Every subscription
    of the table is listed under one account.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT EXISTS (SELECT 1 FROM {subscriptions.name} s
                           WHERE NOT EXISTS (SELECT 1 FROM {ACCOUNT} a WHERE a.external_id = s.account_ext))
                OR EXISTS (SELECT 1 FROM {subscriptions.name} s
                           JOIN {SUBSCRIPTION} sub ON sub.external_id = s.subscription_ext
                           JOIN {ACCOUNT} a ON a.id = sub.account_id
                           WHERE a.external_id <> s.account_ext)"""
        )
        return cursor.fetchone()[0]


def _write_lines(stage: StagingTable) -> int:
    """Insert one MRR line per staged row, or add rows up when the file repeats a key.

    Adding up needs a GROUP BY over every row, so the insert first runs
    without one and falls back to it when the primary key rejects a
    repeated month, subscription, product and charge type.
    """
    month = "to_date(st.month, 'YYYY-MM')"
    charge_type = 'lower(st.charge_type COLLATE "C")'
    # Amounts have at most two decimals, so numeric arithmetic gives whole cents exactly.
    cents = "(st.mrr::numeric * 100)::bigint"
    source = f"FROM {stage.name} st JOIN {SUBSCRIPTION} sub ON sub.external_id = st.subscription_ext"
    target = f"INSERT INTO {MRR_LINE} (month, subscription_id, product, quantity, mrr, charge_type)"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        try:
            with transaction.atomic():
                # Rows in the primary key's order append to its pages instead of landing all over it.
                cursor.execute(
                    f"{target} SELECT {month}, sub.id, st.product, st.quantity::bigint, {cents}, {charge_type} {source}"
                    " ORDER BY 1, 2, 3, 6"
                )
                return max(cursor.rowcount, 0)
        except IntegrityError as error:
            if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) != LINE_PRIMARY_KEY:
                raise
        cursor.execute(
            f"""{target}
            SELECT {month}, sub.id, st.product, SUM(st.quantity::bigint), SUM({cents}), {charge_type} {source}
            GROUP BY 1, 2, 3, 6"""
        )
        return max(cursor.rowcount, 0)
