from django.urls import path, register_converter

from . import import_views, views


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
    path("imports/", import_views.import_list, name="import_list"),
    path("imports/new/", import_views.import_new, name="import_new"),
    path("imports/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:pk>/mapping/", import_views.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/progress.json", import_views.import_progress, name="import_progress"),
]
