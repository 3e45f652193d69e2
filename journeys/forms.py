"""Forms of the journey pages. Each validates and converts; the services store."""

import datetime

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, Segment, User
from accounts.roles import Role
from common.edits import VersionField, history_version
from common.forms import PlainIntegerField, RowsChoiceField, reject_before_first_year

from .models import (
    SEGMENT_CHOICES,
    FirstValueBasis,
    InfrastructureType,
    Journey,
    JourneyKind,
    Milestone,
    Playbook,
    PlaybookTask,
    Product,
    TaskStatus,
)
from .plan_selectors import objectives_govern_outcome
from .rules import DUPLICATE_JOURNEY, completion_date_problem, ten_percent_problem
from .ttv import CohortPeriod, report_date_problem

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _date_field(label: str, **kwargs) -> forms.DateField:
    return forms.DateField(label=label, required=False, widget=DATE_WIDGET, input_formats=["%Y-%m-%d"], **kwargs)


class MilestoneForm(forms.Form):
    """The five milestone dates and their details. An empty date means not reached."""

    kickoff_date = _date_field("Kickoff", help_text="The first meeting with the customer.")
    onboarding_date = _date_field("Onboarding", help_text="Every onboarding task done or not applicable.")
    infrastructure_ready_date = _date_field("Infrastructure Ready")
    infrastructure_type = forms.ChoiceField(
        label="Infrastructure type", choices=[("", "–")] + InfrastructureType.choices, required=False
    )
    first_value_date = _date_field("First Value")
    first_value_basis = forms.ChoiceField(
        label="First value basis", choices=[("", "–")] + FirstValueBasis.choices, required=False
    )
    first_value_users = PlainIntegerField(
        label="Users in production",
        min_value=0,
        max_value=999_999_999,
        required=False,
        help_text="For the 10% basis: users in production against the purchased licenses.",
    )
    outcome_achieved_date = _date_field("Outcome Achieved", help_text="Every original-intent objective achieved.")
    opened_version = VersionField()

    def __init__(self, *args, journey: Journey, today: datetime.date, has_tasks: bool, **kwargs):
        initial = {name: getattr(journey, name) for name in self.base_fields if name != "opened_version"}
        kwargs.setdefault("initial", initial | {"opened_version": history_version(journey)})
        super().__init__(*args, **kwargs)
        self.journey = journey
        self.today = today
        if has_tasks:
            field = self.fields["onboarding_date"]
            field.disabled = True
            field.help_text = "Set by the onboarding tasks: the date the last open task closed."
        if objectives_govern_outcome(journey):
            field = self.fields["outcome_achieved_date"]
            field.disabled = True
            field.help_text = "Set by the success plan: the date the last original-intent objective was achieved."
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_id = "milestone-form"
        self.helper.layout = Layout(
            Row(Column("kickoff_date"), Column("onboarding_date")),
            Row(Column("infrastructure_ready_date"), Column("infrastructure_type")),
            Row(Column("first_value_date"), Column("first_value_basis"), Column("first_value_users")),
            Row(Column("outcome_achieved_date")),
            "opened_version",
        )
        self.helper.add_input(Submit("save_milestones", "Save milestones"))

    def _check_date(self, name: str):
        day = self.cleaned_data.get(name)
        if day is not None:
            problem = completion_date_problem(day, self.journey.transaction_date, self.today)
            if problem:
                raise forms.ValidationError(problem)
        return day

    def clean_kickoff_date(self):
        return self._check_date("kickoff_date")

    def clean_onboarding_date(self):
        return self._check_date("onboarding_date")

    def clean_infrastructure_ready_date(self):
        return self._check_date("infrastructure_ready_date")

    def clean_first_value_date(self):
        return self._check_date("first_value_date")

    def clean_outcome_achieved_date(self):
        return self._check_date("outcome_achieved_date")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("infrastructure_ready_date") and not cleaned.get("infrastructure_type"):
            self.add_error("infrastructure_type", "Choose how the infrastructure is ready.")
        if not cleaned.get("infrastructure_ready_date") and "infrastructure_ready_date" not in self.errors:
            cleaned["infrastructure_type"] = ""
        if cleaned.get("first_value_date"):
            basis = cleaned.get("first_value_basis")
            if not basis:
                self.add_error("first_value_basis", "Choose what the first value is based on.")
            elif basis == FirstValueBasis.LICENSES_10PCT:
                problem = ten_percent_problem(cleaned.get("first_value_users"), self.journey.licenses)
                if problem:
                    self.add_error("first_value_users", problem)
        elif "first_value_date" not in self.errors:
            cleaned["first_value_basis"] = ""
            cleaned["first_value_users"] = None
        return cleaned


class TaskForm(forms.Form):
    """Open, finish or mark one onboarding task not applicable, with the date it closed."""

    status = forms.ChoiceField(choices=TaskStatus.choices, label="Status")
    closed_on = _date_field("Closed on")

    def __init__(self, *args, task, today: datetime.date, action: str, **kwargs):
        kwargs.setdefault("initial", {"status": task.status, "closed_on": task.closed_on or today})
        kwargs.setdefault("prefix", f"task-{task.pk}")
        super().__init__(*args, **kwargs)
        self.task = task
        self.today = today
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_action = action
        self.helper.form_class = "task-form d-flex flex-wrap gap-2 align-items-start"
        self.helper.form_show_labels = False
        self.helper.layout = Layout("status", "closed_on")
        self.helper.add_input(Submit("save_task", "Save", css_class="btn-sm"))

    def clean(self):
        cleaned = super().clean()
        status = cleaned.get("status")
        if status == TaskStatus.OPEN:
            cleaned["closed_on"] = None
        elif status and "closed_on" not in self.errors:
            closed_on = cleaned.get("closed_on")
            if closed_on is None:
                self.add_error("closed_on", "Enter the date the task was closed.")
            else:
                problem = completion_date_problem(closed_on, self.task.journey.transaction_date, self.today)
                if problem:
                    self.add_error("closed_on", problem)
        return cleaned


class StartJourneyForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.none(), label="Account")
    kind = forms.ChoiceField(choices=JourneyKind.choices, initial=JourneyKind.NEW)
    transaction_date = forms.DateField(widget=DATE_WIDGET, input_formats=["%Y-%m-%d"], label="Transaction date")
    licenses = PlainIntegerField(min_value=1, max_value=999_999_999, label="Purchased licenses")
    products = RowsChoiceField(
        queryset=Product.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The onboarding tasks come from the playbook of each product for the account's segment.",
    )

    def __init__(self, *args, user: User, today: datetime.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        accounts = Account.objects.order_by("name", "external_id")
        if not user.sees_all_accounts:
            accounts = accounts.filter(tam=user)
        self.fields["account"].queryset = accounts
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.add_input(Submit("start", "Start journey"))

    def clean_transaction_date(self):
        day = self.cleaned_data["transaction_date"]
        reject_before_first_year(day)
        if day > self.today:
            raise forms.ValidationError(f"The date {day.isoformat()} is in the future; today is {self.today}.")
        return day

    def clean(self):
        cleaned = super().clean()
        account, day, kind = cleaned.get("account"), cleaned.get("transaction_date"), cleaned.get("kind")
        if account and day and kind:
            if Journey.objects.filter(account=account, transaction_date=day, kind=kind).exists():
                self.add_error("transaction_date", DUPLICATE_JOURNEY)
        return cleaned


class PlaybookForm(forms.ModelForm):
    class Meta:
        model = Playbook
        fields = ["product", "segment"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(Row(Column("product"), Column("segment")))


class BasePlaybookTaskFormSet(forms.BaseInlineFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        # The hidden id names a task that was deleted, in another tab or by another user, after the page was opened.
        form.fields["id"].error_messages["invalid_choice"] = (
            "This task was deleted after the page was opened. Reload the playbook to edit its current tasks."
        )


PlaybookTaskFormSet = forms.inlineformset_factory(
    Playbook,
    PlaybookTask,
    formset=BasePlaybookTaskFormSet,
    fields=["title", "owner_side", "due_offset_days", "position"],
    field_classes={"due_offset_days": PlainIntegerField, "position": PlainIntegerField},
    extra=3,
    can_delete=True,
    help_texts={"due_offset_days": ""},
)


class PlaybookTaskFormSetHelper(FormHelper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form_tag = False
        # The table template names the table "playbook-tasks_table" after it, and site.css sets its minimum width.
        self.form_id = "playbook-tasks"
        self.template = "bootstrap5/table_inline_formset.html"


def target_field_name(milestone: str, segment: str) -> str:
    return f"target_{milestone}_{segment.lower().replace('-', '_') or 'none'}"


class TargetsForm(forms.Form):
    """One number of days per milestone and segment."""

    def __init__(self, *args, targets: dict[tuple[str, str], int], **kwargs):
        super().__init__(*args, **kwargs)
        self.keys = {}
        for milestone in Milestone:
            for segment, label in SEGMENT_CHOICES:
                name = target_field_name(milestone, segment)
                self.keys[name] = (milestone.value, segment)
                # The page also sends each value as it was shown, so that saving stores only the boxes this user
                # changed and keeps what another admin saved meanwhile in the others.
                self.fields[name] = PlainIntegerField(
                    label=f"{milestone.label}, {label}",
                    min_value=1,
                    max_value=3650,
                    initial=targets[(milestone.value, segment)],
                    show_hidden_initial=True,
                )

    def rows(self):
        """Return [(milestone, [(bound field, hidden input of its shown value) per segment])] for the template."""
        rows = []
        for milestone in Milestone:
            fields = [self[target_field_name(milestone, segment)] for segment, _ in SEGMENT_CHOICES]
            rows.append((milestone, [(field, field.as_hidden(only_initial=True)) for field in fields]))
        return rows

    def days(self) -> dict[tuple[str, str], int]:
        """Return the days of the targets changed on this form, keyed by (milestone, segment)."""
        return {self.keys[name]: self.cleaned_data[name] for name in self.changed_data}


GROUP_CHOICES = [("cohort", "Cohort"), ("segment", "Segment"), ("tam", "TAM")]


class ReportFilterForm(forms.Form):
    """Filters of the time-to-value report. Each invalid value falls back to its default."""

    as_of = forms.DateField(label="As of", required=False, widget=DATE_WIDGET, input_formats=["%Y-%m-%d"])
    cohort_period = forms.ChoiceField(
        label="Cohorts by", choices=[(CohortPeriod.QUARTER, "Quarter"), (CohortPeriod.MONTH, "Month")], required=False
    )
    cohort = forms.CharField(label="Cohort", required=False, help_text="YYYY-Qn or YYYY-MM; empty for all.")
    segment = forms.ChoiceField(label="Segment", choices=[("", "All segments"), *Segment.choices], required=False)
    tam = forms.ModelChoiceField(label="TAM", queryset=User.objects.none(), required=False, empty_label="All TAMs")
    group_by = forms.ChoiceField(label="Rows by", choices=GROUP_CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tam"].queryset = (
            User.objects.filter(Q(groups__name=Role.TAM) | Q(journeys__isnull=False)).distinct().order_by("username")
        )
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.layout = Layout(
            Row(
                Column("as_of"),
                Column("cohort_period"),
                Column("cohort"),
                Column("segment"),
                Column("tam"),
                Column("group_by"),
            )
        )
        self.helper.add_input(Submit("apply", "Apply", css_class="btn-sm"))

    def clean_as_of(self):
        day = self.cleaned_data["as_of"]
        if day is not None:
            problem = report_date_problem(day, timezone.localdate())
            if problem:
                raise forms.ValidationError(problem)
        return day

    def clean_cohort(self):
        from .ttv import parse_cohort

        text = self.cleaned_data["cohort"].strip()
        if not text:
            return ""
        try:
            period, label = parse_cohort(text)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        return label
