"""Helpers shared by every CSV export."""

from django import forms
from django.http import HttpResponse

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_text_cell(value: str) -> str:
    """Prefix a text cell that a spreadsheet would read as a formula with a single quote.

    Apply it to text only: a negative amount written by format_money stays a number.
    """
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def invalid_filters_response(form: forms.Form) -> HttpResponse | None:
    """Return a 400 response that names each invalid filter of a download, or None when every filter is valid.

    A page uses its defaults in place of invalid filters and shows the errors beside the fields. A file
    has no place for the errors, and a file made with the defaults would pass for the one requested.
    """
    if not form.is_bound or form.is_valid():
        return None
    problems = " ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
    return HttpResponse(
        f"Invalid filters, so no file was made. {problems}\n", status=400, content_type="text/plain; charset=utf-8"
    )
