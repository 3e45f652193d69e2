from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _grant_role_permissions(sender, **kwargs):
    """Give the role groups this app's permissions once they exist.

    The accounts app grants every app's role permissions when its own
    post_migrate runs, which on a fresh database is before the permissions of
    apps listed after it are created. This handler runs after this app's
    permissions are created.
    """
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import sync_role_groups

    sync_role_groups(Group, Permission, sender.role_permissions)


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Customer journeys"

    # Added to the role groups after every migrate; see accounts.roles.
    role_permissions = {
        "TAM": [
            "journeys.view_journey",
            "journeys.add_journey",
            "journeys.change_journey",
            "journeys.view_journeytask",
            "journeys.change_journeytask",
        ],
        "Manager": [
            "journeys.view_journey",
            "journeys.view_journeytask",
            "journeys.view_ttv_report",
        ],
        "CS admin": [
            "journeys.view_journey",
            "journeys.view_journeytask",
            "journeys.view_ttv_report",
            "journeys.view_playbook",
            "journeys.add_playbook",
            "journeys.change_playbook",
            "journeys.delete_playbook",
            "journeys.view_milestonetarget",
            "journeys.change_milestonetarget",
        ],
    }

    def ready(self):
        post_migrate.connect(_grant_role_permissions, sender=self)
