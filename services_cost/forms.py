"""Forms of the rates and estimate pages. They validate, convert to `Decimal` and leave the writes to services."""

from decimal import Decimal

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from common.edits import VersionField
from common.fiscal import FiscalQuarter, parse_quarter, quarter_of
from common.forms import PlainDecimalField, PlainIntegerField

from . import selectors
from .models import DEFAULT_BILLABLE_HOURS, ServiceRole
from .services import MAX_AMOUNT, MAX_LINE_HOURS, LineInput, check_estimate_date


def amount_field(label: str, help_text: str) -> PlainDecimalField:
    """Return a field for a non-negative USD amount with at most two decimals."""
    return PlainDecimalField(
        label=label,
        min_value=Decimal(0),
        max_value=MAX_AMOUNT,
        # No max_digits: max_value and decimal_places reject every value it would, and its
        # generic message would repeat theirs without naming the field.
        decimal_places=2,
        help_text=help_text,
        localize=False,
        error_messages={
            "min_value": f"{label} must not be negative.",
            "max_value": f"{label} must be at most {MAX_AMOUNT}.",
            "invalid": f"{label} must be an amount such as 1250.00.",
            "max_decimal_places": f"{label} may have at most two decimal places.",
        },
    )


class QuarterField(forms.Field):
    """A fiscal quarter written as FY2027-Q1, cleaned to a FiscalQuarter."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Fiscal quarter such as FY2027-Q1.")
        super().__init__(**kwargs)

    def to_python(self, value):
        text = (value or "").strip()
        if not text:
            return None
        try:
            return parse_quarter(text)
        except ValueError as error:
            message = str(error)
            raise ValidationError(message[:1].upper() + message[1:] + ".") from None

    def prepare_value(self, value):
        return str(value) if isinstance(value, FiscalQuarter) else value


class RateForm(forms.Form):
    """A new rate (with role and quarter) or the amounts of an existing one."""

    role = forms.ModelChoiceField(queryset=ServiceRole.objects.all())
    quarter = QuarterField(label="Fiscal quarter")
    ote = amount_field("OTE", "Average annual on-target earnings in USD.")
    benefits = amount_field("Benefits", "Annual benefits in USD.")
    billable_hours = PlainIntegerField(
        initial=DEFAULT_BILLABLE_HOURS,
        min_value=1,
        max_value=8784,
        help_text="Billable hours in a year, a whole number.",
        error_messages={
            "min_value": "Billable hours must be above zero.",
            "max_value": "Billable hours must be at most 8784, the hours of a leap year.",
        },
    )

    opened_version = VersionField()

    def __init__(self, *args, existing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if existing:
            del self.fields["role"]
            del self.fields["quarter"]
        else:
            del self.fields["opened_version"]
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", "Save rate"))


class RoleForm(forms.Form):
    name = forms.CharField(max_length=100, label="Role name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", "Add role"))


class CopyRatesForm(forms.Form):
    quarter = QuarterField()


class EstimateForm(forms.Form):
    account = forms.ModelChoiceField(queryset=None)
    title = forms.CharField(max_length=200)
    estimate_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        help_text="The rates of this date's fiscal quarter apply.",
    )
    price = amount_field("Price", "Price of the statement of work in USD.")
    opened_version = VersionField()

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = selectors.accounts_for_estimates(user).order_by("name", "id")
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(Column("account", css_class="col-md-6"), Column("title", css_class="col-md-6")),
            Row(Column("estimate_date", css_class="col-md-6"), Column("price", css_class="col-md-6")),
            "opened_version",
        )

    def clean_estimate_date(self):
        day = self.cleaned_data["estimate_date"]
        try:
            check_estimate_date(day)
        except ValidationError as error:
            raise ValidationError(error.messages) from None
        return day


class LineForm(forms.Form):
    role = forms.ModelChoiceField(queryset=ServiceRole.objects.all())
    hours = PlainDecimalField(
        # No max_digits, as in amount_field: max_value and decimal_places cover it.
        decimal_places=2,
        max_value=MAX_LINE_HOURS,
        localize=False,
        error_messages={
            "invalid": "Hours must be a number such as 12.5.",
            "max_value": f"Hours must be at most {MAX_LINE_HOURS}.",
            "max_decimal_places": "Hours may have at most two decimal places.",
        },
    )
    description = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The lines are rendered as table rows whose column headers stand in for labels.
        self.fields["role"].widget.attrs.update({"class": "form-select", "aria-label": "Role"})
        self.fields["hours"].widget.attrs.update({"class": "form-control", "aria-label": "Hours"})
        self.fields["description"].widget.attrs.update({"class": "form-control", "aria-label": "Description"})

    def clean_hours(self):
        hours = self.cleaned_data["hours"]
        if hours <= 0:
            raise ValidationError(f"Hours must be above zero, got {hours}.")
        return hours


class BaseLineFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        if not self.lines():
            raise ValidationError("Add at least one line with a role and hours.")

    def kept_forms(self):
        """Return the line forms to store: every line shown with its values, and the extra lines filled in."""
        initial = set(self.initial_forms)
        return [
            form
            for form in self.forms
            if (form in initial or form.has_changed()) and not form.cleaned_data.get("DELETE")
        ]

    def lines(self) -> list[LineInput]:
        return [
            LineInput(
                role=form.cleaned_data["role"],
                hours=form.cleaned_data["hours"],
                description=form.cleaned_data.get("description", ""),
            )
            for form in self.kept_forms()
        ]


LineFormSet = forms.formset_factory(
    LineForm, formset=BaseLineFormSet, extra=1, can_delete=True, min_num=0, max_num=100, validate_max=True
)


class EstimateForms:
    """The estimate form and its line formset, validated together.

    Besides the fields, it checks that every line's role has a rate in the
    fiscal quarter of the estimate date, and names role and quarter on the line.
    """

    def __init__(self, data=None, *, user: User, initial=None, lines=None):
        self.form = EstimateForm(data, user=user, initial=initial)
        self.lines = LineFormSet(data, initial=lines, prefix="lines")

    def is_valid(self) -> bool:
        form_valid = self.form.is_valid()
        lines_valid = self.lines.is_valid()
        day = self.form.cleaned_data.get("estimate_date")
        if day is None:
            return False
        # Checked even when other fields are invalid, so that every error shows at once.
        rated_forms = [form for form in self.lines.kept_forms() if form.cleaned_data.get("role") is not None]
        roles = {form.cleaned_data["role"].pk for form in rated_forms}
        missing = {item.role.pk: item for item in selectors.missing_rates(roles, quarter_of(day))}
        for line_form in rated_forms:
            role = line_form.cleaned_data["role"]
            if role.pk in missing:
                line_form.add_error("role", str(missing[role.pk]))
        return form_valid and lines_valid and not missing

    def add_error(self, error: ValidationError) -> None:
        """Show an error raised by a service on the form."""
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                self.form.add_error(field if field in self.form.fields else None, messages)
        else:
            self.form.add_error(None, error.messages)

    def values(self) -> dict:
        data = self.form.cleaned_data
        return {
            "account": data["account"],
            "title": data["title"],
            "estimate_date": data["estimate_date"],
            "price": data["price"],
            "lines": self.lines.lines(),
        }
