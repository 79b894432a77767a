"""Merge fields: a template's subject and body rendered against one record, in a sandbox.

Promise: a template sees plain dicts of allowed fields only (contact, company, deal, owner),
never a model, so `{{ contact.__class__ }}` or a relationship walk reaches nothing. An unknown
field is an `Invalid` that names it, raised before anything is queued. Output is plain text
(no autoescape: the HTML part is made from it by crm/outbound/formatting.py, which escapes).
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from crm.errors import Invalid

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def _default(value, fallback="", boolean=True):
    """`| default("there")` also for empty strings and None: an empty first name is no name."""
    if value is None or value == "" or (boolean and not value):
        return fallback
    return value


_env.filters["default"] = _default
_env.filters["d"] = _default
SAMPLE = {
    "contact": {
        "first_name": "Dana",
        "last_name": "Reyes",
        "name": "Dana Reyes",
        "email": "dana@example.com",
        "title": "Buyer",
    },
    "company": {"name": "Example Ltd", "domain": "example.com"},
    "deal": {"title": "Example deal", "value": "", "stage": ""},
    "owner": {"name": "Olive Owner", "email": "olive@example.com"},
}


def context_for(contact=None, *, company=None, deal=None, owner=None) -> dict:
    """The allowed fields of a record, as plain dicts (empty strings when absent)."""
    company = company or (contact.company if contact is not None else None)
    if company is not None and company.deleted_at is not None:
        company = None
    owner = owner or (contact.owner if contact is not None else None)
    return {
        "contact": {
            "first_name": (contact.first_name if contact else "") or "",
            "last_name": (contact.last_name if contact else "") or "",
            "name": (contact.name if contact else "") or "",
            "email": (contact.primary_email if contact else "") or "",
            "title": (contact.title if contact else "") or "",
        },
        "company": {
            "name": company.name if company else "",
            "domain": (company.domain if company else "") or "",
        },
        "deal": {
            "title": deal.title if deal else "",
            "value": _deal_value(deal),
            "stage": deal.stage.name if deal is not None and deal.stage is not None else "",
        },
        "owner": {
            "name": (owner.name if owner else "") or "",
            "email": (owner.email if owner else "") or "",
        },
    }


def _deal_value(deal) -> str:
    if deal is None or not deal.value_minor:
        return ""
    return f"{deal.value_minor / 100:,.2f} {deal.currency}"


def check(source: str, field: str) -> None:
    """Refuse a template that does not parse or uses an unknown field (against sample data)."""
    render(source, SAMPLE, field=field)


@lru_cache(maxsize=256)
def _compiled(source: str):
    # A bulk send renders one source thousands of times: compile it once.
    return _env.from_string(source)


def render(source: str, context: dict, *, field: str = "body") -> str:
    try:
        return _compiled(source or "").render(**context)
    except UndefinedError as error:
        raise Invalid(f"Unknown merge field: {_name(error)}", field=field) from None
    except TemplateSyntaxError as error:
        raise Invalid(
            f"The template does not parse (line {error.lineno}): {error.message}", field=field
        ) from None
    except SecurityError:
        raise Invalid(
            "The template uses something merge fields may not reach.", field=field
        ) from None


def _name(error: UndefinedError) -> str:
    # Jinja says "'dict object' has no attribute 'nickname'" or "'foo' is undefined".
    message = str(error.message or error)
    if "has no attribute" in message:
        return message.rsplit("attribute", 1)[-1].strip(" '\"")
    return message.split(" is undefined", 1)[0].strip(" '\"")
