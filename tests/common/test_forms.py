"""A choice of rows by key rejects keys too large for the database instead of failing on SQLite."""

import pytest
from django import forms

from accounts.models import Account
from common.forms import MAX_ROW_ID, RowsChoiceField
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
