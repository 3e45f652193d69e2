"""Demo contacts, success plans, objectives and activities for the demo TAM's accounts with journeys.

Loaded by journeys.demo after the journeys; skipped when any success plan exists.
"""

import datetime
import random

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Contact, Persona, User

from .models import Journey
from .plan_models import ActivityKind, ObjectiveStatus, PlanStatus, SuccessPlan
from .plan_services import create_plan, log_activity, mark_original_intent, save_objective, update_plan

CONTACTS = [
    ("Dana Whitfield", "VP Engineering", Persona.EXECUTIVE_SPONSOR),
    ("Marco Ruiz", "Head of Developer Tools", Persona.TOOLS_EXECUTIVE),
    ("Aiko Tanaka", "Director of Development", Persona.DEVELOPMENT_EXECUTIVE),
    ("Sam Okafor", "Staff Engineer", Persona.DEVELOPMENT_LEAD),
    ("Lena Novak", "Security Architect", Persona.SECURITY_LEAD),
    ("Priya Shah", "Platform Engineer", Persona.CHAMPION),
]
# (business outcome, success criteria, days from the transaction to the target date)
OBJECTIVES = [
    ("Ship releases faster", "Median lead time from merge to production under one day for the pilot teams.", 120),
    (
        "Retire the legacy build servers",
        "All pilot projects build on the new pipelines; old servers switched off.",
        150,
    ),
    ("Pass the annual security audit", "No high findings on the source-control controls in the audit report.", 200),
    ("Onboard new developers in a week", "", 240),
]
SUMMARIES = {
    ActivityKind.MEETING: "Walked through the rollout plan and agreed the pilot teams.",
    ActivityKind.CALL: "Checked progress on single sign-on; waiting for the identity team.",
    ActivityKind.EMAIL: "Sent the training schedule and the admin guide.",
    ActivityKind.BUSINESS_REVIEW: "Reviewed adoption against the objectives with the sponsor.",
    ActivityKind.NOTE: "Champion is moving teams next quarter; find a second champion.",
}
PLAN_ACCOUNTS = 8


def _contacts(account: Account, rng: random.Random) -> list[Contact]:
    chosen = rng.sample(CONTACTS, k=rng.randint(3, len(CONTACTS)))
    domain = "".join(ch for ch in account.name.lower() if ch.isalnum())[:20] or "customer"
    contacts = []
    for name, title, persona in chosen:
        email = f"{name.split()[0].lower()}@{domain}.example"
        contact, _ = Contact.objects.get_or_create(
            account=account, email=email, defaults={"name": name, "title": title, "persona": persona}
        )
        contacts.append(contact)
    return contacts


def _objective_values(outcome, criteria, target, stakeholders, status, achieved=None) -> dict:
    return {
        "business_outcome": outcome,
        "success_criteria": criteria,
        "target_date": target,
        "stakeholders": stakeholders,
        "status": status,
        "achieved_date": achieved,
        "notes": "",
    }


def _plan_for(journey: Journey, contacts: list[Contact], rng: random.Random, today: datetime.date, draft: bool) -> None:
    """Give the journey's account a plan whose first objectives were agreed before the transaction."""
    account = journey.account
    plan = create_plan(account, owner=account.tam)
    drafted = timezone.make_aware(datetime.datetime.combine(journey.transaction_date, datetime.time(9)))
    SuccessPlan.objects.filter(pk=plan.pk).update(created_at=drafted - datetime.timedelta(days=rng.randint(10, 40)))
    count = rng.randint(2, 3)
    objectives = []
    for outcome, criteria, days in OBJECTIVES[:count]:
        target = journey.transaction_date + datetime.timedelta(days=days)
        stakeholders = rng.sample(contacts, k=min(2, len(contacts)))
        values = _objective_values(outcome, criteria, target, stakeholders, ObjectiveStatus.PLANNED)
        objectives.append((save_objective(plan, values), values))
    # As if the plan had been drafted during the sale: these become the transaction's purchase intent.
    mark_original_intent(journey)
    outcome_day = journey.outcome_achieved_date
    for index, (objective, values) in enumerate(objectives):
        if outcome_day is not None:
            # Reached journeys: the last objective is achieved on the recorded Outcome Achieved date.
            offset = (count - 1 - index) * rng.randint(5, 20)
            achieved = max(journey.transaction_date, outcome_day - datetime.timedelta(days=offset))
            values.update(status=ObjectiveStatus.ACHIEVED, achieved_date=achieved)
        elif journey.kickoff_date is not None:
            values.update(status=ObjectiveStatus.IN_PROGRESS if index == 0 else ObjectiveStatus.PLANNED)
        save_objective(plan, values, objective)
    extra = OBJECTIVES[3]
    later = _objective_values(
        extra[0], extra[1], journey.transaction_date + datetime.timedelta(days=extra[2]), contacts[:1], "planned"
    )
    if rng.random() < 0.5:
        save_objective(plan, later)
    if not draft:
        update_plan(plan, status=PlanStatus.ACTIVE, closing_summary="", today=today)


def _activities(journey: Journey, contacts: list[Contact], rng: random.Random, today: datetime.date) -> None:
    account = journey.account
    days = []
    if journey.kickoff_date is not None:
        days.append((journey.kickoff_date, ActivityKind.MEETING))
    for _ in range(rng.randint(2, 4)):
        day = journey.transaction_date + datetime.timedelta(
            days=rng.randint(1, max(1, (today - journey.transaction_date).days))
        )
        kind = rng.choice([ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.BUSINESS_REVIEW, ActivityKind.NOTE])
        days.append((min(day, today), kind))
    for day, kind in days:
        attendees = [] if kind == ActivityKind.NOTE else rng.sample(contacts, k=min(2, len(contacts)))
        values = {"kind": kind, "date": day, "attendees": attendees, "summary": SUMMARIES[kind]}
        log_activity(account, values, account.tam)


def load(stdout) -> None:
    """Load contacts, a plan and activities on up to eight accounts of the demo TAM that have a journey."""
    if SuccessPlan.objects.exists():
        stdout.write("Success plans exist already; the plan demo is not loaded again.")
        return
    tam = User.objects.filter(username="tam").first()
    journeys = Journey.objects.filter(account__tam__isnull=False).select_related("account", "account__tam")
    if tam is not None:
        journeys = journeys.filter(account__tam=tam)
    chosen = {}
    for journey in journeys.order_by("transaction_date", "id"):
        chosen[journey.account_id] = journey
    picked = list(chosen.values())[:PLAN_ACCOUNTS]
    if not picked:
        stdout.write("No journeys on accounts with a TAM; the plan demo needs the journey demo first.")
        return
    rng = random.Random(27)
    today = timezone.localdate()
    with transaction.atomic():
        for index, journey in enumerate(picked):
            contacts = _contacts(journey.account, rng)
            # The second plan stays a draft and the last account gets none, so every plan state appears.
            if index < len(picked) - 1:
                _plan_for(journey, contacts, rng, today, draft=index == 1)
            _activities(journey, contacts, rng, today)
    stdout.write(f"Success plans: {SuccessPlan.objects.count()} loaded with contacts and activities.")
