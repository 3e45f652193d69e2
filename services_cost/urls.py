from django.urls import path

from . import views

app_name = "services_cost"

urlpatterns = [
    path("rates/", views.rates, name="rates"),
    path("rates/new/", views.rate_create, name="rate_create"),
    path("rates/copy/", views.rates_copy, name="rates_copy"),
    path("rates/<int:pk>/", views.rate_edit, name="rate_edit"),
    path("rates/<int:pk>/delete/", views.rate_delete, name="rate_delete"),
    path("roles/new/", views.role_create, name="role_create"),
    path("estimates/", views.estimate_list, name="estimate_list"),
    path("estimates/new/", views.estimate_create, name="estimate_create"),
    path("estimates/<int:pk>/", views.estimate_detail, name="estimate_detail"),
    path("estimates/<int:pk>/edit/", views.estimate_edit, name="estimate_edit"),
    path("estimates/<int:pk>/finish/", views.estimate_finish, name="estimate_finish"),
    path("estimates/<int:pk>/duplicate/", views.estimate_duplicate, name="estimate_duplicate"),
    path("estimates/<int:pk>/estimate.csv", views.estimate_csv, name="estimate_csv"),
]
