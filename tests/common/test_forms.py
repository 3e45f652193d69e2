"""A choice of rows by key rejects keys too large for the database instead of failing on SQLite."""

from decimal import Decimal

import pytest
from django import forms

from accounts.models import Account
from common.forms import MAX_ROW_ID, PlainDecimalField, PlainIntegerField, RowsChoiceField
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


class AccountsForm(forms.Form):
    accounts = RowsChoiceField(queryset=Account.objects.all())


@pytest.mark.parametrize("key", [str(MAX_ROW_ID + 1), "1" * 30, "-" + "9" * 25, " 1" + "0" * 19])
def test_key_beyond_64_bits_invalid(key):
    AccountFactory()

    form = AccountsForm({"accounts": [key]})

    assert not form.is_valid()
    assert [error.code for error in form.errors.as_data()["accounts"]] == ["invalid_pk_value"]


def test_largest_key_finds_no_row():
    form = AccountsForm({"accounts": [str(MAX_ROW_ID)]})

    assert not form.is_valid()
    assert [error.code for error in form.errors.as_data()["accounts"]] == ["invalid_choice"]


def test_stored_keys_chosen():
    first, second = AccountFactory(), AccountFactory()

    form = AccountsForm({"accounts": [str(first.pk), str(second.pk)]})

    assert form.is_valid()
    assert set(form.cleaned_data["accounts"]) == {first, second}


@pytest.mark.parametrize("text", ["1e3", "1_000", "１２", "12.0", "+5", "0x10"])
def test_plain_integer_rejects_other_forms(text):
    with pytest.raises(forms.ValidationError) as raised:
        PlainIntegerField().clean(text)

    assert raised.value.messages == ["Enter a whole number."]


@pytest.mark.parametrize(("text", "expected"), [("12", 12), (" -3 ", -3), ("007", 7)])
def test_plain_integer_reads_ascii_digits(text, expected):
    assert PlainIntegerField().clean(text) == expected


@pytest.mark.parametrize("text", ["1e5", "1E+5", "1_000.50", "１２.5", "1.2.3", "Infinity"])
def test_plain_decimal_rejects_other_forms(text):
    with pytest.raises(forms.ValidationError) as raised:
        PlainDecimalField().clean(text)

    assert raised.value.messages == ["Enter a number."]


@pytest.mark.parametrize(("text", "expected"), [("12.50", "12.50"), (".5", "0.5"), ("-3", "-3"), ("7.", "7")])
def test_plain_decimal_reads_plain_numbers(text, expected):
    assert PlainDecimalField().clean(text) == Decimal(expected)


def test_plain_fields_leave_empty_optional():
    assert PlainIntegerField(required=False).clean("") is None
    assert PlainDecimalField(required=False).clean("") is None
