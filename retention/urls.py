from django.urls import path, register_converter

from . import import_views, reason_views, views


class MonthConverter:
    regex = r"\d{4}-\d{2}"

    def to_python(self, value):
        from common.months import parse_month

        return parse_month(value)

    def to_url(self, value):
        from common.months import format_month

        return value if isinstance(value, str) else format_month(value)


register_converter(MonthConverter, "month")

app_name = "retention"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("<month:month>/", views.month_detail, name="month"),
    path("<month:month>/customers.csv", views.month_csv, name="month_csv"),
    path("reasons/", reason_views.reasons, name="reasons"),
    path("reasons/<month:month>/reasons.csv", reason_views.reasons_csv, name="reasons_csv"),
    path("reasons/<month:month>/<slug:reason>/", reason_views.reason_customers, name="reason_customers"),
    path(
        "reasons/<month:month>/<slug:reason>/customers.csv",
        reason_views.reason_customers_csv,
        name="reason_customers_csv",
    ),
    path("customers/<int:pk>/lines/", reason_views.customer_lines, name="customer_lines"),
    path("customers/<int:pk>/lines.csv", reason_views.customer_lines_csv, name="customer_lines_csv"),
    path("imports/", import_views.import_list, name="import_list"),
    path("imports/new/", import_views.import_new, name="import_new"),
    path("imports/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:pk>/mapping/", import_views.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/progress.json", import_views.import_progress, name="import_progress"),
]
