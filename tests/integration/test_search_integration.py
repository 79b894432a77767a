"""Search in the app: pages, suggest, team isolation, ranking and freshness through the queue."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import Contact, ContactEmail, Membership, utcnow
from crm.search import services
from tests import factories


@pytest.fixture(autouse=True)
def empty_index(app):
    """Each test starts from an empty index (the index folder lives for the whole session)."""
    services.get_engine(app).rebuild([])
    yield


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


@pytest.fixture
def other():
    """A second team with its owner, holding records with the same words as ours."""
    user = factories.make_user(name="Otto Other", email="otto@example.com", team_name="Rivals")
    return user


def _ids(page):
    return [(h.kind, h.id) for h in page.hits]


# -- freshness ------------------------------------------------------------------------


def test_a_commit_enqueues_one_batched_job_on_the_search_queue(app, team):
    from crm.queue import queue

    q = queue("search")
    before = len(q)
    contact = Contact(team_id=team.id, first_name="Ada", last_name="Byron", sort_name="ada byron")
    contact.emails = [ContactEmail(team_id=team.id, email="ada@analytical.example")]
    db.session.add(contact)
    db.session.add(
        Contact(team_id=team.id, first_name="Bob", last_name="Byron", sort_name="bob byron")
    )
    db.session.commit()

    jobs = q.jobs[before:]
    assert len(jobs) == 1
    assert jobs[0].func_name == "jobs.search.index_changes"
    items = {tuple(i) for i in jobs[0].args[0]}
    assert (team.id, "contact", contact.id) in items
    assert len(items) == 2  # the email row maps to its contact: no duplicate


def test_a_rollback_enqueues_nothing(app, team):
    from crm.queue import queue

    before = len(queue("search"))
    db.session.add(Contact(team_id=team.id, first_name="Gone", last_name="X", sort_name="gone x"))
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert len(queue("search")) == before


def test_new_and_edited_records_are_found_after_the_job(team, run_jobs):
    contact = factories.make_contact(team, first_name="Zebulon", last_name="Quist")
    assert _ids(services.search(team.id, None, "zebulon")) == []  # not yet: the job has not run
    run_jobs()
    assert _ids(services.search(team.id, None, "zebulon")) == [("contact", contact.id)]

    contact.first_name = "Zacharias"
    db.session.commit()
    run_jobs()
    assert _ids(services.search(team.id, None, "zacharias")) == [("contact", contact.id)]
    assert _ids(services.search(team.id, None, "zebulon")) == []


def test_a_changed_email_is_found_by_its_address(team, run_jobs):
    contact = factories.make_contact(team, first_name="Mia", email="mia@old.example")
    run_jobs()
    contact.emails[0].email = "mia@new.example"
    db.session.commit()
    run_jobs()
    assert _ids(services.search(team.id, None, "mia@new.example")) == [("contact", contact.id)]
    old = services.search(team.id, None, "mia@old.example")
    assert old.relaxed  # only the any-word fallback ("mia", "example") still matches


def test_deleted_records_leave_the_results(team, run_jobs):
    contact = factories.make_contact(team, first_name="Ephemera", last_name="Lane")
    run_jobs()
    assert services.search(team.id, None, "ephemera").total == 1
    db.session.delete(contact)
    db.session.commit()
    run_jobs()
    assert services.search(team.id, None, "ephemera").total == 0


def test_trashed_records_leave_the_results_and_come_back_on_restore(team, run_jobs):
    company = factories.make_company(team, name="Trashworthy Widgets")
    deal = factories.make_deal(team, title="Trashworthy renewal")
    run_jobs()
    assert services.search(team.id, None, "trashworthy").total == 2
    company.deleted_at = deal.deleted_at = utcnow()
    db.session.commit()
    run_jobs()
    assert services.search(team.id, None, "trashworthy").total == 0
    company.deleted_at = None
    db.session.commit()
    run_jobs()
    assert _ids(services.search(team.id, None, "trashworthy")) == [("company", company.id)]


def test_notes_calls_and_emails_are_indexed_with_participants_and_attachments(team, run_jobs):
    contact = factories.make_contact(team, first_name="Priya", last_name="Natarajan")
    note = factories.make_activity(
        team, contacts=[contact], body="Discussed the Kilimanjaro rollout"
    )
    email = factories.make_activity(
        team,
        contacts=[contact],
        kind="email",
        subject="Quarterly figures",
        body="See attached.",
        data={
            "from": "cfo@client.example",
            "to": ["me@us.example"],
            "attachments": [{"filename": "budget-xlsx-final.pdf"}],
        },
    )
    run_jobs()
    assert _ids(services.search(team.id, None, "kilimanjaro")) == [("note", note.id)]
    assert _ids(services.search(team.id, None, "quarterly figures")) == [("email", email.id)]
    assert ("email", email.id) in _ids(services.search(team.id, None, "cfo@client.example"))
    assert ("email", email.id) in _ids(services.search(team.id, None, "budget"))
    hit = services.search(team.id, None, "kilimanjaro").hits[0]
    assert "Priya Natarajan" in hit.subtitle
    assert "<mark" in hit.snippet


def test_tasks_are_indexed_and_system_activities_are_not(team, run_jobs):
    task = factories.make_task(team, title="Send the Marmalade proposal", notes="by friday")
    factories.make_activity(team, kind="system", body="Marmalade field changed")
    run_jobs()
    assert _ids(services.search(team.id, None, "marmalade")) == [("task", task.id)]


# -- ranking --------------------------------------------------------------------------


def test_an_exact_name_match_ranks_above_a_body_mention(team, run_jobs):
    mentioner = factories.make_contact(team, first_name="Ann", last_name="Lee")
    factories.make_activity(team, contacts=[mentioner], body="Ask Fitzgerald about pricing")
    target = factories.make_contact(team, first_name="Rose", last_name="Fitzgerald")
    factories.make_activity(
        team, contacts=[mentioner], body="Fitzgerald again, Fitzgerald, Fitzgerald!"
    )
    run_jobs()
    page = services.search(team.id, None, "fitzgerald")
    assert page.total == 3
    assert (page.hits[0].kind, page.hits[0].id) == ("contact", target.id)


# -- isolation ------------------------------------------------------------------------


def _twin_records(team):
    contact = factories.make_contact(team, first_name="Gunnar", last_name="Twinsby", email=None)
    factories.make_activity(team, contacts=[contact], body="Gunnar wants the twinsby upgrade")
    factories.make_company(team, name="Twinsby Holdings")
    return contact


def test_two_teams_with_identical_words_never_see_each_other(
    client, auth, owner, team, other, run_jobs
):
    ours = _twin_records(team)
    theirs_team = factories.team_of(other)
    theirs = _twin_records(theirs_team)
    run_jobs()

    mine = services.search(team.id, None, "twinsby")
    assert mine.total == 3 and ("contact", theirs.id) not in _ids(mine)
    assert {k for k, _ in _ids(services.search(theirs_team.id, None, "twinsby"))} == {
        "contact",
        "note",
        "company",
    }

    auth.login(owner.email)
    body = client.get("/search?q=twinsby").get_data(as_text=True)
    assert f"suggest-contact-{ours.id}" not in body  # (suggest ids are not on this page)
    assert body.count("data-list-item") == 3
    assert "Rivals" not in body
    suggest = client.get("/search/suggest?q=gun", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert f'id="suggest-contact-{ours.id}"' in suggest
    assert f'id="suggest-contact-{theirs.id}"' not in suggest

    auth.logout()
    auth.login(other.email)
    suggest = client.get("/search/suggest?q=gun").get_data(as_text=True)
    assert f'id="suggest-contact-{theirs.id}"' in suggest
    assert f'id="suggest-contact-{ours.id}"' not in suggest
    # Naming the other team's kind or owner filters does not cross over either.
    body = client.get(f"/search?q=twinsby owner:{owner.id}").get_data(as_text=True)
    assert "data-list-item" not in body


# -- pages ----------------------------------------------------------------------------


def test_search_page_full_and_partial(logged_in, team, run_jobs, htmx_headers):
    for n in range(25):
        factories.make_contact(team, first_name=f"Pagey{n}", last_name="Paginator")
    factories.make_company(team, name="Paginator Group")
    run_jobs()

    full = logged_in.get("/search?q=paginator")
    html = full.get_data(as_text=True)
    assert full.status_code == 200 and "<html" in html
    assert 'id="search-results"' in html
    assert html.count("data-list-item") == 20
    assert "Page 1 of 2" in html
    assert 'Contacts <span class="badge">25</span>' in html
    assert 'Companies <span class="badge">1</span>' in html

    partial = logged_in.get("/search?q=paginator&kind=company", headers=htmx_headers)
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<section id="search-results"')
    assert html.count("data-list-item") == 1

    second = logged_in.get("/search?q=paginator&kind=contact&page=2").get_data(as_text=True)
    assert second.count("data-list-item") == 5


def test_search_page_empty_and_no_results(logged_in):
    assert "Type a name" in logged_in.get("/search").get_data(as_text=True)
    assert "Nothing found" in logged_in.get("/search?q=nothingatall").get_data(as_text=True)


def test_quoted_phrases_and_filters(logged_in, owner, team, run_jobs):
    member = factories.make_member(team, name="Carla Jensen", email="carla@us.example")
    a = factories.make_contact(team, first_name="Phrase", last_name="One", owner_id=member.id)
    b = factories.make_contact(team, first_name="Phrase", last_name="Two", owner_id=owner.id)
    factories.make_activity(team, contacts=[a], body="the blue harbour project")
    factories.make_activity(team, contacts=[b], body="the harbour is blue")
    run_jobs()

    assert len(services.search(team.id, owner.id, '"blue harbour"').hits) == 1
    assert len(services.search(team.id, owner.id, "blue harbour").hits) == 2
    assert _ids(services.search(team.id, owner.id, "phrase owner:me")) == [("contact", b.id)]
    for spelled in ("carla@us.example", '"Carla Jensen"', "carla"):
        got = _ids(services.search(team.id, owner.id, f"phrase owner:{spelled}"))
        assert got == [("contact", a.id)], spelled
    assert services.search(team.id, owner.id, "phrase owner:nobody").total == 0
    assert {k for k, _ in _ids(services.search(team.id, owner.id, "harbour kind:note"))} == {"note"}


def test_a_query_longer_than_the_box_allows_is_refused_not_searched(logged_in, htmx_headers):
    q = " ".join(f"owner:someone{n}" for n in range(3000))
    for headers in ({}, htmx_headers):
        response = logged_in.get("/search", query_string={"q": q}, headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "A search can be at most 200 characters" in html
        assert "Nothing found" not in html


def test_thousands_of_owner_tokens_cost_one_query(team, owner):
    member = factories.make_member(team, name="Carla Jensen", email="carla@us.example")
    team_id, owner_id, member_id = team.id, owner.id, member.id
    text = " ".join(f"owner:someone{n}" for n in range(3000)) + " owner:carla owner:me"
    resolved, queries = _count_queries(lambda: services.resolve_owners(team_id, owner_id, text))
    assert queries <= 1
    assert resolved.endswith(f"owner:0 owner:{member_id} owner:{owner_id}")
    # The service cuts the text to the box's limit before resolving anything.
    page, queries = _count_queries(lambda: services.search(team_id, owner_id, text))
    assert page.total == 0 and queries <= 1


def test_owner_names_resolve_only_within_the_team(team, other):
    outsider = factories.team_of(other)
    assert services.resolve_owners(team.id, 1, "x owner:otto@example.com") == "x owner:0"
    assert services.resolve_owners(outsider.id, 1, "x owner:otto@example.com") == (
        f"x owner:{other.id}"
    )


def test_suggest_groups_by_kind_and_highlights(logged_in, team, run_jobs, htmx_headers):
    contact = factories.make_contact(team, first_name="Marguerite", last_name="Olsen")
    factories.make_company(team, name="Margate Fisheries")
    run_jobs()
    response = logged_in.get("/search/suggest?q=marg", headers=htmx_headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.index("Contacts") < html.index("Companies")
    assert '<mark class="match">Marg</mark>uerite' in html
    assert f'id="suggest-contact-{contact.id}"' in html
    assert "All results for" in html
    assert logged_in.get("/search/suggest?q=m").get_data(as_text=True).strip() == (
        logged_in.get("/search/suggest?q=").get_data(as_text=True).strip()
    )


def test_the_shell_has_the_search_box_and_the_shortcuts_help(logged_in):
    html = logged_in.get("/").get_data(as_text=True)
    assert 'id="search-q"' in html and 'for="search-q"' in html
    assert 'id="shortcuts"' in html and "js/search.js" in html
    assert 'aria-label="Open search"' in html


def test_search_needs_a_login(client):
    assert client.get("/search?q=x").status_code == 302
    assert client.get("/search/suggest?q=x").status_code == 302


# -- rebuild --------------------------------------------------------------------------


def test_reindex_command_rebuilds_from_the_database(app, team):
    team_id = team.id
    factories.make_contact(team, first_name="Rebuildia", last_name="Stone")
    factories.make_task(team, title="Rebuildia follow-up")
    # No jobs run: only the rebuild can find them.
    result = app.test_cli_runner().invoke(args=["crm", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Indexed 2 records" in result.output
    assert services.search(team_id, None, "rebuildia").total == 2


def test_serve_hook_rebuilds_a_missing_index_in_the_background(app, team, tmp_path):
    factories.make_contact(team, first_name="Serveton", last_name="Hook")
    saved = app.extensions.pop("search")
    app.config["CRM_DATA_DIR"] = str(tmp_path)
    try:
        thread = services.rebuild_if_needed(app)
        assert thread is not None
        thread.join(30)
        assert services.search(team.id, None, "serveton").total == 1
        # A second start finds the index current: no rebuild.
        app.extensions.pop("search")
        assert services.rebuild_if_needed(app) is None
    finally:
        app.extensions["search"] = saved


def test_membership_changes_are_not_indexed(app, team):
    from crm.queue import queue

    before = len(queue("search"))
    m = db.session.scalars(select(Membership).where(Membership.team_id == team.id)).first()
    m.role = m.role
    db.session.commit()
    assert len(queue("search")) == before


def test_the_job_payload_is_json_safe(app, team):
    from crm.queue import queue

    factories.make_contact(team)
    job = queue("search").jobs[-1]
    json.dumps(job.args)


# -- bulk reads -----------------------------------------------------------------------


def _count_queries(fn):
    from sqlalchemy import event

    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return result, len(statements)


def test_documents_are_built_in_bulk_without_n_plus_1(team):
    from crm.search import indexing

    company = factories.make_company(team, name="Bulk Co")
    contacts = [
        factories.make_contact(team, phone=f"+1555000{n:04d}", company_id=company.id)
        for n in range(30)
    ]
    activities = [factories.make_activity(team, contacts=[c]) for c in contacts]
    items = [(team.id, "contact", c.id) for c in contacts]
    items += [(team.id, "activity", a.id) for a in activities]
    db.session.expire_all()
    (docs, deletes), queries = _count_queries(lambda: indexing.resolve(items))
    assert len(docs) == 60 and deletes == [
        d for d in deletes if d[1] in ("call", "meeting", "email")
    ]
    assert queries <= 10, queries
    contact_doc = next(d for d in docs if d["kind"] == "contact")
    assert contact_doc["company"] == "Bulk Co" and contact_doc["phones"]
