"""SOW cost estimates: line costs, totals and margin, missing rates, the snapshot of a finished estimate."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from common.fiscal import FiscalQuarter
from services_cost import selectors, services
from services_cost.models import CostEstimate, EstimateLine, EstimateStatus
from services_cost.services import LineInput
from tests.factories import AccountFactory

from .factories import CostRateFactory, EstimateLineFactory, ServiceRoleFactory

Q1 = FiscalQuarter(2026, 1)
FEBRUARY_2026 = datetime.date(2026, 2, 15)


@pytest.fixture
def rates():
    """Engineer at 100.00 an hour and trainer at 53.13 an hour in FY2026-Q1 (calendar fiscal year)."""
    engineer = CostRateFactory(role__name="Engineer", quarter=Q1)
    trainer = CostRateFactory(role__name="Trainer", quarter=Q1, ote=Decimal("99875.00"), benefits=Decimal("0.00"))
    return engineer, trainer


def make_estimate(tam, engineer, trainer, price="10000.00", day=FEBRUARY_2026):
    return services.create_estimate(
        account=AccountFactory(tam=tam),
        title="Migration SOW",
        estimate_date=day,
        price=Decimal(price),
        lines=[
            LineInput(engineer.role, Decimal("40"), "Migration"),
            LineInput(trainer.role, Decimal("7.5"), "Training"),
        ],
        user=tam,
    )


@pytest.mark.django_db
def test_costing_of_draft(tam, rates):
    estimate = make_estimate(tam, *rates)

    costing = selectors.estimate_costing(estimate)

    assert [line.hourly_cost for line in costing.lines] == [Decimal("100.00"), Decimal("53.13")]
    # 7.5 × 53.13 = 398.475, rounded half up.
    assert [line.cost for line in costing.lines] == [Decimal("4000.00"), Decimal("398.48")]
    assert costing.total_cost == Decimal("4398.48")
    assert costing.margin == Decimal("5601.52")
    assert costing.margin_pct == Decimal("56.02")
    assert costing.missing == []


@pytest.mark.django_db
def test_negative_margin_when_cost_exceeds_price(tam, rates):
    estimate = make_estimate(tam, *rates, price="4000.00")

    costing = selectors.estimate_costing(estimate)

    assert costing.margin == Decimal("-398.48")
    assert costing.margin_pct == Decimal("-9.96")


@pytest.mark.django_db
def test_zero_price_has_no_margin_percentage(tam, rates):
    estimate = make_estimate(tam, *rates, price="0.00")

    costing = selectors.estimate_costing(estimate)

    assert costing.margin == Decimal("-4398.48")
    assert costing.margin_pct is None


@pytest.mark.django_db
def test_rate_comes_from_quarter_of_estimate_date(settings, tam):
    settings.FISCAL_YEAR_START_MONTH = 2
    # With February first, 31 January 2026 is in FY2026-Q4 and 1 February 2026 in FY2027-Q1.
    CostRateFactory(role__name="Engineer", quarter=FiscalQuarter(2026, 4))
    CostRateFactory(role__name="Engineer", quarter=FiscalQuarter(2027, 1), ote=Decimal("169200.00"))
    role = ServiceRoleFactory(name="Engineer")
    account = AccountFactory(tam=tam)
    lines = [LineInput(role, Decimal("10"))]

    before = services.create_estimate(
        account=account, title="A", estimate_date=datetime.date(2026, 1, 31), price=Decimal(0), lines=lines, user=tam
    )
    after = services.create_estimate(
        account=account, title="B", estimate_date=datetime.date(2026, 2, 1), price=Decimal(0), lines=lines, user=tam
    )

    assert selectors.estimate_costing(before).total_cost == Decimal("1000.00")
    assert selectors.estimate_costing(after).total_cost == Decimal("1100.00")
    assert str(selectors.estimate_costing(after).quarter) == "FY2027-Q1"


@pytest.mark.django_db
def test_draft_follows_rate_change(tam, cs_admin, rates):
    engineer, trainer = rates
    estimate = make_estimate(tam, engineer, trainer)

    services.save_rate(
        role=engineer.role,
        quarter=Q1,
        ote=Decimal("169200.00"),
        benefits=engineer.benefits,
        billable_hours=engineer.billable_hours,
        user=cs_admin,
        rate=engineer,
    )

    costing = selectors.estimate_costing(estimate)
    assert costing.lines[0].hourly_cost == Decimal("110.00")
    assert costing.total_cost == Decimal("4798.48")


@pytest.mark.django_db
def test_finished_estimate_keeps_its_rates(tam, cs_admin, rates):
    engineer, trainer = rates
    estimate = make_estimate(tam, engineer, trainer)
    services.finish_estimate(estimate=estimate, user=tam)

    services.save_rate(
        role=engineer.role,
        quarter=Q1,
        ote=Decimal("169200.00"),
        benefits=engineer.benefits,
        billable_hours=engineer.billable_hours,
        user=cs_admin,
        rate=engineer,
    )

    estimate.refresh_from_db()
    costing = selectors.estimate_costing(estimate)
    assert estimate.status == EstimateStatus.FINISHED
    assert estimate.finished_at is not None
    assert [line.hourly_cost for line in costing.lines] == [Decimal("100.00"), Decimal("53.13")]
    assert costing.total_cost == Decimal("4398.48")
    assert list(estimate.lines.values_list("rate_id", flat=True)) == [engineer.pk, trainer.pk]


@pytest.mark.django_db
def test_finishing_twice_is_rejected(tam, rates):
    estimate = make_estimate(tam, *rates)
    services.finish_estimate(estimate=estimate, user=tam)

    with pytest.raises(services.EstimateFinished):
        services.finish_estimate(estimate=estimate, user=tam)


@pytest.mark.django_db
def test_finished_estimate_cannot_be_updated(tam, rates):
    engineer, trainer = rates
    estimate = make_estimate(tam, engineer, trainer)
    services.finish_estimate(estimate=estimate, user=tam)

    with pytest.raises(services.EstimateFinished):
        services.update_estimate(
            estimate=estimate,
            account=estimate.account,
            title="Changed",
            estimate_date=FEBRUARY_2026,
            price=Decimal("1.00"),
            lines=[LineInput(engineer.role, Decimal("1"))],
            user=tam,
        )

    estimate.refresh_from_db()
    assert estimate.title == "Migration SOW"
    assert estimate.lines.count() == 2


@pytest.mark.django_db
def test_duplicate_is_draft_at_current_rates(tam, cs_admin, rates):
    engineer, trainer = rates
    estimate = make_estimate(tam, engineer, trainer)
    services.finish_estimate(estimate=estimate, user=tam)
    services.save_rate(
        role=engineer.role,
        quarter=Q1,
        ote=Decimal("169200.00"),
        benefits=engineer.benefits,
        billable_hours=1880,
        user=cs_admin,
        rate=engineer,
    )

    copy, created = services.duplicate_estimate(estimate=estimate, user=tam)
    estimate.refresh_from_db()

    assert created

    assert copy.status == EstimateStatus.DRAFT
    assert copy.title == "Migration SOW (copy)"
    assert copy.account == estimate.account
    assert list(copy.lines.values_list("role__name", "hours", "description", "rate", "hourly_cost")) == [
        ("Engineer", Decimal("40.00"), "Migration", None, None),
        ("Trainer", Decimal("7.50"), "Training", None, None),
    ]
    assert selectors.estimate_costing(copy).total_cost == Decimal("4798.48")
    assert selectors.estimate_costing(estimate).total_cost == Decimal("4398.48")


@pytest.mark.django_db
def test_role_without_rate_in_quarter_is_rejected(tam, rates):
    engineer, _ = rates
    architect = ServiceRoleFactory(name="Architect")

    with pytest.raises(ValidationError) as raised:
        services.create_estimate(
            account=AccountFactory(tam=tam),
            title="SOW",
            estimate_date=FEBRUARY_2026,
            price=Decimal("100.00"),
            lines=[LineInput(engineer.role, Decimal("1")), LineInput(architect, Decimal("1"))],
            user=tam,
        )

    assert raised.value.message_dict["role"] == [
        "No standard cost rate for Architect in FY2026-Q1: add the rate or change the estimate date."
    ]
    assert not CostEstimate.objects.exists()


@pytest.mark.django_db
def test_date_in_quarter_without_rates_is_rejected(tam, rates):
    engineer, _ = rates

    with pytest.raises(ValidationError, match="No standard cost rate for Engineer in FY2026-Q2"):
        services.create_estimate(
            account=AccountFactory(tam=tam),
            title="SOW",
            estimate_date=datetime.date(2026, 4, 1),
            price=Decimal("100.00"),
            lines=[LineInput(engineer.role, Decimal("1"))],
            user=tam,
        )

    assert not CostEstimate.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "hours, price, field",
    [
        ("0", "100.00", "hours"),
        ("-2", "100.00", "hours"),
        ("1", "-0.01", "price"),
    ],
    ids=["zero-hours", "negative-hours", "negative-price"],
)
def test_invalid_estimate_input_is_rejected(tam, rates, hours, price, field):
    engineer, _ = rates

    with pytest.raises(ValidationError) as raised:
        services.create_estimate(
            account=AccountFactory(tam=tam),
            title="SOW",
            estimate_date=FEBRUARY_2026,
            price=Decimal(price),
            lines=[LineInput(engineer.role, Decimal(hours))],
            user=tam,
        )

    assert field in raised.value.message_dict
    assert not CostEstimate.objects.exists()
    assert not EstimateLine.objects.exists()


@pytest.mark.django_db
def test_estimate_needs_a_line(tam, rates):
    with pytest.raises(ValidationError) as raised:
        services.create_estimate(
            account=AccountFactory(tam=tam),
            title="SOW",
            estimate_date=FEBRUARY_2026,
            price=Decimal("1.00"),
            lines=[],
            user=tam,
        )

    assert "lines" in raised.value.message_dict


@pytest.mark.django_db
def test_draft_with_deleted_rate_shows_missing_rate(tam, cs_admin, rates):
    engineer, trainer = rates
    estimate = make_estimate(tam, engineer, trainer)
    services.delete_rate(rate=trainer, user=cs_admin)

    costing = selectors.estimate_costing(estimate)

    assert [str(item) for item in costing.missing] == [
        "No standard cost rate for Trainer in FY2026-Q1: add the rate or change the estimate date."
    ]
    assert costing.total_cost is None
    assert costing.margin is None
    with pytest.raises(ValidationError, match="Trainer in FY2026-Q1"):
        services.finish_estimate(estimate=estimate, user=tam)
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.DRAFT


@pytest.mark.django_db
def test_database_rejects_line_without_positive_hours(rates):
    with pytest.raises(IntegrityError):
        EstimateLineFactory(hours=Decimal("0"))


@pytest.mark.django_db
def test_costings_of_a_list_match_single_costing(tam, rates):
    first = make_estimate(tam, *rates)
    second = make_estimate(tam, *rates, price="5000.00")
    services.finish_estimate(estimate=second, user=tam)

    listed = dict(selectors.costings(CostEstimate.objects.all()))

    assert listed[first].total_cost == selectors.estimate_costing(first).total_cost
    assert listed[second].margin == selectors.estimate_costing(second).margin


@pytest.mark.django_db
def test_duplicate_clicked_twice_copies_once(tam, rates):
    engineer, trainer = rates
    estimate = make_estimate(tam, engineer, trainer)

    first, first_created = services.duplicate_estimate(estimate=estimate, user=tam)
    second, second_created = services.duplicate_estimate(estimate=estimate, user=tam)

    assert (first_created, second_created) == (True, False)
    assert second == first
    assert CostEstimate.objects.filter(title="Migration SOW (copy)").count() == 1


@pytest.mark.django_db
def test_duplicate_after_window_copies_again(tam, rates):
    engineer, trainer = rates
    estimate = make_estimate(tam, engineer, trainer)
    first, _ = services.duplicate_estimate(estimate=estimate, user=tam)
    earlier = first.created_at - services.RESUBMIT_WINDOW - datetime.timedelta(seconds=1)
    CostEstimate.objects.filter(pk=first.pk).update(created_at=earlier)

    _, created = services.duplicate_estimate(estimate=estimate, user=tam)

    assert created
    assert CostEstimate.objects.filter(title="Migration SOW (copy)").count() == 2
