"""Forms of success plans, objectives, activities and the plan overview. Each validates and converts."""

import datetime

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.db.models import Q

from accounts.models import Account, Segment, User
from accounts.roles import Role
from common.edits import VersionField, history_version
from common.forms import RowsChoiceField, reject_before_first_year

from .plan_models import ActivityKind, Objective, ObjectiveStatus, PlanStatus
from .rules import completion_date_problem

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Maximum characters of a free-text field: room for pages of notes, while a longer paste would swamp the plan pages.
TEXT_MAX_LENGTH = 10_000


def _date_field(label: str, required: bool = False, **kwargs) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        widget=DATE_WIDGET,
        input_formats=["%Y-%m-%d"],
        validators=[reject_before_first_year],
        **kwargs,
    )


class PlanForm(forms.Form):
    status = forms.ChoiceField(choices=PlanStatus.choices)
    closing_summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=TEXT_MAX_LENGTH,
        help_text="What the plan achieved and what comes next; required to close the plan.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_id = "plan-form"
        self.helper.add_input(Submit("save_plan", "Save plan"))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") == PlanStatus.CLOSED and not cleaned.get("closing_summary", "").strip():
            self.add_error("closing_summary", "Enter a closing summary to close the plan.")
        return cleaned


class ObjectiveForm(forms.Form):
    business_outcome = forms.CharField(max_length=300, help_text="The result the customer wants, in their words.")
    success_criteria = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=TEXT_MAX_LENGTH,
        help_text="Measurable: a number, a date or an event both sides can check.",
    )
    target_date = _date_field("Target date")
    stakeholders = RowsChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple, help_text="Contacts of the account."
    )
    status = forms.ChoiceField(choices=ObjectiveStatus.choices, initial=ObjectiveStatus.PLANNED)
    achieved_date = _date_field("Achieved on", help_text="Required when the status is achieved.")
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=TEXT_MAX_LENGTH,
        help_text="For example why it was abandoned.",
    )
    opened_version = VersionField()

    def __init__(self, *args, account: Account, today: datetime.date, objective: Objective | None = None, **kwargs):
        if objective is not None:
            kwargs.setdefault(
                "initial",
                {
                    "opened_version": history_version(objective),
                    "business_outcome": objective.business_outcome,
                    "success_criteria": objective.success_criteria,
                    "target_date": objective.target_date,
                    "stakeholders": list(objective.stakeholders.all()),
                    "status": objective.status,
                    "achieved_date": objective.achieved_date,
                    "notes": objective.notes,
                },
            )
        super().__init__(*args, **kwargs)
        self.objective = objective
        self.today = today
        self.fields["stakeholders"].queryset = account.contacts.order_by("name", "id")
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_id = "objective-form"
        self.helper.layout = Layout(
            "business_outcome",
            "success_criteria",
            Row(Column("target_date"), Column("status"), Column("achieved_date")),
            "stakeholders",
            "notes",
            "opened_version",
        )
        self.helper.add_input(Submit("save_objective", "Save objective"))

    def clean(self):
        cleaned = super().clean()
        if "achieved_date" in self.errors or "status" not in cleaned:
            return cleaned
        day = cleaned.get("achieved_date")
        if cleaned["status"] != ObjectiveStatus.ACHIEVED:
            cleaned["achieved_date"] = None
        elif day is None:
            self.add_error("achieved_date", "Enter the date the objective was achieved.")
        elif day > self.today:
            self.add_error("achieved_date", f"The date {day.isoformat()} is in the future; today is {self.today}.")
        elif self.objective is not None and self.objective.original_intent:
            # An original-intent objective completes Outcome Achieved, so the milestone's date rule applies.
            problem = completion_date_problem(day, self.objective.journey.transaction_date, self.today)
            if problem:
                self.add_error("achieved_date", problem)
        return cleaned


class OriginalIntentForm(forms.Form):
    original_intent = forms.BooleanField(label="Original purchase intent", required=False)

    def __init__(self, *args, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_action = action
        self.helper.form_class = "intent-form"
        self.helper.add_input(Submit("save_intent", "Save flag", css_class="btn-sm"))


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=ActivityKind.choices, initial=ActivityKind.MEETING)
    date = _date_field("Date", required=True)
    attendees = RowsChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple, help_text="Contacts who took part."
    )
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=TEXT_MAX_LENGTH)

    def __init__(self, *args, account: Account, today: datetime.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["attendees"].queryset = account.contacts.order_by("name", "id")
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_id = "activity-form"
        self.helper.layout = Layout(Row(Column("kind"), Column("date")), "attendees", "summary")
        self.helper.add_input(Submit("save_activity", "Save activity"))

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day > self.today:
            raise forms.ValidationError(f"The date {day.isoformat()} is in the future; today is {self.today}.")
        return day


class PlanOverviewForm(forms.Form):
    """Filters of the plan overview; invalid values fall back to the defaults."""

    tam = forms.ModelChoiceField(label="TAM", queryset=User.objects.none(), required=False, empty_label="All TAMs")
    segment = forms.ChoiceField(label="Segment", choices=[("", "All segments"), *Segment.choices], required=False)
    achieved_from = _date_field("Achieved from")
    achieved_to = _date_field("Achieved to")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tam"].queryset = (
            User.objects.filter(Q(groups__name=Role.TAM) | Q(accounts__isnull=False)).distinct().order_by("username")
        )
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_id = "overview-filters"
        self.helper.layout = Layout(
            Row(Column("tam"), Column("segment"), Column("achieved_from"), Column("achieved_to"))
        )
        self.helper.add_input(Submit("apply", "Apply", css_class="btn-sm"))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("achieved_from"), cleaned.get("achieved_to")
        if start and end and start > end:
            self.add_error("achieved_to", "The end of the period is before its start.")
        return cleaned
