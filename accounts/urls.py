from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("<int:pk>/", views.account_detail, name="account"),
    path("reassign/", views.reassign, name="reassign"),
    path("<int:pk>/contacts/new/", views.contact_new, name="contact_new"),
    path("<int:pk>/contacts/<int:contact_pk>/", views.contact_edit, name="contact"),
]
