from django.apps import AppConfig


class ServicesCostConfig(AppConfig):
    name = "services_cost"
