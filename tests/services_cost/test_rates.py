"""Standard cost rates: hourly cost and its rounding, checks, copy to the next quarter, history and deletion."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from common.fiscal import FiscalQuarter
from services_cost import selectors, services
from services_cost.models import CostRate, ServiceRole, hourly_cost

from .factories import CostRateFactory, EstimateLineFactory, ServiceRoleFactory

Q1 = FiscalQuarter(2026, 1)
Q2 = FiscalQuarter(2026, 2)


@pytest.mark.parametrize(
    "ote, benefits, hours, expected",
    [
        ("150400.00", "37600.00", 1880, "100.00"),
        ("100000.00", "0.00", 1880, "53.19"),  # 53.1914…
        ("99875.00", "0.00", 1880, "53.13"),  # exactly 53.125: half up, not half even
        ("0.05", "0.00", 2, "0.03"),  # exactly 0.025
        ("0.00", "0.00", 1880, "0.00"),
        ("120000.00", "30000.00", 1700, "88.24"),  # 88.2352…
    ],
    ids=["exact", "rounds-down", "half-up-53.125", "half-up-0.025", "zero", "rounds-up"],
)
def test_hourly_cost_rounds_half_up(ote, benefits, hours, expected):
    assert hourly_cost(Decimal(ote), Decimal(benefits), hours) == Decimal(expected)


@pytest.mark.django_db
def test_rate_reads_decimal_hourly_cost():
    rate = CostRateFactory(ote=Decimal("99875.00"), benefits=Decimal("0.00"))
    rate.refresh_from_db()

    assert rate.ote == Decimal("99875.00")
    assert isinstance(rate.ote, Decimal)
    assert rate.hourly_cost == Decimal("53.13")
    assert str(rate.quarter) == "FY2026-Q1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"ote": Decimal("-1.00")}, "ote"),
        ({"benefits": Decimal("-0.01")}, "benefits"),
        ({"billable_hours": 0}, "billable_hours"),
        ({"billable_hours": -1880}, "billable_hours"),
        ({"ote": Decimal("10.001")}, "ote"),
    ],
    ids=["negative-ote", "negative-benefits", "zero-hours", "negative-hours", "three-decimals"],
)
def test_save_rate_rejects_and_stores_nothing(cs_admin, changes, field):
    role = ServiceRoleFactory(name="Trainer")
    values = {"ote": Decimal("90000.00"), "benefits": Decimal("10000.00"), "billable_hours": 1880, **changes}

    with pytest.raises(ValidationError) as raised:
        services.save_rate(role=role, quarter=Q1, user=cs_admin, **values)

    assert field in raised.value.message_dict
    assert CostRate.objects.count() == 0


@pytest.mark.django_db
def test_save_rate_rejects_second_rate_in_quarter(cs_admin):
    rate = CostRateFactory(quarter=Q1)

    with pytest.raises(ValidationError) as raised:
        services.save_rate(
            role=rate.role, quarter=Q1, ote=Decimal(1), benefits=Decimal(1), billable_hours=1, user=cs_admin
        )

    assert "role" in raised.value.message_dict
    assert CostRate.objects.count() == 1


@pytest.mark.django_db
def test_save_rate_rejects_rate_created_meanwhile(cs_admin, monkeypatch):
    role = ServiceRoleFactory(name="Trainer")
    attribute = services._attribute

    def created_by_another_request_first(instance, user, reason=""):
        # A second post of the same form passed the check before the first one stored its rate.
        CostRateFactory(role=role, quarter=Q1)
        attribute(instance, user, reason)

    monkeypatch.setattr(services, "_attribute", created_by_another_request_first)

    with pytest.raises(ValidationError) as raised:
        services.save_rate(role=role, quarter=Q1, ote=Decimal(1), benefits=Decimal(1), billable_hours=1, user=cs_admin)

    assert raised.value.message_dict["role"] == ["Trainer has a rate in FY2026-Q1 already; edit that rate instead."]
    assert CostRate.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "values, constraint",
    [
        ({"billable_hours": 0}, "costrate_billable_hours_positive"),
        ({"ote": Decimal("-1.00")}, "costrate_ote_not_negative"),
        ({"benefits": Decimal("-1.00")}, "costrate_benefits_not_negative"),
    ],
    ids=["zero-hours", "negative-ote", "negative-benefits"],
)
def test_database_rejects_invalid_rate(values, constraint):
    role = ServiceRoleFactory()
    rate = CostRate(role=role, quarter_start=Q1.start, ote=Decimal(1), benefits=Decimal(1), billable_hours=1880)
    for name, value in values.items():
        setattr(rate, name, value)

    with pytest.raises(IntegrityError, match=f"(?i){constraint}|CHECK constraint failed"):
        rate.save()


@pytest.mark.django_db(transaction=True)
def test_database_keeps_one_rate_per_role_and_quarter():
    rate = CostRateFactory(quarter=Q1)

    with pytest.raises(IntegrityError), transaction.atomic():
        CostRateFactory(role=rate.role, quarter=Q1)

    assert CostRate.objects.count() == 1


@pytest.mark.django_db
def test_copy_to_next_quarter_copies_every_rate(cs_admin):
    engineer = CostRateFactory(role__name="Engineer", quarter=Q1, ote=Decimal("140000.00"))
    CostRateFactory(role__name="Trainer", quarter=Q1, billable_hours=1700)

    result = services.copy_rates_to_next_quarter(source=Q1, user=cs_admin)

    assert (result.copied, result.kept, result.target) == (2, 0, Q2)
    copied = {rate.role.name: rate for rate in selectors.rates_in_quarter(Q2)}
    assert copied["Engineer"].ote == Decimal("140000.00")
    assert copied["Engineer"].hourly_cost == engineer.hourly_cost
    assert copied["Trainer"].billable_hours == 1700
    assert selectors.rates_in_quarter(Q1).count() == 2


@pytest.mark.django_db
def test_copy_keeps_rates_already_in_next_quarter(cs_admin):
    CostRateFactory(role__name="Engineer", quarter=Q1, ote=Decimal("140000.00"))
    CostRateFactory(role__name="Trainer", quarter=Q1)
    kept = CostRateFactory(role__name="Engineer", quarter=Q2, ote=Decimal("150000.00"))

    result = services.copy_rates_to_next_quarter(source=Q1, user=cs_admin)
    again = services.copy_rates_to_next_quarter(source=Q1, user=cs_admin)

    assert (result.copied, result.kept) == (1, 1)
    assert (again.copied, again.kept) == (0, 2)
    kept.refresh_from_db()
    assert kept.ote == Decimal("150000.00")


@pytest.mark.django_db
def test_copy_of_empty_quarter_is_rejected(cs_admin):
    with pytest.raises(ValidationError, match="FY2026-Q1 has no rates to copy"):
        services.copy_rates_to_next_quarter(source=Q1, user=cs_admin)

    assert CostRate.objects.count() == 0


@pytest.mark.django_db
def test_change_history_keeps_user_and_old_values(cs_admin):
    role = ServiceRoleFactory(name="Engineer")
    rate = services.save_rate(
        role=role,
        quarter=Q1,
        ote=Decimal("100000.00"),
        benefits=Decimal("20000.00"),
        billable_hours=1880,
        user=cs_admin,
    )
    services.save_rate(
        role=role,
        quarter=Q1,
        ote=Decimal("110000.00"),
        benefits=Decimal("20000.00"),
        billable_hours=1800,
        user=cs_admin,
        rate=rate,
    )

    changes = selectors.rate_changes(Q1)

    assert [change.action for change in changes] == ["changed", "created"]
    latest = changes[0]
    assert latest.user == "csadmin"
    assert latest.role == "Engineer"
    assert latest.quarter == "FY2026-Q1"
    assert [(item.field, item.old, item.new) for item in latest.changes] == [
        ("OTE", "100000.00", "110000.00"),
        ("billable hours", "1880", "1800"),
    ]


@pytest.mark.django_db
def test_unchanged_save_records_no_history(cs_admin):
    role = ServiceRoleFactory()
    values = {"ote": Decimal("1.00"), "benefits": Decimal("1.00"), "billable_hours": 1880}
    rate = services.save_rate(role=role, quarter=Q1, user=cs_admin, **values)

    services.save_rate(role=role, quarter=Q1, user=cs_admin, rate=rate, **values)

    assert rate.history.count() == 1


@pytest.mark.django_db
def test_rate_of_finished_estimate_cannot_be_deleted(cs_admin):
    rate = CostRateFactory(role__name="Engineer", quarter=Q1)
    line = EstimateLineFactory(role=rate.role, estimate__title="Migration SOW", estimate__estimate_date=Q1.start)
    services.finish_estimate(estimate=line.estimate, user=cs_admin)

    with pytest.raises(services.RateInUse) as raised:
        services.delete_rate(rate=rate, user=cs_admin)

    assert "Engineer in FY2026-Q1 cannot be deleted" in raised.value.message
    assert "Migration SOW" in raised.value.message
    assert CostRate.objects.filter(pk=rate.pk).exists()


@pytest.mark.django_db
def test_database_protects_rate_of_finished_estimate(cs_admin):
    rate = CostRateFactory(quarter=Q1)
    line = EstimateLineFactory(role=rate.role, estimate__estimate_date=Q1.start)
    services.finish_estimate(estimate=line.estimate, user=cs_admin)

    with pytest.raises(ProtectedError):
        rate.delete()


@pytest.mark.django_db
def test_rate_used_only_by_draft_can_be_deleted(cs_admin):
    rate = CostRateFactory(quarter=Q1)
    line = EstimateLineFactory(role=rate.role, estimate__estimate_date=Q1.start)

    services.delete_rate(rate=rate, user=cs_admin)

    assert not CostRate.objects.exists()
    assert selectors.estimate_costing(line.estimate).missing
    assert selectors.rate_changes(Q1)[0].action == "deleted"


@pytest.mark.django_db
def test_create_role_rejects_role_created_meanwhile(cs_admin, monkeypatch):
    attribute = services._attribute

    def created_by_another_request_first(instance, user, reason=""):
        # A second post of the same form passed the check before the first one stored its role.
        ServiceRoleFactory(name="Trainer")
        attribute(instance, user, reason)

    monkeypatch.setattr(services, "_attribute", created_by_another_request_first)

    with pytest.raises(ValidationError) as raised:
        services.create_role(name="Trainer", user=cs_admin)

    assert raised.value.message_dict["name"] == ["A role named Trainer exists already."]
    assert ServiceRole.objects.filter(name="Trainer").count() == 1


@pytest.mark.django_db
def test_role_names_are_unique_and_safe(cs_admin):
    services.create_role(name="Trainer", user=cs_admin)

    with pytest.raises(ValidationError, match="exists already"):
        services.create_role(name="trainer", user=cs_admin)
    with pytest.raises(ValidationError, match="formula"):
        services.create_role(name="=HYPERLINK()", user=cs_admin)


@pytest.mark.django_db
def test_rate_chart_has_gaps_for_missing_quarters():
    CostRateFactory(role__name="Engineer", quarter=Q1)
    CostRateFactory(role__name="Engineer", quarter=FiscalQuarter(2026, 3), ote=Decimal("169200.00"))
    CostRateFactory(role__name="Trainer", quarter=Q2, ote=Decimal("0.00"), benefits=Decimal("94000.00"))

    chart = selectors.rate_chart(selectors.quarters_with_rates())

    assert chart["labels"] == ["FY2026-Q1", "FY2026-Q2", "FY2026-Q3"]
    assert chart["roles"] == [
        {"name": "Engineer", "costs": ["100.00", None, "110.00"]},
        {"name": "Trainer", "costs": [None, "50.00", None]},
    ]


@pytest.mark.django_db
def test_copy_from_last_quarter_is_rejected(cs_admin):
    last = FiscalQuarter(9998, 4)
    CostRateFactory(role__name="Engineer", quarter=last)

    with pytest.raises(ValidationError, match="FY9998-Q4 is the last quarter a rate may have"):
        services.copy_rates_to_next_quarter(source=last, user=cs_admin)

    assert list(CostRate.objects.values_list("quarter_start", flat=True)) == [last.start]
