"""Demo journeys, playbooks and targets for `load_demo`; loaded once, skipped when journeys exist."""

import datetime
import math
import random

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, User

from . import plan_demo
from .models import FirstValueBasis, InfrastructureType, Journey, JourneyKind, Playbook, PlaybookTask, Product
from .services import mark_overdue, record_milestones, start_journey, update_task

PLAYBOOKS = {
    # (product, segment): [(title, owner side, due offset in days)]
    ("Basic", ""): [
        ("Send the welcome pack and admin invitations", "tam", 3),
        ("Customer admin signs in and invites the team", "customer", 10),
        ("Walk through the getting-started guide", "tam", 14),
        ("Confirm the first project is set up", "customer", 21),
    ],
    ("Pro", ""): [
        ("Hold the technical onboarding session", "tam", 7),
        ("Connect single sign-on", "customer", 14),
        ("Import the existing projects", "customer", 21),
        ("Agree the success plan objectives", "tam", 21),
        ("Train the first team", "tam", 30),
    ],
    ("Enterprise", ""): [
        ("Hold the technical onboarding session", "tam", 7),
        ("Review the deployment architecture", "tam", 14),
        ("Connect single sign-on and SCIM", "customer", 21),
        ("Migrate the pilot group's projects", "customer", 35),
        ("Train the first team", "tam", 40),
    ],
    ("Enterprise", "Large"): [
        ("Hold the executive kickoff with the sponsor", "tam", 7),
        ("Review the deployment architecture", "tam", 14),
        ("Complete the security review", "customer", 30),
        ("Connect single sign-on and SCIM", "customer", 30),
        ("Migrate the pilot group's projects", "customer", 45),
        ("Train the first two teams", "tam", 55),
    ],
}

# Days from the transaction to each milestone, per pace; None never completes.
PACES = {
    "fast": {"kickoff": 5, "onboarding": 20, "infrastructure_ready": 30, "first_value": 45, "outcome_achieved": 100},
    "on target": {
        "kickoff": 10,
        "onboarding": 35,
        "infrastructure_ready": 50,
        "first_value": 80,
        "outcome_achieved": 170,
    },
    "slow": {"kickoff": 20, "onboarding": 70, "infrastructure_ready": 95, "first_value": 150, "outcome_achieved": 300},
    "stalled": {
        "kickoff": 25,
        "onboarding": None,
        "infrastructure_ready": None,
        "first_value": None,
        "outcome_achieved": None,
    },
}
# The demo TAM's journeys: (days since the transaction, pace), from finished to just started.
TAM_JOURNEYS = [
    (520, "fast"),
    (450, "on target"),
    (400, "slow"),
    (330, "on target"),
    (200, "stalled"),
    (120, "slow"),
    (90, "on target"),
    (40, "fast"),
    (21, "stalled"),
    (8, "on target"),
]
OTHER_JOURNEYS = 30


def _plan(rng: random.Random, pace: str) -> dict[str, int | None]:
    """Return the days of each milestone for one journey, jittered around its pace."""
    days = {}
    for milestone, base in PACES[pace].items():
        days[milestone] = None if base is None else max(1, round(base * rng.uniform(0.8, 1.25)))
    return days


def _load_playbooks() -> None:
    for (product_name, segment), tasks in PLAYBOOKS.items():
        product, _ = Product.objects.get_or_create(name=product_name)
        playbook, created = Playbook.objects.get_or_create(product=product, segment=segment)
        if created:
            for position, (title, side, offset) in enumerate(tasks):
                PlaybookTask.objects.create(
                    playbook=playbook, title=title, owner_side=side, due_offset_days=offset, position=position
                )


def _play(journey: Journey, plan: dict[str, int | None], rng: random.Random, today: datetime.date) -> None:
    """Complete the milestones and tasks of `plan` that fall on or before today."""

    def day(offset: int | None) -> datetime.date | None:
        if offset is None:
            return None
        date = journey.transaction_date + datetime.timedelta(days=offset)
        return date if date <= today else None

    onboarding = day(plan["onboarding"])
    tasks = list(journey.tasks.all())
    for index, task in enumerate(tasks):
        if onboarding is not None:
            closed = onboarding - datetime.timedelta(days=(len(tasks) - 1 - index) * rng.randint(1, 4))
            closed = max(closed, journey.transaction_date)
            if index == len(tasks) - 1:
                closed = onboarding
        else:
            # An unfinished onboarding: the first half of the tasks is done.
            closed = day((task.due_date - journey.transaction_date).days)
            if index >= len(tasks) // 2:
                closed = None
        if closed is not None:
            status = "not_applicable" if rng.random() < 0.1 else "done"
            update_task(task, status=status, closed_on=closed)

    values = {"kickoff_date": day(plan["kickoff"]), "outcome_achieved_date": day(plan["outcome_achieved"])}
    if not tasks:
        values["onboarding_date"] = onboarding
    infrastructure = day(plan["infrastructure_ready"])
    values["infrastructure_ready_date"] = infrastructure
    values["infrastructure_type"] = rng.choice(InfrastructureType.values) if infrastructure else ""
    first_value = day(plan["first_value"])
    values["first_value_date"] = first_value
    basis = rng.choice(FirstValueBasis.values) if first_value else ""
    values["first_value_basis"] = basis
    values["first_value_users"] = (
        math.ceil(journey.licenses / 10) + rng.randint(0, 20) if basis == FirstValueBasis.LICENSES_10PCT else None
    )
    record_milestones(journey, values)


def load(stdout) -> None:
    """Load the journeys, then the success plans, contacts and activities; each part loads once."""
    _load_journeys(stdout)
    plan_demo.load(stdout)


def _load_journeys(stdout) -> None:
    """Load playbooks and about 40 journeys over the last 18 months, then mark the overdue milestones."""
    if Journey.objects.exists():
        stdout.write("Journeys exist already; the journey demo is not loaded again.")
        return
    tam = User.objects.filter(username="tam").first()
    accounts = Account.objects.filter(tam__isnull=False).select_related("tam", "ultimate_parent")
    own = list(accounts.filter(tam=tam).order_by("external_id")[: len(TAM_JOURNEYS)]) if tam else []
    others = list(accounts.exclude(tam=tam).order_by("external_id")[:OTHER_JOURNEYS])
    if not own and not others:
        stdout.write("No accounts with a TAM; the journey demo needs the account demo first.")
        return

    today = timezone.localdate()
    rng = random.Random(18)
    with transaction.atomic():
        _load_playbooks()
        products = {product.name: product for product in Product.objects.all()}
        schedule = [(account, age, pace) for account, (age, pace) in zip(own, TAM_JOURNEYS, strict=False)]
        for account in others:
            schedule.append((account, rng.randint(3, 540), rng.choice(list(PACES))))
        for account, age, pace in schedule:
            journey = start_journey(
                account=account,
                kind=JourneyKind.EXPANSION if rng.random() < 0.25 else JourneyKind.NEW,
                transaction_date=today - datetime.timedelta(days=age),
                licenses=rng.choice([20, 50, 100, 250, 500, 1000]),
                products=[products[rng.choice(["Basic", "Pro", "Enterprise"])]],
            )
            _play(journey, _plan(rng, pace), rng, today)
    marks = mark_overdue(today)
    stdout.write(
        f"Journeys: {len(schedule)} loaded ({len(own)} for the demo TAM), "
        f"{Playbook.objects.count()} playbooks, {marks['overdue']} overdue milestones."
    )
