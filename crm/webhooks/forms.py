"""Forms of the webhook settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget


class WebhookForm(FlaskForm):
    url = StringField("Endpoint URL", validators=[DataRequired(), Length(max=2000)])
    description = StringField("Description (optional)", validators=[Length(max=200)])
    events = SelectMultipleField(
        "Events",
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,  # the service names unknown or missing events on the field
    )


class ActiveForm(FlaskForm):
    active = HiddenField()


class ConfirmForm(FlaskForm):
    """A POST that only needs its CSRF token (new secret, delete, redeliver)."""
