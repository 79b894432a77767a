"""crm.kernel.keyset: every record exactly once, in order, in both directions and key types."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.kernel import keyset
from crm.models import Contact
from tests import factories

SORTS = {
    "name": keyset.SortKey(Contact.sort_name),
    "created": keyset.SortKey(Contact.created_at, datetime),
    "id": keyset.SortKey(Contact.id, int),
}


@pytest.fixture
def contacts(owner):
    team = factories.team_of(owner)
    # Duplicate names: the id breaks ties, so pages still split exactly.
    return [
        factories.make_contact(team, first_name=f"N{i % 4}", last_name="Same") for i in range(23)
    ]


@pytest.mark.parametrize("sort", ["name", "-name", "created", "-created", "id", "-id"])
def test_pages_list_everything_once_in_order(contacts, sort):
    seen, cursor = [], None
    while True:
        rows, cursor = keyset.page(select(Contact), Contact, SORTS, sort, cursor, 5)
        assert len(rows) <= 5
        seen += rows
        if cursor is None:
            break
    key = SORTS[sort.lstrip("-")].column.key
    expected = sorted(contacts, key=lambda c: (getattr(c, key), c.id), reverse=sort[0] == "-")
    assert [c.id for c in seen] == [c.id for c in expected]


def test_plain_rows_page_the_same_way(contacts):
    stmt = select(Contact).with_only_columns(*Contact.__table__.columns)
    rows, cursor = keyset.page(stmt, Contact, SORTS, "name", None, 10, plain=True)
    more, _ = keyset.page(stmt, Contact, SORTS, "name", cursor, 10, plain=True)
    assert len({r.id for r in rows} | {r.id for r in more}) == 20


def test_a_cursor_of_another_sort_or_garbage_is_refused(contacts):
    _, cursor = keyset.page(select(Contact), Contact, SORTS, "name", None, 5)
    for sort, bad in (("id", cursor), ("name", "not-a-cursor"), ("name", "W10")):
        with pytest.raises(keyset.BadCursor):
            keyset.page(select(Contact), Contact, SORTS, sort, bad, 5)
    db.session.rollback()
