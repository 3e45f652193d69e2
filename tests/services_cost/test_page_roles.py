"""Who may open each services-cost page: owning TAM, other TAM, manager, CS admin, a user without a role, anonymous."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from common.fiscal import FiscalQuarter
from services_cost import services
from services_cost.models import CostEstimate, CostRate, EstimateStatus
from tests.factories import AccountFactory, UserFactory

from .factories import CostRateFactory, EstimateLineFactory

Q1 = FiscalQuarter(2026, 1)


@pytest.fixture
def book(tam):
    rate = CostRateFactory(role__name="Engineer", quarter=Q1)
    account = AccountFactory(tam=tam, name="Owned Account")
    line = EstimateLineFactory(
        role=rate.role, estimate__account=account, estimate__estimate_date=datetime.date(2026, 2, 1)
    )
    return {"rate": rate, "estimate": line.estimate, "account": account}


@pytest.fixture
def no_role(db):
    return UserFactory(username="nobody")


USERS = ["tam", "other_tam", "manager", "cs_admin", "no_role", "anonymous"]


def client_for(client, request, who):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    return client


def estimate_post(book):
    return {
        "account": book["account"].pk,
        "title": "Posted",
        "estimate_date": "2026-02-10",
        "price": "5000.00",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100",
        "lines-0-role": book["rate"].role.pk,
        "lines-0-hours": "10",
        "lines-0-description": "",
    }


# Reading pages: (name, args from the book, expected status by user)
READS = {
    "rates": (
        "services_cost:rates",
        lambda book: [],
        {"tam": 200, "other_tam": 200, "manager": 200, "cs_admin": 200, "no_role": 403},
    ),
    "estimate_list": (
        "services_cost:estimate_list",
        lambda book: [],
        {"tam": 200, "other_tam": 200, "manager": 200, "cs_admin": 200, "no_role": 403},
    ),
    "estimate_detail": (
        "services_cost:estimate_detail",
        lambda book: [book["estimate"].pk],
        {"tam": 200, "other_tam": 403, "manager": 200, "cs_admin": 200, "no_role": 403},
    ),
    "estimate_csv": (
        "services_cost:estimate_csv",
        lambda book: [book["estimate"].pk],
        {"tam": 200, "other_tam": 403, "manager": 200, "cs_admin": 200, "no_role": 403},
    ),
    "estimate_edit": (
        "services_cost:estimate_edit",
        lambda book: [book["estimate"].pk],
        {"tam": 200, "other_tam": 403, "manager": 403, "cs_admin": 200, "no_role": 403},
    ),
    "estimate_create": (
        "services_cost:estimate_create",
        lambda book: [],
        {"tam": 200, "other_tam": 200, "manager": 403, "cs_admin": 200, "no_role": 403},
    ),
    "rate_create": (
        "services_cost:rate_create",
        lambda book: [],
        {"tam": 403, "other_tam": 403, "manager": 403, "cs_admin": 200, "no_role": 403},
    ),
    "rate_edit": (
        "services_cost:rate_edit",
        lambda book: [book["rate"].pk],
        {"tam": 403, "other_tam": 403, "manager": 403, "cs_admin": 200, "no_role": 403},
    ),
    "role_create": (
        "services_cost:role_create",
        lambda book: [],
        {"tam": 403, "other_tam": 403, "manager": 403, "cs_admin": 200, "no_role": 403},
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("page", READS)
def test_get_page_by_role(client, request, book, page, who):
    name, args, expected = READS[page]
    url = reverse(name, args=args(book))

    response = client_for(client, request, who).get(url)

    if who == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == expected[who]


@pytest.mark.django_db
def test_missing_estimate_is_404(client, cs_admin):
    client.force_login(cs_admin)

    assert client.get(reverse("services_cost:estimate_detail", args=[999])).status_code == 404
    assert client.get(reverse("services_cost:rate_edit", args=[999])).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("who", USERS)
def test_estimate_list_shows_only_readable_estimates(client, request, book, other_tam, who):
    AccountFactory(tam=other_tam)
    theirs = EstimateLineFactory(
        role=book["rate"].role,
        estimate__account=AccountFactory(tam=other_tam),
        estimate__estimate_date=datetime.date(2026, 2, 1),
    ).estimate

    response = client_for(client, request, who).get(reverse("services_cost:estimate_list"))

    if who in ("anonymous", "no_role"):
        assert response.status_code in (302, 403)
        return
    listed = {estimate.pk for estimate, _ in response.context["rows"]}
    expected = {
        "tam": {book["estimate"].pk},
        "other_tam": {theirs.pk},
        "manager": {book["estimate"].pk, theirs.pk},
        "cs_admin": {book["estimate"].pk, theirs.pk},
    }[who]
    assert listed == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who, allowed",
    [("tam", True), ("other_tam", False), ("manager", False), ("cs_admin", True), ("no_role", False)],
)
def test_create_estimate_on_account_by_role(client, request, book, who, allowed):
    client_for(client, request, who).post(reverse("services_cost:estimate_create"), estimate_post(book))

    assert CostEstimate.objects.filter(title="Posted").exists() == allowed


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who, status",
    [("tam", 302), ("other_tam", 403), ("manager", 403), ("cs_admin", 302), ("no_role", 403), ("anonymous", 302)],
)
def test_edit_estimate_by_role(client, request, book, who, status):
    url = reverse("services_cost:estimate_edit", args=[book["estimate"].pk])
    data = estimate_post(book) | {"title": "Edited", "lines-INITIAL_FORMS": "1", "lines-0-hours": "12"}

    response = client_for(client, request, who).post(url, data)

    assert response.status_code == status
    edited = who in ("tam", "cs_admin")
    assert CostEstimate.objects.filter(title="Edited").exists() == edited


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who, status",
    [("tam", 302), ("other_tam", 403), ("manager", 403), ("cs_admin", 302), ("no_role", 403), ("anonymous", 302)],
)
def test_finish_and_duplicate_by_role(client, request, book, who, status):
    estimate = book["estimate"]
    client = client_for(client, request, who)

    duplicated = client.post(reverse("services_cost:estimate_duplicate", args=[estimate.pk]))
    finished = client.post(reverse("services_cost:estimate_finish", args=[estimate.pk]))

    assert duplicated.status_code == status
    assert finished.status_code == status
    estimate.refresh_from_db()
    allowed = who in ("tam", "cs_admin")
    assert (estimate.status == EstimateStatus.FINISHED) == allowed
    assert CostEstimate.objects.count() == (2 if allowed else 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who, status", [("tam", 403), ("other_tam", 403), ("manager", 403), ("cs_admin", 302), ("anonymous", 302)]
)
def test_rate_writes_by_role(client, request, book, who, status):
    rate = book["rate"]
    client = client_for(client, request, who)

    edited = client.post(
        reverse("services_cost:rate_edit", args=[rate.pk]),
        {"ote": "200000.00", "benefits": "0.00", "billable_hours": "2000"},
    )
    copied = client.post(reverse("services_cost:rates_copy"), {"quarter": "FY2026-Q1"})
    created = client.post(reverse("services_cost:role_create"), {"name": "Trainer"})

    assert (edited.status_code, copied.status_code, created.status_code) == (status, status, status)
    rate.refresh_from_db()
    allowed = who == "cs_admin"
    assert (rate.ote == Decimal("200000.00")) == allowed
    assert CostRate.objects.filter(quarter_start=Q1.next().start).exists() == allowed


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["tam", "manager", "anonymous"])
def test_rate_delete_by_other_roles(client, request, book, who):
    rate = book["rate"]

    client_for(client, request, who).post(reverse("services_cost:rate_delete", args=[rate.pk]))

    assert CostRate.objects.filter(pk=rate.pk).exists()


@pytest.mark.django_db
def test_rates_page_hides_edit_controls_from_readers(client, manager, cs_admin, book):
    url = reverse("services_cost:rates") + "?quarter=FY2026-Q1"
    client.force_login(manager)
    manager_page = client.get(url).content.decode()
    client.force_login(cs_admin)
    admin_page = client.get(url).content.decode()

    assert "Copy these rates" not in manager_page
    assert "Only a CS admin may change rates." in manager_page
    assert "Copy these rates to FY2026-Q2" in admin_page


@pytest.mark.django_db
def test_finished_estimate_page_offers_no_edit(client, tam, book):
    services.finish_estimate(estimate=book["estimate"], user=tam)
    client.force_login(tam)

    page = client.get(reverse("services_cost:estimate_detail", args=[book["estimate"].pk])).content.decode()
    edit = client.get(reverse("services_cost:estimate_edit", args=[book["estimate"].pk]))

    assert 'id="edit"' not in page
    assert 'id="finish"' not in page
    assert edit.status_code == 302
