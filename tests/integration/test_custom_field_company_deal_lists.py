"""Custom fields in the company and deal lists and the deal board: filters, sorts with keyset
paging, columns, exports and saved views — the same URL arguments as the contact list."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from flask import g
from werkzeug.datastructures import MultiDict

from crm.companies.queries import CompanyFilters, company_page
from crm.custom_fields import services as fields
from crm.deals import queries as deal_queries
from crm.extensions import db
from crm.models import SavedView
from tests import factories

ROWS = [
    ("Ann", "Pro", "2027-03-01", "10"),
    ("Bob", "Basic", "2027-01-15", "2"),
    ("Cid", "Pro", "2027-02-01", "25"),
    ("Dee", None, None, None),
    ("Eve", "Enterprise", "2026-12-24", "300"),
]


def _fields(team, entity):
    return (
        factories.make_custom_field(team, label="Plan", type="select", entity=entity),
        factories.make_custom_field(team, label="Renewal", type="date", entity=entity),
        factories.make_custom_field(team, label="Seats", type="number", entity=entity),
    )


def _records(owner, entity):
    """Five companies or deals (Ann … Eve) with the ROWS' values, and a look-alike team."""
    team = factories.team_of(owner)
    defined = _fields(team, entity)
    for name, *values in ROWS:
        record = (
            factories.make_company(team, name=f"{name} Ltd")
            if entity == "company"
            else factories.make_deal(team, title=f"{name} deal")
        )
        for field, value in zip(defined, values, strict=True):
            if value:
                fields.set_value(record, field, value, owner.id)
    _look_alike(entity)
    return team


def _companies(owner):
    return _records(owner, "company")


def _deals(owner):
    return _records(owner, "deal")


def _look_alike(entity):
    """Another team with a field of the same name and a record on "Pro": never shown."""
    other = factories.team_of(factories.make_user(email=f"o-{entity}@example.com", team_name="O"))
    twin = factories.make_custom_field(other, label="Plan", type="select", entity=entity)
    record = (
        factories.make_company(other, name="Zed Ltd")
        if entity == "company"
        else factories.make_deal(other, title="Zed deal")
    )
    fields.set_value(record, twin, "Pro", None)


def _company_names(app, team, args, limit=50, cursor=None):
    with app.test_request_context():
        g.team = team
        rows, cursor = company_page(CompanyFilters.from_args(MultiDict(args)), cursor, limit)
        return [c.name.split()[0] for c in rows], cursor


def _deal_titles(team, args, limit=50, cursor=None):
    args = MultiDict(args)
    filters = deal_queries.Filters.from_args(args)
    stmt = deal_queries.list_query(team.id, None, filters, "open")
    rows, cursor = deal_queries.list_page(
        stmt, args.get("sort", "updated"), cursor, limit, team_id=team.id
    )
    return [d.title.split()[0] for d in rows], cursor


FILTERS = [
    ({"cf_plan": "Pro"}, ["Ann", "Cid"]),
    ({"cf_plan__any": "Basic,Enterprise"}, ["Bob", "Eve"]),
    ({"cf_plan__empty": "1"}, ["Dee"]),
    ({"cf_renewal__min": "2027-01-01", "cf_renewal__max": "2027-02-28"}, ["Bob", "Cid"]),
    ({"cf_seats__min": "10"}, ["Ann", "Cid", "Eve"]),
    ({"cf_seats__max": "9"}, ["Bob"]),
    ({"cf_nope": "x", "cf_seats__min": "lots"}, ["Ann", "Bob", "Cid", "Dee", "Eve"]),
]
SORTS = [
    ("cf_renewal", ["Eve", "Bob", "Cid", "Ann", "Dee"]),
    ("-cf_renewal", ["Ann", "Cid", "Bob", "Eve", "Dee"]),
    ("cf_seats", ["Bob", "Ann", "Cid", "Eve", "Dee"]),
    ("-cf_seats", ["Eve", "Cid", "Ann", "Bob", "Dee"]),
]


def _walk(names_of, sort):
    walked, cursor = [], None
    while True:
        names, cursor = names_of({"sort": sort}, 2, cursor)
        walked += names
        if not cursor:
            return walked


def test_company_list_filters_and_sorts_with_keyset_pages(app, owner):
    team = _companies(owner)
    for args, expected in FILTERS:
        assert sorted(_company_names(app, team, args)[0]) == expected, args
    for sort, expected in SORTS:
        assert _company_names(app, team, {"sort": sort})[0] == expected, sort
        assert _walk(lambda a, n, c: _company_names(app, team, a, n, c), sort) == expected


def test_deal_list_filters_and_sorts_with_keyset_pages(owner):
    team = _deals(owner)
    for args, expected in FILTERS:
        assert sorted(_deal_titles(team, args)[0]) == expected, args
    for sort, expected in SORTS:
        assert _deal_titles(team, {"sort": sort})[0] == expected, sort
        assert _walk(lambda a, n, c: _deal_titles(team, a, n, c), sort) == expected


def test_company_page_filters_sorts_shows_columns_and_exports(logged_in, owner):
    _companies(owner)
    page = logged_in.get("/companies?cf_plan__any=Pro,Basic&sort=-cf_seats&cols=seats,plan")
    assert page.status_code == 200
    text = page.text
    assert text.index("Cid Ltd") < text.index("Ann Ltd") < text.index("Bob Ltd")
    assert "Eve Ltd" not in text and "Zed Ltd" not in text
    assert "<dt>Seats</dt><dd>25</dd><dt>Plan</dt><dd>Pro</dd>" in text
    assert '<option value="-cf_seats" selected>' in text
    assert 'id="f-cf_plan"' in text and 'name="cols" value="seats" checked' in text
    export = re.search(r'id="companies-export"[^>]*href="([^"]+)"', text).group(1)
    rows = list(csv.reader(io.StringIO(logged_in.get(unescape(export)).text.lstrip("\ufeff"))))
    assert rows[0][-3:] == ["Plan", "Renewal", "Seats"]
    assert [(r[0], r[-3], r[-2], r[-1]) for r in rows[1:]] == [
        ("Cid Ltd", "Pro", "2027-02-01", "25"),
        ("Ann Ltd", "Pro", "2027-03-01", "10"),
        ("Bob Ltd", "Basic", "2027-01-15", "2"),
    ]


def test_deal_list_page_columns_next_page_and_export(logged_in, owner, htmx_headers):
    _deals(owner)
    page = logged_in.get("/deals/list?cf_plan=Pro&sort=cf_renewal&cols=plan,renewal")
    assert page.status_code == 200
    text = page.text
    assert text.index("Cid deal") < text.index("Ann deal") and "Bob deal" not in text
    assert '<th scope="col">Plan</th><th scope="col">Renewal</th>' in text
    assert '<td data-label="Renewal">2027-02-01</td>' in text
    assert '<option value="cf_renewal" selected>' in text
    export = re.search(r'id="deals-export" href="([^"]+)"', text).group(1)
    rows = list(csv.reader(io.StringIO(logged_in.get(unescape(export)).text.lstrip("\ufeff"))))
    assert rows[0][-3:] == ["Plan", "Renewal", "Seats"]
    assert [(r[1], r[-3], r[-1]) for r in rows[1:]] == [
        ("Cid deal", "Pro", "25"),
        ("Ann deal", "Pro", "10"),
    ]
    # The next page of a custom sort keeps the filters and the columns.
    first = logged_in.get("/deals/list?sort=-cf_seats&cols=seats").text
    assert "Load more" not in first  # five deals: one page
    more = logged_in.get("/deals/list?sort=-cf_seats&cursor=bogus", headers=htmx_headers)
    assert more.status_code == 200 and "<html" not in more.text


def test_the_board_filters_its_columns_and_totals_by_a_custom_field(logged_in, owner):
    _deals(owner)
    board = logged_in.get("/deals?cf_plan=Pro").text
    assert "Ann deal" in board and "Cid deal" in board
    assert "Bob deal" not in board and "Zed deal" not in board
    assert 'id="f-cf_plan"' in board and 'name="cols"' not in board  # filters, no columns


@pytest.mark.parametrize(
    ("list_name", "url", "shown", "hidden"),
    [
        ("companies", "/companies", "Cid Ltd", "Bob Ltd"),
        ("deals", "/deals/list", "Cid deal", "Bob deal"),
    ],
)
def test_a_saved_view_keeps_custom_filters_sort_and_columns(
    logged_in, owner, list_name, url, shown, hidden
):
    (_companies if list_name == "companies" else _deals)(owner)
    query = "cf_plan=Pro&sort=-cf_seats&cols=seats"
    response = logged_in.post(
        "/views", data={"list_name": list_name, "name": "Pro", "query": query}
    )
    assert response.status_code == 303
    view = db.session.query(SavedView).one()
    assert view.query == query
    opened = logged_in.get(response.headers["Location"]).text
    assert shown in opened and hidden not in opened and "Seats" in opened
