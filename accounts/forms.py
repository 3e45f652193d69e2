"""Forms of the account page."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms

from .models import Account, Contact


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
