from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Q

from retention.locks import report_lock
from retention.services import schedule_recompute

from .models import Account, Contact, Subscription, User
from .selectors import new_tams
from .services import follow_tam_change, refresh_ultimate_parents


@admin.register(User)
class TamarindUserAdmin(UserAdmin):
    """User admin in which only a superuser may grant superuser status or change a superuser.

    CS admins manage users. A user who could set `is_superuser`, direct permissions or a
    superuser's password could give themselves every permission.
    """

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ("is_superuser", "user_permissions")
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class SubscriptionInline(admin.TabularInline):
    model = Subscription
    extra = 0


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


class AccountAdminForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only an active TAM records the milestones of the journeys that follow the account. The current
        # TAM stays on offer, so that other fields of an account whose TAM has left can still be saved.
        offered = Q(pk__in=new_tams().values("pk")) | Q(pk=self.instance.tam_id)
        self.fields["tam"].queryset = User.objects.filter(offered).order_by("username")

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        node = parent
        while node is not None and self.instance.pk:
            if node.pk == self.instance.pk:
                raise forms.ValidationError("This parent would make the account its own ancestor.")
            node = node.parent
        return parent


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountAdminForm
    list_display = ["external_id", "name", "parent", "segment", "tam"]
    list_filter = ["segment", "tam"]
    search_fields = ["external_id", "name"]
    list_select_related = ["parent", "tam"]
    raw_id_fields = ["parent"]
    inlines = [SubscriptionInline, ContactInline]

    def save_model(self, request, obj, form, change):
        # A new parent or segment restates every month, as an accounts import does.
        with report_lock():
            # The TAM stored now, under the lock, is the one that a move on the page may have set meanwhile.
            old_tam_id = Account.objects.filter(pk=obj.pk).values_list("tam_id", flat=True).first() if change else None
            super().save_model(request, obj, form, change)
            if change and "tam" in form.changed_data and old_tam_id != obj.tam_id:
                old_tam = User.objects.filter(pk=old_tam_id).first()
                follow_tam_change([obj], {obj.pk: old_tam}, obj.tam, user=request.user)
            refresh_ultimate_parents()
            if not change or {"parent", "segment", "tam"} & set(form.changed_data):
                schedule_recompute(None)


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
