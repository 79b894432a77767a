"""The timeline composer and the entry editor."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional

from crm.timeline.services import CALL_OUTCOMES

OUTCOME_CHOICES = [("", "—")] + [(o, o.capitalize()) for o in CALL_OUTCOMES]


class EntryForm(FlaskForm):
    body = TextAreaField("Notes", validators=[Length(max=20_000)])
    outcome = SelectField("Call outcome", choices=OUTCOME_CHOICES, validators=[Optional()])
    duration_minutes = IntegerField(
        "Minutes", validators=[Optional(), NumberRange(min=0, max=1440)]
    )
    occurred_at = DateTimeLocalField("When", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    attendees = StringField("Attendees", validators=[Optional(), Length(max=500)])
    location = StringField("Place", validators=[Optional(), Length(max=300)])


class ComposerForm(EntryForm):
    kind = RadioField(
        "Entry type",
        choices=[("note", "Note"), ("call", "Call"), ("meeting", "Meeting")],
        default="note",
    )
    follow_up_on = DateField("Follow-up on", validators=[Optional()])
