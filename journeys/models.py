"""Customer journeys: a transaction, its five milestones, onboarding tasks, playbooks and targets.

Milestone dates are stored on the journey itself, so that one history table
records every change to them and the report reads one row per journey.
"""

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from accounts.models import Segment


class JourneyKind(models.TextChoices):
    NEW = "new", "New customer"
    EXPANSION = "expansion", "Stage expansion"


class Milestone(models.TextChoices):
    """The five milestones in their usual order; the values are the export and import names."""

    KICKOFF = "kickoff", "Kickoff"
    ONBOARDING = "onboarding", "Onboarding"
    INFRASTRUCTURE_READY = "infrastructure_ready", "Infrastructure Ready"
    FIRST_VALUE = "first_value", "First Value"
    OUTCOME_ACHIEVED = "outcome_achieved", "Outcome Achieved"

    @property
    def date_field(self) -> str:
        return f"{self.value}_date"


class InfrastructureType(models.TextChoices):
    ON_PREMISES = "on_premises", "On premises: production implementation complete"
    SAAS = "saas", "SaaS: integrated into the customer's environment"
    HYBRID = "hybrid", "Hybrid: cloud and on-premises environments ready"


class FirstValueBasis(models.TextChoices):
    LICENSES_10PCT = "licenses_10pct", "10% of the purchased licenses in production"
    TEAM = "team", "A complete team in production"
    REGION = "region", "A complete region in production"


class OwnerSide(models.TextChoices):
    TAM = "tam", "TAM"
    CUSTOMER = "customer", "Customer"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


# Ten years, as for the milestone targets.
MAX_DUE_OFFSET_DAYS = 3650

# Segment of a journey's account for targets and reports; "" is an account without a segment.
SEGMENT_CHOICES = [*Segment.choices, ("", "No segment")]
# A playbook for segment "" serves every segment that has no playbook of its own for the product.
PLAYBOOK_SEGMENT_CHOICES = [*Segment.choices, ("", "Any other segment")]


class Product(models.Model):
    """A product that a transaction buys; playbooks are chosen by segment and product."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Journey(models.Model):
    """A customer's way from a transaction (day 0) to value, through the five milestones."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="journeys")
    kind = models.CharField(max_length=20, choices=JourneyKind.choices, default=JourneyKind.NEW)
    transaction_date = models.DateField(help_text="Day 0 of the journey: the date of the purchase.")
    licenses = models.PositiveIntegerField(help_text="Licenses purchased in the transaction.")
    products = models.ManyToManyField(Product, blank=True, related_name="journeys")
    tam = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="journeys",
        verbose_name="owning TAM",
    )

    kickoff_date = models.DateField(null=True, blank=True)
    # Set from the tasks when the journey has onboarding tasks; entered directly otherwise.
    onboarding_date = models.DateField(null=True, blank=True)
    infrastructure_ready_date = models.DateField(null=True, blank=True)
    infrastructure_type = models.CharField(max_length=20, choices=InfrastructureType.choices, blank=True)
    first_value_date = models.DateField(null=True, blank=True)
    first_value_basis = models.CharField(max_length=20, choices=FirstValueBasis.choices, blank=True)
    # Users in production when First Value was reached; recorded for the 10% basis.
    first_value_users = models.PositiveIntegerField(null=True, blank=True)
    outcome_achieved_date = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-transaction_date", "id"]
        permissions = [("view_ttv_report", "Can read the time-to-value report")]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "transaction_date", "kind"], name="journey_unique_transaction_per_account"
            ),
            models.CheckConstraint(
                condition=Q(infrastructure_ready_date__isnull=True) | ~Q(infrastructure_type=""),
                name="journey_infrastructure_type_with_date",
            ),
            models.CheckConstraint(
                condition=Q(first_value_date__isnull=True) | ~Q(first_value_basis=""),
                name="journey_first_value_basis_with_date",
            ),
        ]
        indexes = [
            models.Index(fields=["tam", "transaction_date"], name="journey_tam_transaction_idx"),
            models.Index(fields=["transaction_date"], name="journey_transaction_idx"),
        ]

    def __str__(self):
        return f"{self.account.name}, {self.get_kind_display().lower()} {self.transaction_date.isoformat()}"

    def milestone_date(self, milestone: Milestone):
        return getattr(self, Milestone(milestone).date_field)


class JourneyTask(models.Model):
    """One onboarding task of a journey, created from its playbook or added by hand."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    owner_side = models.CharField(max_length=20, choices=OwnerSide.choices, default=OwnerSide.TAM)
    due_date = models.DateField()
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    # Date the task was done or marked not applicable; empty while it is open.
    closed_on = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status=TaskStatus.OPEN) & Q(closed_on__isnull=True))
                | (~Q(status=TaskStatus.OPEN) & Q(closed_on__isnull=False)),
                name="journeytask_closed_on_iff_closed",
            ),
        ]
        indexes = [models.Index(fields=["journey", "status"], name="journeytask_journey_status_idx")]

    def __str__(self):
        return self.title


class Playbook(models.Model):
    """The onboarding tasks that a journey of one segment and product starts with."""

    segment = models.CharField(max_length=20, choices=PLAYBOOK_SEGMENT_CHOICES, blank=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="playbooks")

    history = HistoricalRecords()

    class Meta:
        ordering = ["product__name", "segment", "id"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "product"], name="playbook_unique_segment_product"),
        ]

    def __str__(self):
        return f"{self.product.name}, {self.get_segment_display()}"


class PlaybookTask(models.Model):
    """A task template of a playbook."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    owner_side = models.CharField(max_length=20, choices=OwnerSide.choices, default=OwnerSide.TAM)
    # Bounded so that the due date of every task created from the template is a valid date.
    due_offset_days = models.PositiveIntegerField(
        help_text="Days after the transaction date.",
        validators=[MaxValueValidator(MAX_DUE_OFFSET_DAYS)],
    )
    position = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["playbook", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(due_offset_days__lte=MAX_DUE_OFFSET_DAYS),
                name="playbooktask_due_offset_max",
                violation_error_message=f"Enter a due offset of at most {MAX_DUE_OFFSET_DAYS:,} days.",
            )
        ]

    def __str__(self):
        return self.title


class MilestoneTarget(models.Model):
    """Days from the transaction within which a milestone should complete, per segment."""

    milestone = models.CharField(max_length=30, choices=Milestone.choices)
    segment = models.CharField(max_length=20, choices=SEGMENT_CHOICES, blank=True)
    days = models.PositiveIntegerField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["milestone", "segment"]
        constraints = [
            models.UniqueConstraint(fields=["milestone", "segment"], name="milestonetarget_unique_milestone_segment"),
            models.CheckConstraint(condition=Q(days__gte=1), name="milestonetarget_days_positive"),
        ]

    def __str__(self):
        return f"{self.get_milestone_display()}, {self.get_segment_display()}: {self.days} days"


class OverdueMark(models.Model):
    """A milestone that was not reached by its target date when the daily job last ran."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="overdue_marks")
    milestone = models.CharField(max_length=30, choices=Milestone.choices)
    target_date = models.DateField()
    marked_at = models.DateTimeField()

    class Meta:
        ordering = ["journey", "milestone"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "milestone"], name="overduemark_unique_journey_milestone"),
        ]
        indexes = [models.Index(fields=["milestone"], name="overduemark_milestone_idx")]


# Success plans and the timeline live in their own module; imported here so that Django finds them.
from .plan_models import Activity, ActivityKind, Objective, ObjectiveStatus, PlanStatus, SuccessPlan  # noqa: E402, F401
