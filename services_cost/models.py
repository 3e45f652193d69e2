"""Professional-services roles, their standard cost rates per fiscal quarter, and SOW cost estimates.

Money is stored as whole cents (`CentsField`) and read as two-place `Decimal`.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from common.fiscal import FiscalQuarter, quarter_of
from common.money import CentsField, round_money

DEFAULT_BILLABLE_HOURS = 1880


class ServiceRole(models.Model):
    """A role whose hours a statement of work sells, such as professional services engineer or trainer."""

    name = models.CharField(max_length=100, unique=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


def hourly_cost(ote: Decimal, benefits: Decimal, billable_hours: int) -> Decimal:
    """Return (OTE + benefits) / billable hours, rounded half up to cents."""
    return round_money((ote + benefits) / Decimal(billable_hours))


class CostRate(models.Model):
    """The standard cost of one role in one fiscal quarter."""

    role = models.ForeignKey(ServiceRole, on_delete=models.PROTECT, related_name="rates")
    # First day of the fiscal quarter; the quarter's name follows from FISCAL_YEAR_START_MONTH.
    quarter_start = models.DateField()
    ote = CentsField(verbose_name="OTE", help_text="Average annual on-target earnings in USD.")
    benefits = CentsField(help_text="Annual benefits in USD.")
    billable_hours = models.PositiveIntegerField(
        default=DEFAULT_BILLABLE_HOURS, help_text="Billable hours in a year, in whole hours."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-quarter_start", "role__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["role", "quarter_start"], name="costrate_one_per_role_and_quarter"),
            models.CheckConstraint(condition=models.Q(ote__gte=0), name="costrate_ote_not_negative"),
            models.CheckConstraint(condition=models.Q(benefits__gte=0), name="costrate_benefits_not_negative"),
            models.CheckConstraint(condition=models.Q(billable_hours__gt=0), name="costrate_billable_hours_positive"),
        ]

    def __str__(self):
        return f"{self.role} {self.quarter}"

    @property
    def quarter(self) -> FiscalQuarter:
        return quarter_of(self.quarter_start)

    @property
    def hourly_cost(self) -> Decimal:
        return hourly_cost(self.ote, self.benefits, self.billable_hours)


class EstimateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    FINISHED = "finished", "Finished"


class CostEstimate(models.Model):
    """The cost of a statement of work for an account, against its price."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="cost_estimates")
    title = models.CharField(max_length=200)
    # The fiscal quarter of this date chooses the rates.
    estimate_date = models.DateField()
    price = CentsField(help_text="Price of the statement of work in USD.")
    status = models.CharField(max_length=10, choices=EstimateStatus.choices, default=EstimateStatus.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-estimate_date", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="costestimate_price_not_negative"),
            models.CheckConstraint(
                condition=models.Q(status=EstimateStatus.DRAFT, finished_at__isnull=True)
                | models.Q(status=EstimateStatus.FINISHED, finished_at__isnull=False),
                name="costestimate_finished_at_iff_finished",
            ),
        ]
        indexes = [models.Index(fields=["account", "estimate_date"], name="costestimate_account_date_idx")]

    def __str__(self):
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.status == EstimateStatus.FINISHED

    @property
    def quarter(self) -> FiscalQuarter:
        return quarter_of(self.estimate_date)


class EstimateLine(models.Model):
    """Hours of one role in an estimate.

    `rate` and `hourly_cost` are empty on a draft, which follows the current
    rates, and set when the estimate is finished: the finished estimate then
    keeps that hourly cost whatever later happens to the rate.
    """

    estimate = models.ForeignKey(CostEstimate, on_delete=models.CASCADE, related_name="lines")
    role = models.ForeignKey(ServiceRole, on_delete=models.PROTECT, related_name="estimate_lines")
    hours = models.DecimalField(max_digits=8, decimal_places=2)
    description = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField(default=0)
    # PROTECT keeps a rate that a finished estimate used from being deleted.
    rate = models.ForeignKey(
        CostRate, null=True, blank=True, on_delete=models.PROTECT, related_name="finished_lines", editable=False
    )
    hourly_cost = CentsField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(hours__gt=0), name="estimateline_hours_positive"),
            models.CheckConstraint(
                condition=models.Q(hourly_cost__isnull=True) | models.Q(hourly_cost__gte=0),
                name="estimateline_hourly_cost_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.role}: {self.hours} h"
