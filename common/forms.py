"""Form fields and validators shared by the apps."""

import datetime
import re

from django import forms

from common.months import FIRST_YEAR

# The largest primary key that the databases store, a signed 64-bit integer.
MAX_ROW_ID = 2**63 - 1
# Numbers as the imports accept them: ASCII digits, an optional minus sign and, in a decimal, one point.
PLAIN_INTEGER = re.compile(r"-?[0-9]+")
PLAIN_DECIMAL = re.compile(r"-?(?:[0-9]+(?:[.][0-9]*)?|[.][0-9]+)")


def _reject_unless_plain(field: forms.Field, value, pattern: re.Pattern) -> None:
    """Raise the field's own "invalid" error for a value that is not a plain number."""
    if value not in field.empty_values and not pattern.fullmatch(str(value).strip()):
        raise forms.ValidationError(field.error_messages["invalid"], code="invalid")


class PlainIntegerField(forms.IntegerField):
    """An integer field that accepts ASCII digits only, so that "1e3", "1_000" and full-width digits are invalid.

    A browser's number box sends "1e3" as typed, and Python's int() reads
    "1_000" and digits of other scripts, which the imports reject.
    """

    def to_python(self, value):
        _reject_unless_plain(self, value, PLAIN_INTEGER)
        return super().to_python(value)


class PlainDecimalField(forms.DecimalField):
    """A decimal field that accepts ASCII digits and one decimal point only, so that "1e5" is invalid."""

    def to_python(self, value):
        _reject_unless_plain(self, value, PLAIN_DECIMAL)
        return super().to_python(value)


class RowsChoiceField(forms.ModelMultipleChoiceField):
    """A choice of several rows by primary key, in which a key too large for the database is invalid.

    Django looks the chosen keys up in one query. SQLite raises OverflowError
    for an integer beyond 64 bits instead of finding no row, so such a key
    gets the field's invalid_pk_value message before the query.
    """

    def _check_values(self, value):
        for key in value:
            text = str(key).strip()
            if text.lstrip("-").isdigit() and abs(int(text)) > MAX_ROW_ID:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": key}
                )
        return super()._check_values(value)


def reject_before_first_year(day: datetime.date) -> None:
    """Raise ValidationError for a date before FIRST_YEAR, as the import date columns reject it."""
    # Such a date is a placeholder or a typo, such as a year typed with two digits.
    if day.year < FIRST_YEAR:
        first = datetime.date(FIRST_YEAR, 1, 1).isoformat()
        raise forms.ValidationError(
            f"The date {day.isoformat()} is before {first}. Enter the year with four digits, as in YYYY-MM-DD."
        )
