import datetime

import pytest

from accounts.roles import Role
from retention.models import Level, RetentionCustomer
from tests.factories import UserFactory
from tests.retention.builders import add_lines, make_account


def test_admin_parent_change_refreshes_hierarchy_and_retention(client, cs_admin, django_capture_on_commit_callbacks):
    cs_admin.is_staff = True
    cs_admin.save()
    holding = make_account("HOLD", name="Holding")
    child = make_account("KID", name="Kid")
    add_lines(
        [
            ("2023-06", "KID", "SUB-KID", "Premium", 1, "100.00", "recurring"),
            ("2024-06", "KID", "SUB-KID", "Premium", 1, "100.00", "recurring"),
        ]
    )
    client.force_login(cs_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/accounts/account/{child.pk}/change/",
            {
                "external_id": "KID",
                "name": "Kid",
                "parent": holding.pk,
                "segment": "SMB",
                "tam": "",
                "subscriptions-TOTAL_FORMS": "0",
                "subscriptions-INITIAL_FORMS": "0",
                "contacts-TOTAL_FORMS": "0",
                "contacts-INITIAL_FORMS": "0",
            },
        )

    assert response.status_code == 302
    child.refresh_from_db()
    assert child.ultimate_parent == holding
    row = RetentionCustomer.objects.get(month=datetime.date(2024, 6, 1), level=Level.PARENT)
    assert row.account == holding


def test_admin_rejects_parent_cycle(client, cs_admin):
    cs_admin.is_staff = True
    cs_admin.save()
    top = make_account("TOP", name="Top")
    below = make_account("BELOW", parent=top, name="Below")
    client.force_login(cs_admin)

    response = client.post(
        f"/admin/accounts/account/{top.pk}/change/",
        {
            "external_id": "TOP",
            "name": "Top",
            "parent": below.pk,
            "segment": "SMB",
            "tam": "",
            "subscriptions-TOTAL_FORMS": "0",
            "subscriptions-INITIAL_FORMS": "0",
            "contacts-TOTAL_FORMS": "0",
            "contacts-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "its own ancestor" in response.content.decode()
    top.refresh_from_db()
    assert top.parent is None


def test_admin_offers_only_active_tams(client, cs_admin, tam, manager):
    cs_admin.is_staff = True
    cs_admin.save()
    departed = UserFactory(username="departed", role=Role.TAM, is_active=False)
    account = make_account("OWNED", name="Owned")
    account.tam = departed
    account.save()
    client.force_login(cs_admin)
    change_url = f"/admin/accounts/account/{account.pk}/change/"
    form = {
        "external_id": "OWNED",
        "name": "Owned",
        "parent": "",
        "segment": "SMB",
        "subscriptions-TOTAL_FORMS": "0",
        "subscriptions-INITIAL_FORMS": "0",
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
    }

    offered = set(client.get(change_url).context["adminform"].form.fields["tam"].queryset)
    rejected = client.post(change_url, {**form, "tam": manager.pk})
    kept_departed = client.post(change_url, {**form, "name": "Renamed", "tam": departed.pk})

    assert offered == {tam, departed}
    assert rejected.status_code == 200
    assert "Select a valid choice" in rejected.content.decode()
    assert kept_departed.status_code == 302
    account.refresh_from_db()
    assert account.tam == departed
    assert account.name == "Renamed"


def user_form(user, **changes):
    """Return the admin's change form of `user` as posted with its current values and `changes`."""
    form = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "groups": [group.pk for group in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "00:00:00",
    }
    if user.is_staff:
        form["is_staff"] = "on"
    form.update(changes)
    return form


def test_cs_admin_cannot_make_a_superuser(client, cs_admin, tam):
    cs_admin.is_staff = True
    cs_admin.save()
    client.force_login(cs_admin)

    own = client.post(f"/admin/accounts/user/{cs_admin.pk}/change/", user_form(cs_admin, is_superuser="on"))
    other = client.post(f"/admin/accounts/user/{tam.pk}/change/", user_form(tam, is_superuser="on", first_name="T"))

    assert own.status_code == 302
    assert other.status_code == 302
    cs_admin.refresh_from_db()
    tam.refresh_from_db()
    assert not cs_admin.is_superuser
    assert not tam.is_superuser
    assert tam.first_name == "T"
    assert not cs_admin.user_permissions.exists()


def test_cs_admin_cannot_change_a_superuser(client, cs_admin):
    cs_admin.is_staff = True
    cs_admin.save()
    owner = UserFactory(username="owner", is_staff=True, is_superuser=True)
    client.force_login(cs_admin)

    change = client.post(f"/admin/accounts/user/{owner.pk}/change/", user_form(owner, email="x@example.com"))
    password = client.post(
        f"/admin/accounts/user/{owner.pk}/password/", {"password1": "Tak3over-pass", "password2": "Tak3over-pass"}
    )
    delete = client.post(f"/admin/accounts/user/{owner.pk}/delete/", {"post": "yes"})

    assert change.status_code == 403
    assert password.status_code == 403
    assert delete.status_code == 403
    owner.refresh_from_db()
    assert owner.email != "x@example.com"
    assert owner.check_password("Tak3over-pass") is False


def test_superuser_still_grants_superuser_status(client, tam):
    owner = UserFactory(username="owner", is_staff=True, is_superuser=True)
    client.force_login(owner)

    response = client.post(f"/admin/accounts/user/{tam.pk}/change/", user_form(tam, is_superuser="on"))

    assert response.status_code == 302
    tam.refresh_from_db()
    assert tam.is_superuser


def test_cs_admin_opens_admin_site_without_staff_status(client, cs_admin):
    client.force_login(cs_admin)

    index = client.get("/admin/")
    users = client.get("/admin/accounts/user/")

    assert not cs_admin.is_staff
    assert index.status_code == 200
    assert users.status_code == 200


@pytest.mark.parametrize("role", [Role.TAM, Role.MANAGER])
def test_other_roles_get_admin_login(client, db, role):
    client.force_login(UserFactory(username="someone", role=role))

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_anonymous_gets_admin_login(client, db):
    response = client.get("/admin/accounts/user/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_login_accepts_cs_admin(client, cs_admin):
    cs_admin.set_password("Admin-login-1")
    cs_admin.save()

    response = client.post(
        "/admin/login/?next=/admin/", {"username": "csadmin", "password": "Admin-login-1", "next": "/admin/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_tam_still_rejected_on_admin_login(client, tam):
    tam.set_password("Tam-login-1")
    tam.save()

    response = client.post("/admin/login/", {"username": "tam_owner", "password": "Tam-login-1"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
