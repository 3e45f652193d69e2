"""Audit events of accounts: a move to another owning TAM.

Called by accounts.services and the admin site, inside the transaction of the change.
"""

from audit.models import AuditAction, ObjectType
from audit.services import record

from .models import Account, User


def record_tam_change(
    account: Account, old_tam: User | None, new_tam: User | None, journeys_moved: int, *, user: User | None = None
) -> None:
    """Record that `account` went from `old_tam` to `new_tam`, taking `journeys_moved` open journeys with it."""
    record(
        AuditAction.ACCOUNT_REASSIGNED,
        object_type=ObjectType.ACCOUNT,
        object_id=account.pk,
        label=str(account),
        details={
            "changes": {"owning_TAM": [_username(old_tam), _username(new_tam)]},
            "open_journeys_moved": journeys_moved,
        },
        user=user,
    )


def _username(tam: User | None) -> str | None:
    return tam.get_username() if tam is not None else None
