"""Forms of email out: compose and templates."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        pass  # the service checks each id against the team


class ComposeForm(FlaskForm):
    to = CheckboxList("To", coerce=int)
    cc = CheckboxList("Cc", coerce=int)
    sender = SelectField("From", choices=[])
    subject = StringField("Subject", validators=[Length(max=300)])
    body = TextAreaField(
        "Message",
        validators=[Length(max=100_000)],
        render_kw={"rows": 10},
    )
    # Read by the route from request.files; the service checks the limits.
    attachments = MultipleFileField("Attach files")


class TemplateForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=120)])
    subject = StringField("Subject", validators=[Length(max=300)])
    body = TextAreaField("Message", validators=[Length(max=100_000)], render_kw={"rows": 10})
    personal = BooleanField("Only for me (personal template)")


class PreviewForm(FlaskForm):
    class Meta:
        csrf = False

    contact_id = SelectField("Preview for", coerce=int, validators=[Optional()], choices=[])


class BulkForm(FlaskForm):
    view = SelectField("A saved list", coerce=int, choices=[], validators=[Optional()])
    tag = SelectField("Or contacts tagged", coerce=int, choices=[], validators=[Optional()])
    template = SelectField("Start from a template", coerce=int, choices=[], validators=[Optional()])
    subject = StringField("Subject", validators=[Length(max=300)])
    body = TextAreaField("Message", validators=[Length(max=100_000)], render_kw={"rows": 10})


STEP_KINDS = [("", "—"), ("email", "Email from a template"), ("task", "Task for the owner")]


class SequenceForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=120)])


def step_fields(n: int) -> dict:
    """Field names of the step rows of the sequence form (step-1-kind, …)."""
    return {
        "kind": f"step-{n}-kind",
        "template_id": f"step-{n}-template",
        "task_title": f"step-{n}-task",
        "delay_days": f"step-{n}-delay",
    }


class EnrolForm(FlaskForm):
    contact_id = SelectField("Contact", coerce=int, choices=[], validators=[Optional()])
    tag = SelectField("Or everyone tagged", coerce=int, choices=[], validators=[Optional()])


class SenderForm(FlaskForm):
    sender = StringField(
        "Team sender (optional)",
        validators=[Length(max=300)],
        render_kw={"placeholder": "Sales <sales@example.com>"},
    )
