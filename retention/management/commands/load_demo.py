import importlib
import os
import secrets

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Account, User
from accounts.roles import Role
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
        files = demo_files()
        subscription_mapping, _ = ColumnMapping.objects.update_or_create(
            name="RavenStack subscriptions",
            defaults={
                "kind": ImportKind.SUBSCRIPTIONS,
                "columns": {"product": "plan_tier", "quantity": "seats", "mrr": "mrr_amount"},
                "end_date": EndDateConvention.EXCLUSIVE,
            },
        )
        steps = [
            ("RavenStack accounts", ImportKind.ACCOUNTS, files["accounts"], {}, EndDateConvention.EXCLUSIVE),
            (
                "demo hierarchy, segments and owners",
                ImportKind.ACCOUNTS,
                files["overlay"],
                {},
                EndDateConvention.EXCLUSIVE,
            ),
            (
                "RavenStack subscriptions",
                ImportKind.SUBSCRIPTIONS,
                files["subscriptions"],
                subscription_mapping.columns,
                subscription_mapping.end_date,
            ),
        ]
        for title, kind, path, columns, end_date in steps:
            self.stdout.write(f"Importing {title} from {path.relative_to(settings.BASE_DIR)}")
            run = execute(start_command_run(kind, str(path), columns, end_date), path)
            if run.status != ImportStatus.DONE:
                raise CommandError(
                    f"The demo import of {title} was {run.get_status_display().lower()}: {run.errors[:5]}"
                )
            for line in summary_lines(kind, run.summary):
                self.stdout.write(f"  {line}")
