from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate, pre_delete


def _sync_role_groups(sender, **kwargs):
    # post_migrate is sent once per app, and each app's permissions are created
    # by its own signal, so the groups are synced after the last app's.
    if sender is not list(apps.get_app_configs())[-1]:
        return
    from django.contrib.auth.models import Group, Permission

    from .roles import all_role_permissions, sync_role_groups

    sync_role_groups(Group, Permission, all_role_permissions())


def _lock_reports_for_owner_deletion(sender, instance, **kwargs):
    """Take the report lock before a user's deletion clears the TAM of the user's accounts, and recompute after it.

    The deletion's transaction then holds the lock until it commits, as every
    other writer of accounts does, so a recomputation never reads the change
    halfway.
    """
    from retention.locks import report_lock
    from retention.services import schedule_recompute

    from .models import Account

    if instance.pk is not None and Account.objects.filter(tam_id=instance.pk).exists():
        with report_lock():
            schedule_recompute(None)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # A database flush (as between transactional tests) removes the groups
        # that the data migration created; post_migrate restores them.
        post_migrate.connect(_sync_role_groups, dispatch_uid="accounts.sync_role_groups")
        pre_delete.connect(
            _lock_reports_for_owner_deletion,
            sender=self.get_model("User"),
            dispatch_uid="accounts.lock_reports_for_owner_deletion",
        )
