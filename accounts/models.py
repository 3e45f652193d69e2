from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

from .roles import Role


class User(AbstractUser):
    """A person who signs in; the groups named after `Role` decide what they may do."""

    def has_role(self, role: Role) -> bool:
        return self.groups.filter(name=role).exists() if self.pk else False

    @property
    def role_names(self) -> set[str]:
        if not hasattr(self, "_role_names"):
            if self.pk:
                from .backends import load_access

                load_access(self)
            else:
                self._role_names = set()
        return self._role_names

    @property
    def is_tam(self) -> bool:
        return Role.TAM in self.role_names

    @property
    def is_manager(self) -> bool:
        return Role.MANAGER in self.role_names

    @property
    def is_cs_admin(self) -> bool:
        return Role.CS_ADMIN in self.role_names

    @property
    def sees_all_accounts(self) -> bool:
        """Managers and CS admins read every account; a TAM reads the accounts they own."""
        return self.is_superuser or self.is_manager or self.is_cs_admin


class Segment(models.TextChoices):
    LARGE = "Large", "Large"
    MID_MARKET = "Mid-Market", "Mid-Market"
    SMB = "SMB", "SMB"


class Account(models.Model):
    """A customer account as the CRM stores it. Accounts form a tree through `parent`."""

    external_id = models.CharField(
        max_length=100, unique=True, help_text="Stable id from the CRM, kept exactly as written."
    )
    name = models.CharField(max_length=255)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # Top of the parent chain (itself for a top-level account). Imports keep it
    # current so that reports can group by it without walking the tree.
    ultimate_parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="descendants", editable=False
    )
    segment = models.CharField(max_length=20, choices=Segment.choices, blank=True)
    tam = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accounts",
        verbose_name="owning TAM",
    )

    class Meta:
        ordering = ["name", "external_id"]
        permissions = [
            ("view_all_accounts", "Can read every account, not only owned ones"),
            ("reassign_account", "Can move an account to another TAM"),
        ]
        indexes = [models.Index(fields=["tam"], name="account_tam_idx")]

    def __str__(self):
        return f"{self.name} ({self.external_id})"


class Subscription(models.Model):
    """A billing subscription; it belongs to exactly one account."""

    # A constraint rather than unique=True, because on PostgreSQL unique=True also adds an index for
    # LIKE searches that no query uses, and an import that creates 62,000 subscriptions would update both.
    external_id = models.CharField(max_length=100)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="subscriptions")

    class Meta:
        ordering = ["external_id"]
        constraints = [models.UniqueConstraint(fields=["external_id"], name="accounts_subscription_external_id_key")]

    def __str__(self):
        return self.external_id


class Persona(models.TextChoices):
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    TOOLS_EXECUTIVE = "tools_executive", "Tools/infrastructure executive"
    DEVELOPMENT_EXECUTIVE = "development_executive", "Development executive"
    DEVELOPMENT_LEAD = "development_lead", "Development lead"
    SECURITY_LEAD = "security_lead", "Security lead"
    CHAMPION = "champion", "Champion"
    OTHER = "other", "Other"


class Contact(models.Model):
    """A person at the customer."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=255)
    email = models.EmailField(blank=True)
    title = models.CharField(max_length=255, blank=True)
    persona = models.CharField(max_length=30, choices=Persona.choices, default=Persona.OTHER)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                "account", Lower("email"), condition=~models.Q(email=""), name="contact_unique_email_per_account"
            )
        ]

    def __str__(self):
        return self.name
