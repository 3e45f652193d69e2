from django.contrib.auth.models import Group


def test_role_groups_exist(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"TAM", "Manager", "CS admin"}


def test_manager_may_read_all_accounts(manager):
    assert manager.has_perm("accounts.view_all_accounts")
    assert manager.sees_all_accounts


def test_tam_reads_only_owned_accounts(tam):
    assert not tam.has_perm("accounts.view_all_accounts")
    assert not tam.sees_all_accounts
