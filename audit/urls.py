from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="events"),
    path("events.csv", views.events_csv, name="events_csv"),
]
