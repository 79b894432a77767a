"""The merge form: one choice per field where the two contacts differ."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField


def merge_form(rows: list[tuple[str, str, str, str]]) -> FlaskForm:
    """rows: (field, label, kept's value, other's value); equal fields need no choice."""

    class MergeForm(FlaskForm):
        pass

    for key, label, mine, theirs in rows:
        choices = [("kept", mine or "(empty)"), ("other", theirs or "(empty)")]
        # Default: keep a value over an empty one.
        default = "other" if not mine and theirs else "kept"
        setattr(MergeForm, f"field_{key}", RadioField(label, choices=choices, default=default))
    return MergeForm()
