from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Account, Contact, Subscription, User

admin.site.register(User, UserAdmin)


class SubscriptionInline(admin.TabularInline):
    model = Subscription
    extra = 0


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "parent", "segment", "tam"]
    list_filter = ["segment", "tam"]
    search_fields = ["external_id", "name"]
    list_select_related = ["parent", "tam"]
    raw_id_fields = ["parent"]
    inlines = [SubscriptionInline, ContactInline]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["external_id", "account"]
    search_fields = ["external_id", "account__external_id", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "persona", "email"]
    list_filter = ["persona"]
    search_fields = ["name", "email", "account__name"]
    raw_id_fields = ["account"]
