"""Rates and estimate pages: forms that reject input and name the field, the copy action, history, CSV export."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from common.fiscal import FiscalQuarter
from services_cost import services
from services_cost.models import CostEstimate, CostRate, EstimateLine, ServiceRole
from services_cost.services import LineInput
from tests.factories import AccountFactory

from .factories import CostRateFactory

Q1 = FiscalQuarter(2026, 1)
RATES = reverse("services_cost:rates")
NEW_RATE = reverse("services_cost:rate_create")
NEW_ESTIMATE = reverse("services_cost:estimate_create")


@pytest.fixture
def engineer_rate():
    return CostRateFactory(role__name="Engineer", quarter=Q1)


def line_data(lines, initial=0):
    data = {
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": str(initial),
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100",
    }
    for index, (role, hours, description) in enumerate(lines):
        data[f"lines-{index}-role"] = role
        data[f"lines-{index}-hours"] = hours
        data[f"lines-{index}-description"] = description
    return data


def estimate_data(account, lines, **changes):
    return {
        "account": account.pk,
        "title": "Rollout SOW",
        "estimate_date": "2026-02-10",
        "price": "8000.00",
        **line_data(lines),
        **changes,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"ote": "-5.00"}, "ote", "OTE must not be negative."),
        ({"benefits": "-0.01"}, "benefits", "Benefits must not be negative."),
        ({"billable_hours": "0"}, "billable_hours", "Billable hours must be above zero."),
        ({"ote": "1,250.00"}, "ote", "OTE must be an amount such as 1250.00."),
        ({"quarter": "FY2026-Q5"}, "quarter", "Invalid fiscal quarter 'FY2026-Q5'"),
        ({"role": "999"}, "role", "Select a valid choice."),
        ({"ote": "1.5e5"}, "ote", "OTE must be an amount such as 1250.00."),
        ({"billable_hours": "１８８０"}, "billable_hours", "Enter a whole number."),
    ],
    ids=[
        "negative-ote",
        "negative-benefits",
        "zero-hours",
        "grouped-amount",
        "unknown-quarter",
        "unknown-role",
        "exponent-ote",
        "full-width-hours",
    ],
)
def test_rate_form_rejects_input(client, cs_admin, changes, field, message):
    role = ServiceRole.objects.create(name="Engineer")
    data = {
        "role": role.pk,
        "quarter": "FY2026-Q1",
        "ote": "150400.00",
        "benefits": "37600.00",
        "billable_hours": "1880",
        **changes,
    }
    client.force_login(cs_admin)

    response = client.post(NEW_RATE, data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert message in errors[field][0]
    assert CostRate.objects.count() == 0


@pytest.mark.django_db
def test_rate_form_stores_rate_and_shows_hourly_cost(client, cs_admin):
    role = ServiceRole.objects.create(name="Engineer")
    client.force_login(cs_admin)
    data = {"role": role.pk, "quarter": "FY2026-Q1", "ote": "99875", "benefits": "0", "billable_hours": "1880"}

    response = client.post(NEW_RATE, data, follow=True)

    rate = CostRate.objects.get()
    assert rate.quarter_start == datetime.date(2026, 1, 1)
    assert rate.ote == Decimal("99875.00")
    assert "53.13 an hour" in response.content.decode()


@pytest.mark.django_db
def test_copy_and_edit_show_history_on_page(client, cs_admin, engineer_rate):
    client.force_login(cs_admin)

    client.post(reverse("services_cost:rates_copy"), {"quarter": "FY2026-Q1"})
    copy = CostRate.objects.get(quarter_start=FiscalQuarter(2026, 2).start)
    client.post(
        reverse("services_cost:rate_edit", args=[copy.pk]),
        {"ote": "169200.00", "benefits": "37600.00", "billable_hours": "1880"},
    )
    page = client.get(RATES, {"quarter": "FY2026-Q2"})

    changes = page.context["changes"]
    assert [change.action for change in changes] == ["changed", "created"]
    assert changes[0].user == "csadmin"
    assert [(item.field, item.old, item.new) for item in changes[0].changes] == [("OTE", "150400.00", "169200.00")]
    assert changes[1].reason == "copied from FY2026-Q1"
    assert "110.00" in page.content.decode()


@pytest.mark.django_db
def test_copy_of_empty_quarter_shows_error(client, cs_admin):
    client.force_login(cs_admin)

    response = client.post(reverse("services_cost:rates_copy"), {"quarter": "FY2026-Q3"}, follow=True)

    assert "FY2026-Q3 has no rates to copy." in response.content.decode()
    assert not CostRate.objects.exists()


@pytest.mark.django_db
def test_rates_page_offers_no_quarter_outside_the_range(client, cs_admin):
    CostRateFactory(role__name="Engineer", quarter=FiscalQuarter(9998, 4))
    CostRateFactory(role__name="Engineer", quarter=FiscalQuarter(1901, 1))
    client.force_login(cs_admin)

    last = client.get(RATES, {"quarter": "FY9998-Q4"}).content.decode()
    first = client.get(RATES, {"quarter": "FY1901-Q1"}).content.decode()

    assert 'id="previous-quarter"' in last
    assert 'id="next-quarter"' not in last
    assert 'id="copy-rates"' not in last
    assert "FY9999" not in last
    assert 'id="previous-quarter"' not in first
    assert 'id="next-quarter"' in first
    assert "FY1900" not in first


@pytest.mark.django_db
def test_delete_rate_of_finished_estimate_shows_message(client, cs_admin, tam, engineer_rate):
    estimate = services.create_estimate(
        account=AccountFactory(tam=tam),
        title="Pilot SOW",
        estimate_date=Q1.start,
        price=Decimal("1.00"),
        lines=[LineInput(engineer_rate.role, Decimal(1))],
        user=tam,
    )
    services.finish_estimate(estimate=estimate, user=tam)
    client.force_login(cs_admin)

    response = client.post(reverse("services_cost:rate_delete", args=[engineer_rate.pk]), follow=True)

    assert "cannot be deleted" in response.content.decode()
    assert "Pilot SOW" in response.content.decode()
    assert CostRate.objects.filter(pk=engineer_rate.pk).exists()


@pytest.mark.django_db
def test_rates_page_with_invalid_quarter_falls_back(client, manager):
    client.force_login(manager)

    response = client.get(RATES, {"quarter": "Q1-2026"})

    assert response.status_code == 200
    assert "Invalid fiscal quarter" in response.content.decode()


@pytest.mark.django_db
def test_rates_page_quarter_past_fy9998(client, manager):
    client.force_login(manager)

    response = client.get(RATES, {"quarter": "FY9999-Q4"})

    assert response.status_code == 200
    assert "a year from 1901 to 9998" in response.content.decode()


@pytest.mark.django_db
def test_estimate_form_creates_draft(client, tam, engineer_rate):
    account = AccountFactory(tam=tam)
    client.force_login(tam)

    response = client.post(
        NEW_ESTIMATE,
        estimate_data(account, [(engineer_rate.role.pk, "12.5", "Setup"), ("", "", "")]),
        follow=True,
    )

    estimate = CostEstimate.objects.get()
    assert list(estimate.lines.values_list("hours", "description")) == [(Decimal("12.50"), "Setup")]
    assert response.context["costing"].total_cost == Decimal("1250.00")
    assert response.context["costing"].margin == Decimal("6750.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "line, changes, where, field, message",
    [
        (("engineer", "0", ""), {}, "line", "hours", "Hours must be above zero, got 0."),
        (("engineer", "-3", ""), {}, "line", "hours", "Hours must be above zero, got -3."),
        (("engineer", "1,5", ""), {}, "line", "hours", "Hours must be a number such as 12.5."),
        (("engineer", "2", ""), {"price": "-1.00"}, "form", "price", "Price must not be negative."),
        (("engineer", "2", ""), {"estimate_date": "10/02/2026"}, "form", "estimate_date", "Enter a valid date."),
        (
            ("engineer", "2", ""),
            {"estimate_date": "9999-12-31"},
            "form",
            "estimate_date",
            "The estimate date must be in a year from 1901 to 9998, got 9999-12-31.",
        ),
        (("999", "2", ""), {}, "line", "role", "Select a valid choice."),
        (
            ("trainer", "2", ""),
            {},
            "line",
            "role",
            "No standard cost rate for Trainer in FY2026-Q1: add the rate or change the estimate date.",
        ),
        (
            ("engineer", "2", ""),
            {"estimate_date": "2026-04-01"},
            "line",
            "role",
            "No standard cost rate for Engineer in FY2026-Q2",
        ),
    ],
    ids=[
        "zero-hours",
        "negative-hours",
        "decimal-comma-hours",
        "negative-price",
        "ambiguous-date",
        "date-past-9998",
        "unknown-role",
        "role-without-rate",
        "quarter-without-rates",
    ],
)
def test_estimate_form_rejects_input(client, tam, engineer_rate, line, changes, where, field, message):
    trainer = ServiceRole.objects.create(name="Trainer")
    role = {"engineer": engineer_rate.role.pk, "trainer": trainer.pk}.get(line[0], line[0])
    client.force_login(tam)

    response = client.post(NEW_ESTIMATE, estimate_data(AccountFactory(tam=tam), [(role, *line[1:])], **changes))

    assert response.status_code == 200
    forms = response.context["forms"]
    errors = forms.lines.forms[0].errors if where == "line" else forms.form.errors
    assert field in errors
    assert message in errors[field][0]
    assert not CostEstimate.objects.exists()
    assert not EstimateLine.objects.exists()


@pytest.mark.django_db
def test_february_start_rejects_year_9999(client, settings, tam, engineer_rate):
    settings.FISCAL_YEAR_START_MONTH = 2
    client.force_login(tam)
    data = estimate_data(AccountFactory(tam=tam), [(engineer_rate.role.pk, "2", "")], estimate_date="9999-12-31")

    response = client.post(NEW_ESTIMATE, data)

    assert response.status_code == 200
    assert "estimate_date" in response.context["forms"].form.errors
    assert not CostEstimate.objects.exists()


@pytest.mark.django_db
def test_huge_amounts_give_one_message(client, tam, engineer_rate):
    client.force_login(tam)
    data = estimate_data(AccountFactory(tam=tam), [(engineer_rate.role.pk, "99999999999", "")], price="1" * 15)

    response = client.post(NEW_ESTIMATE, data)

    forms = response.context["forms"]
    assert forms.lines.forms[0].errors["hours"] == ["Hours must be at most 999999.99."]
    assert forms.form.errors["price"] == ["Price must be at most 9999999999.99."]
    assert not CostEstimate.objects.exists()


@pytest.mark.django_db
def test_estimate_without_lines_is_rejected(client, tam, engineer_rate):
    client.force_login(tam)

    response = client.post(NEW_ESTIMATE, estimate_data(AccountFactory(tam=tam), [("", "", "")]))

    assert "Add at least one line with a role and hours." in response.context["forms"].lines.non_form_errors()
    assert not CostEstimate.objects.exists()


@pytest.mark.django_db
def test_tam_cannot_pick_account_of_other_tam(client, tam, other_tam, engineer_rate):
    client.force_login(tam)

    response = client.post(
        NEW_ESTIMATE, estimate_data(AccountFactory(tam=other_tam), [(engineer_rate.role.pk, "1", "")])
    )

    assert "account" in response.context["forms"].form.errors
    assert not CostEstimate.objects.exists()


@pytest.mark.django_db
def test_edit_replaces_lines_and_deletes_marked(client, tam, engineer_rate):
    trainer = CostRateFactory(role__name="Trainer", quarter=Q1, ote=Decimal("94000.00"), benefits=Decimal(0))
    account = AccountFactory(tam=tam)
    estimate = services.create_estimate(
        account=account,
        title="SOW",
        estimate_date=Q1.start,
        price=Decimal("5000.00"),
        lines=[LineInput(engineer_rate.role, Decimal(10)), LineInput(trainer.role, Decimal(4))],
        user=tam,
    )
    data = estimate_data(account, [(engineer_rate.role.pk, "20", "More"), (trainer.role.pk, "4", "")])
    data |= {"lines-INITIAL_FORMS": "2", "lines-1-DELETE": "on"}
    client.force_login(tam)

    client.post(reverse("services_cost:estimate_edit", args=[estimate.pk]), data)

    assert list(estimate.lines.values_list("role__name", "hours", "description")) == [
        ("Engineer", Decimal("20.00"), "More")
    ]


def read_csv(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.django_db
def test_csv_matches_page_and_ignores_locale(client, settings, tam, engineer_rate):
    settings.USE_THOUSAND_SEPARATOR = True
    trainer = CostRateFactory(role__name="Trainer", quarter=Q1, ote=Decimal("99875.00"), benefits=Decimal(0))
    account = AccountFactory(tam=tam, external_id="00123", name='=HYPERLINK("http://x")')
    estimate = services.create_estimate(
        account=account,
        title="+Rollout",
        estimate_date=Q1.start,
        price=Decimal("12500.00"),
        lines=[LineInput(engineer_rate.role, Decimal(40), "@setup"), LineInput(trainer.role, Decimal("7.5"), "")],
        user=tam,
    )
    client.force_login(tam)

    with translation.override("de"):
        page = client.get(reverse("services_cost:estimate_detail", args=[estimate.pk]))
        rows = read_csv(client.get(reverse("services_cost:estimate_csv", args=[estimate.pk])))

    costing = page.context["costing"]
    assert [row["line_cost"] for row in rows] == [str(line.cost) for line in costing.lines]
    assert [row["line_cost"] for row in rows] == ["4000.00", "398.48"]
    assert [row["hourly_cost"] for row in rows] == ["100.00", "53.13"]
    assert {row["total_cost"] for row in rows} == {"4398.48"}
    assert {row["price"] for row in rows} == {"12500.00"}
    assert {row["margin"] for row in rows} == {"8101.52"}
    assert {row["margin_pct"] for row in rows} == {"64.81"}
    assert rows[0]["account_id"] == "00123"
    assert rows[0]["account_name"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["title"] == "'+Rollout"
    assert rows[0]["description"] == "'@setup"
    assert rows[0]["fiscal_quarter"] == "FY2026-Q1"
    assert rows[0]["status"] == "draft"


@pytest.mark.django_db
def test_estimate_form_shows_every_error_at_once(client, tam, engineer_rate):
    trainer = ServiceRole.objects.create(name="Trainer")
    client.force_login(tam)
    data = estimate_data(AccountFactory(tam=tam), [(trainer.pk, "0", "")], price="-1.00")

    response = client.post(NEW_ESTIMATE, data)

    forms = response.context["forms"]
    assert "price" in forms.form.errors
    assert "hours" in forms.lines.forms[0].errors
    assert "No standard cost rate for Trainer in FY2026-Q1" in forms.lines.forms[0].errors["role"][0]
    assert not CostEstimate.objects.exists()


@pytest.mark.django_db
def test_edit_from_stale_tab_rejected(client, tam, engineer_rate):
    account = AccountFactory(tam=tam)
    estimate = services.create_estimate(
        account=account,
        title="SOW",
        estimate_date=Q1.start,
        price=Decimal("5000.00"),
        lines=[LineInput(engineer_rate.role, Decimal(10))],
        user=tam,
    )
    url = reverse("services_cost:estimate_edit", args=[estimate.pk])
    client.force_login(tam)
    stale_version = client.get(url).context["forms"].form.initial["opened_version"]
    fresh_version = client.get(url).context["forms"].form.initial["opened_version"]
    client.post(url, estimate_data(account, [(engineer_rate.role.pk, "40", "")], opened_version=fresh_version))

    stale = estimate_data(account, [(engineer_rate.role.pk, "10", "")], price="9000.00")
    response = client.post(url, stale | {"opened_version": stale_version})

    assert response.status_code == 200
    assert "was changed by tam_owner at" in response.text
    assert list(estimate.lines.values_list("hours", flat=True)) == [Decimal("40.00")]
    estimate.refresh_from_db()
    assert estimate.price == Decimal("8000.00")

    current_version = response.context["forms"].form.data["opened_version"]
    again = client.post(url, stale | {"opened_version": current_version})

    assert again.status_code == 302
    assert list(estimate.lines.values_list("hours", flat=True)) == [Decimal("10.00")]


@pytest.mark.django_db
def test_rate_edit_from_stale_tab_rejected(client, cs_admin, engineer_rate):
    url = reverse("services_cost:rate_edit", args=[engineer_rate.pk])
    client.force_login(cs_admin)
    stale_version = client.get(url).context["form"].initial["opened_version"]
    fresh_version = client.get(url).context["form"].initial["opened_version"]
    values = {"benefits": "37600.00", "billable_hours": "1880"}
    client.post(url, values | {"ote": "169200.00", "opened_version": fresh_version})

    response = client.post(url, values | {"ote": "120000.00", "opened_version": stale_version})

    assert response.status_code == 200
    assert "was changed by csadmin at" in response.text
    engineer_rate.refresh_from_db()
    assert engineer_rate.ote == Decimal("169200.00")

    again = client.post(
        url, values | {"ote": "120000.00", "opened_version": response.context["form"].data["opened_version"]}
    )

    assert again.status_code == 302
    engineer_rate.refresh_from_db()
    assert engineer_rate.ote == Decimal("120000.00")


@pytest.mark.django_db
def test_estimate_sent_twice_stored_once(client, tam, engineer_rate):
    account = AccountFactory(tam=tam)
    client.force_login(tam)
    data = estimate_data(account, [(engineer_rate.role.pk, "12.5", "Setup")])

    first = client.post(NEW_ESTIMATE, data)
    second = client.post(NEW_ESTIMATE, data, follow=True)

    estimate = CostEstimate.objects.get()
    assert first.url == reverse("services_cost:estimate_detail", args=[estimate.pk])
    assert second.redirect_chain[0][0] == first.url
    assert "was created already" in second.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [{"lines-0-hours": "13"}, {"price": "8000.01"}, {"title": "Rollout SOW 2"}],
    ids=["hours", "price", "title"],
)
def test_estimate_that_differs_stored(client, tam, engineer_rate, changes):
    account = AccountFactory(tam=tam)
    client.force_login(tam)
    data = estimate_data(account, [(engineer_rate.role.pk, "12.5", "Setup")])

    client.post(NEW_ESTIMATE, data)
    client.post(NEW_ESTIMATE, data | changes)

    assert CostEstimate.objects.count() == 2


@pytest.mark.django_db
def test_identical_estimate_stored_again_later(client, tam, engineer_rate, time_machine):
    account = AccountFactory(tam=tam)
    client.force_login(tam)
    data = estimate_data(account, [(engineer_rate.role.pk, "12.5", "Setup")])
    time_machine.move_to(datetime.datetime(2026, 2, 10, 9, tzinfo=datetime.UTC), tick=False)
    client.post(NEW_ESTIMATE, data)

    time_machine.move_to(datetime.datetime(2026, 2, 10, 9, 11, tzinfo=datetime.UTC), tick=False)
    client.post(NEW_ESTIMATE, data)

    assert CostEstimate.objects.count() == 2


@pytest.mark.django_db
def test_finish_after_rate_change_rejected(client, tam, cs_admin, engineer_rate):
    account = AccountFactory(tam=tam)
    estimate = services.create_estimate(
        account=account,
        title="SOW",
        estimate_date=Q1.start,
        price=Decimal("5000.00"),
        lines=[LineInput(engineer_rate.role, Decimal(10))],
        user=tam,
    )
    client.force_login(tam)
    page = client.get(reverse("services_cost:estimate_detail", args=[estimate.pk]))
    assert 'name="shown_total" value="1000.00"' in page.text
    services.save_rate(
        role=engineer_rate.role,
        quarter=Q1,
        ote=Decimal("169200.00"),
        benefits=Decimal("37600.00"),
        billable_hours=1880,
        user=cs_admin,
        rate=engineer_rate,
    )

    response = client.post(
        reverse("services_cost:estimate_finish", args=[estimate.pk]), {"shown_total": "1000.00"}, follow=True
    )

    assert "the total cost is now 1100.00, not 1000.00" in response.text
    estimate.refresh_from_db()
    assert not estimate.is_finished

    client.post(reverse("services_cost:estimate_finish", args=[estimate.pk]), {"shown_total": "1100.00"})

    estimate.refresh_from_db()
    assert estimate.is_finished
    assert list(estimate.lines.values_list("hourly_cost", flat=True)) == [Decimal("110.00")]


@pytest.mark.django_db
@pytest.mark.parametrize("shown_total", ["sNaN", "NaN", "Infinity", "x", ""])
def test_finish_with_odd_shown_total(client, tam, engineer_rate, shown_total):
    estimate = services.create_estimate(
        account=AccountFactory(tam=tam),
        title="SOW",
        estimate_date=Q1.start,
        price=Decimal("5000.00"),
        lines=[LineInput(engineer_rate.role, Decimal(10))],
        user=tam,
    )
    client.force_login(tam)

    response = client.post(reverse("services_cost:estimate_finish", args=[estimate.pk]), {"shown_total": shown_total})

    assert response.status_code == 302
    estimate.refresh_from_db()
    assert estimate.is_finished


@pytest.mark.django_db
def test_new_rate_sent_twice_saved_once(client, cs_admin):
    role = ServiceRole.objects.create(name="Trainer")
    client.force_login(cs_admin)
    data = {"role": role.pk, "quarter": "FY2026-Q1", "ote": "99875.00", "benefits": "0", "billable_hours": "1880"}

    first = client.post(NEW_RATE, data)
    second = client.post(NEW_RATE, data, follow=True)

    assert first.status_code == 302
    assert second.redirect_chain == [(first.url, 302)]
    assert "Saved the rate of Trainer in FY2026-Q1: 53.13 an hour." in second.text
    rate = CostRate.objects.get()
    assert rate.history.count() == 1


@pytest.mark.django_db
def test_new_rate_with_other_values_rejected(client, cs_admin, engineer_rate):
    client.force_login(cs_admin)
    data = {
        "role": engineer_rate.role.pk,
        "quarter": "FY2026-Q1",
        "ote": "1.00",
        "benefits": "0",
        "billable_hours": "1880",
    }

    response = client.post(NEW_RATE, data)

    assert response.status_code == 200
    assert "has a rate in FY2026-Q1 already; edit that rate instead." in response.text
    engineer_rate.refresh_from_db()
    assert engineer_rate.ote == Decimal("150400.00")


@pytest.mark.django_db
def test_duplicate_clicked_twice_shows_first_copy(client, tam, engineer_rate):
    account = AccountFactory(tam=tam)
    client.force_login(tam)
    client.post(NEW_ESTIMATE, estimate_data(account, [(engineer_rate.role.pk, "12.5", "Setup")]))
    source = CostEstimate.objects.get()
    url = reverse("services_cost:estimate_duplicate", args=[source.pk])

    first = client.post(url)
    second = client.post(url, follow=True)

    copy = CostEstimate.objects.exclude(pk=source.pk).get()
    assert first.url == reverse("services_cost:estimate_detail", args=[copy.pk])
    assert second.redirect_chain[0][0] == first.url
    assert "was created already" in second.content.decode()
