"""The filters of the audit log page. The CSV export reads the same query string."""

import datetime

import django_filters
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Layout, Row
from django import forms
from django.utils import timezone

from . import selectors
from .models import AuditAction, AuditEvent, ObjectType


class AuditFilterForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_id = "audit-filters"
        self.helper.layout = Layout(
            Row(
                Column("action", css_class="col-md-4 col-xl-2"),
                Column("actor", css_class="col-md-4 col-xl-2"),
                Column("object_type", css_class="col-md-4 col-xl-2"),
                Column("date_from", css_class="col-md-3 col-xl"),
                Column("date_to", css_class="col-md-3 col-xl"),
                Column("label", css_class="col-md-4 col-xl"),
                Column(
                    HTML('<button type="submit" class="btn btn-primary mb-3 w-100">Filter</button>'),
                    css_class="col-md-2 col-xl-auto",
                ),
                css_class="g-2 align-items-end",
            )
        )


def _start_of_day(day: datetime.date) -> datetime.datetime:
    """Return midnight at the start of `day` in the current time zone, so the range can use the index on `when`."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_current_timezone())


class AuditEventFilter(django_filters.FilterSet):
    """Filter by action, actor, object type, a range of days (both ends included) and text in the label.

    An invalid value shows an error on its field and leaves the other filters applied.
    """

    action = django_filters.ChoiceFilter(choices=AuditAction.choices, empty_label="Any action")
    actor = django_filters.ModelChoiceFilter(
        queryset=lambda request: selectors.actors(),
        empty_label="Anyone",
        null_label="System",
        label="Who",
    )
    object_type = django_filters.ChoiceFilter(choices=ObjectType.choices, empty_label="Any object", label="Object")
    date_from = django_filters.DateFilter(
        method="filter_date_from", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        method="filter_date_to", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    label = django_filters.CharFilter(lookup_expr="icontains", label="Label contains")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "object_type", "date_from", "date_to", "label"]
        form = AuditFilterForm

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(when__gte=_start_of_day(value))

    def filter_date_to(self, queryset, name, value):
        if value == datetime.date.max:
            # No later day exists to bound the range, so every event is on or before it.
            return queryset
        return queryset.filter(when__lt=_start_of_day(value + datetime.timedelta(days=1)))
