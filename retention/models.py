from django.conf import settings
from django.db import models

from accounts.models import Account, Subscription
from common.fields import ByteOrderCharField
from common.money import CentsField


class ChargeType(models.TextChoices):
    RECURRING = "recurring", "Recurring"
    TRUEUP = "trueup", "True-up"


class Level(models.TextChoices):
    """The customer level a retention figure is computed at."""

    PARENT = "parent", "Parent account"
    ACCOUNT = "account", "Account"
    SUBSCRIPTION = "subscription", "Subscription"


class SegmentKey(models.TextChoices):
    """Segment of a stored result: one segment, accounts with none, or all of them."""

    ALL = "all", "All segments"
    LARGE = "Large", "Large"
    MID_MARKET = "Mid-Market", "Mid-Market"
    SMB = "SMB", "SMB"
    NONE = "none", "No segment"


class Category(models.TextChoices):
    CHURN = "churn", "Churn"
    EXPANSION = "expansion", "Expansion"


class Reason(models.TextChoices):
    """The reason a cohort customer's recurring MRR changed between M-12 and M."""

    CANCELLATION = "cancellation", "Cancellation"
    DOWNGRADE = "downgrade", "Downgrade"
    SEAT_EXPANSION = "seat_expansion", "Seat Expansion"
    PRICE_CHANGE = "price_change", "Discount/Price Change"
    PRODUCT_CHANGE = "product_change", "Product Change"
    PRODUCT_SEAT_MIX = "product_seat_mix", "Product Change/Seat Change Mix"

    @property
    def category(self) -> Category:
        return Category.CHURN if self in (Reason.CANCELLATION, Reason.DOWNGRADE) else Category.EXPANSION

    @classmethod
    def of_category(cls, category: Category) -> list["Reason"]:
        return [reason for reason in cls if reason.category == category]


class MrrLine(models.Model):
    """MRR of one subscription, product and charge type in one month.

    Input rows with the same month, subscription, product and charge type are
    added up on import, so there is one line per combination, and that
    combination is the primary key. A surrogate id would cost a second index,
    whose upkeep took a sixth of the time of importing a million lines
    (measured in docs/benchmarks.md). The key's first column serves the pages'
    and the engine's reads of given months.
    """

    pk = models.CompositePrimaryKey("month", "subscription", "product", "charge_type")

    month = models.DateField(help_text="First day of the month.")
    # Imports take the subscription id from a join with the subscription table
    # under the report lock, and Django's PROTECT stops deleting a subscription
    # that has lines. A database constraint would check each of a million
    # inserted lines again at commit. The pages and the engine read lines of
    # given months, which the primary key serves. An index on the
    # subscription alone would serve only PROTECT's check when a subscription
    # is deleted, and its upkeep took a third of the time of importing a
    # million lines (measured in docs/benchmarks.md).
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="mrr_lines", db_constraint=False, db_index=False
    )
    # The key's text columns compare byte by byte, so that the fast import can hand PostgreSQL
    # each month's lines in the key's order (see retention.importing.mrr_copy).
    product = ByteOrderCharField(max_length=100)
    quantity = models.BigIntegerField(help_text="Seats.")
    mrr = CentsField(help_text="US dollars; negative for a recurring credit.")
    charge_type = ByteOrderCharField(max_length=10, choices=ChargeType.choices)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(month__day=1), name="mrrline_month_first_day"),
        ]


class ImportKind(models.TextChoices):
    ACCOUNTS = "accounts", "Accounts"
    MRR = "mrr", "Monthly MRR lines"
    SUBSCRIPTIONS = "subscriptions", "Subscription periods"


class EndDateConvention(models.TextChoices):
    EXCLUSIVE = "exclusive", "End date is the first day without service"
    INCLUSIVE = "inclusive", "End date is the last day of service"


class ColumnMapping(models.Model):
    """A saved mapping from the product's column names to the columns of a billing export."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    columns = models.JSONField(default=dict, help_text="Product column name to the file's column name.")
    end_date = models.CharField(max_length=10, choices=EndDateConvention.choices, default=EndDateConvention.EXCLUSIVE)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ImportStatus(models.TextChoices):
    MAPPING = "mapping", "Waiting for column mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Imported"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """One import of one file, from the upload page or a management command."""

    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    file_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500, blank=True, help_text="Uploaded file on disk, under MEDIA_ROOT.")
    columns = models.JSONField(default=dict, blank=True)
    end_date = models.CharField(max_length=10, choices=EndDateConvention.choices, default=EndDateConvention.EXCLUSIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.BigIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="The first rejected rows: line, column, value, reason."
    )
    error_count = models.BigIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} import {self.pk} of {self.file_name}"


class CoveredMonth(models.Model):
    """A month that an import covered. The data span runs from the first to the last of them."""

    month = models.DateField(unique=True)
    import_run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["month"]
        constraints = [models.CheckConstraint(condition=models.Q(month__day=1), name="coveredmonth_first_day")]


class RetentionResult(models.Model):
    """Gross and net retention of one month at one level, for one segment or all."""

    month = models.DateField(help_text="Month of B; the baseline A is twelve months earlier.")
    level = models.CharField(max_length=12, choices=Level.choices)
    segment = models.CharField(max_length=12, choices=SegmentKey.choices)
    customers = models.IntegerField()
    a = CentsField()
    b = CentsField()
    c = CentsField()
    # Recurring MRR only (true-ups left out) over the same customers: the reasons add up to b - a of these.
    recurring_a = CentsField(default=0)
    recurring_b = CentsField(default=0)
    # Percentages rounded half up to two places; null when no customer was active in M-12.
    gross_pct = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    net_pct = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["month", "level", "segment"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "level", "segment"], name="retentionresult_unique_month_level_segment"
            )
        ]


class RetentionCustomerQuerySet(models.QuerySet):
    def of_month(self, month, level: str) -> "RetentionCustomerQuerySet":
        """Filter to the rows of one month and level, read through their range of ids in `CustomerBlock`."""
        block = CustomerBlock.objects.filter(month=month, level=level)
        return self.filter(
            pk__gte=models.Subquery(block.values("first_id")[:1]),
            pk__lte=models.Subquery(block.values("last_id")[:1]),
            month=month,
            level=level,
        )


class RetentionCustomer(models.Model):
    """One customer of a month's retention cohort, for drill-down.

    The engine writes one row per customer, month and level, grouped in SQL,
    and it is the only writer. It writes the rows of one month and level in
    one statement, so their ids form one range, kept in `CustomerBlock`.
    Pages read customer rows through these blocks only. Reads of a month and
    level go through that range of the primary key, so no index on the month
    and level pays for its upkeep on every recomputation. A TAM's totals over many months come from `TamTotal`.
    """

    objects = RetentionCustomerQuerySet.as_manager()

    month = models.DateField()
    level = models.CharField(max_length=12, choices=Level.choices)
    # The account the customer is: the ultimate parent, the account, or the subscription's account.
    # Rows are rewritten in bulk by every recomputation under the report lock, so
    # these keys skip the database's foreign-key checks and single-column indexes.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    subscription = models.ForeignKey(
        Subscription,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    segment = models.CharField(max_length=12, choices=SegmentKey.choices, help_text="Segment of the ultimate parent.")
    tam = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    a = CentsField()
    b = CentsField()
    c = CentsField()
    # Recurring lines only, for the reason of the change: MRR and seats (sum of quantities).
    # The products behind a reason are read from the lines when a page shows them.
    recurring_a = CentsField(default=0)
    recurring_b = CentsField(default=0)
    seats_a = models.BigIntegerField(default=0)
    seats_b = models.BigIntegerField(default=0)
    # Empty when the recurring MRR did not change.
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    reason_amount = CentsField(default=0, help_text="Churned or gained recurring MRR; positive for either category.")


class CustomerBlock(models.Model):
    """The range of ids of the customer rows of one month and level.

    Reads of those rows also filter on the month and level, so a range that
    takes in other rows slows them down but does not change what they return.
    """

    month = models.DateField()
    level = models.CharField(max_length=12, choices=Level.choices)
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "level"], name="customerblock_unique_month_level")]


class UnlistedCustomerRange(models.Model):
    """A range of customer ids that a recomputation's worker committed before the run listed them in blocks.

    The run removes its ranges when it commits its blocks. A range left here
    belongs to a run that failed, and the next run deletes its rows.
    """

    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()


class TamTotal(models.Model):
    """The customers and amounts of one month, level, segment, owning TAM (or none) and reason.

    The engine adds up the month's customer rows into these sums, which the
    pages of a TAM read over many months. The reason is empty for customers
    whose recurring MRR did not change.
    """

    month = models.DateField()
    level = models.CharField(max_length=12, choices=Level.choices)
    segment = models.CharField(max_length=12, choices=SegmentKey.choices, help_text="Segment of the ultimate parent.")
    tam = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    customers = models.IntegerField()
    a = CentsField()
    b = CentsField()
    c = CentsField()
    recurring_a = CentsField()
    recurring_b = CentsField()
    reason_amount = CentsField()

    class Meta:
        indexes = [models.Index(fields=["tam", "level", "month"], name="tamtotal_tam_level_month_idx")]


class ReasonTotal(models.Model):
    """The churned or gained recurring MRR of one reason in one month, level and segment (or all)."""

    month = models.DateField()
    level = models.CharField(max_length=12, choices=Level.choices)
    segment = models.CharField(max_length=12, choices=SegmentKey.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    customers = models.IntegerField()
    amount = CentsField()

    class Meta:
        ordering = ["month", "level", "segment", "reason"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "level", "segment", "reason"], name="reasontotal_unique_month_level_segment_reason"
            )
        ]


class PendingRecompute(models.Model):
    """Months that wait for a recomputation, written in the same transaction as the change that needs it.

    A row survives until a recomputation of its months commits, so a change is
    never left without fresh figures, even when the task queue is unreachable.
    """

    months = models.JSONField(null=True, blank=True, help_text="YYYY-MM months; null means the whole data span.")
    import_run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueue_failed = models.BooleanField(default=False, help_text="The task queue could not be reached after commit.")

    class Meta:
        ordering = ["pk"]
