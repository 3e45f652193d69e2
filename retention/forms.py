"""Forms of the import pages: upload a file, then map its columns."""

from pathlib import PurePath

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.conf import settings

from common.csvimport import ColumnSpec

from .models import ColumnMapping, EndDateConvention, ImportKind

COLUMN_PREFIX = "column_"
UPLOAD_SUFFIXES = (".csv", ".txt", ".tsv")


def upload_limit_message(size_bytes: int) -> str:
    limit = settings.IMPORT_MAX_UPLOAD_MB
    return (
        f"The file is {size_bytes / 1_048_576:.0f} MB; uploads are limited to {limit} MB. "
        "Import larger files with the management commands."
    )


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label="Kind of file", choices=ImportKind.choices)
    file = forms.FileField(help_text="CSV in UTF-8 with a header line; comma, semicolon or tab as delimiter.")
    mapping = forms.ModelChoiceField(
        label="Saved column mapping",
        queryset=ColumnMapping.objects.all(),
        required=False,
        empty_label="None: the file uses the product's column names",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.add_input(Submit("upload", "Upload"))

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if not uploaded.size:
            raise forms.ValidationError("The file is empty.")
        if uploaded.size > settings.IMPORT_MAX_UPLOAD_MB * 1_048_576:
            raise forms.ValidationError(upload_limit_message(uploaded.size))
        suffix = PurePath(uploaded.name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            found = suffix or "a file without suffix"
            raise forms.ValidationError(
                f"Only CSV files ({', '.join(UPLOAD_SUFFIXES)}) can be imported, not {found}. "
                "Save a spreadsheet as CSV UTF-8 first."
            )
        head = uploaded.read(4096)
        uploaded.seek(0)
        if b"\x00" in head:
            raise forms.ValidationError(
                "The file contains binary data, so it is not a CSV file. Save a spreadsheet as CSV UTF-8 first."
            )
        return uploaded

    def clean(self):
        cleaned = super().clean()
        mapping, kind = cleaned.get("mapping"), cleaned.get("kind")
        if mapping and kind and mapping.kind != kind:
            self.add_error(
                "mapping",
                f"The mapping {mapping.name} is for {mapping.get_kind_display().lower()} files, "
                f"not {ImportKind(kind).label.lower()}.",
            )
        return cleaned


class MappingForm(forms.Form):
    """One select per product column listing the file's header columns, the end-date convention and a name to save.

    Field names are the product column names with COLUMN_PREFIX, because a
    subscription file has a column named end_date beside the convention field.
    """

    end_date_convention = forms.ChoiceField(
        label="End dates in this file",
        choices=EndDateConvention.choices,
        widget=forms.RadioSelect,
        help_text="A period counts in a month when it is active on the month's last day.",
    )
    save_as = forms.CharField(
        label="Save this mapping as",
        max_length=100,
        required=False,
        help_text="Optional. A saved mapping can be chosen on the next upload of a file from the same system.",
    )

    def __init__(self, *args, spec: ColumnSpec, header: list[str], kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        header_choices = [(name, name) for name in header if name]
        for name in spec.names:
            required = name in spec.required
            self.fields[COLUMN_PREFIX + name] = forms.ChoiceField(
                label=name,
                choices=[("", "Choose a column" if required else "Not in the file")] + header_choices,
                required=required,
            )
        self.order_fields([COLUMN_PREFIX + name for name in spec.names])
        if kind != ImportKind.SUBSCRIPTIONS:
            del self.fields["end_date_convention"]
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.add_input(Submit("start", "Start import"))

    def clean_save_as(self):
        name = self.cleaned_data["save_as"].strip()
        if name and ColumnMapping.objects.filter(name=name).exists():
            raise forms.ValidationError(f"A mapping named {name} exists already; choose another name.")
        return name

    def clean(self):
        cleaned = super().clean()
        used: dict[str, str] = {}
        for name in self.spec.names:
            file_column = cleaned.get(COLUMN_PREFIX + name)
            if not file_column:
                continue
            if file_column in used:
                self.add_error(
                    COLUMN_PREFIX + name, f"The column {file_column} is already used for {used[file_column]}."
                )
            used[file_column] = name
        return cleaned

    def columns(self) -> dict[str, str]:
        """Return the chosen mapping as {product column: file column}, leaving out unmapped optional columns."""
        return {
            name: self.cleaned_data[COLUMN_PREFIX + name]
            for name in self.spec.names
            if self.cleaned_data.get(COLUMN_PREFIX + name)
        }

    def end_date(self) -> str:
        return self.cleaned_data.get("end_date_convention") or EndDateConvention.EXCLUSIVE

    @staticmethod
    def initial_for(suggestion: dict[str, str], end_date: str) -> dict[str, str]:
        """Return initial values from suggested file columns and the run's end-date convention."""
        initial = {COLUMN_PREFIX + name: file_column for name, file_column in suggestion.items()}
        initial["end_date_convention"] = end_date
        return initial
