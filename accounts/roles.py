"""The three roles. Each is an auth group with the permissions listed here and in other apps.

An app adds permissions to the roles by giving its AppConfig a `role_permissions`
attribute shaped like ROLE_PERMISSIONS below. After every `migrate` the groups
receive the permissions of every installed app.
"""

from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    TAM = "TAM", "TAM"
    MANAGER = "Manager", "Manager"
    CS_ADMIN = "CS admin", "CS admin"


# Permissions of each role's group, as "app_label.codename".
ROLE_PERMISSIONS = {
    "TAM": [
        "accounts.view_account",
        "accounts.view_subscription",
        "accounts.view_contact",
        "accounts.add_contact",
        "accounts.change_contact",
        "retention.view_retentionresult",
    ],
    "Manager": [
        "accounts.view_account",
        "accounts.view_subscription",
        "accounts.view_contact",
        "accounts.view_all_accounts",
        "accounts.reassign_account",
        "retention.view_retentionresult",
    ],
    "CS admin": [
        "accounts.view_account",
        "accounts.add_account",
        "accounts.change_account",
        "accounts.view_subscription",
        "accounts.view_contact",
        "accounts.add_contact",
        "accounts.change_contact",
        "accounts.view_all_accounts",
        "accounts.reassign_account",
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "retention.view_retentionresult",
        "retention.add_importrun",
        "retention.view_importrun",
        "retention.add_columnmapping",
        "retention.change_columnmapping",
        "retention.view_columnmapping",
    ],
}


def all_role_permissions() -> dict[str, list[str]]:
    """Return ROLE_PERMISSIONS merged with the `role_permissions` of every installed app."""
    from django.apps import apps

    merged = {role: list(names) for role, names in ROLE_PERMISSIONS.items()}
    for app_config in apps.get_app_configs():
        for role, names in getattr(app_config, "role_permissions", {}).items():
            merged.setdefault(str(role), []).extend(names)
    return merged


def sync_role_groups(group_model, permission_model, role_permissions=None) -> None:
    """Create the role groups that are missing and give each group its permissions.

    Takes the models as arguments so that a data migration can pass its historical models.
    Permissions that do not exist yet are skipped; the next `migrate` adds them.
    """
    for role, names in (role_permissions or ROLE_PERMISSIONS).items():
        group, _ = group_model.objects.get_or_create(name=role)
        requested = Q()
        for name in names:
            app_label, codename = name.split(".")
            requested |= Q(content_type__app_label=app_label, codename=codename)
        if names:
            group.permissions.add(*permission_model.objects.filter(requested))
