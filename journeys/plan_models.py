"""Success plans, their objectives, and the activities of an account's timeline.

Imported by journeys.models so that Django finds them; the rules that use them
live in plan_services (writes) and plan_selectors (reads).
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class ObjectiveStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    ACHIEVED = "achieved", "Achieved"
    ABANDONED = "abandoned", "Abandoned"


class ActivityKind(models.TextChoices):
    MEETING = "meeting", "Meeting"
    CALL = "call", "Call"
    EMAIL = "email", "E-mail"
    BUSINESS_REVIEW = "business_review", "Business review"
    NOTE = "note", "Note"


class SuccessPlan(models.Model):
    """An account's goals, drafted during the sale and tracked until the plan is closed."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="success_plans")
    status = models.CharField(max_length=20, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    owner = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="success_plans"
    )
    closing_summary = models.TextField(blank=True, help_text="What the plan achieved; required to close it.")
    created_at = models.DateTimeField(default=timezone.now)
    closed_on = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("view_plan_report", "Can read the success plan overview of every account")]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=~Q(status="closed"), name="successplan_one_open_per_account"
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | (~Q(closing_summary="") & Q(closed_on__isnull=False)),
                name="successplan_closed_with_summary",
            ),
        ]

    def __str__(self):
        return f"Success plan of {self.account.name}"

    @property
    def is_closed(self) -> bool:
        return self.status == PlanStatus.CLOSED


class Objective(models.Model):
    """A business outcome the customer wants, with how success is measured.

    `original_intent` marks an objective that existed when `journey`'s
    transaction was recorded; only those objectives decide the journey's
    Outcome Achieved milestone.
    """

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="objectives")
    business_outcome = models.CharField(max_length=300)
    success_criteria = models.TextField(blank=True, help_text="How the customer and the TAM measure success.")
    target_date = models.DateField(null=True, blank=True)
    stakeholders = models.ManyToManyField("accounts.Contact", blank=True, related_name="objectives")
    status = models.CharField(max_length=20, choices=ObjectiveStatus.choices, default=ObjectiveStatus.PLANNED)
    achieved_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True, help_text="For example why the objective was abandoned.")
    original_intent = models.BooleanField("original purchase intent", default=False)
    # The journey whose transaction the objective was part of; kept when a CS admin clears the flag.
    journey = models.ForeignKey(
        "journeys.Journey", null=True, blank=True, on_delete=models.SET_NULL, related_name="intent_objectives"
    )
    position = models.PositiveIntegerField(default=0)
    # Empty for objectives created before the field existed.
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]
        permissions = [("change_original_intent", "Can change the original purchase intent flag of an objective")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="achieved") & Q(achieved_date__isnull=False))
                | (~Q(status="achieved") & Q(achieved_date__isnull=True)),
                name="objective_achieved_date_iff_achieved",
            ),
            models.CheckConstraint(
                condition=Q(original_intent=False) | Q(journey__isnull=False),
                name="objective_original_intent_has_journey",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "target_date"], name="objective_status_target_idx"),
            models.Index(fields=["achieved_date"], name="objective_achieved_idx"),
        ]

    def __str__(self):
        return self.business_outcome

    @property
    def is_open(self) -> bool:
        return self.status in (ObjectiveStatus.PLANNED, ObjectiveStatus.IN_PROGRESS)


class Activity(models.Model):
    """A meeting, call, e-mail, business review or note on an account's timeline."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=20, choices=ActivityKind.choices, default=ActivityKind.MEETING)
    date = models.DateField()
    attendees = models.ManyToManyField("accounts.Contact", blank=True, related_name="activities")
    summary = models.TextField()
    logged_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    logged_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["account", "kind", "date"], name="activity_account_kind_date_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.date.isoformat()}"
