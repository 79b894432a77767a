"""Keyset pages: (sort key, id) order, an opaque cursor, no gap and no repeat.

Promise: walking a list page by page lists every record that existed when the walk began
exactly once, whatever is inserted, changed or deleted meanwhile (a record whose sort key
changes during the walk may be listed again at its new place). A cursor belongs to one sort
order; a cursor that was not given out by `page()` raises BadCursor.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import or_

from crm.extensions import db


class BadCursor(ValueError):
    """The cursor was not made by page() for this sort order."""


@dataclass
class SortKey:
    column: object
    kind: type = str  # str, int, datetime or date: how the cursor value is read back


def _encode(value) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decode(kind: type, value):
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    return kind(value)


def page(
    stmt,
    model,
    sorts: dict[str, SortKey],
    sort: str,
    cursor: str | None,
    limit: int,
    *,
    plain: bool = False,
):
    """One page of `stmt` in `sort` order ("name", or "-name" for descending), after `cursor`.

    Sort keys must be NOT NULL columns of `model`. Returns (rows, next_cursor or None); with
    plain=True the rows are the statement's plain rows (columns), not ORM objects.
    """
    desc = sort.startswith("-")
    key = sorts[sort.lstrip("-")]
    id_col = model.id
    if cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * 4))
            cursor_sort, value, ident = raw
            if cursor_sort != sort:
                raise BadCursor("the cursor belongs to another sort order")
            value, ident = _decode(key.kind, value), int(ident)
        except BadCursor:
            raise
        except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
            raise BadCursor(str(error) or "bad cursor") from None
        # "key >= value AND (key > value OR id > ident)": the first half is an index range,
        # so a deep page seeks instead of walking the list from its start.
        if desc:
            stmt = stmt.where(key.column <= value, or_(key.column < value, id_col < ident))
        else:
            stmt = stmt.where(key.column >= value, or_(key.column > value, id_col > ident))
    order = (key.column.desc(), id_col.desc()) if desc else (key.column, id_col)
    result = db.session.execute(stmt.order_by(*order).limit(limit + 1))
    rows = list(result.all() if plain else result.scalars().unique())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        raw = json.dumps([sort, _encode(getattr(last, key.column.key)), last.id]).encode()
        next_cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return rows, next_cursor
