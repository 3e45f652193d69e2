from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_role_groups(sender, **kwargs):
    from django.contrib.auth.models import Group, Permission

    from .roles import all_role_permissions, sync_role_groups

    sync_role_groups(Group, Permission, all_role_permissions())


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # A database flush (as between transactional tests) removes the groups
        # that the data migration created; post_migrate restores them.
        post_migrate.connect(_sync_role_groups, sender=self)
