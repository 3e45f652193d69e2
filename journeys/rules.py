"""The journey rules that forms, the import and the selectors share. Pure functions over dates and numbers."""

import datetime

from .models import FirstValueBasis, Milestone

# Pairs (earlier, later) of the usual order. A later milestone dated before its
# earlier one is accepted and flagged. Infrastructure work may run in parallel
# with onboarding, so that pair is not compared.
USUAL_ORDER = [
    (Milestone.KICKOFF, Milestone.ONBOARDING),
    (Milestone.KICKOFF, Milestone.INFRASTRUCTURE_READY),
    (Milestone.ONBOARDING, Milestone.FIRST_VALUE),
    (Milestone.INFRASTRUCTURE_READY, Milestone.FIRST_VALUE),
    (Milestone.FIRST_VALUE, Milestone.OUTCOME_ACHIEVED),
]


def completion_date_problem(day: datetime.date, transaction_date: datetime.date, today: datetime.date) -> str | None:
    """Return why `day` cannot complete a milestone or task, or None when it can."""
    if day < transaction_date:
        return f"The date {day.isoformat()} is before the transaction date {transaction_date.isoformat()}."
    if day > today:
        return f"The date {day.isoformat()} is in the future; today is {today.isoformat()}."
    return None


def ten_percent_met(users: int, licenses: int) -> bool:
    """Return whether `users` in production are at least 10% of `licenses`, compared in whole numbers."""
    return users * 10 >= licenses


DUPLICATE_JOURNEY = "This account already has a journey of this kind on this date."


def ten_percent_problem(users: int | None, licenses: int) -> str | None:
    """Return why a user count does not support the 10% basis, or None when it does."""
    if users is None:
        return "Enter the number of users in production for the 10% basis."
    if not ten_percent_met(users, licenses):
        return f"10% not met: {users} users in production against {licenses} licenses; at least 10% are needed."
    return None


def first_value_basis_needs_users(basis: str) -> bool:
    return basis == FirstValueBasis.LICENSES_10PCT


def order_warnings(dates: dict[str, datetime.date | None]) -> list[str]:
    """Return one sentence for every pair of reached milestones whose dates break the usual order."""
    warnings = []
    for earlier, later in USUAL_ORDER:
        earlier_date, later_date = dates.get(earlier), dates.get(later)
        if earlier_date and later_date and later_date < earlier_date:
            later_text, earlier_text = later_date.isoformat(), earlier_date.isoformat()
            warnings.append(f"{later.label} ({later_text}) is dated before {earlier.label} ({earlier_text}).")
    return warnings


def days_between(start: datetime.date, end: datetime.date) -> int:
    return (end - start).days
