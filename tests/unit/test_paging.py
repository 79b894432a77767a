"""crm.kernel.paging.page(): every record exactly once, in order, in both directions and key
types; a cursor belongs to one sort; the web lists' after() rule seeks the same rows."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.kernel import paging
from crm.models import Contact
from tests import factories

SORTS = {
    "name": paging.SortKey(Contact.sort_name),
    "created": paging.SortKey(Contact.created_at, datetime),
    "id": paging.SortKey(Contact.id, int),
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
        page = paging.page(select(Contact), Contact.id, SORTS, sort, cursor, 5)
        assert len(page) <= 5
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    key = SORTS[sort.lstrip("-")].column.key
    expected = sorted(contacts, key=lambda c: (getattr(c, key), c.id), reverse=sort[0] == "-")
    assert [c.id for c in seen] == [c.id for c in expected]


def test_a_statement_that_is_already_sorted_is_paged_in_the_named_sort(contacts):
    stmt = select(Contact).order_by(Contact.created_at.desc())
    first = paging.page(stmt, Contact.id, SORTS, "id", None, 5)
    assert [c.id for c in first] == sorted(c.id for c in contacts)[:5]


def test_plain_rows_page_the_same_way(contacts):
    stmt = select(Contact).with_only_columns(*Contact.__table__.columns)
    first = paging.page(stmt, Contact.id, SORTS, "name", None, 10, plain=True)
    more = paging.page(stmt, Contact.id, SORTS, "name", first.next_cursor, 10, plain=True)
    assert len({r.id for r in first} | {r.id for r in more}) == 20


def test_a_cursor_of_another_sort_or_garbage_is_refused(contacts):
    cursor = paging.page(select(Contact), Contact.id, SORTS, "name", None, 5).next_cursor
    plain = paging.encode("x", 1)  # a web list's cursor: no sort name in it
    for sort, bad in (("id", cursor), ("-name", cursor), ("name", "not-a-cursor"), ("name", plain)):
        with pytest.raises(paging.BadCursor):
            paging.page(select(Contact), Contact.id, SORTS, sort, bad, 5)
    db.session.rollback()


@pytest.mark.parametrize("desc", [False, True])
def test_after_keeps_exactly_the_rows_past_the_cursor(contacts, desc):
    ordered = sorted(contacts, key=lambda c: (c.sort_name, c.id), reverse=desc)
    pivot = ordered[7]
    rule = paging.after(Contact.sort_name, Contact.id, pivot.sort_name, pivot.id, desc=desc)
    order = (
        (Contact.sort_name.desc(), Contact.id.desc()) if desc else (Contact.sort_name, Contact.id)
    )
    rows = db.session.scalars(select(Contact).where(rule).order_by(*order)).all()
    assert [c.id for c in rows] == [c.id for c in ordered[8:]]
