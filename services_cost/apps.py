from django.apps import AppConfig
from django.db.models.signals import post_migrate

_READ = [
    "services_cost.view_servicerole",
    "services_cost.view_costrate",
    "services_cost.view_costestimate",
]


def _grant_role_permissions(sender, **kwargs):
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import sync_role_groups

    sync_role_groups(Group, Permission, sender.role_permissions)


class ServicesCostConfig(AppConfig):
    name = "services_cost"
    verbose_name = "Services cost"
    # Permissions of each role group. A TAM's estimate permissions apply only to
    # the accounts they own; the views check that.
    role_permissions = {
        "TAM": [*_READ, "services_cost.add_costestimate", "services_cost.change_costestimate"],
        "Manager": _READ,
        "CS admin": [
            *_READ,
            "services_cost.add_servicerole",
            "services_cost.change_servicerole",
            "services_cost.add_costrate",
            "services_cost.change_costrate",
            "services_cost.delete_costrate",
            "services_cost.add_costestimate",
            "services_cost.change_costestimate",
        ],
    }

    def ready(self):
        # The accounts app grants role permissions when its own post_migrate
        # signal fires, which is before this app's permissions exist on a new
        # database. This app's signal fires after Django has created them.
        post_migrate.connect(_grant_role_permissions, sender=self)
