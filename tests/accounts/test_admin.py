import datetime

from retention.models import Level, RetentionCustomer
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
