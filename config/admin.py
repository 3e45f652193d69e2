"""The admin site, open to CS admins by their role as well as to staff users."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class TamarindAdminSite(admin.AdminSite):
    def has_permission(self, request):
        # A CS admin is a member of the "CS admin" group. The role, not Django's staff flag, is what
        # every other page checks, so a CS admin created without the flag still reaches these pages.
        user = request.user
        return user.is_active and (user.is_staff or getattr(user, "is_cs_admin", False))


class TamarindAdminConfig(AdminConfig):
    default_site = "config.admin.TamarindAdminSite"
