"""Helpers shared by every CSV export."""

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_text_cell(value: str) -> str:
    """Prefix a text cell that a spreadsheet would read as a formula with a single quote.

    Apply it to text only: a negative amount written by format_money stays a number.
    """
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value
