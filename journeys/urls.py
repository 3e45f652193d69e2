from django.urls import path

from . import views

app_name = "journeys"
urlpatterns = [
    path("", views.my_accounts, name="my_accounts"),
    path("start/", views.start_journey, name="start"),
    path("<int:pk>/", views.journey_detail, name="journey"),
    path("<int:pk>/tasks/<int:task_pk>/", views.task_update, name="task"),
    path("playbooks/", views.playbook_list, name="playbooks"),
    path("playbooks/new/", views.playbook_edit, name="playbook_new"),
    path("playbooks/<int:pk>/", views.playbook_edit, name="playbook"),
    path("targets/", views.targets, name="targets"),
    path("report/", views.report, name="report"),
    path("report.csv", views.report_csv, name="report_csv"),
]
