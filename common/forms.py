"""Form fields shared by the apps."""

from django import forms

# The largest primary key that the databases store, a signed 64-bit integer.
MAX_ROW_ID = 2**63 - 1


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
