"""Create the TAM, Manager and CS admin groups with their permissions."""

from django.db import migrations

ROLE_PERMISSIONS = {
    "TAM": [
        "accounts.view_account",
        "accounts.view_subscription",
        "accounts.view_contact",
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


def create_role_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after the last migration; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_role_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("retention", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_role_groups, remove_role_groups)]
