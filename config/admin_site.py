"""The admin site, open to CS admins by their role as well as to staff users."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm


def may_use_admin(user) -> bool:
    """Return whether the user may open the admin site, as an active staff user or CS admin."""
    # A CS admin is a member of the "CS admin" group. The role, not Django's staff flag, is what
    # every other page checks, so a CS admin created without the flag still reaches these pages.
    return user.is_active and (user.is_staff or getattr(user, "is_cs_admin", False))


class TamarindAdminAuthenticationForm(AdminAuthenticationForm):
    """Sign-in form of the admin site, which accepts the users that `may_use_admin` accepts."""

    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)
        if not may_use_admin(user):
            raise self.get_invalid_login_error()


class TamarindAdminSite(admin.AdminSite):
    login_form = TamarindAdminAuthenticationForm

    def has_permission(self, request):
        return may_use_admin(request.user)
