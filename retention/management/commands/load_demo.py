import csv
import datetime
import importlib
import os
import secrets
import tempfile
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, User
from accounts.roles import Role
from common.months import add_months, first_of_month, format_month, months_between, shift_date
from retention.engine import recompute_retention
from retention.importing.commands import summary_lines
from retention.importing.runs import execute, start_command_run
from retention.models import ColumnMapping, EndDateConvention, ImportKind, ImportStatus, RetentionResult

DEMO_USERS = [
    ("tam", "tam@example.com", Role.TAM),
    ("manager", "manager@example.com", Role.MANAGER),
    ("csadmin", "csadmin@example.com", Role.CS_ADMIN),
]


def demo_files():
    data = settings.BASE_DIR / "data"
    return {
        "accounts": data / "ravenstack" / "ravenstack_accounts.csv",
        "overlay": data / "demo" / "account_overlay.csv",
        "subscriptions": data / "ravenstack" / "ravenstack_subscriptions.csv",
    }


# The date columns of the RavenStack subscriptions file.
SUBSCRIPTION_DATES = ("start_date", "end_date")


def demo_shift(path: Path, today: datetime.date) -> int:
    """Return how many months to move the subscriptions' dates forward so that they end in the month before `today`'s.

    The RavenStack subscriptions start and end from 2023 to 2024. Moved
    forward, the newest months of the overview, the month detail and the
    reasons pages show starts, expansions and churn rather than a long run of
    unchanged months. The dates never move back.
    """
    with open(path, newline="") as source:
        dates = [row[column] for row in csv.DictReader(source) for column in SUBSCRIPTION_DATES if row[column]]
    last = max(datetime.date.fromisoformat(date) for date in dates)
    return max(0, months_between(last, add_months(first_of_month(today), -1)))


def shifted_subscriptions(path: Path, months: int, folder: str) -> Path:
    """Write a copy of the subscriptions file at `path` into `folder` with every date `months` months later.

    A day beyond the end of its new month becomes that month's last day. With
    exclusive end dates, as the demo reads them, a subscription counts in a
    month when it starts in that month or earlier and ends in a later one.
    Only the months of its dates matter, and each moves by `months`.
    """
    target = Path(folder) / f"{path.stem}_dates_{months}_months_later{path.suffix}"
    with open(path, newline="") as source, open(target, "w", newline="") as copy:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(copy, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            for column in SUBSCRIPTION_DATES:
                if row[column]:
                    row[column] = shift_date(datetime.date.fromisoformat(row[column]), months).isoformat()
            writer.writerow(row)
    return target


class Command(BaseCommand):
    help = (
        "Load the demo on an empty database: the RavenStack accounts and subscriptions, a demo hierarchy, "
        "segments and owners, the retention figures, and the logins tam, manager and csadmin."
    )

    def handle(self, *args, **options):
        password = self._create_users()
        if Account.objects.exists():
            self.stdout.write("Accounts exist already; the demo data is not loaded again.")
        else:
            self._import_demo_data()
        if not RetentionResult.objects.exists():
            recompute_retention(None)
        self._load_app_demos()
        if password and os.environ.get("DEMO_PASSWORD"):
            self.stdout.write(
                self.style.SUCCESS("Demo logins tam, manager and csadmin use the password in DEMO_PASSWORD.")
            )
        elif password:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo logins tam, manager and csadmin use the password: {password}\n"
                    "It is shown only now. Set DEMO_PASSWORD before the first run to choose it, because a later"
                    " run leaves existing logins as they are. To change it afterwards, run"
                    " .venv/bin/python manage.py changepassword tam (and manager, csadmin)."
                )
            )

    def _load_app_demos(self) -> None:
        """Call `load(stdout)` of every installed app that has a `demo` module; each loads its part once."""
        for app_config in apps.get_app_configs():
            try:
                module = importlib.import_module(f"{app_config.name}.demo")
            except ModuleNotFoundError as error:
                if error.name != f"{app_config.name}.demo":
                    raise
                continue
            module.load(self.stdout)

    def _create_users(self) -> str | None:
        """Create the demo logins that are missing; return their password when any was created."""
        missing = [user for user in DEMO_USERS if not User.objects.filter(username=user[0]).exists()]
        if not missing:
            return None
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        with transaction.atomic():
            for username, email, role in missing:
                user = User.objects.create_user(username=username, email=email, password=password)
                user.groups.add(Group.objects.get(name=role))
                if role == Role.CS_ADMIN:
                    user.is_staff = True
                    user.save(update_fields=["is_staff"])
        return password

    def _import_demo_data(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            self._import_demo_files(demo_files(), folder)

    def _import_demo_files(self, files: dict[str, Path], folder: str) -> None:
        today = timezone.localdate()
        shift = demo_shift(files["subscriptions"], today)
        # The import runs show a file's name, so the moved copy shows as its source with the move.
        names = {key: str(path.relative_to(settings.BASE_DIR)) for key, path in files.items()}
        if shift:
            files = {**files, "subscriptions": shifted_subscriptions(files["subscriptions"], shift, folder)}
            names["subscriptions"] += f", dates {shift} months later"
        subscription_mapping, _ = ColumnMapping.objects.update_or_create(
            name="RavenStack subscriptions",
            defaults={
                "kind": ImportKind.SUBSCRIPTIONS,
                "columns": {"product": "plan_tier", "quantity": "seats", "mrr": "mrr_amount"},
                "end_date": EndDateConvention.EXCLUSIVE,
            },
        )
        steps = [
            ("RavenStack accounts", ImportKind.ACCOUNTS, "accounts", {}, EndDateConvention.EXCLUSIVE),
            (
                "demo hierarchy, segments and owners",
                ImportKind.ACCOUNTS,
                "overlay",
                {},
                EndDateConvention.EXCLUSIVE,
            ),
            (
                "RavenStack subscriptions",
                ImportKind.SUBSCRIPTIONS,
                "subscriptions",
                subscription_mapping.columns,
                subscription_mapping.end_date,
            ),
        ]
        if shift:
            self.stdout.write(
                f"The subscriptions' dates are moved {shift} months forward, so that the demo's data runs to"
                f" {format_month(add_months(first_of_month(today), -1))}."
            )
        for title, kind, key, columns, end_date in steps:
            self.stdout.write(f"Importing {title} from {names[key]}")
            run = start_command_run(kind, str(files[key]), columns, end_date)
            run.file_name = names[key]
            run.save(update_fields=["file_name"])
            run = execute(run, files[key])
            if run.status != ImportStatus.DONE:
                raise CommandError(
                    f"The demo import of {title} was {run.get_status_display().lower()}: {run.errors[:5]}"
                )
            for line in summary_lines(kind, run.summary):
                self.stdout.write(f"  {line}")
