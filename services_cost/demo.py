"""Demo data of the services-cost app: roles, two quarters of rates and a few estimates.

`load_demo` calls `load(stdout)` after the retention demo. It loads nothing when
any service role exists, so running it again changes nothing.
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, User
from common.fiscal import quarter_of

from .models import ServiceRole
from .services import LineInput, copy_rates_to_next_quarter, create_estimate, create_role, finish_estimate, save_rate

# Role name, OTE, benefits and billable hours in the earlier quarter.
ROLES = [
    ("Professional services engineer", Decimal("142000.00"), Decimal("31240.00"), 1880),
    ("Project manager", Decimal("128000.00"), Decimal("28160.00"), 1880),
    ("Solutions architect", Decimal("176000.00"), Decimal("38720.00"), 1800),
    ("Trainer", Decimal("96000.00"), Decimal("21120.00"), 1700),
]
# Raise of the engineer's OTE in the later quarter, so the chart shows a change.
ENGINEER_RAISE = Decimal("6000.00")


def load(stdout) -> None:
    if ServiceRole.objects.exists():
        stdout.write("Service roles exist already; the services-cost demo is not loaded again.")
        return
    admin = User.objects.filter(username="csadmin").first()
    tam = User.objects.filter(username="tam").first()
    current = quarter_of(timezone.localdate())
    earlier = current.previous()
    with transaction.atomic():
        roles = {}
        for name, ote, benefits, hours in ROLES:
            role = create_role(name=name, user=admin)
            roles[name] = role
            save_rate(role=role, quarter=earlier, ote=ote, benefits=benefits, billable_hours=hours, user=admin)
        copy_rates_to_next_quarter(source=earlier, user=admin)
        engineer = roles["Professional services engineer"].rates.get(quarter_start=current.start)
        save_rate(
            role=engineer.role,
            quarter=current,
            ote=engineer.ote + ENGINEER_RAISE,
            benefits=engineer.benefits,
            billable_hours=engineer.billable_hours,
            user=admin,
            rate=engineer,
        )
        estimates = _load_estimates(roles, tam, admin, earlier, current)
    stdout.write(f"Services cost: {len(roles)} roles, rates for {earlier} and {current}, {estimates} estimates.")


def _load_estimates(roles, tam, admin, earlier, current) -> int:
    owned = list(Account.objects.filter(tam=tam).order_by("name", "id")[:2]) if tam else []
    others = list(Account.objects.exclude(tam=tam).order_by("name", "id")[:1]) if tam else []
    if not owned and not others:
        others = list(Account.objects.order_by("name", "id")[:1])
    engineer = roles["Professional services engineer"]
    manager = roles["Project manager"]
    architect = roles["Solutions architect"]
    trainer = roles["Trainer"]
    plans = []
    if owned:
        plans.append(
            (
                owned[0],
                tam,
                "Kubernetes migration SOW",
                earlier.start,
                Decimal("48000.00"),
                [
                    LineInput(architect, Decimal("40"), "Target architecture and review"),
                    LineInput(engineer, Decimal("260"), "Migration of 12 services"),
                    LineInput(manager, Decimal("60"), "Weekly steering and status"),
                ],
                True,
            )
        )
        plans.append(
            (
                owned[-1],
                tam,
                "Onboarding and admin training",
                current.start,
                Decimal("12500.00"),
                [
                    LineInput(engineer, Decimal("48"), "SSO and SCIM setup"),
                    LineInput(trainer, Decimal("24"), "Three admin training sessions"),
                ],
                False,
            )
        )
    if others:
        plans.append(
            (
                others[0],
                admin,
                "Security hardening review",
                current.start,
                Decimal("9000.00"),
                [
                    LineInput(architect, Decimal("32"), "Threat model and configuration review"),
                    LineInput(engineer, Decimal("40"), "Remediation support"),
                ],
                False,
            )
        )
    for account, user, title, day, price, lines, finished in plans:
        estimate = create_estimate(account=account, title=title, estimate_date=day, price=price, lines=lines, user=user)
        if finished:
            finish_estimate(estimate=estimate, user=user)
    return len(plans)
