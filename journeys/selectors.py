"""Reads of journeys: visibility, My accounts, a journey's milestones and history, overdue milestones."""

import dataclasses
import datetime
from collections.abc import Collection

from django.db.models import Case, F, Q, QuerySet, When

from accounts.models import Account, User

from .defaults import DEFAULT_TARGET_DAYS
from .models import Journey, JourneyTask, Milestone, MilestoneTarget, OverdueMark
from .rules import order_warnings


def segment_expression(account_path: str) -> Case:
    """Build the expression for the segment that reports and targets use, the ultimate parent's or, at the top, its own.

    `account_path` leads from the queried model to the account, such as "account__", and is empty on accounts.
    """
    return Case(
        When(**{f"{account_path}ultimate_parent__isnull": False}, then=F(f"{account_path}ultimate_parent__segment")),
        default=F(f"{account_path}segment"),
    )


SEGMENT_EXPRESSION = segment_expression("account__")
DATE_FIELDS = [milestone.date_field for milestone in Milestone]


def account_segment(account: Account) -> str:
    top = account.ultimate_parent if account.ultimate_parent_id else account
    return top.segment


def target_days() -> dict[tuple[str, str], int]:
    """Return the target in days for every (milestone, segment), stored values over the defaults."""
    targets = {
        (milestone, segment): days
        for milestone, by_segment in DEFAULT_TARGET_DAYS.items()
        for segment, days in by_segment.items()
    }
    targets.update({(t.milestone, t.segment): t.days for t in MilestoneTarget.objects.all()})
    return targets


def target_for(targets: dict[tuple[str, str], int], milestone: str, segment: str | None) -> int:
    return targets.get((milestone, segment or ""), targets[(milestone, "")])


def can_read_journey(user: User, journey: Journey) -> bool:
    """Managers and CS admins read every journey; a TAM reads journeys they own or on accounts they own."""
    if not user.has_perm("journeys.view_journey"):
        return False
    return user.sees_all_accounts or user.pk in (journey.tam_id, journey.account.tam_id)


def can_change_journey(user: User, journey: Journey) -> bool:
    """Return whether the user may record milestones and close tasks, as the journey's owning TAM or a superuser.

    The check reads the journey's TAM, the field that My accounts and the
    time-to-value report use too. An open journey moves to its account's new TAM
    (journeys.services.reassign_open_journeys), so the account's TAM changes it.
    A finished journey stays with the TAM who ran it, who may still correct it.
    """
    return user.has_perm("journeys.change_journey") and (user.is_superuser or journey.tam_id == user.pk)


def visible_journeys(user: User) -> QuerySet[Journey]:
    journeys = Journey.objects.select_related("account", "tam").annotate(segment=SEGMENT_EXPRESSION)
    if user.sees_all_accounts:
        return journeys
    return journeys.filter(Q(tam=user) | Q(account__tam=user))


def milestone_not_reached(journey_path: str = "") -> Q:
    """Build the condition that a journey has at least one milestone not reached.

    `journey_path` leads from the queried model to the journey, such as "journeys__", and is empty on journeys.
    """
    any_open = Q()
    for field in DATE_FIELDS:
        any_open |= Q(**{f"{journey_path}{field}__isnull": True})
    return any_open


def open_journeys(journeys: QuerySet[Journey]) -> QuerySet[Journey]:
    """Journeys with at least one milestone not reached."""
    return journeys.filter(milestone_not_reached())


@dataclasses.dataclass(frozen=True)
class OpenJourneyRow:
    """A line of My accounts."""

    journey: Journey
    next_milestone: Milestone
    days_since_transaction: int
    next_target_date: datetime.date
    # From the daily job's marks: milestones that passed their target unreached.
    overdue: tuple[Milestone, ...]

    @property
    def next_is_overdue(self) -> bool:
        return self.next_milestone in self.overdue

    @property
    def next_milestone_position(self) -> int:
        """The next milestone's place in the usual order, which My accounts sorts by instead of its name."""
        return list(Milestone).index(self.next_milestone)


def next_milestone(journey: Journey) -> Milestone | None:
    """Return the first milestone in the usual order that is not reached yet."""
    for milestone in Milestone:
        if journey.milestone_date(milestone) is None:
            return milestone
    return None


def my_open_journeys(user: User, today: datetime.date, tam_id: int | None = None) -> list[OpenJourneyRow]:
    """Return the open journeys the user owns as TAM, or for readers of every account all of them.

    `tam_id` narrows the list of a reader of every account to one TAM.
    """
    if user.sees_all_accounts:
        journeys = visible_journeys(user)
        if tam_id is not None:
            journeys = journeys.filter(tam_id=tam_id)
    else:
        journeys = visible_journeys(user).filter(tam=user)
    journeys = open_journeys(journeys).order_by("transaction_date", "id")
    marks: dict[int, list[Milestone]] = {}
    for journey_id, milestone in OverdueMark.objects.filter(journey__in=journeys).values_list(
        "journey_id", "milestone"
    ):
        marks.setdefault(journey_id, []).append(Milestone(milestone))
    targets = target_days()
    rows = []
    for journey in journeys:
        milestone = next_milestone(journey)
        target = target_for(targets, milestone, journey.segment)
        overdue = tuple(m for m in Milestone if m in marks.get(journey.pk, ()))
        rows.append(
            OpenJourneyRow(
                journey=journey,
                next_milestone=milestone,
                days_since_transaction=(today - journey.transaction_date).days,
                next_target_date=journey.transaction_date + datetime.timedelta(days=target),
                overdue=overdue,
            )
        )
    return rows


@dataclasses.dataclass(frozen=True)
class MilestoneRow:
    milestone: Milestone
    date: datetime.date | None
    days: int | None
    target_days: int
    target_date: datetime.date
    overdue: bool
    late: bool


def journey_milestones(
    journey: Journey, segment: str, targets: dict[tuple[str, str], int] | None = None
) -> list[MilestoneRow]:
    """Return each milestone of a journey with its days from the transaction and its target.

    A page that lists several journeys passes `targets` from target_days() and
    prefetches `overdue_marks`, so each further journey costs no query.
    """
    if targets is None:
        targets = target_days()
    marked = {mark.milestone for mark in journey.overdue_marks.all()}
    rows = []
    for milestone in Milestone:
        date = journey.milestone_date(milestone)
        days = None if date is None else (date - journey.transaction_date).days
        target = target_for(targets, milestone, segment)
        rows.append(
            MilestoneRow(
                milestone=milestone,
                date=date,
                days=days,
                target_days=target,
                target_date=journey.transaction_date + datetime.timedelta(days=target),
                overdue=date is None and milestone in marked,
                late=days is not None and days > target,
            )
        )
    return rows


def journey_order_warnings(journey: Journey) -> list[str]:
    return order_warnings({milestone: journey.milestone_date(milestone) for milestone in Milestone})


def journey_tasks(journey: Journey) -> QuerySet[JourneyTask]:
    return journey.tasks.order_by("position", "id")


def overdue_milestones(
    today: datetime.date, journey_ids: Collection[int] | None = None
) -> dict[tuple[int, str], datetime.date]:
    """Return {(journey id, milestone): target date} for every milestone unreached after its target date.

    `journey_ids` limits the result to those journeys, and None leaves every open journey in.
    """
    targets = target_days()
    overdue = {}
    journeys = Journey.objects.annotate(segment=SEGMENT_EXPRESSION)
    if journey_ids is not None:
        journeys = journeys.filter(pk__in=journey_ids)
    rows = open_journeys(journeys).values("id", "transaction_date", "segment", *DATE_FIELDS).iterator(chunk_size=2000)
    for row in rows:
        for milestone in Milestone:
            if row[milestone.date_field] is not None:
                continue
            target_date = row["transaction_date"] + datetime.timedelta(
                days=target_for(targets, milestone, row["segment"])
            )
            if today > target_date:
                overdue[(row["id"], milestone.value)] = target_date
    return overdue


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    when: datetime.datetime
    who: str
    subject: str
    action: str
    changes: list[str]


def _describe(value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _history_entries(records, subject_of, model) -> list[HistoryEntry]:
    entries = []
    previous_by_id: dict[int, object] = {}
    for record in records:
        previous = previous_by_id.get(record.id)
        who = record.history_user.get_username() if record.history_user else "import or job"
        changes = []
        if record.history_type == "+":
            action = "created"
        elif record.history_type == "-":
            action = "deleted"
        else:
            action = "changed"
            if previous is not None:
                for change in record.diff_against(previous).changes:
                    field = model._meta.get_field(change.field)
                    old, new = _display(field, change.old), _display(field, change.new)
                    changes.append(f"{field.verbose_name}: {old} → {new}")
        previous_by_id[record.id] = record
        if action == "changed" and not changes:
            continue
        entries.append(HistoryEntry(record.history_date, who, subject_of(record), action, changes))
    return entries


def _display(field, value) -> str:
    if field.choices and value:
        return str(dict(field.flatchoices).get(value, value))
    if field.many_to_one and value is not None:
        # History records store the related row's id, so the owning TAM shows by user name instead.
        related = field.related_model._default_manager.filter(pk=value).first()
        return str(related) if related is not None else f"deleted {field.related_model._meta.verbose_name} {value}"
    return _describe(value)


def journey_history(journey: Journey) -> list[HistoryEntry]:
    """Return every recorded change to the journey and its tasks, newest first, with who made it."""
    journey_records = journey.history.select_related("history_user").order_by("history_date", "history_id")
    task_records = (
        JourneyTask.history.filter(journey_id=journey.pk)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    entries = _history_entries(journey_records, lambda record: "Journey", Journey)
    entries += _history_entries(task_records, lambda record: f"Task “{record.title}”", JourneyTask)
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return entries
