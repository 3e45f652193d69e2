"""Detection of an edit form opened before another request saved the same row.

The row's version is the id of its latest django-simple-history record, which
every save adds. An edit form carries the version it was opened at, and the
service compares it with the current one under the row's lock.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models


def history_version(instance: models.Model) -> int | None:
    """Return the id of the row's latest history record, or None for a row without history."""
    return instance.history.order_by("-history_id").values_list("history_id", flat=True).first()


class EditConflict(ValidationError):
    """The row was saved by another request after the form was opened. `version` is its current version."""

    def __init__(self, message: str, version: int):
        super().__init__(message)
        self.version = version


def check_unchanged(instance: models.Model, opened_version: int | None, label: str) -> None:
    """Raise EditConflict when `instance` was saved after a form opened it at `opened_version`.

    A form without a version, such as a script's request, is not checked.
    """
    if opened_version is None:
        return
    latest = instance.history.select_related("history_user").order_by("-history_id").first()
    if latest is None or latest.history_id == opened_version:
        return
    editor = latest.history_user.get_username() if latest.history_user else "an import or a background job"
    raise EditConflict(
        f"{label} was changed by {editor} at {latest.history_date:%Y-%m-%d %H:%M} UTC after this page was opened. "
        "Reload the page to see that change, or save this form again to replace it.",
        version=latest.history_id,
    )


class VersionField(forms.IntegerField):
    """A hidden field with the version the edit form was opened at. A tampered value skips the check."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, value):
        try:
            return super().clean(value)
        except ValidationError:
            return None


def accept_current_version(form: forms.Form, conflict: EditConflict, field: str = "opened_version") -> None:
    """Show the conflict on the form and give it the current version, so that saving again replaces the change."""
    form.data = form.data.copy()
    form.data[form.add_prefix(field)] = str(conflict.version)
    form.add_error(None, conflict)
