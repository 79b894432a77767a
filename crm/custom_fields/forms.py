"""Forms of the custom field settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from crm.kernel.fields import CURRENCIES
from crm.models import TYPES_CUSTOM

ENTITY_CHOICES = [("contact", "Contacts"), ("company", "Companies"), ("deal", "Deals")]


class FieldForm(FlaskForm):
    """Adding a field (entity and type are fixed once it exists)."""

    entity = SelectField("Records", choices=ENTITY_CHOICES)
    label = StringField("Name")
    type = SelectField("Type", choices=list(TYPES_CUSTOM.items()))
    options = TextAreaField("Options (one per line, in order)")
    # The service checks the currency (only money fields need one).
    currency = SelectField(
        "Currency", choices=[("", "—")] + [(c, c) for c in CURRENCIES], validate_choice=False
    )
    required = BooleanField("Required")
    help_text = StringField("Help text")
    section = StringField("Section")


class EditFieldForm(FieldForm):
    move_to = SelectField("Records with a removed option", choices=[], validate_choice=False)
