"""The rule form: flat fields (a few condition rows and action rows); the service checks them."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField

from crm.automation import catalogue
from crm.automation.rules import ACTION_ROWS, CONDITION_ROWS


def _select(label: str, choices=()) -> SelectField:
    return SelectField(label, choices=list(choices), validate_choice=False)


class RuleForm(FlaskForm):
    name = StringField("Rule name")
    trigger = _select("When", [(k, v[0]) for k, v in catalogue.TRIGGERS.items()])
    trigger_field = _select(
        "Which field (for “contact field changed”)",
        [("", "Any field")] + [(f, f) for f in catalogue.WATCHED],
    )
    trigger_stage = _select("Which stage (for “deal entered a stage”)")
    trigger_days = StringField("N days (for time-based triggers)")
    trigger_date_field = _select(
        "Date field (for “N days after a date field”)",
        [("", "—")]
        + [
            (k, f"{v} ({kind})")
            for kind, fields in catalogue.DATE_FIELDS.items()
            for k, v in fields.items()
        ],
    )


FIELD_CHOICES = [("", "—")] + [
    (k, f"{v} ({kind})") for kind, fields in catalogue.FIELDS.items() for k, v in fields.items()
]
# The same key can appear for several record types; keep the first label for each key.
FIELD_CHOICES = list(dict(reversed(FIELD_CHOICES)).items())[::-1]
OP_CHOICES = list(catalogue.OPS.items())
ACTION_CHOICES = [("", "—")] + list(catalogue.ACTIONS.items())
SET_CHOICES = [("", "—")] + sorted(
    {(f, catalogue.ALL_FIELDS.get(f, f.title())) for fs in catalogue.SETTABLE.values() for f in fs}
)

for _i in range(CONDITION_ROWS):
    setattr(RuleForm, f"cond_field_{_i}", _select(f"Condition {_i + 1}: field", FIELD_CHOICES))
    setattr(RuleForm, f"cond_op_{_i}", _select(f"Condition {_i + 1}: comparison", OP_CHOICES))
    setattr(RuleForm, f"cond_value_{_i}", StringField(f"Condition {_i + 1}: value"))
for _i in range(ACTION_ROWS):
    setattr(RuleForm, f"act_type_{_i}", _select(f"Action {_i + 1}", ACTION_CHOICES))
    setattr(
        RuleForm, f"act_value_{_i}", StringField(f"Action {_i + 1}: tag, title, subject or value")
    )
    setattr(RuleForm, f"act_days_{_i}", StringField(f"Action {_i + 1}: due in business days"))
    setattr(RuleForm, f"act_user_{_i}", _select(f"Action {_i + 1}: teammate"))
    setattr(RuleForm, f"act_stage_{_i}", _select(f"Action {_i + 1}: stage"))
    setattr(RuleForm, f"act_field_{_i}", _select(f"Action {_i + 1}: field to set", SET_CHOICES))
    setattr(
        RuleForm,
        f"act_pool_{_i}",
        SelectMultipleField(
            f"Action {_i + 1}: teammates who take turns", choices=[], validate_choice=False
        ),
    )
    setattr(RuleForm, f"act_webhook_{_i}", _select(f"Action {_i + 1}: webhook to call"))


class TryForm(FlaskForm):
    record_id = StringField("Record number (from its page's address)")


class ConfirmForm(FlaskForm):
    """A POST that only needs its CSRF token (pause, resume, delete)."""
