from django.apps import AppConfig

_READ = [
    "services_cost.view_servicerole",
    "services_cost.view_costrate",
    "services_cost.view_costestimate",
]


class ServicesCostConfig(AppConfig):
    name = "services_cost"
    verbose_name = "Services cost"
    # Permissions of each role group, granted after every migrate (see accounts.roles).
    # A TAM's estimate permissions apply only to the accounts they own; the views check that.
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
