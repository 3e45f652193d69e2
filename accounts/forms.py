"""Forms of the account page and of the page that moves accounts to another TAM."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms

from common.forms import RowsChoiceField

from . import selectors
from .models import Account, Contact, User


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "email", "title", "persona"]

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_id = "contact-form"
        self.helper.layout = Layout(Row(Column("name"), Column("email")), Row(Column("title"), Column("persona")))
        self.helper.add_input(Submit("save_contact", "Save contact"))

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        others = self.account.contacts.filter(email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if email and others.exists():
            raise forms.ValidationError(f"Another contact of this account has the e-mail address {email}.")
        return email


class BookSearchForm(forms.Form):
    """Text that narrows the listed book to the accounts whose name or external id contains it."""

    q = forms.CharField(
        label="Name or id contains",
        required=False,
        max_length=100,
        error_messages={
            "max_length": (
                "The search has %(show_value)d characters, more than the maximum of %(limit_value)d."
                " Type a shorter part of a name or id."
            ),
            "null_characters_not_allowed": "The search contains a null character. Type the name or id again.",
        },
    )


class ReassignForm(forms.Form):
    """Accounts of one book and the TAM who takes them.

    `book` is the book whose accounts are listed. The accounts are checked
    for existence here; whether they still belong to the book is checked
    when they move, under a lock.
    """

    accounts = RowsChoiceField(
        queryset=Account.objects.all(),
        error_messages={
            "required": "Select at least one account to move.",
            "invalid_choice": "One of the selected accounts no longer exists. Reload the page and select again.",
            "invalid_pk_value": "The selection names no account. Reload the page and select again.",
        },
    )
    to_tam = forms.ModelChoiceField(
        label="New TAM",
        queryset=User.objects.none(),
        empty_label="Choose a TAM",
        error_messages={
            "required": "Choose the TAM who takes the accounts.",
            "invalid_choice": (
                "Choose one of the listed TAMs: that user is not an active TAM, or already owns the accounts."
            ),
        },
    )

    def __init__(self, *args, book: "selectors.Book", **kwargs):
        super().__init__(*args, **kwargs)
        self.book = book
        # The book's own TAM is left out, since the accounts already belong to them.
        tams = selectors.new_tams()
        self.fields["to_tam"].queryset = tams.exclude(pk=book.tam.pk) if book.tam is not None else tams
        self.fields["to_tam"].widget.attrs["class"] = "form-select"
