"""Forms of the import pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, RadioField

POLICIES = [
    ("skip", "Skip them (keep what Rapport has)"),
    ("update", "Update them (fill in what the file has)"),
    ("create", "Create new contacts anyway"),
]


KINDS = [
    ("contacts", "People (contacts)"),
    ("companies", "Companies (organizations, accounts)"),
    ("notes", "Notes (past notes and activities, for people and companies imported before)"),
]


class UploadForm(FlaskForm):
    kind = RadioField("What the file holds", choices=KINDS, default="contacts")
    file = FileField(
        "CSV or vCard file",
        validators=[FileRequired("Choose a CSV or vCard file.")],
        render_kw={"accept": ".csv,.tsv,.txt,.vcf,.vcard,text/csv,text/vcard"},
    )


class MappingForm(FlaskForm):
    policy = RadioField("When a row matches an existing contact", choices=POLICIES, default="skip")
    dry_run = BooleanField("Dry run first (show what would happen, write nothing)", default=True)
