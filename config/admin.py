"""The admin app's configuration, which installs the site of `config.admin_site`.

The site and its sign-in form live in their own module because this one is imported while the
apps load, before the auth models that the form imports exist.
"""

from django.contrib.admin.apps import AdminConfig


class TamarindAdminConfig(AdminConfig):
    default_site = "config.admin_site.TamarindAdminSite"
