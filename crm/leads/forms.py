"""Forms of the leads pages and the web-to-lead form builder."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from crm.kernel.ids import parse_id
from crm.leads.fields import ASKABLE, FIELD_LABELS
from crm.models import LeadStatus


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _int_or_none(value):
    # None is the "nobody" / "no deal" choice; a value that is no id is no choice either.
    return parse_id(value)


FIELD_CHOICES = [(f, FIELD_LABELS[f]) for f in ASKABLE]
MODE_CHOICES = [
    ("none", "Nobody (leads wait in the Leads list)"),
    ("round_robin", "Round robin among the chosen members (away members skipped)"),
    ("field", "By a field's value, then round robin or the fallback"),
]


class RuleForm(FlaskForm):
    mode = RadioField("Assign new leads to", choices=MODE_CHOICES, default="none")
    pool = CheckboxesField("Members who take turns", coerce=_int_or_none, choices=[])
    field = SelectField(
        "Field to route by", choices=[("", "—")] + FIELD_CHOICES, validators=[Optional()]
    )
    mapping = TextAreaField(
        "Value = member's email, one a line",
        validators=[Length(max=4000)],
        render_kw={"rows": 4, "placeholder": "germany = anna@example.com"},
    )
    fallback_id = SelectField("Fallback member", coerce=_int_or_none, choices=[])

    def rule_data(self) -> dict:
        return {
            "mode": self.mode.data,
            "pool": self.pool.data or [],
            "field": self.field.data or None,
            "mapping": self.mapping.data or "",
            "fallback_id": self.fallback_id.data,
        }


class LeadFormForm(RuleForm):
    name = StringField("Form name", validators=[Length(max=120)])
    fields = CheckboxesField("Fields to ask", choices=FIELD_CHOICES, default=["name", "email"])
    required = CheckboxesField("Required fields", choices=FIELD_CHOICES, default=["email"])
    source = StringField("Source (hidden value)", validators=[Length(max=100)])
    campaign = StringField("Campaign (hidden value)", validators=[Length(max=100)])
    thank_you = TextAreaField("Thank-you message", validators=[Length(max=2000)])
    allowed_origins = TextAreaField(
        "Websites allowed to post and be redirected to (one origin a line)",
        render_kw={"rows": 3, "placeholder": "https://www.example.com"},
    )
    redirect_url = StringField("Redirect after sending (instead of the message)")
    tag = StringField("Tag new contacts with", validators=[Length(max=60)])
    stage_id = SelectField("Create a deal in", coerce=_int_or_none, choices=[])
    create_task = BooleanField("Create a follow-up task for the assignee")

    def form_data(self) -> dict:
        return {
            "name": self.name.data,
            "fields": self.fields.data or [],
            "required": self.required.data or [],
            "source": self.source.data,
            "campaign": self.campaign.data,
            "thank_you": self.thank_you.data,
            "allowed_origins": self.allowed_origins.data,
            "redirect_url": self.redirect_url.data,
            "tag": self.tag.data,
            "stage_id": self.stage_id.data,
            "create_task": self.create_task.data,
            "rule": self.rule_data(),
        }


class StatusForm(FlaskForm):
    status = SelectField(
        "Status",
        choices=[(s.value, s.label) for s in LeadStatus if s != LeadStatus.CONVERTED],
    )
    reason = StringField("Reason (when disqualified)", validators=[Length(max=200)])


class ConfirmForm(FlaskForm):
    confirm = HiddenField()


class AwayForm(FlaskForm):
    away = BooleanField("I'm away: skip me when new leads are handed out")
