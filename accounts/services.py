"""Writes to accounts: the accounts import, moves to another TAM and the ultimate-parent refresh."""

import dataclasses
import logging
import os
import time
from collections import Counter
from collections.abc import Collection

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.db.models.functions import Lower

from common.csvimport import (
    ColumnSpec,
    CsvFile,
    ErrorCollector,
    ImportRejected,
    InvalidValue,
    ProgressCallback,
    RowError,
    parse_id,
    parse_row,
    parse_text,
)
from journeys.models import Journey
from journeys.selectors import open_journeys
from journeys.services import reassign_open_journeys
from retention.importing.staging import StagingTable
from retention.locks import report_lock
from retention.models import ImportRun
from retention.services import mark_import_stored, schedule_recompute

from . import audit
from .models import Account, Contact, Segment, User
from .roles import Role
from .selectors import new_tams

logger = logging.getLogger(__name__)

ACCOUNT_COLUMNS = ColumnSpec(
    required=("account_id", "account_name"),
    optional=("parent_account_id", "segment", "tam_email"),
)
ACCOUNT = Account._meta.db_table
USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length
# Error messages show at most this many accounts of one cycle.
CYCLE_SHOWN = 10

_SEGMENTS = {segment.value.casefold(): segment.value for segment in Segment}


def parse_segment(text: str) -> str:
    """Return the canonical segment name for Large, Mid-Market or SMB in any letter case."""
    try:
        return _SEGMENTS[text.casefold()]
    except KeyError:
        raise InvalidValue("unknown segment; expected Large, Mid-Market or SMB") from None


def parse_tam_email(text: str) -> str:
    """Return the e-mail address in lower case; it becomes the username of a TAM created for it."""
    try:
        validate_email(text)
    except ValidationError:
        raise InvalidValue("malformed e-mail address") from None
    if len(text) > USERNAME_MAX_LENGTH:
        raise InvalidValue(f"e-mail address longer than {USERNAME_MAX_LENGTH} characters")
    return text.lower()


PARSERS = {
    "account_id": parse_id,
    "account_name": parse_text(255),
    "parent_account_id": parse_id,
    "segment": parse_segment,
    "tam_email": parse_tam_email,
}
STAGE_COLUMNS = [
    ("line", "bigint"),
    ("external_id", "varchar(100)"),
    ("name", "varchar(255)"),
    ("parent_ext", "varchar(100)"),
    ("segment", "varchar(20)"),
    ("tam_email", "varchar(254)"),
]
# One row for every user who has an address of the file. `preference` is the user's place in the order of
# _tam_candidates, 0 for the first. `can_stay` is 1 when the user is an active TAM as the first one is, or
# when neither is an active TAM, and such a user stays the TAM of an account they already own.
TAMS_TABLE = "tamarind_stage_tams"
TAMS_COLUMNS = [("email", "varchar(254)"), ("user_id", "bigint"), ("preference", "integer"), ("can_stay", "smallint")]


def import_accounts(
    path: str | os.PathLike,
    *,
    columns: dict[str, str] | None = None,
    import_run_id: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Create or update accounts by account_id from a CSV file, all rows or none.

    An optional column that the file lacks keeps the stored value of existing
    accounts; an empty value clears it. A tam_email that matches no user creates
    a TAM with that address as username and an unusable password. When an
    account gets another TAM, its open journeys move to that TAM in the same
    transaction. Return the summary: rows_read, accounts_created,
    accounts_updated, users_created, created_user_emails, journeys_reassigned,
    ultimate_parents_changed. Raise ImportRejected, with nothing stored, when
    any row is invalid or the hierarchy would have a cycle.
    """
    started = time.monotonic()
    errors = ErrorCollector()
    csv_file = CsvFile(path, ACCOUNT_COLUMNS, columns, errors, on_progress)
    with StagingTable("tamarind_stage_accounts", STAGE_COLUMNS, indexes=("external_id", "parent_ext")) as stage:
        for line, row in csv_file.rows():
            values, _ = parse_row(line, row, PARSERS, errors, optional=ACCOUNT_COLUMNS.optional)
            # Rows with invalid fields are staged too, so that the checks across
            # rows report them; any error prevents the write.
            stage.add(
                (
                    line,
                    values["account_id"],
                    values["account_name"],
                    values["parent_account_id"],
                    values["segment"],
                    values["tam_email"],
                )
            )
        stage.close_loading()
        present = csv_file.present_columns
        _check_ids_and_parents(stage, errors)
        if "tam_email" in present:
            _check_tams(stage, errors)
        if "parent_account_id" in present:
            _check_cycles(stage, errors)
        if errors:
            logger.info(
                "import run %s rejected: %d invalid values in %d rows", import_run_id, errors.count, csv_file.rows_read
            )
            raise ImportRejected(errors)

        with report_lock():
            if "tam_email" in present:
                # The import may have waited for the lock behind another import or a recompute while a TAM left.
                _check_tams(stage, errors)
                if errors:
                    logger.info(
                        "import run %s rejected: %d rows name a user who stopped being an active TAM before the write",
                        import_run_id,
                        errors.count,
                    )
                    raise ImportRejected(errors)
            created_emails = _create_missing_tams(stage) if "tam_email" in present else []
            with StagingTable(TAMS_TABLE, TAMS_COLUMNS, indexes=("email",)) as tams:
                if "tam_email" in present:
                    for email, users in _tam_candidates(stage).items():
                        for preference, user in enumerate(users):
                            can_stay = user.active_tam == users[0].active_tam
                            tams.add((email, user.user_id, preference, int(can_stay)))
                tams.close_loading()
                new_tam_accounts = _accounts_with_new_tam(stage) if "tam_email" in present else []
                created = _write_accounts(stage, present)
            reassigned = reassign_open_journeys(new_tam_accounts, user=_uploader(import_run_id)).total()
            changed = refresh_ultimate_parents()
            # Reports use the hierarchy as stored now, so a change restates every month.
            schedule_recompute(None, import_run_id)
            counts = {
                "accounts_created": created,
                "accounts_updated": stage.row_count - created,
                "users_created": len(created_emails),
                "journeys_reassigned": reassigned,
            }
            mark_import_stored(import_run_id, counts)

    summary = {
        "rows_read": csv_file.rows_read,
        "accounts_created": created,
        "accounts_updated": stage.row_count - created,
        "users_created": len(created_emails),
        "created_user_emails": created_emails,
        "journeys_reassigned": reassigned,
        "ultimate_parents_changed": changed,
        "warnings": [] if csv_file.rows_read else ["The file has no data rows, so nothing was changed."],
    }
    logger.info(
        "import run %s stored %d accounts (%d new), %d new TAMs and %d reassigned journeys from %d rows in %.1f s",
        import_run_id,
        stage.row_count,
        created,
        len(created_emails),
        reassigned,
        csv_file.rows_read,
        time.monotonic() - started,
    )
    return summary


def _check_ids_and_parents(stage: StagingTable, errors: ErrorCollector) -> None:
    duplicates = f"""
        SELECT s.line, s.external_id, f.line FROM {stage.name} s
        JOIN (SELECT external_id, MIN(line) AS line FROM {stage.name} GROUP BY external_id) f
          ON f.external_id = s.external_id
        WHERE s.line <> f.line"""
    errors.add_counted(
        *stage.fetch_errors(
            duplicates,
            [],
            lambda row: RowError(row[0], "account_id", row[1], f"duplicate account_id, first on line {row[2]}"),
        )
    )
    unknown_parents = f"""
        SELECT s.line, s.parent_ext FROM {stage.name} s
        WHERE s.parent_ext IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {stage.name} p WHERE p.external_id = s.parent_ext)
          AND NOT EXISTS (SELECT 1 FROM {ACCOUNT} a WHERE a.external_id = s.parent_ext)"""
    errors.add_counted(
        *stage.fetch_errors(
            unknown_parents,
            [],
            lambda row: RowError(
                row[0], "parent_account_id", row[1], "unknown parent account: neither in the file nor stored"
            ),
        )
    )


def _check_tams(stage: StagingTable, errors: ErrorCollector) -> None:
    """Reject every row that makes a user who is not an active TAM the owner of its account.

    Only an active TAM can record the milestones of the journeys that follow
    the account. Under a manager, a CS admin or a deactivated user, no user
    could record them. A row that names the account's current
    TAM moves no journey, so it passes even when that TAM has left, as the
    admin's account form allows.
    """
    # Every row that names an address of an active TAM gets that TAM, so only the other addresses can fail.
    without_tam = {email: users for email, users in _tam_candidates(stage).items() if not users[0].active_tam}
    if not without_tam:
        return
    first_ids = [users[0].user_id for users in without_tam.values()]
    names = dict(User.objects.filter(pk__in=first_ids).values_list("pk", "username"))
    emails = sorted(without_tam)
    for start in range(0, len(emails), 500):
        chunk = emails[start : start + 500]
        placeholders = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.line, s.tam_email, a.tam_id FROM {stage.name} s "
                f"LEFT JOIN {ACCOUNT} a ON a.external_id = s.external_id WHERE s.tam_email IN ({placeholders})",
                chunk,
            )
            for line, email, current_tam_id in cursor.fetchall():
                users = without_tam[email]
                if current_tam_id in {user.user_id for user in users}:
                    continue
                reason = (
                    f"user {names[users[0].user_id]} is not an active TAM; "
                    "give an active TAM's address, or leave the cell empty for no TAM"
                )
                errors.add(line, "tam_email", email, reason)


def _check_cycles(stage: StagingTable, errors: ErrorCollector) -> None:
    """Reject every file row whose account lies on a cycle of the hierarchy as it would be after the import."""
    # NOTE: the combined child-to-parent map of external ids is held in memory,
    # so this check grows with the number of accounts, unlike the other checks.
    parents = dict(Account.objects.values_list("external_id", "parent__external_id").iterator(chunk_size=5000))
    with connection.cursor() as cursor:
        # Descending lines, so that the first row of a duplicated id wins as in the duplicate check.
        cursor.execute(
            f"SELECT external_id, parent_ext FROM {stage.name} WHERE external_id IS NOT NULL ORDER BY line DESC"
        )
        while batch := cursor.fetchmany(5000):
            parents.update(batch)

    for cycle in find_cycles(parents):
        members = set(cycle)
        if len(cycle) == 1:
            reason = "the account is its own parent"
        else:
            shown = cycle[:CYCLE_SHOWN] + ["…"] if len(cycle) > CYCLE_SHOWN else cycle + [cycle[0]]
            reason = "cycle in the account hierarchy: " + " → ".join(shown)
        for start in range(0, len(cycle), 500):
            chunk = cycle[start : start + 500]
            with connection.cursor() as cursor:
                placeholders = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT line, parent_ext FROM {stage.name} WHERE external_id IN ({placeholders})", chunk
                )
                for line, parent_ext in cursor.fetchall():
                    if parent_ext in members:
                        errors.add(line, "parent_account_id", parent_ext, reason)


def find_cycles(parents: dict) -> list[list]:
    """Return the cycles of a child-to-parent map, each as its members in parent order."""
    finished: set = set()
    cycles = []
    for start in parents:
        if start in finished:
            continue
        path: list = []
        position: dict = {}
        node = start
        while node is not None and node not in finished and node not in position:
            position[node] = len(path)
            path.append(node)
            node = parents.get(node)
        if node is not None and node in position:
            cycles.append(path[position[node] :])
        finished.update(path)
    return cycles


def _create_missing_tams(stage: StagingTable) -> list[str]:
    """Create a TAM for each e-mail address in the file that matches no user; return their addresses."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT tam_email FROM {stage.name} WHERE tam_email IS NOT NULL ORDER BY tam_email")
        emails = [row[0] for row in cursor.fetchall()]
    known = set(
        User.objects.annotate(address=Lower("email")).filter(address__in=emails).values_list("address", flat=True)
    )
    known |= set(User.objects.annotate(name=Lower("username")).filter(name__in=emails).values_list("name", flat=True))
    missing = [email for email in emails if email not in known]
    group = Group.objects.get(name=Role.TAM)
    for email in missing:
        user = User(username=email, email=email)
        user.set_unusable_password()
        user.save()
        user.groups.add(group)
    if missing:
        logger.info("accounts import created %d TAM users", len(missing))
    return missing


@dataclasses.dataclass(frozen=True)
class _TamCandidate:
    """A user who has an e-mail address of the file, as e-mail address or as username."""

    user_id: int
    active_tam: bool


def _tam_candidates(stage: StagingTable) -> dict[str, list[_TamCandidate]]:
    """Return the users who have each e-mail address of the file, in any letter case, best first.

    Active TAMs come first, so that a departed user who kept an address does
    not stand in the way of the TAM who uses it now. Then a match by e-mail
    comes before one by username, and then the lowest id. The account's
    current TAM goes before the others of its kind (see _chosen_tam_sql).
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT tam_email FROM {stage.name} WHERE tam_email IS NOT NULL")
        emails = [row[0] for row in cursor.fetchall()]
    # NOTE: SQLite's lower() folds only ASCII letters. There a stored address with an upper-case non-ASCII
    # letter, as in an internationalized domain, matches no row, and _create_missing_tams adds a second TAM.

    # For each address, the users who have it and how: 0 by e-mail, 1 by username only.
    matches: dict[str, dict[int, int]] = {}
    by_email = User.objects.annotate(key=Lower("email")).filter(key__in=emails)
    by_username = User.objects.annotate(key=Lower("username")).filter(key__in=emails)
    for match_rank, queryset in enumerate((by_email, by_username)):
        for email, user_id in queryset.values_list("key", "id"):
            matches.setdefault(email, {}).setdefault(user_id, match_rank)

    user_ids = {user_id for users in matches.values() for user_id in users}
    active = set(new_tams().filter(pk__in=user_ids).values_list("pk", flat=True))
    candidates = {}
    for email, users in matches.items():
        ordered = sorted(users, key=lambda user_id: (user_id not in active, users[user_id], user_id))
        candidates[email] = [_TamCandidate(user_id, user_id in active) for user_id in ordered]
    return candidates


def _chosen_tam_sql(current_tam: str | None) -> str:
    """Return a scalar subquery that picks, from TAMS_TABLE, the TAM that the staged row `s` gives its account.

    `current_tam` is the SQL expression of the account's TAM id, or None for a
    new account. The current TAM stays when it has the address, unless it is
    not an active TAM and an active TAM has the address, so that importing the
    same file again moves no account. Otherwise the first candidate of
    _tam_candidates takes the account.
    """
    first = f"(SELECT t.user_id FROM {TAMS_TABLE} t WHERE t.email = s.tam_email AND t.preference = 0)"
    if current_tam is None:
        return first
    # SQLite (3.40) rejects a reference to the outer query in a subquery's ORDER BY, so two lookups replace a sort.
    current = (
        f"(SELECT t.user_id FROM {TAMS_TABLE} t "
        f"WHERE t.email = s.tam_email AND t.user_id = {current_tam} AND t.can_stay = 1)"
    )
    return f"COALESCE({current}, {first})"


def _accounts_with_new_tam(stage: StagingTable) -> list[int]:
    """Return the ids of stored accounts to which the file gives a TAM other than their current one.

    An empty tam_email is left out, because an account that loses its TAM keeps
    its journeys with their TAM. Call it before _write_accounts, while the
    accounts still have their old TAM.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.id FROM {ACCOUNT} a
            JOIN {stage.name} s ON s.external_id = a.external_id
            WHERE s.tam_email IS NOT NULL AND (a.tam_id IS NULL OR a.tam_id <> {_chosen_tam_sql("a.tam_id")})"""
        )
        return [row[0] for row in cursor.fetchall()]


def _uploader(import_run_id: int | None) -> User | None:
    """Return the user who uploaded the run, or None for a command run or a call without a run."""
    if import_run_id is None:
        return None
    run = ImportRun.objects.filter(pk=import_run_id).select_related("created_by").first()
    return run.created_by if run is not None else None


def _write_accounts(stage: StagingTable, present: set[str]) -> int:
    """Insert the new accounts, update the existing ones and set parents; return how many were created."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ACCOUNT} (external_id, name, segment, tam_id)
            SELECT s.external_id, s.name, COALESCE(s.segment, ''), {_chosen_tam_sql(None)}
            FROM {stage.name} s
            WHERE NOT EXISTS (SELECT 1 FROM {ACCOUNT} a WHERE a.external_id = s.external_id)"""
        )
        created = max(cursor.rowcount, 0)

        row_of_account = f"FROM {stage.name} s WHERE s.external_id = {ACCOUNT}.external_id"
        assignments = [f"name = (SELECT s.name {row_of_account})"]
        if "segment" in present:
            assignments.append(f"segment = (SELECT COALESCE(s.segment, '') {row_of_account})")
        if "tam_email" in present:
            assignments.append(f"tam_id = (SELECT {_chosen_tam_sql(f'{ACCOUNT}.tam_id')} {row_of_account})")
        if "parent_account_id" in present:
            assignments.append(
                f"parent_id = (SELECT p.id FROM {stage.name} s JOIN {ACCOUNT} p ON p.external_id = s.parent_ext "
                f"WHERE s.external_id = {ACCOUNT}.external_id)"
            )
        cursor.execute(
            f"UPDATE {ACCOUNT} SET {', '.join(assignments)} WHERE external_id IN (SELECT external_id FROM {stage.name})"
        )
    return created


class AccountsChanged(Exception):
    """Some accounts of a move were deleted, or got another TAM, after the page listed them."""

    def __init__(self, names: list[str], missing: int):
        self.names = names
        self.missing = missing
        super().__init__(f"{len(names) + missing} accounts changed since they were listed")


class TamNotActive(Exception):
    """The TAM chosen to take the accounts was deactivated, or lost the TAM role, before the move ran."""


@dataclasses.dataclass(frozen=True)
class Reassignment:
    """The outcome of a move to another TAM: the accounts moved and their open journeys.

    `journeys` counts every open journey of the accounts, which all belong to
    the new TAM after the move. `journeys_moved` leaves out those that
    belonged to the new TAM already.
    """

    accounts: int
    journeys: int
    journeys_moved: int


def reassign_accounts(
    account_ids: Collection[int], from_tam: User | None, to_tam: User, *, user: User | None = None
) -> Reassignment:
    """Give the accounts `to_tam` as their owning TAM, together with their open journeys, all or none.

    Every account must still belong to `from_tam`, or have no TAM when it is
    None; otherwise AccountsChanged names the others and nothing changes.
    TamNotActive means that `to_tam` is no longer an active TAM, and nothing changes.
    Finished journeys keep the TAM who ran them (see
    journeys.services.reassign_open_journeys). Each account gets an audit
    event. Customer rows of the retention results carry the owning TAM, so
    every month is recomputed.
    """
    ids = sorted(set(account_ids))
    from_id = from_tam.pk if from_tam is not None else None
    with report_lock():
        # The form checked the TAM already, but the move may have waited for the lock behind an import or a recompute.
        if not new_tams().filter(pk=to_tam.pk).exists():
            logger.warning("Move of %d accounts rejected: user %s is not an active TAM", len(ids), to_tam.pk)
            raise TamNotActive(to_tam.get_username())
        accounts = list(Account.objects.select_for_update().filter(pk__in=ids).order_by("name", "external_id"))
        moved_elsewhere = [str(account) for account in accounts if account.tam_id != from_id]
        if moved_elsewhere or len(accounts) != len(ids):
            logger.info(
                "Move of %d accounts rejected: %d now belong to another TAM and %d are deleted",
                len(ids),
                len(moved_elsewhere),
                len(ids) - len(accounts),
            )
            raise AccountsChanged(moved_elsewhere, len(ids) - len(accounts))
        Account.objects.filter(pk__in=ids).update(tam=to_tam)
        moved = follow_tam_change(accounts, {account.pk: from_tam for account in accounts}, to_tam, user=user)
        journeys = open_journeys(Journey.objects.filter(account_id__in=ids)).count()
        schedule_recompute(None)
    logger.info(
        "%d accounts moved to TAM %s with %d open journeys, %d of them from another TAM",
        len(ids),
        to_tam.get_username(),
        journeys,
        moved.total(),
    )
    return Reassignment(accounts=len(ids), journeys=journeys, journeys_moved=moved.total())


def follow_tam_change(
    accounts: list[Account], old_tams: dict[int, User | None], new_tam: User | None, *, user: User | None = None
) -> Counter[int]:
    """Move the open journeys of accounts that just got `new_tam`, record each move, and count journeys by account.

    `old_tams` gives each account's TAM before the change. Callers run it in
    the transaction that changed the accounts' TAM, holding the report lock.
    """
    moved = reassign_open_journeys([account.pk for account in accounts], user=user)
    for account in accounts:
        audit.record_tam_change(account, old_tams[account.pk], new_tam, moved[account.pk], user=user)
    return moved


def refresh_ultimate_parents() -> int:
    """Set every account's ultimate parent, the top of its parent chain, in one pass; return how many changed.

    An account whose chain runs into a cycle gets no ultimate parent, and the
    accounts concerned are logged.
    """
    parents = {}
    stored = {}
    for account_id, parent_id, ultimate_parent_id in Account.objects.values_list(
        "id", "parent_id", "ultimate_parent_id"
    ).iterator(chunk_size=5000):
        parents[account_id] = parent_id
        stored[account_id] = ultimate_parent_id

    tops: dict[int, int | None] = {}
    for start in parents:
        path = []
        seen = set()
        node = start
        while node not in tops and parents[node] is not None and node not in seen:
            seen.add(node)
            path.append(node)
            node = parents[node]
        if node in tops:
            top = tops[node]
        elif parents[node] is None:
            top = node
            tops[node] = node
        else:
            top = None
            logger.warning("account %s is on a cycle of parent accounts; it gets no ultimate parent", node)
        for member in path:
            tops[member] = top

    changed = [
        Account(id=account_id, ultimate_parent_id=top) for account_id, top in tops.items() if stored[account_id] != top
    ]
    Account.objects.bulk_update(changed, ["ultimate_parent"], batch_size=1000)
    return len(changed)


def save_contact(account: Account, form) -> Contact:
    """Store a validated contact form as a contact of `account`."""
    contact = form.save(commit=False)
    contact.account = account
    contact.save()
    return contact
