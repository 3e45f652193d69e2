"""The cost-rate import and export: CSV in, all rows or none; JSON or CSV out."""

import logging
import os
import re
import time
from decimal import Decimal

from django.db import transaction

from audit.models import AuditAction, ObjectType
from audit.services import record
from common.csvimport import (
    ColumnSpec,
    CsvFile,
    ErrorCollector,
    ImportRejected,
    InvalidValue,
    ProgressCallback,
    parse_amount,
    parse_row,
)
from common.fiscal import FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR, FiscalQuarter, parse_quarter
from common.money import format_money

from . import selectors
from .models import CostRate, ServiceRole
from .services import save_rate

logger = logging.getLogger(__name__)

RATE_COLUMNS = ColumnSpec(required=("role", "fiscal_quarter", "ote", "benefits", "billable_hours"))
_HOURS_RE = re.compile(r"^\d{1,4}$")
# A leap year has 8784 hours; more billable hours than that is a typo.
MAX_BILLABLE_HOURS = 8784


def parse_fiscal_quarter(text: str) -> FiscalQuarter:
    try:
        return parse_quarter(text)
    except ValueError:
        raise InvalidValue(
            f"unknown fiscal quarter: expected FYyyyy-Qn with a year from {FIRST_FISCAL_YEAR} to {LAST_FISCAL_YEAR} "
            "and n from 1 to 4, e.g. FY2027-Q1"
        ) from None


def parse_non_negative_amount(text: str) -> Decimal:
    amount = parse_amount(text)
    if amount < 0:
        raise InvalidValue("negative amount: expected zero or more")
    return amount


def parse_billable_hours(text: str) -> int:
    if not _HOURS_RE.match(text):
        raise InvalidValue("expected a whole number of hours, e.g. 1880")
    hours = int(text)
    if not 0 < hours <= MAX_BILLABLE_HOURS:
        raise InvalidValue(f"expected billable hours from 1 to {MAX_BILLABLE_HOURS}")
    return hours


def import_cost_rates(
    path: str | os.PathLike,
    *,
    columns: dict[str, str] | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Create or update the rate of each row's role and quarter, all rows or none.

    Roles must exist already, matched by name without regard to case. Return
    the summary: rows_read, rates_created, rates_updated, rates_unchanged.
    Raise ImportRejected, with nothing stored, when any row is invalid.
    """
    started = time.monotonic()
    errors = ErrorCollector()
    roles = {role.name.casefold(): role for role in ServiceRole.objects.all()}

    def parse_role(text: str) -> ServiceRole:
        if not text:
            raise InvalidValue("missing role")
        try:
            return roles[text.casefold()]
        except KeyError:
            names = ", ".join(sorted(role.name for role in roles.values())) or "none"
            raise InvalidValue(f"unknown role; the roles are: {names}") from None

    parsers = {
        "role": parse_role,
        "fiscal_quarter": parse_fiscal_quarter,
        "ote": parse_non_negative_amount,
        "benefits": parse_non_negative_amount,
        "billable_hours": parse_billable_hours,
    }
    csv_file = CsvFile(path, RATE_COLUMNS, columns, errors, on_progress)
    # Rate files have one row per role and quarter, a few hundred at most, so the rows are kept in memory.
    rows = []
    first_line: dict[tuple[int, FiscalQuarter], int] = {}
    for line, row in csv_file.rows():
        values, valid = parse_row(line, row, parsers, errors)
        if not valid:
            continue
        key = (values["role"].pk, values["fiscal_quarter"])
        if key in first_line:
            errors.add(
                line,
                "fiscal_quarter",
                row["fiscal_quarter"],
                f"duplicate rate of {values['role']} in {values['fiscal_quarter']}, first on line {first_line[key]}",
            )
            continue
        first_line[key] = line
        rows.append(values)
    if errors:
        logger.info("cost rate import of %s rejected: %d invalid values", path, errors.count)
        with transaction.atomic():
            _record_import(
                AuditAction.IMPORT_REJECTED,
                path,
                {"rows_read": csv_file.rows_read, "invalid_values": errors.count},
                started,
            )
        raise ImportRejected(errors)

    created = updated = unchanged = 0
    reason = f"imported from {os.path.basename(path)}"
    with transaction.atomic():
        existing = {
            (rate.role_id, rate.quarter_start): rate
            for rate in CostRate.objects.select_for_update().filter(
                quarter_start__in={values["fiscal_quarter"].start for values in rows}
            )
        }
        for values in rows:
            quarter = values["fiscal_quarter"]
            rate = existing.get((values["role"].pk, quarter.start))
            if rate is not None and (rate.ote, rate.benefits, rate.billable_hours) == (
                values["ote"],
                values["benefits"],
                values["billable_hours"],
            ):
                unchanged += 1
                continue
            save_rate(
                role=values["role"],
                quarter=quarter,
                ote=values["ote"],
                benefits=values["benefits"],
                billable_hours=values["billable_hours"],
                user=None,
                rate=rate,
                reason=reason,
            )
            if rate is None:
                created += 1
            else:
                updated += 1
        counts = {"rates_created": created, "rates_updated": updated, "rates_unchanged": unchanged}
        _record_import(AuditAction.IMPORT_FINISHED, path, {"rows_read": csv_file.rows_read, **counts}, started)
    logger.info("cost rate import of %s: %d created, %d updated, %d unchanged", path, created, updated, unchanged)
    return {
        "rows_read": csv_file.rows_read,
        "rates_created": created,
        "rates_updated": updated,
        "rates_unchanged": unchanged,
    }


def _record_import(action: str, path: str | os.PathLike, details: dict, started: float) -> None:
    record(
        action,
        object_type=ObjectType.IMPORT,
        label=f"Cost rates import of {os.path.basename(path)}",
        details={"kind": "cost_rates", **details, "seconds": round(time.monotonic() - started, 1)},
    )


def export_rates(quarter: FiscalQuarter) -> list[dict]:
    """Return the rates of `quarter`, by role name, with amounts as decimal strings."""
    return [
        {
            "role": rate.role.name,
            "fiscal_quarter": quarter.label,
            "ote": format_money(rate.ote),
            "benefits": format_money(rate.benefits),
            "billable_hours": rate.billable_hours,
            "hourly_cost": format_money(rate.hourly_cost),
        }
        for rate in selectors.rates_in_quarter(quarter)
    ]
