"""The authentication backend reads a user's roles and permissions in one query."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.roles import Role
from tests.factories import UserFactory


def fresh(user) -> User:
    return User.objects.get(pk=user.pk)


def test_roles_and_permissions_take_one_query(db):
    manager = fresh(UserFactory(role=Role.MANAGER))

    with CaptureQueriesContext(connection) as queries:
        may_read = manager.has_perm("retention.view_retentionresult")
        roles = manager.role_names
        may_import = manager.has_perm("retention.add_importrun")

    assert len(queries) == 1
    assert may_read
    assert roles == {Role.MANAGER}
    assert not may_import


def test_role_names_first_also_load_permissions(db):
    admin = fresh(UserFactory(role=Role.CS_ADMIN))

    with CaptureQueriesContext(connection) as queries:
        assert admin.is_cs_admin
        assert admin.has_perm("services_cost.change_costrate")

    assert len(queries) == 1


def test_permissions_match_django_model_backend(db):
    tam = UserFactory(role=Role.TAM)
    tam.groups.add(*UserFactory(role=Role.CS_ADMIN).groups.all())
    tam.user_permissions.add(Permission.objects.get(codename="view_auditevent"))

    expected = ModelBackend().get_all_permissions(fresh(tam))
    user = fresh(tam)

    assert user.get_all_permissions() == expected
    assert user.get_user_permissions() == {"audit.view_auditevent"}
    assert user.role_names == {Role.TAM, Role.CS_ADMIN}


def test_user_without_roles_has_no_permissions(db):
    user = fresh(UserFactory())

    assert user.role_names == set()
    assert user.get_all_permissions() == set()


def test_inactive_user_has_no_permissions(db):
    user = UserFactory(role=Role.MANAGER)
    user.is_active = False
    user.save()

    assert not fresh(user).has_perm("retention.view_retentionresult")


def test_superuser_keeps_every_permission(db):
    root = fresh(UserFactory(is_superuser=True))

    assert root.has_perm("retention.add_importrun")
    assert root.has_perm("audit.view_auditevent")


def test_superuser_roles_first_keeps_every_permission(db):
    root = fresh(UserFactory(is_superuser=True))
    expected = ModelBackend().get_all_permissions(fresh(root))

    assert root.role_names == set()
    assert root.get_all_permissions() == expected
    assert len(expected) > 100
