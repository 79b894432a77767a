"""Forms of the deal pages and the pipeline settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.kernel.fields import CURRENCIES
from crm.kernel.ids import IdField, parse_id


def _int_or_zero(value):
    # 0 is the "none" choice; a value that is no id is no choice either.
    return parse_id(value) or 0


class DealForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    value = StringField(
        "Value",
        validators=[Length(max=40)],
        render_kw={"inputmode": "decimal", "placeholder": "12,500.00"},
    )
    currency = SelectField("Currency", choices=[(c, c) for c in CURRENCIES])
    stage_id = SelectField("Stage", coerce=_int_or_zero, default=0)
    owner_id = SelectField("Owner", coerce=_int_or_zero, default=0)
    company_id = SelectField("Company", coerce=_int_or_zero, default=0)
    add_contact_email = StringField(
        "Add a contact by email",
        validators=[Optional(), Length(max=254)],
        render_kw={"type": "email"},
    )
    expected_close = DateField("Expected close", validators=[Optional()])
    tags = StringField(
        "Tags", validators=[Length(max=500)], render_kw={"placeholder": "comma, separated"}
    )


class LostForm(FlaskForm):
    reason_id = SelectField("Lost reason", coerce=_int_or_zero)
    note = StringField("Note", validators=[Optional(), Length(max=500)])


class MoveForm(FlaskForm):
    stage_id = IdField("Move to…", validators=[DataRequired()])
    after_id = IdField(validators=[Optional()])
    version = StringField(validators=[Optional(), Length(max=40)])


class NameForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])


class StageForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    probability = IntegerField("Win probability (%)", default=0, validators=[NumberRange(0, 100)])
    rot_days = IntegerField("Rotting after (days)", validators=[Optional(), NumberRange(1, 3650)])
