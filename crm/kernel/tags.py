"""Tags: one spelling per tag, found or created by name, for contacts, companies and deals.

Promise: a tag name is lower-cased, its inner whitespace collapsed to single spaces and cut at
60 characters, so "VIP", " vip " and "v i p"-alikes typed anywhere land on the same tag.
find_or_create() returns the team's tags for the given names (first mention wins the order,
duplicates dropped), creating the missing ones; split() reads a comma-separated field. The
caller commits. Tags attach to a record by assigning the list (`record.tags = ...`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from crm.extensions import db
from crm.models import Tag

MAX_LEN = 60


def normalize(name) -> str:
    """The stored spelling of a tag name ('' for a blank one)."""
    return " ".join(str(name or "").split()).lower()[:MAX_LEN]


def names(values: Iterable) -> list[str]:
    """Normalized, non-blank, de-duplicated names, in the order first given."""
    return list(dict.fromkeys(n for n in (normalize(v) for v in values or ()) if n))


def split(text: str | None, separators: str = ",") -> list[str]:
    """The names in a field people type ("vip, partner"); blanks dropped."""
    text = text or ""
    for sep in separators[1:]:
        text = text.replace(sep, separators[0])
    return [t for t in text.split(separators[0]) if t.strip()]


def find_or_create(team_id: int, values: Iterable) -> list[Tag]:
    """The team's tags for these names, created on first use; the caller commits."""
    wanted = names(values)
    if not wanted:
        return []
    existing = {
        t.name: t
        for t in db.session.scalars(select(Tag).where(Tag.team_id == team_id, Tag.name.in_(wanted)))
    }
    tags = []
    for name in wanted:
        tag = existing.get(name)
        if tag is None:
            tag = existing[name] = Tag(team_id=team_id, name=name)
            db.session.add(tag)
        tags.append(tag)
    return tags
