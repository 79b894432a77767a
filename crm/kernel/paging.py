"""Keyset paging: one cursor format and one "after this row" rule for every long list.

Promise: a page is the next `limit` rows after a cursor in a fixed order that ends with the id,
so pages neither skip nor repeat rows when others are added meanwhile, and reading page 1,000
costs what page 1 costs. encode() turns a row's sort values (str, int, date, datetime, None) into
opaque URL-safe text; decode() gives them back with their types, or None for anything it did
not make (a hand-edited URL then shows the first page, never a 500). take() trims a fetch of
limit + 1 rows into a Page with the next cursor.

page() is the whole walk for a list with named sorts ("name", "-name", …; the REST API): its
cursor is the same encode() text with the sort's name first, so a cursor belongs to one sort
order, and one it did not give out raises BadCursor (an API answers that; a page would just
show page 1).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, or_

from crm.extensions import db
from crm.kernel.ids import MAX_INT

T = TypeVar("T")


class BadCursor(ValueError):
    """The cursor was not given out by page() for this sort order."""


@dataclass(frozen=True)
class SortKey:
    """A named sort of page(): a NOT NULL column, and how its cursor value is read back."""

    column: Any
    kind: type = str  # str, int, datetime or date


@dataclass
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def encode(*values: Any) -> str:
    """Opaque, URL-safe text for a row's position (its sort values, then its id)."""
    text = json.dumps([_plain(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _typed(value: Any, kind: type) -> Any:
    if value is None:
        return None
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    # A hand-made cursor may hold any JSON number; one a 64-bit column cannot hold would make
    # the database raise (a 500), so it is as foreign as any other.
    if kind is int and type(value) is int and -MAX_INT - 1 <= value <= MAX_INT:
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"not a {kind.__name__}")


def decode(cursor: str | None, *kinds: type) -> tuple | None:
    """The values encode() was given, as `kinds`; None for a missing or foreign cursor."""
    if not cursor:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            return None
        return tuple(_typed(v, k) for v, k in zip(raw, kinds, strict=True))
    except (ValueError, TypeError):
        return None


def after(key, id_col, value, id_: int, *, desc: bool = False):
    """(key, id) strictly after (value, id_) in the sort order, written with plain comparisons
    so the bound value takes the column's type (UTCDateTime converts aware datetimes).

    "key >= value AND (key > value OR id > id_)": the first half is an index range, so a deep
    page seeks to its place instead of walking the list from the start (same rows as
    "key > value OR (key = value AND id > id_)", NULL keys included: neither form keeps them).
    """
    if desc:
        return and_(key <= value, or_(key < value, id_col < id_))
    return and_(key >= value, or_(key > value, id_col > id_))


def take(rows: Sequence[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
    """A page from a fetch of limit + 1 rows: the first `limit`, and a cursor if there is more."""
    items = list(rows[:limit])
    more = len(rows) > limit and bool(items)
    return Page(items, cursor_of(items[-1]) if more else None)


def page(
    stmt,
    id_col,
    sorts: dict[str, SortKey],
    sort: str,
    cursor: str | None,
    limit: int,
    *,
    plain: bool = False,
) -> Page:
    """One page of `stmt` in the named `sort` ("name", or "-name" for descending), after
    `cursor`, ordered by (key, id) whatever order `stmt` had. With plain=True the rows are the
    statement's plain rows (columns), not ORM objects. Raises BadCursor for a cursor that
    page() did not give out for this sort."""
    desc = sort.startswith("-")
    key = sorts[sort.lstrip("-")]
    if cursor:
        position = decode(cursor, str, key.kind, int)
        if position is None or position[1] is None:
            raise BadCursor("not a cursor of this list")
        if position[0] != sort:
            raise BadCursor("the cursor belongs to another sort order")
        stmt = stmt.where(after(key.column, id_col, position[1], position[2], desc=desc))
    order = (key.column.desc(), id_col.desc()) if desc else (key.column, id_col)
    result = db.session.execute(stmt.order_by(None).order_by(*order).limit(limit + 1))
    rows = list(result.all() if plain else result.scalars().unique())
    name = key.column.key
    return take(rows, limit, lambda row: encode(sort, getattr(row, name), row.id))
