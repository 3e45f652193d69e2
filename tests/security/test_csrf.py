import pytest
from django.test import Client
from django.urls import reverse

from retention.models import ImportRun


@pytest.fixture
def strict_client():
    """A client that, like a browser, must send the CSRF token with every POST."""
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize(
    "name",
    ["login", "retention:import_new", "journeys:start", "services_cost:estimate_create", "services_cost:rates_copy"],
    ids=str,
)
def test_post_without_csrf_token_is_refused(strict_client, cs_admin, name):
    strict_client.force_login(cs_admin)

    response = strict_client.post(reverse(name), {})

    assert response.status_code == 403


def test_upload_without_csrf_token_stores_nothing(strict_client, cs_admin):
    strict_client.force_login(cs_admin)

    strict_client.post(reverse("retention:import_new"), {"kind": "accounts"})

    assert not ImportRun.objects.exists()


def test_login_form_carries_csrf_token(strict_client):
    assert 'name="csrfmiddlewaretoken"' in strict_client.get(reverse("login")).content.decode()
