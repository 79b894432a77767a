"""Forms of the contact pages: one class per use case."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from crm.contacts.services import EMAIL_LABELS, MAX_PER_CONTACT, PHONE_LABELS
from crm.kernel import tags
from crm.kernel.fields import CONTACT_LIMITS as LIMITS
from crm.models import Lifecycle

STAGE_CHOICES = [(s.value, s.label) for s in Lifecycle]


class EmailEntry(Form):
    email = StringField("Email", validators=[Optional(), Length(max=LIMITS["email"])])
    label = SelectField(
        "Email type", choices=[(v, v.title()) for v in EMAIL_LABELS], validate_choice=False
    )


class PhoneEntry(Form):
    phone = StringField("Phone", validators=[Optional(), Length(max=LIMITS["phone"])])
    label = SelectField(
        "Phone type", choices=[(v, v.title()) for v in PHONE_LABELS], validate_choice=False
    )


class EntryList(FieldList):
    """Rows the page shows (``emails-0-…``, ``emails-1-…``): every posted row is kept, never
    cut at a fixed count (the service says when there are too many), and a row key that is
    not a short run of ASCII digits is ignored rather than answered with a 500."""

    def _extract_indices(self, prefix, formdata):
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = key[offset:].split(self._field_separator, 1)[0]
                if index.isascii() and index.isdigit() and len(index) <= 4:
                    yield int(index)


class ContactForm(FlaskForm):
    # Where the contacts service's field names show on this form (see crm/kernel/forms.py).
    error_aliases = {
        "emails.*": "emails.*.email",
        "phones.*": "phones.*.phone",
        "social.linkedin": "linkedin",
        "social.x": "x",
        "company_id": "company_name",
    }
    first_name = StringField("First name", validators=[Length(max=LIMITS["first_name"])])
    last_name = StringField("Last name", validators=[Length(max=LIMITS["last_name"])])
    title = StringField("Job title", validators=[Length(max=LIMITS["title"])])
    company_name = StringField("Company", validators=[Length(max=LIMITS["company_name"])])
    emails = EntryList(FormField(EmailEntry), min_entries=1)
    phones = EntryList(FormField(PhoneEntry), min_entries=1)
    max_rows = MAX_PER_CONTACT
    website = StringField("Website", validators=[Length(max=LIMITS["website"])])
    linkedin = StringField("LinkedIn profile", validators=[Length(max=LIMITS["social"])])
    x = StringField("X (Twitter) profile", validators=[Length(max=LIMITS["social"])])
    tags = StringField("Tags", validators=[Length(max=LIMITS["tags"])])
    owner_id = SelectField("Owner", coerce=int, choices=[])
    lifecycle = SelectField(
        "Lifecycle stage", choices=STAGE_CHOICES, default="lead", validate_choice=False
    )
    source = StringField("Source", validators=[Length(max=LIMITS["source"])])
    street = StringField("Street", validators=[Length(max=LIMITS["street"])])
    city = StringField("City", validators=[Length(max=LIMITS["city"])])
    region = StringField("State or region", validators=[Length(max=LIMITS["region"])])
    postal_code = StringField("Postal code", validators=[Length(max=LIMITS["postal_code"])])
    country = StringField("Country", validators=[Length(max=LIMITS["country"])])
    notes = TextAreaField("Background notes", validators=[Length(max=LIMITS["notes"])])

    def prepare(self, members, contact=None) -> None:
        """Owner choices, one blank email and phone row to add, and distinct labels."""
        self.owner_id.choices = [(0, "Nobody")] + [(u.id, u.name) for u in members]
        if contact is not None and not self.is_submitted():
            self.company_name.data = contact.company.name if contact.company else ""
            self.tags.data = ", ".join(t.name for t in contact.tags)
            self.linkedin.data = (contact.social or {}).get("linkedin", "")
            self.x.data = (contact.social or {}).get("x", "")
            self.owner_id.data = contact.owner_id or 0
            self.lifecycle.data = contact.lifecycle.value
            while len(self.emails.entries):
                self.emails.pop_entry()
            for e in contact.emails:
                self.emails.append_entry({"email": e.email, "label": e.label})
            while len(self.phones.entries):
                self.phones.pop_entry()
            from crm.kernel.normalize import format_phone

            for p in contact.phones:
                self.phones.append_entry({"phone": format_phone(p.e164), "label": p.label})
        if not self.is_submitted():
            if not self.emails.entries or self.emails.entries[-1].form.email.data:
                self.emails.append_entry()
            if not self.phones.entries or self.phones.entries[-1].form.phone.data:
                self.phones.append_entry()
        for i, entry in enumerate(self.emails.entries):
            n = "" if i == 0 else f" {i + 1}"
            entry.form.email.label.text = f"Email{n}"
            entry.form.label.label.text = f"Email{n} type"
        for i, entry in enumerate(self.phones.entries):
            n = "" if i == 0 else f" {i + 1}"
            entry.form.phone.label.text = f"Phone{n}"
            entry.form.label.label.text = f"Phone{n} type"

    def to_data(self) -> dict:
        """The service's data dict (company_name is resolved by the view)."""
        data = {
            key: getattr(self, key).data or ""
            for key in (
                "first_name",
                "last_name",
                "title",
                "website",
                "source",
                "street",
                "city",
                "region",
                "postal_code",
                "country",
                "notes",
            )
        }
        data["emails"] = [
            {"email": e.form.email.data, "label": e.form.label.data} for e in self.emails.entries
        ]
        data["phones"] = [
            {"phone": p.form.phone.data, "label": p.form.label.data} for p in self.phones.entries
        ]
        data["social"] = {"linkedin": self.linkedin.data, "x": self.x.data}
        data["tags"] = tags.split(self.tags.data)
        data["owner_id"] = self.owner_id.data or None
        data["lifecycle"] = self.lifecycle.data
        return data


class FilterForm(FlaskForm):
    """The list's filters; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    q = StringField("Search contacts")
    owner = SelectField("Owner", choices=[])
    tag = SelectField("Tag", choices=[])
    stage = SelectField("Stage", choices=[("", "Any stage")] + STAGE_CHOICES)
    idle = SelectField(
        "Last activity",
        choices=[
            ("", "Any time"),
            ("7", "Nothing for 7 days"),
            ("30", "Nothing for 30 days"),
            ("90", "Nothing for 90 days"),
        ],
    )
    sort = SelectField("Sort by", choices=[])


class BulkForm(FlaskForm):
    action = SelectField(
        "With selected",
        choices=[
            ("", "Choose an action…"),
            ("tag", "Add a tag"),
            ("owner", "Assign an owner"),
            ("stage", "Change stage"),
            ("delete", "Move to trash"),
        ],
    )
    tag_value = StringField("Tag to add", validators=[Length(max=tags.MAX_LEN)])
    owner_value = SelectField("New owner", coerce=int, choices=[])
    stage_value = SelectField("New stage", choices=STAGE_CHOICES)
