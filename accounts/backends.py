"""The authentication backend: Django's model backend with a user's roles and permissions read in one query."""

from django.contrib.auth.backends import ModelBackend
from django.db import connection

# One row per role with each of its permissions (or none), then one row per
# permission given to the user directly, with NULL as the role.
_ACCESS_SQL = """
SELECT role.name, content_type.app_label, permission.codename
FROM accounts_user_groups membership
JOIN auth_group role ON role.id = membership.group_id
LEFT JOIN auth_group_permissions granted ON granted.group_id = role.id
LEFT JOIN auth_permission permission ON permission.id = granted.permission_id
LEFT JOIN django_content_type content_type ON content_type.id = permission.content_type_id
WHERE membership.user_id = %s
UNION ALL
SELECT NULL, content_type.app_label, permission.codename
FROM accounts_user_user_permissions direct
JOIN auth_permission permission ON permission.id = direct.permission_id
JOIN django_content_type content_type ON content_type.id = permission.content_type_id
WHERE direct.user_id = %s
"""


def load_access(user) -> None:
    """Read the role names and permissions of a saved user into its caches, in one query.

    Django's model backend reads the user's own permissions and the roles'
    permissions in two queries, and the role names take a third. Every page
    checks a permission and most ask for the role, so one query saves two per
    request.
    """
    roles, role_permissions, own_permissions = set(), set(), set()
    with connection.cursor() as cursor:
        cursor.execute(_ACCESS_SQL, [user.pk, user.pk])
        for role, app_label, codename in cursor.fetchall():
            if role is None:
                own_permissions.add(f"{app_label}.{codename}")
                continue
            roles.add(role)
            if codename is not None:
                role_permissions.add(f"{app_label}.{codename}")
    user._role_names = roles
    if user.is_superuser:
        # Django's model backend gives a superuser every permission; leave that to it.
        return
    user._user_perm_cache = own_permissions
    user._group_perm_cache = role_permissions
    user._perm_cache = own_permissions | role_permissions


class RoleBackend(ModelBackend):
    """Django's model backend, reading the permissions of an active non-superuser with `load_access`."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not user_obj.is_superuser and not hasattr(user_obj, "_perm_cache"):
            load_access(user_obj)
        return super().get_all_permissions(user_obj, obj)
