"""The audit log: one row per import, recomputation, milestone, plan, objective, rate change or account move.

Rows are only ever inserted, in the transaction of the change they describe,
by `audit.services.record`.
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

# The actor name of an event that no user caused, such as a management command or a scheduled task.
SYSTEM_ACTOR_NAME = "system"


class AuditAction(models.TextChoices):
    IMPORT_FINISHED = "import_finished", "Import finished"
    IMPORT_REJECTED = "import_rejected", "Import rejected"
    IMPORT_FAILED = "import_failed", "Import failed"
    RECOMPUTE = "recompute", "Retention recomputed"
    JOURNEY_STARTED = "journey_started", "Journey started"
    MILESTONE_SET = "milestone_set", "Milestone set"
    MILESTONE_CHANGED = "milestone_changed", "Milestone changed"
    MILESTONE_CLEARED = "milestone_cleared", "Milestone cleared"
    PLAN_CREATED = "plan_created", "Plan created"
    PLAN_CHANGED = "plan_changed", "Plan changed"
    PLAN_CLOSED = "plan_closed", "Plan closed"
    OBJECTIVE_CREATED = "objective_created", "Objective created"
    OBJECTIVE_CHANGED = "objective_changed", "Objective changed"
    OBJECTIVE_CLOSED = "objective_closed", "Objective closed"
    RATE_CREATED = "rate_created", "Rate created"
    RATE_CHANGED = "rate_changed", "Rate changed"
    RATE_DELETED = "rate_deleted", "Rate deleted"
    ACCOUNT_REASSIGNED = "account_reassigned", "Account moved to another TAM"


class ObjectType(models.TextChoices):
    IMPORT = "import", "Import"
    RETENTION = "retention", "Retention figures"
    JOURNEY = "journey", "Journey"
    SUCCESS_PLAN = "success_plan", "Success plan"
    OBJECTIVE = "objective", "Objective"
    COST_RATE = "cost_rate", "Cost rate"
    ACCOUNT = "account", "Account"


class AuditEvent(models.Model):
    """One change or outcome: its time, actor, action and object, and what changed."""

    when = models.DateTimeField(default=timezone.now)
    # Empty for changes made by a management command or a Celery task that no signed-in user started.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
        db_index=False,
    )
    # The actor's user name at the time, kept after the user is deleted. It is "system" without an actor.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(max_length=32, choices=ObjectType.choices)
    # The primary key of the object as text, or empty for an event about no single row, such as a recomputation.
    object_id = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=200, help_text="The object as a reader knows it, at the time of the event.")
    # What changed: {"changes": {field: [old, new]}} for an edit, and counts and seconds for an import or recomputation.
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-when", "-id"]
        indexes = [
            models.Index(fields=["when"], name="auditevent_when_idx"),
            models.Index(fields=["action", "when"], name="auditevent_action_when_idx"),
            models.Index(fields=["actor", "when"], name="auditevent_actor_when_idx"),
        ]

    def __str__(self):
        return f"{self.get_action_display()}: {self.label}"
