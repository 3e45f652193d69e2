from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _sync_role_groups(sender, **kwargs):
    # post_migrate is sent once per app, and each app's permissions are created
    # by its own signal, so the groups are synced after the last app's.
    if sender is not list(apps.get_app_configs())[-1]:
        return
    from django.contrib.auth.models import Group, Permission

    from .roles import all_role_permissions, sync_role_groups

    sync_role_groups(Group, Permission, all_role_permissions())


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # A database flush (as between transactional tests) removes the groups
        # that the data migration created; post_migrate restores them.
        post_migrate.connect(_sync_role_groups, dispatch_uid="accounts.sync_role_groups")
