"""Writes of the services-cost app: roles, rates, the quarter copy, and estimates from draft to finished.

Every function validates its input and raises `ValidationError` naming the
field, with nothing stored, before it writes. Changes of roles, rates and
estimates are recorded by django-simple-history with the acting user, and
changes of rates also in the audit log.
"""

import dataclasses
import datetime
import logging
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, User
from audit.models import AuditAction, ObjectType
from audit.services import changes, record
from common.csvexport import FORMULA_PREFIXES
from common.edits import check_unchanged
from common.fiscal import FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR, FiscalQuarter, quarter_of

from . import selectors
from .models import CostEstimate, CostRate, EstimateLine, EstimateStatus, ServiceRole

logger = logging.getLogger(__name__)

# A draft identical to one the same user created this recently is taken for the same form sent again, as a
# double click or a reload after posting does, and is not stored twice.
RESUBMIT_WINDOW = datetime.timedelta(minutes=10)

# Limits that keep every amount inside the 64-bit cents columns and the hours inside their DecimalField.
MAX_AMOUNT = Decimal("9999999999.99")
MAX_LINE_HOURS = Decimal("999999.99")


def _attribute(instance, user: User | None, reason: str = "") -> None:
    """Record `user` and `reason` on the history entry that the next save writes."""
    instance._history_user = user
    if reason:
        instance._change_reason = reason


def check_amount(field: str, value: Decimal, label: str) -> None:
    if value < 0:
        raise ValidationError({field: f"{label} must not be negative, got {value}."})
    if value > MAX_AMOUNT:
        raise ValidationError({field: f"{label} must be at most {MAX_AMOUNT}, got {value}."})
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError({field: f"{label} must have at most two decimal places, got {value}."})


def check_estimate_date(day: datetime.date) -> None:
    """Reject a date outside the accepted years: late in 9999 a fiscal year can end past `datetime.date`'s range."""
    if not FIRST_FISCAL_YEAR <= day.year <= LAST_FISCAL_YEAR:
        raise ValidationError(
            {
                "estimate_date": f"The estimate date must be in a year from {FIRST_FISCAL_YEAR} to "
                f"{LAST_FISCAL_YEAR}, got {day.isoformat()}."
            }
        )


def check_billable_hours(value: int) -> None:
    if value <= 0:
        raise ValidationError({"billable_hours": f"Billable hours must be a whole number above zero, got {value}."})


# Roles


def create_role(*, name: str, user: User | None) -> ServiceRole:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "The role needs a name."})
    if name.startswith(FORMULA_PREFIXES):
        raise ValidationError(
            {"name": f"A role name may not start with {name[0]!r}, which spreadsheets read as a formula."}
        )
    role_exists_error = ValidationError({"name": f"A role named {name} exists already."})
    if ServiceRole.objects.filter(name__iexact=name).exists():
        raise role_exists_error
    role = ServiceRole(name=name)
    _attribute(role, user)
    try:
        with transaction.atomic():
            role.save()
    except IntegrityError:
        # Another request created a role of the same name after the check above.
        if not ServiceRole.objects.filter(name=name).exists():
            raise
        raise role_exists_error from None
    return role


# Rates


def save_rate(
    *,
    role: ServiceRole,
    quarter: FiscalQuarter,
    ote: Decimal,
    benefits: Decimal,
    billable_hours: int,
    user: User | None,
    rate: CostRate | None = None,
    reason: str = "",
    opened_version: int | None = None,
) -> CostRate:
    """Create the rate of `role` in `quarter`, or change `rate`; the role and quarter of an existing rate stay.

    With `opened_version`, raise EditConflict when `rate` was saved after the form opened it.
    """
    check_amount("ote", ote, "OTE")
    check_amount("benefits", benefits, "Benefits")
    check_billable_hours(billable_hours)
    rate_exists_error = ValidationError({"role": f"{role} has a rate in {quarter} already; edit that rate instead."})
    if rate is None:
        existing = CostRate.objects.filter(role=role, quarter_start=quarter.start).first()
        if existing is not None:
            if (existing.ote, existing.benefits, existing.billable_hours) == (ote, benefits, billable_hours):
                # The same new rate sent twice, as a double click does: the first request stored it.
                return existing
            raise rate_exists_error
        rate = CostRate(role=role, quarter_start=quarter.start)
    elif rate.ote == ote and rate.benefits == benefits and rate.billable_hours == billable_hours:
        return rate
    before = _rate_values(rate) if rate.pk else {}
    rate.ote = ote
    rate.benefits = benefits
    rate.billable_hours = billable_hours
    _attribute(rate, user, reason)
    try:
        with transaction.atomic():
            if before:
                locked = CostRate.objects.select_for_update().get(pk=rate.pk)
                check_unchanged(locked, opened_version, f"The rate of {rate}")
            rate.save()
            _record_rate(AuditAction.RATE_CHANGED if before else AuditAction.RATE_CREATED, rate, before, user, reason)
    except IntegrityError:
        # Another request created the same role's rate in the quarter after the check above.
        if before or not CostRate.objects.filter(role=role, quarter_start=quarter.start).exists():
            raise
        raise rate_exists_error from None
    logger.info("cost rate %s (%s %s) saved by user %s", rate.pk, role.pk, quarter, user.pk if user else None)
    return rate


@dataclasses.dataclass(frozen=True)
class CopyResult:
    source: FiscalQuarter
    target: FiscalQuarter
    copied: int
    kept: int


def copy_rates_to_next_quarter(*, source: FiscalQuarter, user: User | None) -> CopyResult:
    """Copy every rate of `source` into the quarter after it.

    A role that already has a rate in the next quarter keeps it, so running the
    copy twice changes nothing the second time.
    """
    target = source.next()
    if not target.in_range:
        message = f"{source} is the last quarter a rate may have, so no quarter follows it to copy into."
        raise ValidationError({"quarter": message})
    rates = list(selectors.rates_in_quarter(source))
    if not rates:
        raise ValidationError({"quarter": f"{source} has no rates to copy."})
    with transaction.atomic():
        taken = set(
            CostRate.objects.select_for_update().filter(quarter_start=target.start).values_list("role_id", flat=True)
        )
        copied = 0
        for rate in rates:
            if rate.role_id in taken:
                continue
            copy = CostRate(
                role=rate.role,
                quarter_start=target.start,
                ote=rate.ote,
                benefits=rate.benefits,
                billable_hours=rate.billable_hours,
            )
            _attribute(copy, user, f"copied from {source}")
            copy.save()
            _record_rate(AuditAction.RATE_CREATED, copy, {}, user, f"copied from {source}")
            copied += 1
    logger.info("copied %d cost rates from %s to %s (user %s)", copied, source, target, user.pk if user else None)
    return CopyResult(source=source, target=target, copied=copied, kept=len(rates) - copied)


class RateInUse(ValidationError):
    """The rate is part of a finished estimate and may not be deleted."""


def delete_rate(*, rate: CostRate, user: User | None) -> None:
    """Delete a rate unless a finished estimate used it; drafts that use its role then show a missing rate."""
    used_by = list(selectors.finished_estimates_using(rate)[:4])
    if used_by:
        titles = ", ".join(f"“{estimate.title}”" for estimate in used_by[:3])
        more = " and others" if len(used_by) > 3 else ""
        raise RateInUse(
            f"The rate of {rate.role} in {rate.quarter} cannot be deleted: the finished estimate(s) {titles}{more} "
            "used it. Change the rate instead, or duplicate those estimates as drafts."
        )
    _attribute(rate, user)
    rate_id = rate.pk
    with transaction.atomic():
        _record_rate(AuditAction.RATE_DELETED, rate, _rate_values(rate), user, deleted=True)
        rate.delete()
    logger.info("cost rate %s deleted by user %s", rate_id, user.pk if user else None)


def _rate_values(rate: CostRate) -> dict:
    return {"ote": rate.ote, "benefits": rate.benefits, "billable_hours": rate.billable_hours}


def _record_rate(action: str, rate: CostRate, before: dict, user: User | None, reason: str = "", deleted=False) -> None:
    """Record a rate's creation, change or deletion with its amounts before and after, in the caller's transaction."""
    after = {} if deleted else _rate_values(rate)
    changed = {field: [value, None] for field, value in before.items()} if deleted else changes(before, after)
    details = {"role": rate.role.name, "quarter": str(rate.quarter), "changes": changed}
    if reason:
        details["reason"] = reason
    record(action, object_type=ObjectType.COST_RATE, object_id=rate.pk, label=str(rate), details=details, user=user)


# Estimates


@dataclasses.dataclass(frozen=True)
class LineInput:
    role: ServiceRole
    hours: Decimal
    description: str = ""


def _check_estimate(
    *, account: Account, estimate_date: datetime.date, price: Decimal, lines: list[LineInput], title: str
) -> None:
    if not title.strip():
        raise ValidationError({"title": "The estimate needs a title."})
    check_amount("price", price, "Price")
    check_estimate_date(estimate_date)
    if not lines:
        raise ValidationError({"lines": "The estimate needs at least one line."})
    for number, line in enumerate(lines, start=1):
        if line.hours <= 0:
            raise ValidationError({"hours": f"Line {number}: hours must be above zero, got {line.hours}."})
        if line.hours > MAX_LINE_HOURS:
            raise ValidationError({"hours": f"Line {number}: hours must be at most {MAX_LINE_HOURS}."})
    missing = selectors.missing_rates({line.role.pk for line in lines}, quarter_of(estimate_date))
    if missing:
        raise ValidationError({"role": [str(item) for item in missing]})


def _write_lines(estimate: CostEstimate, lines: list[LineInput]) -> None:
    estimate.lines.all().delete()
    EstimateLine.objects.bulk_create(
        EstimateLine(
            estimate=estimate,
            role=line.role,
            hours=line.hours,
            description=line.description.strip(),
            position=position,
        )
        for position, line in enumerate(lines)
    )


def create_estimate(
    *,
    account: Account,
    title: str,
    estimate_date: datetime.date,
    price: Decimal,
    lines: list[LineInput],
    user: User | None,
) -> CostEstimate:
    """Create a draft estimate; every line's role needs a rate in the quarter of the estimate date."""
    _check_estimate(account=account, estimate_date=estimate_date, price=price, lines=lines, title=title)
    with transaction.atomic():
        estimate = CostEstimate(
            account=account, title=title.strip(), estimate_date=estimate_date, price=price, created_by=user
        )
        _attribute(estimate, user)
        estimate.save()
        _write_lines(estimate, lines)
    logger.info("cost estimate %s created on account %s by user %s", estimate.pk, account.pk, user.pk if user else None)
    return estimate


def _same_recent_draft(
    *,
    account: Account,
    title: str,
    estimate_date: datetime.date,
    price: Decimal,
    lines: list[tuple[int, Decimal, str]],
    user: User | None,
    other_than: CostEstimate | None = None,
) -> CostEstimate | None:
    """Return a draft with these fields and lines that `user` created within RESUBMIT_WINDOW, if there is one.

    Callers run it in their transaction. The account's row lock makes two
    identical requests that arrive together wait for each other, so the
    second one finds the draft of the first. `other_than` is never returned.
    """
    Account.objects.select_for_update().get(pk=account.pk)
    existing = selectors.resubmitted_estimate(
        account=account,
        title=title,
        estimate_date=estimate_date,
        price=price,
        lines=lines,
        user=user,
        since=timezone.now() - RESUBMIT_WINDOW,
    )
    if existing is None or (other_than is not None and existing.pk == other_than.pk):
        return None
    user_id = user.pk if user else None
    logger.info("cost estimate %s sent again by user %s, so no second copy was stored", existing.pk, user_id)
    return existing


def add_estimate(
    *,
    account: Account,
    title: str,
    estimate_date: datetime.date,
    price: Decimal,
    lines: list[LineInput],
    user: User | None,
) -> tuple[CostEstimate, bool]:
    """Create a draft as create_estimate does, unless `user` created the same one within RESUBMIT_WINDOW.

    Return the estimate and whether it was created.
    """
    with transaction.atomic():
        existing = _same_recent_draft(
            account=account,
            title=title.strip(),
            estimate_date=estimate_date,
            price=price,
            lines=[(line.role.pk, line.hours, line.description.strip()) for line in lines],
            user=user,
        )
        if existing is not None:
            return existing, False
        estimate = create_estimate(
            account=account, title=title, estimate_date=estimate_date, price=price, lines=lines, user=user
        )
    return estimate, True


class EstimateFinished(ValidationError):
    """A finished estimate is read-only; duplicate it to change it."""


def update_estimate(
    *,
    estimate: CostEstimate,
    account: Account,
    title: str,
    estimate_date: datetime.date,
    price: Decimal,
    lines: list[LineInput],
    user: User | None,
    opened_version: int | None = None,
) -> CostEstimate:
    """Replace the fields and lines of a draft estimate.

    With `opened_version`, raise EditConflict when the estimate was saved after the form opened it.
    """
    _check_estimate(account=account, estimate_date=estimate_date, price=price, lines=lines, title=title)
    with transaction.atomic():
        locked = CostEstimate.objects.select_for_update().get(pk=estimate.pk)
        if locked.is_finished:
            raise EstimateFinished("This estimate is finished and keeps its rates; duplicate it to make changes.")
        check_unchanged(locked, opened_version, f"The estimate “{locked.title}”")
        locked.account = account
        locked.title = title.strip()
        locked.estimate_date = estimate_date
        locked.price = price
        _attribute(locked, user)
        locked.save()
        _write_lines(locked, lines)
    return locked


def finish_estimate(*, estimate: CostEstimate, user: User | None, shown_total: Decimal | None = None) -> CostEstimate:
    """Finish a draft: store on each line the rate and hourly cost of its role in the estimate's quarter.

    From then on the estimate keeps those hourly costs, whatever later happens to the rates.
    `shown_total` is the total cost the user saw when choosing to finish. When a
    rate changed since, the total differs and ValidationError is raised, so that
    an estimate is never finished at costs the user has not seen.
    """
    with transaction.atomic():
        locked = CostEstimate.objects.select_for_update().get(pk=estimate.pk)
        if locked.is_finished:
            raise EstimateFinished("This estimate is finished already.")
        lines = list(locked.lines.select_related("role"))
        if not lines:
            raise ValidationError({"lines": "An estimate without lines cannot be finished."})
        quarter = locked.quarter
        missing = selectors.missing_rates({line.role_id for line in lines}, quarter)
        if missing:
            raise ValidationError({"role": [str(item) for item in missing]})
        rates = selectors.rate_by_role(quarter)
        for line in lines:
            rate = rates[line.role_id]
            line.rate = rate
            line.hourly_cost = rate.hourly_cost
        total = sum((selectors.line_cost(line.hours, line.hourly_cost) for line in lines), Decimal("0.00"))
        if shown_total is not None and total != shown_total:
            raise ValidationError(
                f"The rates of {quarter} changed after this page was shown: the total cost is now {total}, "
                f"not {shown_total}. Check the estimate and finish it again."
            )
        EstimateLine.objects.bulk_update(lines, ["rate", "hourly_cost"])
        locked.status = EstimateStatus.FINISHED
        locked.finished_at = timezone.now()
        _attribute(locked, user, "finished")
        locked.save()
    logger.info("cost estimate %s finished by user %s", locked.pk, user.pk if user else None)
    return locked


def duplicate_estimate(*, estimate: CostEstimate, user: User | None) -> tuple[CostEstimate, bool]:
    """Copy an estimate and its lines into a new draft, which follows the current rates.

    Return the draft and whether it was created. A copy that `user` made
    within RESUBMIT_WINDOW, with the same fields and lines, is taken for the
    same click sent again and returned instead.
    """
    title = f"{estimate.title} (copy)"[: CostEstimate._meta.get_field("title").max_length]
    source_lines = list(estimate.lines.order_by("position", "id"))
    with transaction.atomic():
        existing = _same_recent_draft(
            account=estimate.account,
            title=title,
            estimate_date=estimate.estimate_date,
            price=estimate.price,
            lines=[(line.role_id, line.hours, line.description) for line in source_lines],
            user=user,
            other_than=estimate,
        )
        if existing is not None:
            return existing, False
        copy = CostEstimate(
            account=estimate.account,
            title=title,
            estimate_date=estimate.estimate_date,
            price=estimate.price,
            created_by=user,
        )
        _attribute(copy, user, f"duplicated from estimate {estimate.pk}")
        copy.save()
        EstimateLine.objects.bulk_create(
            EstimateLine(
                estimate=copy,
                role_id=line.role_id,
                hours=line.hours,
                description=line.description,
                position=line.position,
            )
            for line in source_lines
        )
    logger.info("cost estimate %s duplicated as %s by user %s", estimate.pk, copy.pk, user.pk if user else None)
    return copy, True
