"""Deal views: the board (page and partials), moves, won/lost, the list, CSV, new/edit, show."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from crm.deals import queries, services
from crm.extensions import db
from crm.kernel import paging
from crm.models import Activity, Deal, DealStatus, LostReason
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


@pytest.fixture
def pipeline(team):
    return queries.current_pipeline(team.id, None)


def deal_in(team, stage, title="Deal", **kw):
    return services.create_deal(
        team_id=team.id, title=title, stage=stage, currency=team.currency, **kw
    )


def test_board_page_shows_columns_totals_and_cards(logged_in, team, pipeline):
    deal_in(team, pipeline.stages[1], "Big one", value_minor=1_250_050)
    response = logged_in.get("/deals")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in html and 'id="board"' in html
    for stage in pipeline.stages:
        assert f'id="stage-head-{stage.id}"' in html
    assert "Big one" in html and "$12,500.50" in html
    assert "$3,125" in html  # weighted at 25 %
    assert "/actions" in html and 'aria-label="Actions for Big one"' in html
    assert "Sortable.min.js" in html and "js/deals.js" in html


def test_card_actions_load_on_demand(logged_in, team, pipeline, htmx_headers):
    deal = deal_in(team, pipeline.stages[0], "Lazy")
    response = logged_in.get(f"/deals/{deal.id}/actions", headers=htmx_headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert f'for="move-{deal.id}">Move to…</label>' in html and 'name="stage_id"' in html
    assert f'for="lost-{deal.id}">Lost reason</label>' in html
    assert html.count("<option") == len(pipeline.stages) + 1 + len(queries.lost_reasons(team.id))


def test_board_partial_for_htmx(logged_in, team, pipeline, htmx_headers):
    deal_in(team, pipeline.stages[0], "Acme")
    deal_in(team, pipeline.stages[0], "Globex")
    response = logged_in.get("/deals?q=acme", headers=htmx_headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<div id="board"')
    assert "Acme" in html and "Globex" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_board_columns_load_more(logged_in, team, pipeline, htmx_headers):
    stage = pipeline.stages[0]
    for i in range(queries.COLUMN_PAGE + 5):
        factories.make_deal(team, title=f"Bulk {i:02}", stage=stage, position=i * 10)
    html = logged_in.get("/deals").get_data(as_text=True)
    assert html.count('class="deal-card') == queries.COLUMN_PAGE
    assert "Load more" in html
    cursor = queries.column_cards(team.id, stage, queries.Filters())[1]
    assert f"after={cursor}" in html
    more = logged_in.get(f"/deals/stages/{stage.id}/cards?after={cursor}", headers=htmx_headers)
    body = more.get_data(as_text=True)
    assert more.status_code == 200 and "<html" not in body
    assert body.count('class="deal-card') == 5 and "Load more" not in body


def test_drag_move_answers_the_card_and_oob_totals(logged_in, team, pipeline, htmx_headers):
    first, second = pipeline.stages[0], pipeline.stages[1]
    contact = factories.make_contact(team)
    deal = deal_in(team, first, "Dragged", value_minor=100_00, contact_ids=[contact.id])
    response = logged_in.post(
        f"/deals/{deal.id}/move",
        data={"stage_id": second.id, "after_id": "", "version": services.version_of(deal)},
        headers={**htmx_headers, "HX-Target": f"deal-{deal.id}"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith(
        f'<li class="deal-card" id="deal-{deal.id}"'
    )
    assert f'id="stage-head-{first.id}" hx-swap-oob="true"' in html
    assert f'id="stage-head-{second.id}" hx-swap-oob="true"' in html
    head = html.split(f'id="stage-head-{second.id}"')[1]
    assert 'data-count="1"' in head and "$100" in head
    event = json.loads(response.headers["HX-Trigger"])["deal-moved"]
    assert event == {"deal_id": deal.id, "from_stage_id": first.id, "to_stage_id": second.id}
    db.session.refresh(deal)
    assert deal.stage_id == second.id
    # The new card carries the new version, so the next drag is not stale.
    assert f'data-version="{services.version_of(deal)}"' in html
    subjects = db.session.scalars(select(Activity.subject).where(Activity.deal_id == deal.id)).all()
    assert "Stage: Lead in → Qualified" in subjects


def test_move_to_re_renders_the_board(logged_in, team, pipeline, htmx_headers):
    deal = deal_in(team, pipeline.stages[0], "Picker")
    response = logged_in.post(
        f"/deals/{deal.id}/move",
        data={"stage_id": pipeline.stages[3].id, "version": services.version_of(deal)},
        headers={**htmx_headers, "HX-Target": "board"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="board"')
    column = html.split(f'id="stage-{pipeline.stages[3].id}"')[1]
    assert f'id="deal-{deal.id}"' in column
    assert "deal-moved" in response.headers["HX-Trigger"]


def test_a_stale_move_answers_409_and_a_fresh_board(logged_in, team, pipeline, htmx_headers):
    deal = deal_in(team, pipeline.stages[0], "Stale")
    response = logged_in.post(
        f"/deals/{deal.id}/move",
        data={"stage_id": pipeline.stages[1].id, "version": "2001-01-01T00:00:00+00:00"},
        headers={**htmx_headers, "HX-Target": f"deal-{deal.id}"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#board"
    assert "board-stale" in json.loads(response.headers["HX-Trigger"])
    assert html.lstrip().startswith('<div id="board"') and "board changed" in html
    assert db.session.get(Deal, deal.id).stage_id == pipeline.stages[0].id


def test_plain_move_redirects(logged_in, team, pipeline):
    deal = deal_in(team, pipeline.stages[0])
    response = logged_in.post(f"/deals/{deal.id}/move", data={"stage_id": pipeline.stages[2].id})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/deals/{deal.id}")


def test_move_to_another_pipelines_stage_is_refused(logged_in, team, pipeline):
    deal = deal_in(team, pipeline.stages[0])
    other = services.create_pipeline(team.id, "Partners")
    response = logged_in.post(f"/deals/{deal.id}/move", data={"stage_id": other.stages[0].id})
    assert response.status_code == 422


def test_won_and_lost_from_the_card(logged_in, team, pipeline, htmx_headers):
    a = deal_in(team, pipeline.stages[0], "Winner")
    b = deal_in(team, pipeline.stages[0], "Loser")
    response = logged_in.post(f"/deals/{a.id}/won", headers={**htmx_headers, "HX-Target": "board"})
    assert response.status_code == 200 and "Winner" not in response.get_data(as_text=True)
    assert "deal-won" in response.headers["HX-Trigger"]
    refused = logged_in.post(f"/deals/{b.id}/lost", headers={**htmx_headers, "HX-Target": "board"})
    assert refused.status_code == 422
    reason = db.session.scalars(select(LostReason).where(LostReason.team_id == team.id)).first()
    response = logged_in.post(
        f"/deals/{b.id}/lost",
        data={"reason_id": reason.id},
        headers={**htmx_headers, "HX-Target": "board"},
    )
    assert response.status_code == 200 and "Loser" not in response.get_data(as_text=True)
    assert db.session.get(Deal, b.id).status == DealStatus.LOST
    # Closed deals stay findable in the list, and reopen puts them back on the board.
    listed = logged_in.get("/deals/list?status=all").get_data(as_text=True)
    assert "Winner" in listed and "Loser" in listed
    page = logged_in.get(f"/deals/{b.id}").get_data(as_text=True)
    assert "Reopen" in page and reason.name in page
    response = logged_in.post(f"/deals/{b.id}/reopen", headers=htmx_headers)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/deals/{b.id}"
    assert "Loser" in logged_in.get("/deals").get_data(as_text=True)


def test_lost_reason_of_another_team_is_refused(logged_in, team, pipeline):
    deal = deal_in(team, pipeline.stages[0])
    other_team = factories.team_of(factories.make_user())
    theirs = db.session.scalars(
        select(LostReason).where(LostReason.team_id == other_team.id)
    ).first()
    response = logged_in.post(f"/deals/{deal.id}/lost", data={"reason_id": theirs.id})
    assert response.status_code == 422
    assert db.session.get(Deal, deal.id).status == DealStatus.OPEN


def test_new_deal_with_exact_money(logged_in, team, pipeline, htmx_headers):
    contact = factories.make_contact(team, email="buyer@client.example")
    page = logged_in.get(f"/deals/new?contact_id={contact.id}")
    assert page.status_code == 200 and 'for="title"' in page.get_data(as_text=True)
    response = logged_in.post(
        "/deals/new",
        data={
            "title": "Annual plan",
            "value": "12,500.50",
            "currency": "EUR",
            "stage_id": pipeline.stages[1].id,
            "owner_id": 0,
            "company_id": 0,
            "contact": contact.id,
            "expected_close": "2027-01-31",
            "tags": "VIP, renewal",
        },
        headers=htmx_headers,
    )
    assert response.status_code == 204, response.get_data(as_text=True)
    deal = db.session.scalars(select(Deal).where(Deal.title == "Annual plan")).one()
    assert deal.value_minor == 1_250_050 and deal.currency == "EUR"
    assert [c.id for c in deal.contacts] == [contact.id]
    assert sorted(t.name for t in deal.tags) == ["renewal", "vip"]
    assert response.headers["HX-Redirect"] == f"/deals/{deal.id}"
    show = logged_in.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert "€12,500.50" in show and "Deal created in Qualified" in show


def test_new_deal_errors_are_on_their_fields(logged_in, pipeline, htmx_headers):
    response = logged_in.post(
        "/deals/new",
        data={"title": "", "value": "12.505", "currency": "USD", "stage_id": pipeline.stages[0].id},
        headers=htmx_headers,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html
    assert html.lstrip().startswith('<form id="deal-form"')
    response = logged_in.post(
        "/deals/new",
        data={
            "title": "Ok",
            "value": "12.505",
            "currency": "USD",
            "stage_id": pipeline.stages[0].id,
        },
        headers=htmx_headers,
    )
    assert response.status_code == 422
    assert 'id="value-error"' in response.get_data(as_text=True)


def test_edit_deal(logged_in, team, pipeline):
    deal = deal_in(team, pipeline.stages[0], "Old title", value_minor=100)
    form = logged_in.get(f"/deals/{deal.id}/edit").get_data(as_text=True)
    assert 'value="1.00"' in form
    response = logged_in.post(
        f"/deals/{deal.id}/edit",
        data={
            "title": "New title",
            "value": "1,000",
            "currency": "JPY",
            "owner_id": 0,
            "company_id": 0,
        },
    )
    assert response.status_code == 303
    db.session.refresh(deal)
    assert (deal.title, deal.value_minor, deal.currency) == ("New title", 1000, "JPY")


def test_edit_adds_and_removes_contacts_and_delete(logged_in, team, pipeline):
    kept = factories.make_contact(team, first_name="Kept")
    dropped = factories.make_contact(team, first_name="Dropped")
    added = factories.make_contact(team, first_name="Added", email="added@client.example")
    deal = deal_in(team, pipeline.stages[0], "People", contact_ids=[kept.id, dropped.id])
    form = logged_in.get(f"/deals/{deal.id}/edit").get_data(as_text=True)
    assert f'name="contact" value="{dropped.id}" checked' in form
    response = logged_in.post(
        f"/deals/{deal.id}/edit",
        data={
            "title": "People",
            "value": "",
            "currency": "USD",
            "contact": [kept.id],
            "add_contact_email": "added@client.example",
        },
    )
    assert response.status_code == 303
    db.session.refresh(deal)
    assert sorted(c.id for c in deal.contacts) == sorted([kept.id, added.id])
    unknown = logged_in.post(
        f"/deals/{deal.id}/edit",
        data={"title": "People", "currency": "USD", "add_contact_email": "nobody@x.example"},
    )
    assert unknown.status_code == 422 and "No contact has this email" in unknown.get_data(
        as_text=True
    )
    assert logged_in.post(f"/deals/{deal.id}/delete").status_code == 303
    assert logged_in.get(f"/deals/{deal.id}").status_code == 404
    assert "People" not in logged_in.get("/deals").get_data(as_text=True)


def test_show_page_has_the_shared_timeline_with_stage_changes(logged_in, team, pipeline):
    deal = deal_in(team, pipeline.stages[0], "Chatty")
    services.move_deal(deal, pipeline.stages[1])
    html = logged_in.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert f'id="timeline-deal-{deal.id}"' in html and f'id="composer-deal-{deal.id}"' in html
    assert pipeline.stages[1].name in html
    assert 'id="record-tasks"' in html


@pytest.mark.parametrize("sort", ["updated", "created", "close", "value", "title", "nonsense"])
def test_a_hand_edited_list_cursor_starts_from_the_top(logged_in, team, pipeline, sort):
    factories.make_deal(team, title="Only deal")
    for cursor in (
        "201",
        "|5",
        "garbage|7",
        "2026-13-45|3",
        "9" * 30 + "|1",
        "x|²",
        "x|" + "9" * 30,
        paging.encode("x", 2**70),
        paging.encode(2**70, 1),
        paging.encode("2026-13-45", 3),
        paging.encode(None, "1"),
    ):
        response = logged_in.get("/deals/list", query_string={"sort": sort, "cursor": cursor})
        assert response.status_code == 200 and "Only deal" in response.get_data(as_text=True)


def test_list_sorts_and_pages(logged_in, team, pipeline, htmx_headers):
    for i in range(55):
        factories.make_deal(team, title=f"L{i:02}", value_minor=i * 100)
    html = logged_in.get("/deals/list?sort=value").get_data(as_text=True)
    assert html.index("L54") < html.index("L53")
    assert "Load more" in html and "L04" not in html
    rows, cursor = queries.list_page(
        queries.list_query(team.id, None, queries.Filters(), "open"), "value", None
    )
    more = logged_in.get(f"/deals/list?sort=value&cursor={cursor}", headers=htmx_headers)
    body = more.get_data(as_text=True)
    assert "<html" not in body and "L04" in body and "L00" in body and "L54" not in body
    by_title = logged_in.get("/deals/list?sort=title").get_data(as_text=True)
    assert by_title.index("L00") < by_title.index("L01")


def test_csv_export_is_formula_safe(logged_in, team, pipeline):
    deal_in(team, pipeline.stages[0], '=HYPERLINK("http://evil")', value_minor=1_250_050)
    deal_in(team, pipeline.stages[0], "+plain", value_minor=5)
    response = logged_in.get("/deals/export.csv?status=all")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    titles = {r[1] for r in rows[1:]}
    assert titles == {'\'=HYPERLINK("http://evil")', "'+plain"}
    values = {r[2] for r in rows[1:]}
    assert values == {"12500.50", "0.05"}


def test_deals_of_a_contact_and_company(team, pipeline):
    contact = factories.make_contact(team)
    company = factories.make_company(team)
    deal = deal_in(team, pipeline.stages[0], contact_ids=[contact.id], company_id=company.id)
    assert queries.deals_for_contact(team.id, contact.id) == [deal]
    assert queries.deals_for_company(team.id, company.id) == [deal]


def test_rotting_flag_on_the_card(logged_in, team, pipeline):
    from datetime import timedelta

    from crm.models import utcnow

    long_ago = utcnow() - timedelta(days=30)
    factories.make_deal(
        team,
        title="Dusty",
        stage=pipeline.stages[0],
        stage_entered_at=long_ago,
        created_at=long_ago,
    )
    html = logged_in.get("/deals").get_data(as_text=True)
    assert "deal-card rotting" in html and "No activity for 14+ days" in html


@pytest.mark.parametrize("sort", ["updated", "created", "value", "close", "title"])
def test_list_pages_visit_every_deal_once(team, pipeline, sort):
    from datetime import date, timedelta

    for i in range(23):
        factories.make_deal(
            team,
            title=f"P{i % 7}",
            value_minor=(i % 5) * 100,
            expected_close=date(2027, 1, 1) + timedelta(days=i % 4) if i % 3 else None,
        )
    stmt = queries.list_query(team.id, None, queries.Filters(), "open")
    seen, cursor = [], None
    while True:
        rows, cursor = queries.list_page(stmt, sort, cursor, limit=5)
        seen += [d.id for d in rows]
        if cursor is None:
            break
    assert len(seen) == 23 and len(set(seen)) == 23


def test_deleted_deal_is_in_the_trash_and_restores_to_the_board(logged_in, team, pipeline):
    deal = deal_in(team, pipeline.stages[2], "Phoenix", value_minor=4_200_00)
    assert logged_in.post(f"/deals/{deal.id}/delete").status_code == 303
    assert "Phoenix" not in logged_in.get("/deals").get_data(as_text=True)
    trash = logged_in.get("/contacts/trash").get_data(as_text=True)
    assert f'id="trash-deal-{deal.id}"' in trash and "Phoenix" in trash
    assert 'aria-label="Restore Phoenix"' in trash and f"/deals/{deal.id}/restore" in trash

    response = logged_in.post(f"/deals/{deal.id}/restore")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/deals/{deal.id}"
    )
    board = logged_in.get("/deals").get_data(as_text=True)
    assert f'id="deal-{deal.id}"' in board and "Phoenix" in board
    assert "Phoenix" not in logged_in.get("/contacts/trash").get_data(as_text=True)
    db.session.refresh(deal)
    assert deal.deleted_at is None and deal.stage_id == pipeline.stages[2].id


def test_another_teams_deleted_deal_cannot_be_restored(client, team, pipeline):
    from crm.models import utcnow

    deal = deal_in(team, pipeline.stages[0], "Theirs")
    services.delete_deal(deal)
    other = factories.make_user(email="other@example.com")
    client.post("/login", data={"email": other.email, "password": factories.PASSWORD})
    assert client.post(f"/deals/{deal.id}/restore").status_code == 404
    assert "Theirs" not in client.get("/contacts/trash").get_data(as_text=True)
    db.session.refresh(deal)
    assert deal.deleted_at is not None and deal.deleted_at <= utcnow()


def test_a_closed_deal_shows_its_outcome_not_a_weighted_value(logged_in, team, pipeline):
    stage = pipeline.stages[1]
    assert 0 < stage.probability < 100
    won = deal_in(team, stage, "Winner", value_minor=1_110_000)
    lost = deal_in(team, stage, "Loser", value_minor=500_000)
    open_deal = deal_in(team, stage, "Still open", value_minor=1_000_000)
    assert "Weighted" in logged_in.get(f"/deals/{open_deal.id}").get_data(as_text=True)

    services.mark_won(won)
    reason = db.session.scalars(select(LostReason).where(LostReason.team_id == team.id)).first()
    services.mark_lost(lost, reason=reason)
    won_page = logged_in.get(f"/deals/{won.id}").get_data(as_text=True)
    assert "Weighted" not in won_page and f"({stage.probability}%)" not in won_page
    assert '<dt>Outcome</dt><dd class="deal-outcome">Won</dd>' in won_page
    lost_page = logged_in.get(f"/deals/{lost.id}").get_data(as_text=True)
    assert "Weighted" not in lost_page
    assert '<dt>Outcome</dt><dd class="deal-outcome">Lost</dd>' in lost_page
