"""Forms of the company pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from crm.companies.services import SIZES
from crm.kernel import tags
from crm.kernel.fields import COMPANY_LIMITS as LIMITS


class CompanyForm(FlaskForm):
    name = StringField("Company name", validators=[DataRequired(), Length(max=LIMITS["name"])])
    domain = StringField("Domain", validators=[Length(max=LIMITS["domain"])])
    website = StringField("Website", validators=[Length(max=LIMITS["website"])])
    industry = StringField("Industry", validators=[Length(max=LIMITS["industry"])])
    size = SelectField(
        "Size",
        choices=[("", "Unknown")] + [(s, f"{s} people") for s in SIZES],
        validate_choice=False,
    )
    phone = StringField("Phone", validators=[Length(max=LIMITS["phone"])])
    tags = StringField("Tags", validators=[Length(max=LIMITS["tags"])])
    owner_id = SelectField("Owner", coerce=int, choices=[])
    street = StringField("Street", validators=[Length(max=LIMITS["street"])])
    city = StringField("City", validators=[Length(max=LIMITS["city"])])
    region = StringField("State or region", validators=[Length(max=LIMITS["region"])])
    postal_code = StringField("Postal code", validators=[Length(max=LIMITS["postal_code"])])
    country = StringField("Country", validators=[Length(max=LIMITS["country"])])

    def prepare(self, members, company=None) -> None:
        self.owner_id.choices = [(0, "Nobody")] + [(u.id, u.name) for u in members]
        if company is not None and not self.is_submitted():
            from crm.kernel.normalize import format_phone

            self.tags.data = ", ".join(t.name for t in company.tags)
            self.owner_id.data = company.owner_id or 0
            self.phone.data = format_phone(company.phone) if company.phone else ""
            self.size.data = company.size or ""

    def to_data(self) -> dict:
        keys = ("name", "domain", "website", "industry", "size", "phone")
        keys += ("street", "city", "region", "postal_code", "country")
        data = {key: getattr(self, key).data or "" for key in keys}
        data["tags"] = tags.split(self.tags.data)
        data["owner_id"] = self.owner_id.data or None
        return data
