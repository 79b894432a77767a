"""Forms of the settings pages."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Regexp

from crm.auth.forms import strong_password
from crm.kernel.fields import CURRENCIES, countries
from crm.models import Role

TIMEZONES = sorted(tz for tz in available_timezones() if "/" in tz or tz == "UTC")


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    timezone = SelectField("Time zone", choices=[(tz, tz.replace("_", " ")) for tz in TIMEZONES])


class PasswordForm(FlaskForm):
    current = PasswordField(
        "Current password",
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        "New password",
        validators=[DataRequired(), strong_password],
        render_kw={"autocomplete": "new-password"},
    )


class TeamForm(FlaskForm):
    name = StringField("Team name", validators=[DataRequired(), Length(max=120)])
    currency = SelectField("Default currency", choices=[(c, c) for c in CURRENCIES])
    # Absent from a post (an older form, a script) means "not set", not an invalid choice.
    default_country = SelectField(
        "Default country for phone numbers", choices=[], filters=[lambda v: v or ""]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_country.choices = [("", "Not set (the server’s default)")] + countries()

    auto_create_contacts = BooleanField("Create contacts for unknown people in logged email")
    require_sender_auth = BooleanField(
        "Require a passing DKIM or DMARC before creating new contacts from mail"
    )


class InviteForm(FlaskForm):
    email = EmailField(
        "Email address",
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
        filters=[lambda v: v.strip().lower() if v else v],
    )
    role = SelectField(
        "Role",
        choices=[(Role.MEMBER.value, "Member"), (Role.ADMIN.value, "Admin")],
        default=Role.MEMBER.value,
    )


class RoleForm(FlaskForm):
    role = SelectField(
        "Role",
        choices=[(r.value, r.value.title()) for r in Role],
        validators=[Regexp("^(owner|admin|member)$")],
    )
