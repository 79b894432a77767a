"""Task forms: one for creating and editing (the quick-add shows its first fields)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from crm.kernel.ids import parse_id

REMIND_CHOICES = [
    ("", "No reminder"),
    ("0", "At the due time"),
    ("15", "15 minutes before"),
    ("60", "1 hour before"),
    ("1440", "1 day before"),
]
REPEAT_CHOICES = [
    ("", "Does not repeat"),
    ("daily", "Every day"),
    ("weekdays", "Every weekday"),
    ("weekly", "Every week"),
    ("monthly", "Every month"),
    ("every", "Every N days"),
]
PRIORITY_CHOICES = [("normal", "Normal"), ("high", "High"), ("low", "Low")]


def _optional_int(value):
    if value in (None, ""):
        return None
    if (number := parse_id(value)) is None:
        raise ValueError("Not a valid choice.")
    return number


class TaskForm(FlaskForm):
    title = StringField("Task", validators=[DataRequired(), Length(max=300)])
    due_date = DateField("Due date", validators=[Optional()])
    due_time = TimeField("Time", validators=[Optional()])
    assignee_id = SelectField("Assignee", coerce=int)
    priority = SelectField("Priority", choices=PRIORITY_CHOICES, default="normal")
    remind = SelectField("Reminder", choices=REMIND_CHOICES, default="")
    repeat = SelectField("Repeat", choices=REPEAT_CHOICES, default="")
    every_days = IntegerField(
        "Every how many days", validators=[Optional(), NumberRange(min=1, max=365)]
    )
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    # Pre-filled links (from a contact, company or deal page); checked against the team.
    contact_id = HiddenField(filters=[_optional_int])
    company_id = HiddenField(filters=[_optional_int])
    deal_id = HiddenField(filters=[_optional_int])

    def validate_due_time(self, field):
        if field.data and not self.due_date.data:
            raise ValidationError("Pick a date for this time.")

    def validate_remind(self, field):
        if field.data and not self.due_date.data:
            raise ValidationError("A reminder needs a due date.")

    def validate_repeat(self, field):
        if field.data and not self.due_date.data:
            raise ValidationError("A repeating task needs a due date.")
        if field.data == "every" and not self.every_days.data:
            self.every_days.errors = list(self.every_days.errors) + ["How many days?"]
            raise ValidationError("Say every how many days.")

    def recurrence(self) -> str | None:
        if self.repeat.data == "every":
            return f"every:{self.every_days.data}"
        return self.repeat.data or None

    def remind_before(self) -> int | None:
        return int(self.remind.data) if self.remind.data not in (None, "") else None


class PreferencesForm(FlaskForm):
    digest = BooleanField("Email me a digest of today's and overdue tasks at 08:00")


class FilterForm(FlaskForm):
    """The list filters (GET, no CSRF)."""

    class Meta:
        csrf = False

    assignee = SelectField("Assignee", coerce=_optional_int, validators=[Optional()])
    linked = SelectField(
        "Linked to",
        choices=[
            ("", "Anything"),
            ("contact", "A contact"),
            ("company", "A company"),
            ("deal", "A deal"),
            ("none", "Nothing"),
        ],
    )
    done = SelectField("Show", choices=[("", "Open tasks"), ("1", "Done tasks")])
