"""The journeys import: one journey per row, created or updated by account, transaction date and kind.

All rows or none: every invalid value is reported with its line, column, value
and reason, and nothing is stored unless the whole file is valid.
"""

import datetime
import itertools
import logging
import os
import time

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account
from audit.models import AuditAction
from common.csvimport import (
    ColumnSpec,
    CsvFile,
    ErrorCollector,
    ImportRejected,
    InvalidValue,
    ProgressCallback,
    RowError,
    parse_date,
    parse_id,
    parse_row,
)
from common.queries import VALUES_PER_QUERY
from retention.importing.staging import StagingTable

from .audit import record_journeys_import
from .models import FirstValueBasis, InfrastructureType, Journey, JourneyKind, JourneyTask, Milestone, Objective
from .plan_selectors import objectives_govern_outcome
from .rules import completion_date_problem, ten_percent_problem
from .services import mark_overdue

logger = logging.getLogger(__name__)

MILESTONE_COLUMNS = tuple(milestone.value for milestone in Milestone)
JOURNEY_COLUMNS = ColumnSpec(
    required=(
        "account_id",
        "transaction_date",
        "licenses",
        *MILESTONE_COLUMNS,
        "infrastructure_type",
        "first_value_basis",
    ),
    optional=("kind", "first_value_users"),
)
LICENSES_MAX_DIGITS = 9
ACCOUNT = Account._meta.db_table
JOURNEY = Journey._meta.db_table
TASK = JourneyTask._meta.db_table
OBJECTIVE = Objective._meta.db_table


def parse_kind(text: str) -> str:
    if text == "":
        return JourneyKind.NEW
    if text.lower() not in JourneyKind.values:
        raise InvalidValue("unknown kind; expected new or expansion, or empty for new")
    return text.lower()


def parse_count(what: str, minimum: int):
    """Return a parser for a whole number of at least `minimum`, naming `what` in its reasons."""

    def parse(text: str) -> int:
        if not text.isdigit() or not text.isascii():
            raise InvalidValue(f"expected a whole number of {what}, e.g. 250")
        if len(text.lstrip("0")) > LICENSES_MAX_DIGITS:
            raise InvalidValue(f"expected a whole number of {what} of at most {LICENSES_MAX_DIGITS} digits")
        if int(text) < minimum:
            raise InvalidValue(f"expected at least {minimum} {what}")
        return int(text)

    return parse


def parse_choice(choices: type, names: str):
    def parse(text: str) -> str:
        if text not in choices.values:
            raise InvalidValue(f"unknown value; expected one of {names}")
        return text

    return parse


PARSERS = {
    "account_id": parse_id,
    "transaction_date": parse_date,
    "kind": parse_kind,
    "licenses": parse_count("licenses", 1),
    **{column: parse_date for column in MILESTONE_COLUMNS},
    "infrastructure_type": parse_choice(InfrastructureType, "on_premises, saas, hybrid"),
    "first_value_basis": parse_choice(FirstValueBasis, "licenses_10pct, team, region"),
    "first_value_users": parse_count("users", 0),
}
OPTIONAL_CELLS = (*MILESTONE_COLUMNS, "infrastructure_type", "first_value_basis", "first_value_users")
STAGE_COLUMNS = [
    ("line", "bigint"),
    ("account_ext", "varchar(100)"),
    ("transaction_date", "date"),
    ("kind", "varchar(20)"),
    ("licenses", "bigint"),
    *[(column, "date") for column in MILESTONE_COLUMNS],
    ("infrastructure_type", "varchar(20)"),
    ("first_value_basis", "varchar(20)"),
    ("first_value_users", "bigint"),
]


def _check_row(line: int, row: dict, values: dict, errors: ErrorCollector, today: datetime.date) -> None:
    """Add the errors that span fields of one row: dates against the transaction, pairs that go together."""
    transaction_date = values["transaction_date"]
    if transaction_date is not None and transaction_date > today:
        errors.add(line, "transaction_date", row["transaction_date"], "date in the future")
    for column in MILESTONE_COLUMNS:
        day = values[column]
        if day is not None and transaction_date is not None:
            problem = completion_date_problem(day, transaction_date, today)
            if problem:
                errors.add(line, column, row[column], problem)
    pairs = [
        ("infrastructure_ready", "infrastructure_type", "on_premises, saas or hybrid"),
        ("first_value", "first_value_basis", "licenses_10pct, team or region"),
    ]
    for date_column, detail_column, names in pairs:
        if row.get(date_column) and not row.get(detail_column):
            errors.add(line, detail_column, "", f"missing value: {date_column} is set, so give {names}")
        if row.get(detail_column) and not row.get(date_column):
            errors.add(line, detail_column, row[detail_column], f"{date_column} is empty; leave this empty too")
    users = values.get("first_value_users")
    if values["first_value_basis"] == FirstValueBasis.LICENSES_10PCT and values["licenses"] is not None:
        if users is None and not row.get("first_value_users"):
            reason = "missing value: the licenses_10pct basis needs the users in production"
            if "first_value_users" not in row:
                reason = (
                    "missing column: add first_value_users, because the licenses_10pct basis needs the users in "
                    "production"
                )
            errors.add(line, "first_value_users", "", reason)
        elif users is not None:
            problem = ten_percent_problem(users, values["licenses"])
            if problem:
                errors.add(line, "first_value_users", row["first_value_users"], problem)


def import_journeys(
    path: str | os.PathLike,
    *,
    columns: dict[str, str] | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Create or update journeys from a CSV file, all rows or none; return rows_read, created, updated.

    An existing journey is found by account, transaction date and kind. An
    empty milestone cell means not reached. Raise ImportRejected, with nothing
    stored, when any value is invalid.
    """
    started = time.monotonic()
    today = timezone.localdate()
    errors = ErrorCollector()
    csv_file = CsvFile(path, JOURNEY_COLUMNS, columns, errors, on_progress)
    with StagingTable("tamarind_stage_journeys", STAGE_COLUMNS, indexes=("account_ext",)) as stage:
        for line, row in csv_file.rows():
            values, _ = parse_row(line, row, PARSERS, errors, optional=OPTIONAL_CELLS)
            _check_row(line, row, values, errors, today)
            stage.add(
                (line, values["account_id"], values["transaction_date"], values["kind"], values["licenses"])
                + tuple(values[column] for column in MILESTONE_COLUMNS)
                + (values["infrastructure_type"], values["first_value_basis"], values["first_value_users"])
            )
        stage.close_loading()
        _check_across_rows(stage, errors)
        if errors:
            logger.info("journeys import rejected: %d invalid values in %d rows", errors.count, csv_file.rows_read)
            with transaction.atomic():
                record_journeys_import(
                    AuditAction.IMPORT_REJECTED,
                    path,
                    {"rows_read": csv_file.rows_read, "invalid_values": errors.count},
                    started,
                )
            raise ImportRejected(errors)
        with transaction.atomic():
            created, updated = _write(stage)
            record_journeys_import(
                AuditAction.IMPORT_FINISHED,
                path,
                {"rows_read": csv_file.rows_read, "journeys_created": created, "journeys_updated": updated},
                started,
            )
    logger.info(
        "journeys import stored %d new and %d updated journeys from %d rows in %.1f s",
        created,
        updated,
        csv_file.rows_read,
        time.monotonic() - started,
    )
    return {
        "rows_read": csv_file.rows_read,
        "journeys_created": created,
        "journeys_updated": updated,
        "warnings": [] if csv_file.rows_read else ["The file has no data rows, so nothing was changed."],
    }


def _check_across_rows(stage: StagingTable, errors: ErrorCollector) -> None:
    unknown_accounts = f"""
        SELECT s.line, s.account_ext FROM {stage.name} s
        WHERE s.account_ext IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {ACCOUNT} a WHERE a.external_id = s.account_ext)"""
    errors.add_counted(
        *stage.fetch_errors(unknown_accounts, [], lambda row: RowError(row[0], "account_id", row[1], "unknown account"))
    )
    duplicates = f"""
        SELECT s.line, s.account_ext, f.line FROM {stage.name} s
        JOIN (SELECT account_ext, transaction_date, kind, MIN(line) AS line FROM {stage.name}
              GROUP BY account_ext, transaction_date, kind) f
          ON f.account_ext = s.account_ext AND f.transaction_date = s.transaction_date AND f.kind = s.kind
        WHERE s.line <> f.line"""
    errors.add_counted(
        *stage.fetch_errors(
            duplicates,
            [],
            lambda row: RowError(
                row[0],
                "account_id",
                row[1],
                f"duplicate journey: same account, transaction_date and kind as line {row[2]}",
            ),
        )
    )
    # A journey with onboarding tasks takes its onboarding date from them.
    task_driven = f"""
        SELECT s.line, s.onboarding, j.onboarding_date FROM {stage.name} s
        JOIN {ACCOUNT} a ON a.external_id = s.account_ext
        JOIN {JOURNEY} j ON j.account_id = a.id AND j.transaction_date = s.transaction_date AND j.kind = s.kind
        WHERE s.onboarding IS NOT NULL
          AND EXISTS (SELECT 1 FROM {TASK} t WHERE t.journey_id = j.id)
          AND (j.onboarding_date IS NULL OR j.onboarding_date <> s.onboarding)"""
    errors.add_counted(
        *stage.fetch_errors(
            task_driven,
            [],
            lambda row: RowError(
                row[0],
                "onboarding",
                _as_date(row[1]).isoformat(),
                "the journey has onboarding tasks, which set this date; leave the cell empty"
                + (f" or write {_as_date(row[2]).isoformat()}" if row[2] else ""),
            ),
        )
    )

    # A journey with original-intent objectives takes its Outcome Achieved date from them.
    objective_driven = f"""
        SELECT s.line, s.outcome_achieved, j.outcome_achieved_date FROM {stage.name} s
        JOIN {ACCOUNT} a ON a.external_id = s.account_ext
        JOIN {JOURNEY} j ON j.account_id = a.id AND j.transaction_date = s.transaction_date AND j.kind = s.kind
        WHERE s.outcome_achieved IS NOT NULL
          AND EXISTS (SELECT 1 FROM {OBJECTIVE} o WHERE o.journey_id = j.id AND o.original_intent)
          AND (j.outcome_achieved_date IS NULL OR j.outcome_achieved_date <> s.outcome_achieved)"""
    errors.add_counted(
        *stage.fetch_errors(
            objective_driven,
            [],
            lambda row: RowError(
                row[0],
                "outcome_achieved",
                _as_date(row[1]).isoformat(),
                "the journey's original-intent objectives set this date; leave the cell empty"
                + (f" or write {_as_date(row[2]).isoformat()}" if row[2] else ""),
            ),
        )
    )


def _as_date(value) -> datetime.date | None:
    """Return a staged date: PostgreSQL returns a date, SQLite its ISO text."""
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(value)


def _write(stage: StagingTable) -> tuple[int, int]:
    """Create or update one journey per staged row; each save records its history."""
    # NOTE: a few queries per row, so a file of many thousand journeys takes
    # seconds; the history table needs a record per journey anyway.
    names = [column for column, _ in STAGE_COLUMNS]
    created = updated = 0
    saved_ids = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(names)} FROM {stage.name} ORDER BY line")
            staged = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        account_ids = sorted({row["account_ext"] for row in staged})
        accounts = {
            account.external_id: account
            for chunk in itertools.batched(account_ids, VALUES_PER_QUERY)
            for account in Account.objects.filter(external_id__in=chunk)
        }
        for row in staged:
            account = accounts[row["account_ext"]]
            journey = Journey.objects.filter(
                account=account, transaction_date=_as_date(row["transaction_date"]), kind=row["kind"]
            ).first()
            has_tasks = journey is not None and journey.tasks.exists()
            has_intent = journey is not None and objectives_govern_outcome(journey)
            if journey is None:
                journey = Journey(
                    account=account,
                    transaction_date=_as_date(row["transaction_date"]),
                    kind=row["kind"],
                    tam=account.tam,
                )
                created += 1
            else:
                updated += 1
            journey.licenses = row["licenses"]
            for milestone in Milestone:
                if milestone == Milestone.ONBOARDING and has_tasks:
                    continue
                if milestone == Milestone.OUTCOME_ACHIEVED and has_intent:
                    continue
                setattr(journey, milestone.date_field, _as_date(row[milestone.value]))
            journey.infrastructure_type = row["infrastructure_type"] or ""
            journey.first_value_basis = row["first_value_basis"] or ""
            journey.first_value_users = row["first_value_users"]
            journey.save()
            saved_ids.append(journey.pk)
        today = timezone.localdate()
        for chunk in itertools.batched(saved_ids, VALUES_PER_QUERY):
            mark_overdue(today, journey_ids=chunk)
    return created, updated
