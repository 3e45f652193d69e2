"""The three roles. Each is an auth group that migration 0002 creates with its permissions."""

from django.db import models


class Role(models.TextChoices):
    TAM = "TAM", "TAM"
    MANAGER = "Manager", "Manager"
    CS_ADMIN = "CS admin", "CS admin"

