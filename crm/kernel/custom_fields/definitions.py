"""Custom field definitions and what a person types into them: one parse, one display.

Promise: fields_for() lists a team's fields of one entity in their order; parse(field, raw)
turns what a person (a form, a CSV cell, an automation rule, a URL) gives into the field's
stored value or raises Invalid on `cf_<key>`; show() renders a stored value as people read it
and raw_for_input() as an input (what parse() reads back); operand() reads a filter's or a
rule's operand for an operator of OPERATORS.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import members as team_members
from crm.kernel import normalize
from crm.kernel.fields import phone_region
from crm.kernel.ids import parse_id
from crm.models import CustomField

TEXT_MAX = 500
LONG_MAX = 10_000
TEXT_TYPES = ("text", "url", "email", "phone", "select", "multi_select")
NUMBER_TYPES = ("number", "money", "checkbox", "member")
# Types whose values go into a record's search document.
SEARCHED = ("text", "long_text", "select", "multi_select", "url", "email", "phone")
SORTABLE = ("text", "url", "email", "phone", "select", "number", "money", "date", "checkbox")
# Which filter operators each type offers (the list's filter form reads this too).
OPERATORS = {
    "text": ("eq", "contains", "empty"),
    "long_text": ("contains", "empty"),
    "url": ("eq", "contains", "empty"),
    "email": ("eq", "contains", "empty"),
    "phone": ("eq", "contains", "empty"),
    "number": ("eq", "min", "max", "empty"),
    "money": ("eq", "min", "max", "empty"),
    "date": ("eq", "min", "max", "empty"),
    "checkbox": ("eq",),
    "select": ("eq", "any", "empty"),
    "multi_select": ("any", "empty"),
    "member": ("eq", "empty"),
}


def fields_for(
    team_id: int, entity: str, *, with_deleted: bool = False, session=None
) -> list[CustomField]:
    """The team's fields of one entity, in their order (trashed ones only if asked)."""
    stmt = select(CustomField).where(CustomField.team_id == team_id, CustomField.entity == entity)
    if not with_deleted:
        stmt = stmt.where(CustomField.deleted_at.is_(None))
    return list(
        (session or db.session).scalars(stmt.order_by(CustomField.position, CustomField.id))
    )


def _money(raw: str, name: str) -> int:
    text = raw.replace(",", "").replace(" ", "").lstrip("$€£¥")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise Invalid(f"{raw!r} is not an amount.", field=name) from None
    if amount.as_tuple().exponent < -2:
        raise Invalid("An amount has at most two decimals.", field=name)
    return int(amount * 100)


def parse(field: CustomField, raw, *, team_id: int | None = None):
    """The stored value for what was given (None for empty); Invalid names `cf_<key>`."""
    name = f"cf_{field.key}"
    if field.type == "multi_select":
        items = raw if isinstance(raw, list | tuple) else str(raw or "").split(",")
        wanted = [str(i).strip() for i in items if str(i).strip()]
        chosen = []
        for item in wanted:
            option = option_of(field, item)
            if option is None:
                raise Invalid(f"{item!r} is not an option of {field.label}.", field=name)
            if option not in chosen:
                chosen.append(option)
        if not chosen and field.required:
            raise Invalid(f"{field.label} is required.", field=name)
        return [o for o in (opt["id"] for opt in field.options) if o in chosen] or None
    if field.type == "checkbox":
        if isinstance(raw, bool):
            return raw
        text = str(raw or "").strip().lower()
        if text in ("", "0", "false", "no", "off", "n"):
            if field.required:
                raise Invalid(f"{field.label} must be ticked.", field=name)
            return False
        if text in ("1", "true", "yes", "on", "y", "x"):
            return True
        raise Invalid(f"{raw!r} is not yes or no.", field=name)
    text = "" if raw is None else str(raw).strip()
    if not text:
        if field.required:
            raise Invalid(f"{field.label} is required.", field=name)
        return None
    match field.type:
        case "text":
            if len(text) > TEXT_MAX:
                raise Invalid(f"At most {TEXT_MAX} characters.", field=name)
            return text
        case "long_text":
            if len(text) > LONG_MAX:
                raise Invalid(f"At most {LONG_MAX} characters.", field=name)
            return text
        case "number":
            try:
                number = float(Decimal(text.replace(",", "")))
            except InvalidOperation:
                raise Invalid(f"{text!r} is not a number.", field=name) from None
            return int(number) if number.is_integer() else number
        case "money":
            return _money(text, name)
        case "date":
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise Invalid(f"{text!r} is not a date (YYYY-MM-DD).", field=name) from None
        case "select":
            option = option_of(field, text)
            if option is None:
                raise Invalid(f"{text!r} is not an option of {field.label}.", field=name)
            return option
        case "url":
            if not re.match(r"^(https?://)?[^\s/]+\.[^\s]+$", text, re.I):
                raise Invalid(f"{text!r} is not a web address.", field=name)
            try:
                url = normalize.website(text)
            except normalize.BadValue as error:
                raise Invalid(str(error), field=name) from None
            if not url or len(url) > TEXT_MAX:
                raise Invalid(f"{text!r} is not a web address.", field=name)
            return url
        case "email":
            try:
                return normalize.email(text)
            except normalize.BadValue as error:
                raise Invalid(str(error), field=name) from None
        case "phone":
            try:
                return normalize.phone(text, phone_region())
            except normalize.BadValue as error:
                raise Invalid(str(error), field=name) from None
        case "member":
            team = team_id if team_id is not None else field.team_id
            if parse_id(text) is None:  # a CSV cell names the member
                lowered = text.lower()
                for user in team_members.members(team):
                    if lowered in (user.name.lower(), user.email.lower()):
                        return user.id
                raise Invalid(f"{text!r} is not a member of this team.", field=name)
            user = team_members.check_member(
                team_id if team_id is not None else field.team_id,
                parse_id(text),
                field=name,
                message="Choose a member of this team.",
            )
            return user.id if user else None
    raise Invalid(f"{field.label} has an unknown type.", field=name)


def option_of(field: CustomField, given: str) -> str | None:
    """An option's id from its id or its label (case-insensitive: CSV cells hold labels)."""
    for option in field.options or ():
        if option["id"] == given:
            return option["id"]
    lowered = given.strip().lower()
    for option in field.options or ():
        if option["label"].lower() == lowered:
            return option["id"]
    return None


def show(field: CustomField, value) -> str:
    """A stored value as people read it ("" for none)."""
    if field.type == "checkbox":
        return "Yes" if value else "No"
    if value is None or value == []:
        return ""
    match field.type:
        case "checkbox":
            return "Yes" if value else "No"
        case "money":
            amount = Decimal(int(value)) / 100
            return f"{field.currency or ''} {amount:,.2f}".strip()
        case "select":
            return field.option_label(value)
        case "multi_select":
            return ", ".join(field.option_label(v) for v in value)
        case "date":
            return value.isoformat()
        case "phone":
            return normalize.format_phone(value)
        case "member":
            return team_members.user_name(value) or ""
        case "number":
            return f"{value:g}" if isinstance(value, float) else str(value)
    return str(value)


def raw_for_input(field: CustomField, value) -> str:
    """A stored value as an edit input shows it (what parse() reads back)."""
    if value is None:
        return ""
    if field.type == "money":
        return f"{Decimal(int(value)) / 100:.2f}"
    if field.type == "multi_select":
        return ",".join(value)
    if field.type == "date":
        return value.isoformat()
    if field.type == "checkbox":
        return "yes" if value else ""
    return str(value)


def operand(field: CustomField, op: str, raw: str):
    """A URL operand as the column compares it; None when it makes no sense (ignored)."""
    raw = (raw or "").strip()
    if op == "empty":
        return raw not in ("0", "no", "false")
    if not raw:
        return None
    try:
        if op == "contains":
            return raw.lower()[:100]
        if op == "any":
            ids = [option_of(field, part) for part in raw.split(",")]
            return tuple(i for i in ids if i) or None
        if field.type == "checkbox":
            return 1.0 if raw.lower() in ("1", "yes", "true", "on") else 0.0
        if field.type == "select":
            return option_of(field, raw)
        if field.type == "date":
            return date.fromisoformat(raw)
        if field.type == "money":
            return float(_money(raw, "x"))
        if field.type in ("number", "member"):
            return float(Decimal(raw))
        if field.type == "email":
            return raw.lower()
        if field.type == "phone":
            return normalize.phone(raw, phone_region())
        return raw
    except (ValueError, InvalidOperation, Invalid, normalize.BadValue):
        return None
