"""Refused and missing pages use the site's layout and explain the cause."""

from django.urls import reverse


def test_forbidden_page_uses_site_layout(client, tam):
    client.force_login(tam)

    response = client.get(reverse("audit:events"))

    page = response.content.decode()
    assert response.status_code == 403
    assert 'id="forbidden"' in page
    assert "not open to your role" in page
    assert "Log out" in page


def test_missing_page_uses_site_layout(client, manager):
    client.force_login(manager)

    response = client.get("/no-such-page/")

    page = response.content.decode()
    assert response.status_code == 404
    assert 'id="not-found"' in page
    assert "Page not found" in page
    assert "Log out" in page
