from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    # Added to the role groups after every migrate, as accounts.roles describes.
    role_permissions = {
        "CS admin": ["audit.view_auditevent"],
    }
