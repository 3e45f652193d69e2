import datetime

from django.urls import reverse

from tests.conftest import PASSWORD


def attempt(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_five_failures_lock_the_user_name_out(client, manager):
    for _ in range(4):
        assert attempt(client, manager.username, "wrong-password").status_code == 200
    assert attempt(client, manager.username, "wrong-password").status_code == 429

    response = attempt(client, manager.username, PASSWORD)

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_leaves_other_users_alone(client, manager, tam):
    for _ in range(5):
        attempt(client, manager.username, "wrong-password")

    response = attempt(client, tam.username, PASSWORD)

    assert response.status_code == 302


def test_four_failures_still_allow_login(client, manager):
    for _ in range(4):
        attempt(client, manager.username, "wrong-password")

    assert attempt(client, manager.username, PASSWORD).status_code == 302


def test_lockout_ends_after_cooloff(client, manager, time_machine):
    time_machine.move_to(datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC))
    for _ in range(5):
        attempt(client, manager.username, "wrong-password")
    assert attempt(client, manager.username, PASSWORD).status_code == 429

    time_machine.move_to(datetime.datetime(2026, 1, 5, 9, 16, tzinfo=datetime.UTC))

    assert attempt(client, manager.username, PASSWORD).status_code == 302
