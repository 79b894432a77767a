"""Forms of the email-in pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from crm.kernel.ids import IdField

# An address (a@b.com), a domain (b.com) or an @domain: what the never-log list accepts.
PATTERN = r"^(?:[^@\s]+@)?@?[a-z0-9-]+(?:\.[a-z0-9-]+)+\.?$"


class NeverLogForm(FlaskForm):
    pattern = StringField(
        "Address or domain",
        validators=[
            DataRequired(),
            Length(max=254),
            Regexp(PATTERN, message="Enter an address (a@example.com) or a domain (example.com)."),
        ],
        filters=[lambda v: (v or "").strip().lower()],
    )


class FileForm(FlaskForm):
    contact_id = IdField("Contact", validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """A POST that only needs its CSRF token (retry, discard, regenerate)."""

    confirm = HiddenField()
