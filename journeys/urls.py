from django.urls import path

from . import plan_views, views

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
    path("plans/", plan_views.plan_overview, name="plan_overview"),
    path("plans/<int:pk>/", plan_views.plan_detail, name="plan"),
    path("plans/<int:pk>/print/", plan_views.plan_print, name="plan_print"),
    path("plans/<int:plan_pk>/objectives/new/", plan_views.objective_new, name="objective_new"),
    path("plans/<int:plan_pk>/objectives/<int:pk>/", plan_views.objective_edit, name="objective"),
    path("objectives/<int:pk>/intent/", plan_views.objective_intent, name="objective_intent"),
    path("accounts/<int:account_pk>/plan/new/", plan_views.plan_new, name="plan_new"),
    path("accounts/<int:account_pk>/activities/new/", plan_views.activity_new, name="activity_new"),
    path("activities/<int:pk>/", plan_views.activity_edit, name="activity"),
    path("activities/<int:pk>/kickoff/", plan_views.kickoff_offer, name="kickoff_offer"),
]
