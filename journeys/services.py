"""Writes to journeys: starts, milestones, tasks, TAM handover, playbooks, targets and overdue marks."""

import datetime
import itertools
import logging
from collections import Counter
from collections.abc import Collection, Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from accounts.models import Account, User
from common.edits import check_unchanged
from common.queries import VALUES_PER_QUERY

from . import audit
from .models import (
    Journey,
    JourneyKind,
    JourneyTask,
    MilestoneTarget,
    OverdueMark,
    Playbook,
    Product,
    TaskStatus,
)
from .rules import DUPLICATE_JOURNEY
from .selectors import account_segment, open_journeys, overdue_milestones

logger = logging.getLogger(__name__)

MILESTONE_FIELDS = [
    "kickoff_date",
    "onboarding_date",
    "infrastructure_ready_date",
    "infrastructure_type",
    "first_value_date",
    "first_value_basis",
    "first_value_users",
    "outcome_achieved_date",
]


def matching_playbooks(segment: str, products: Iterable[Product]) -> list[Playbook]:
    """Return the playbook of each product for `segment`, or the product's "any other segment" playbook."""
    playbooks = []
    for product in products:
        candidates = {playbook.segment: playbook for playbook in Playbook.objects.filter(product=product)}
        playbook = candidates.get(segment) or candidates.get("")
        if playbook is not None:
            playbooks.append(playbook)
    return playbooks


@transaction.atomic
def start_journey(
    *,
    account: Account,
    transaction_date: datetime.date,
    licenses: int,
    products: Iterable[Product] = (),
    kind: str = JourneyKind.NEW,
    tam: User | None = None,
) -> Journey:
    """Create a journey and its onboarding tasks from the playbooks that match its segment and products.

    The owning TAM defaults to the account's TAM. Each task is due its offset in
    days after the transaction date. Raise ValidationError when the account has
    a journey of this kind on this date.
    """
    products = list(products)
    journey = Journey(
        account=account,
        kind=kind,
        transaction_date=transaction_date,
        licenses=licenses,
        tam=tam if tam is not None else account.tam,
    )
    try:
        with transaction.atomic():
            journey.save()
    except IntegrityError:
        # Another request started the same journey after the caller's check.
        if not Journey.objects.filter(account=account, transaction_date=transaction_date, kind=kind).exists():
            raise
        raise ValidationError({"transaction_date": DUPLICATE_JOURNEY}) from None
    journey.products.set(products)
    tasks = []
    for playbook in matching_playbooks(account_segment(account), products):
        for template in playbook.tasks.all():
            tasks.append(
                JourneyTask(
                    journey=journey,
                    title=template.title,
                    owner_side=template.owner_side,
                    due_date=transaction_date + datetime.timedelta(days=template.due_offset_days),
                    position=len(tasks),
                )
            )
    for task in tasks:
        # One save per task, so that each gets its creation in the history.
        task.save()
    # The objectives that exist at the transaction become its original purchase intent.
    from .plan_services import mark_original_intent

    flagged = mark_original_intent(journey)
    _sync_overdue_marks(journey)
    audit.record_journey_started(journey, tasks=len(tasks), objectives_flagged=flagged)
    logger.debug("journey %s started for account %s with %d tasks", journey.pk, account.pk, len(tasks))
    return journey


@transaction.atomic
def record_milestones(journey: Journey, values: dict, opened_version: int | None = None) -> Journey:
    """Store the milestone fields in `values` (names from MILESTONE_FIELDS) that differ from the journey's.

    With `opened_version`, raise EditConflict when the journey was saved after the form opened it,
    because the form sends every milestone and would put back the dates of the older page.

    The onboarding date of a journey with tasks follows its tasks, and Outcome
    Achieved of a journey with original-intent objectives follows them, so
    neither is taken from `values` then. The journey's overdue marks are made to
    match today at once, so a reached milestone loses its mark and a cleared one
    past its target gets one.
    """
    journey = lock_journey(journey.pk)
    check_unchanged(journey, opened_version, "This journey")
    before = {field: getattr(journey, field) for field in MILESTONE_FIELDS}
    derived = set()
    if journey.tasks.exists():
        derived.add("onboarding_date")
    if journey.intent_objectives.filter(original_intent=True).exists():
        derived.add("outcome_achieved_date")
    changed = []
    for field in MILESTONE_FIELDS:
        if field not in values or field in derived:
            continue
        if getattr(journey, field) != values[field]:
            setattr(journey, field, values[field])
            changed.append(field)
    if changed:
        journey.save(update_fields=changed)
        audit.record_milestone_changes(journey, before)
        _sync_overdue_marks(journey)
    return journey


@transaction.atomic
def update_task(task: JourneyTask, *, status: str, closed_on: datetime.date | None) -> JourneyTask:
    """Open, finish or mark a task not applicable, then let the Onboarding milestone follow the tasks."""
    journey = lock_journey(task.journey_id)
    task = JourneyTask.objects.get(pk=task.pk)
    if status == TaskStatus.OPEN:
        closed_on = None
    if (task.status, task.closed_on) != (status, closed_on):
        task.status = status
        task.closed_on = closed_on
        task.save(update_fields=["status", "closed_on"])
    sync_onboarding(journey)
    return task


def sync_onboarding(journey: Journey) -> None:
    """Set Onboarding to the latest closing date once no task is open, and clear it while one is open.

    A journey without tasks keeps the onboarding date entered for it. The caller
    holds the journey's row lock.
    """
    tasks = journey.tasks.all()
    if not tasks.exists():
        return
    if tasks.filter(status=TaskStatus.OPEN).exists():
        completed = None
    else:
        completed = tasks.aggregate(last=Max("closed_on"))["last"]
    if journey.onboarding_date != completed:
        before = {"onboarding_date": journey.onboarding_date}
        journey.onboarding_date = completed
        journey.save(update_fields=["onboarding_date"])
        audit.record_milestone_changes(journey, before)
        _sync_overdue_marks(journey)


def store_outcome_achieved(journey: Journey, day: datetime.date | None) -> None:
    """Store the Outcome Achieved date that the original-intent objectives give; the caller holds the row lock."""
    if journey.outcome_achieved_date != day:
        before = {"outcome_achieved_date": journey.outcome_achieved_date}
        journey.outcome_achieved_date = day
        journey.save(update_fields=["outcome_achieved_date"])
        audit.record_milestone_changes(journey, before)
        _sync_overdue_marks(journey)


@transaction.atomic
def reassign_open_journeys(account_ids: Collection[int], *, user: User | None = None) -> Counter[int]:
    """Move the open journeys of the given accounts to each account's current TAM and count the moves by account id.

    A journey is open while at least one milestone is not reached. Finished
    journeys keep the TAM who ran them, because the time-to-value report by TAM
    is about who ran them. An account without a TAM leaves its open journeys with
    their TAM. Each moved journey gets a history record naming `user`, or the
    signed-in user of the request when `user` is None. Callers run it in the
    transaction that changes the accounts' TAM.
    """
    ids = sorted(set(account_ids))
    moved: Counter[int] = Counter()
    for chunk in itertools.batched(ids, VALUES_PER_QUERY):
        # The row lock makes a concurrent milestone save wait, so the history records below hold current values.
        candidates = (
            open_journeys(Journey.objects.filter(account_id__in=chunk, account__tam__isnull=False))
            .select_related("account")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        journeys = []
        for journey in candidates:
            if journey.tam_id != journey.account.tam_id:
                journey.tam_id = journey.account.tam_id
                journeys.append(journey)
        if journeys:
            bulk_update_with_history(journeys, Journey, ["tam"], batch_size=1000, default_user=user)
            moved.update(journey.account_id for journey in journeys)
    if moved:
        logger.info("%d open journeys of %d accounts moved to the accounts' new TAM", moved.total(), len(ids))
    return moved


def lock_journey(journey_id: int) -> Journey:
    """Return the journey with its row locked against other changes until the transaction ends."""
    # FOR NO KEY UPDATE, unlike FOR UPDATE, lets other transactions insert rows that refer to the
    # journey. The daily overdue job inserts marks of many journeys in one transaction while holding
    # the marks it changed, so under FOR UPDATE it and a milestone save could wait for each other.
    return Journey.objects.select_for_update(no_key=True).get(pk=journey_id)


# Arbitrary constant key of the PostgreSQL advisory lock on the overdue marks.
_OVERDUE_LOCK_KEY = 7_302_920


def _lock_overdue_marks(*, every_journey: bool) -> None:
    """Hold the overdue marks' lock until the transaction ends, exclusively for every journey and shared for some.

    The run over every journey reads the milestones of all journeys before it writes. Without the lock,
    a milestone saved in between would get its mark back, or lose a new one, until the next run.
    SQLite needs nothing more, because the settings open every transaction with BEGIN IMMEDIATE.
    """
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock" if every_journey else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [_OVERDUE_LOCK_KEY])


def _sync_overdue_marks(journey: Journey) -> None:
    """Make the journey's overdue marks match today, as the daily job would, after its dates changed."""
    mark_overdue(timezone.localdate(), journey_ids=[journey.pk])


@transaction.atomic
def save_targets(days: dict[tuple[str, str], int], today: datetime.date) -> int:
    """Store target days keyed by (milestone, segment) and return how many changed.

    A change moves target dates, so the overdue marks are made to match the
    new targets for `today` at once rather than at the next daily check.
    """
    changed = 0
    for (milestone, segment), value in days.items():
        target, created = MilestoneTarget.objects.get_or_create(
            milestone=milestone, segment=segment, defaults={"days": value}
        )
        if not created and target.days != value:
            target.days = value
            target.save(update_fields=["days"])
            changed += 1
        changed += created
    if changed:
        logger.info("%d milestone targets changed", changed)
        mark_overdue(today)
    return changed


def mark_overdue(today: datetime.date, journey_ids: Collection[int] | None = None) -> dict:
    """Make the overdue marks match `today`: one per open milestone whose target date has passed.

    Marks of milestones reached since, or no longer past a changed target, are
    removed. Running it twice on the same day changes nothing the second time.
    `journey_ids` limits the work to those journeys, and None covers every journey.
    """
    now = timezone.now()
    marks = OverdueMark.objects.all()
    if journey_ids is not None:
        marks = marks.filter(journey_id__in=journey_ids)
    with transaction.atomic():
        _lock_overdue_marks(every_journey=journey_ids is None)
        due = overdue_milestones(today, journey_ids)
        stored = {(mark.journey_id, mark.milestone): mark for mark in marks}
        stale = [mark.pk for key, mark in stored.items() if key not in due]
        OverdueMark.objects.filter(pk__in=stale).delete()
        for key, target_date in due.items():
            mark = stored.get(key)
            if mark is not None and mark.target_date != target_date:
                mark.target_date = target_date
                mark.save(update_fields=["target_date"])
        OverdueMark.objects.bulk_create(
            [
                OverdueMark(journey_id=journey_id, milestone=milestone, target_date=target_date, marked_at=now)
                for (journey_id, milestone), target_date in due.items()
                if (journey_id, milestone) not in stored
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
    added = sum(1 for key in due if key not in stored)
    # Every milestone save marks its own journey, so only the run over every journey logs at INFO.
    level = logging.INFO if journey_ids is None else logging.DEBUG
    logger.log(level, "overdue marks for %s: %d open, %d added, %d removed", today, len(due), added, len(stale))
    return {"overdue": len(due), "added": added, "removed": len(stale)}


def save_playbook(form, formset) -> Playbook:
    """Store a validated playbook form and its task formset together.

    Raise ValidationError when another request stored a playbook of the same
    product and segment after the form's check.
    """
    try:
        with transaction.atomic():
            playbook = form.save()
            formset.instance = playbook
            formset.save()
    except IntegrityError:
        # Raises the form's own message for the duplicate, and re-raises any other failure.
        form.instance.validate_constraints()
        raise
    logger.info("playbook %s saved with %d tasks", playbook.pk, playbook.tasks.count())
    return playbook
