"""Mapping a domain error onto a form field.

Promise: show_error(form, error) puts an Invalid's message next to the field it names, so the
person sees it where they typed; an error that names no field of the form (or none at all)
becomes a form-level error. A dotted name reaches into lists ("emails.1" is the second entry);
a form renames the service's names it shows differently with `error_aliases`, where "*" stands
for an index ({"emails.*": "emails.*.email", "company_id": "company_name"}). A message is never
shown twice on the same field.
"""

from __future__ import annotations

import re

from wtforms import Field
from wtforms.fields import FieldList, FormField


def _alias(name: str, aliases: dict[str, str]) -> str:
    if name in aliases:
        return aliases[name]
    pattern = re.sub(r"\.\d+(?=\.|$)", ".*", name)
    if pattern in aliases:
        indexes = iter(re.findall(r"\.(\d+)(?=\.|$)", name))
        return re.sub(r"\*", lambda _: next(indexes), aliases[pattern])
    return name


def field_for(form, name: str | None) -> Field | None:
    """The input field a (dotted) name points at, or None."""
    if not name:
        return None
    name = _alias(name, getattr(form, "error_aliases", {}))
    current = form
    for part in name.split("."):
        if isinstance(current, FieldList):
            if not part.isdigit() or int(part) >= len(current.entries):
                return None
            current = current.entries[int(part)]
            continue
        if isinstance(current, FormField):
            current = current.form
        fields = getattr(current, "_fields", None)
        if fields is None or part not in fields:
            return None
        current = fields[part]
    if isinstance(current, FieldList | FormField) or not isinstance(current, Field):
        return None
    return current


def show_error(form, error) -> None:
    """Show a domain error (crm.errors.Invalid) on its field, else on the form."""
    field = field_for(form, getattr(error, "field", None))
    if field is None:
        if error.message not in form.form_errors:
            form.form_errors.append(error.message)
        return
    if error.message not in (field.errors or ()):
        field.errors = [*(field.errors or ()), error.message]
