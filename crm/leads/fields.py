"""What a web form may ask and how a posted value is checked: the standard names a snippet
posts, the contact fields a form may add, the tracking values, and clean_values()."""

from __future__ import annotations

from crm.errors import Invalid
from crm.kernel import normalize as norm
from crm.kernel.fields import CONTACT_LIMITS, clean_text, phone_region
from crm.models import LeadForm

# Names a snippet posts (standard) and the contact fields a form may also ask for.
STANDARD_FIELDS = ("name", "first_name", "last_name", "email", "phone", "company", "message")
CONTACT_FIELDS = ("title", "website", "street", "city", "region", "postal_code", "country")
ASKABLE = STANDARD_FIELDS + CONTACT_FIELDS
FIELD_LABELS = {
    "name": "Name",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "company": "Company",
    "message": "Message",
    "title": "Job title",
    "website": "Website",
    "street": "Street",
    "city": "City",
    "region": "Region",
    "postal_code": "Postal code",
    "country": "Country",
}
TRACKING = (
    "source",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)
HONEYPOT = "url"  # hidden from people by CSS; bots fill in anything named like a URL
STAMP = "_ts"
MESSAGE_MAX = 5000
RAW_VALUE_MAX = 2000


def clean_values(form: LeadForm, data: dict) -> dict:
    """The form's own fields and the tracking values, checked; Invalid names the field."""
    values: dict[str, str] = {}
    for key in form.fields:
        raw = data.get(key)
        if isinstance(raw, list | dict):
            raise Invalid("Send plain text here.", field=key)
        if key == "message":
            value = clean_text(raw, MESSAGE_MAX, key)
        elif key == "name":
            value = clean_text(raw, 201, key)
        elif key == "company":
            value = clean_text(raw, CONTACT_LIMITS["company_name"], key)
        else:
            value = clean_text(raw, CONTACT_LIMITS[key], key)
        if key == "email" and value:
            try:
                value = norm.email(value)
            except norm.BadValue as error:
                raise Invalid(str(error), field=key) from None
        if key == "phone" and value:
            try:
                norm.phone(value, phone_region())
            except norm.BadValue as error:
                raise Invalid(str(error), field=key) from None
        if value:
            values[key] = value
        elif key in form.required:
            raise Invalid("Please fill this in.", field=key)
    if not ({"email", "name", "first_name", "last_name", "phone"} & values.keys()):
        first = next((f for f in form.fields if f in ("email", "name", "first_name")), None)
        raise Invalid("Tell us your name or email address.", field=first)
    for key in TRACKING:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            values[key] = value.strip()[:100]
    for key, value in (form.hidden or {}).items():
        values.setdefault(key, value)
    return values


def raw_fields(data: dict) -> dict:
    """What is kept of a post as it was sent (bounded), for the Spam list and the job."""
    return {
        str(k)[:60]: (v if isinstance(v, str) else str(v))[:RAW_VALUE_MAX]
        for k, v in list(data.items())[:60]
        if k != STAMP
    }
