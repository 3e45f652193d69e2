import pytest
from django.contrib.auth.models import Group


def test_role_groups_exist(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"TAM", "Manager", "CS admin"}


def test_manager_may_read_all_accounts(manager):
    assert manager.has_perm("accounts.view_all_accounts")
    assert manager.sees_all_accounts


def test_tam_reads_only_owned_accounts(tam):
    assert not tam.has_perm("accounts.view_all_accounts")
    assert not tam.sees_all_accounts


def test_every_app_role_permission_is_granted(db):
    from django.contrib.auth.models import Group

    from accounts.roles import all_role_permissions

    for role, names in all_role_permissions().items():
        granted = {
            f"{app_label}.{codename}"
            for app_label, codename in Group.objects.get(name=role).permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert set(names) <= granted, role


@pytest.mark.parametrize(("shown", "expected"), [(True, True), (False, False)])
def test_footer_credits_demo_data_when_set(client, settings, shown, expected):
    settings.SHOW_DEMO_CREDIT = shown

    page = client.get("/login/").text

    assert ("Demo data: RavenStack" in page) is expected
    assert 'href="/about/"' in page
