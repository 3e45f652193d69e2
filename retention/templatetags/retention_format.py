"""Display formats of the retention pages. Files and JSON use `common.money` formats instead."""

from decimal import Decimal

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from common.months import format_month

register = template.Library()


@register.filter
def money(value: Decimal | None) -> str:
    """Format an amount in US dollars with grouped thousands, for pages: 1,250.00."""
    if value is None:
        return ""
    return f"{value:,.2f}"


@register.filter
def pct(value: Decimal | None) -> str:
    """Format a percentage that already has its display precision, or "n/a" for None."""
    if value is None:
        return "n/a"
    return f"{value}%"


@register.filter
def month(value) -> str:
    """Format a month as YYYY-MM."""
    return format_month(value) if value else ""


@register.filter
def break_after_slash(value: str) -> str:
    """Escape a label and let it wrap after each slash, so that "Discount/Price" needs no full line of its own."""
    return mark_safe(conditional_escape(value).replace("/", "/<wbr>"))
