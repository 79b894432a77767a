"""The REST API as a client sees it: tokens, scopes, pages, ETags, idempotency, limits, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.api import tokens
from crm.extensions import db
from crm.models import Activity, ActivityKind, AuditEvent, Contact, Membership, utcnow
from tests import factories


def bearer(user, scope="write", **kwargs) -> dict:
    team = factories.team_of(user)
    _, secret = tokens.create_token(team.id, user.id, name="script", scope=scope, **kwargs)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(owner):
    return bearer(owner)


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


# --- authentication and scopes ----------------------------------------------------------------


def test_no_token_or_a_bad_one_is_401_without_cookies(client, api):
    assert client.get("/api/v1/contacts").status_code == 401
    response = client.get("/api/v1/contacts", headers={"Authorization": "Bearer rap_nope"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    ok = client.get("/api/v1/contacts", headers=api)
    assert ok.status_code == 200
    assert "Set-Cookie" not in ok.headers


def test_a_logged_in_session_is_not_enough(logged_in):
    """Cookies never authenticate the API (so there is nothing for CSRF to abuse)."""
    assert logged_in.get("/api/v1/contacts").status_code == 401
    assert logged_in.post("/api/v1/contacts", json={"first_name": "X"}).status_code == 401


def test_a_read_only_token_reads_but_cannot_write(client, owner, team):
    contact = factories.make_contact(team)
    read = bearer(owner, scope="read")
    assert client.get(f"/api/v1/contacts/{contact.id}", headers=read).status_code == 200
    assert (
        client.post("/api/v1/contacts", json={"first_name": "A"}, headers=read).status_code == 403
    )
    patch = client.patch(f"/api/v1/contacts/{contact.id}", json={"title": "x"}, headers=read)
    assert patch.status_code == 403
    assert client.delete(f"/api/v1/contacts/{contact.id}", headers=read).status_code == 403
    assert db.session.get(Contact, contact.id).title is None


def test_revoked_and_expired_tokens_stop_working(client, owner, team):
    headers = bearer(owner)
    assert client.get("/api/v1/contacts", headers=headers).status_code == 200
    token = tokens.tokens_of(team.id)[0]
    tokens.revoke_token(token, db.session.scalars(select(Membership)).first())
    assert client.get("/api/v1/contacts", headers=headers).status_code == 401

    soon = bearer(owner, expires_at=utcnow() + timedelta(seconds=30))
    assert client.get("/api/v1/contacts", headers=soon).status_code == 200
    live = [t for t in tokens.tokens_of(team.id) if t.active][0]
    live.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/contacts", headers=soon).status_code == 401


def test_a_removed_members_tokens_stop_working(client, owner, team):
    member = factories.make_member(team)
    headers = bearer(member)
    assert client.get("/api/v1/contacts", headers=headers).status_code == 200
    db.session.delete(db.session.scalars(select(Membership).filter_by(user_id=member.id)).one())
    db.session.commit()
    assert client.get("/api/v1/contacts", headers=headers).status_code == 401


def test_only_the_hash_of_a_token_is_stored(owner, team):
    token, secret = tokens.create_token(team.id, owner.id, name="ci", scope="read")
    assert secret.startswith("rap_") and len(secret) > 40
    assert secret not in (token.token_hash, token.prefix)
    assert token.token_hash == tokens.hash_secret(secret)


# --- the same services as the pages ---------------------------------------------------------


def _trail(contact_id):
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "contact", AuditEvent.entity_id == contact_id
        )
    ).all()
    entries = db.session.scalars(
        select(Activity).join(Activity.links).where(Activity.links.any(contact_id=contact_id))
    ).all()
    return [(e.action, e.actor_id) for e in events], [(a.kind, a.body) for a in entries]


def test_an_api_contact_is_like_one_made_on_the_page(client, logged_in, owner, api):
    page = logged_in.post(
        "/contacts/new",
        data={
            "first_name": "Ada",
            "last_name": "Page",
            "emails-0-email": "ada@page.example",
            "emails-0-label": "work",
            "company_name": "Analytical",
            "owner_id": str(owner.id),
            "lifecycle": "lead",
        },
    )
    assert page.status_code == 303
    made = client.post(
        "/api/v1/contacts",
        json={
            "first_name": "Ada",
            "last_name": "Api",
            "emails": [{"email": "ada@api.example"}],
            "company_name": "Analytical",
        },
        headers=api,
    )
    assert made.status_code == 201, made.get_json()
    by_page = db.session.scalars(select(Contact).where(Contact.last_name == "Page")).one()
    by_api = db.session.get(Contact, made.get_json()["id"])
    assert by_api.company_id == by_page.company_id  # found, not created twice
    assert by_api.owner_id == by_page.owner_id == owner.id
    assert _trail(by_api.id) == _trail(by_page.id)
    assert made.headers["Location"] == f"/api/v1/contacts/{by_api.id}"

    client.patch(f"/api/v1/contacts/{by_api.id}", json={"title": "Countess"}, headers=api)
    events, entries = _trail(by_api.id)
    assert events[-1] == ("update", owner.id)
    assert (ActivityKind.SYSTEM, "changed Title: — → Countess") in entries


def test_patch_changes_only_what_is_sent_and_delete_goes_to_the_trash(client, team, api):
    contact = factories.make_contact(
        team, first_name="Grace", last_name="Hopper", title="Rear admiral"
    )
    response = client.patch(
        f"/api/v1/contacts/{contact.id}", json={"tags": ["navy", "cobol"]}, headers=api
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "Rear admiral" and body["tags"] == ["cobol", "navy"]
    assert client.delete(f"/api/v1/contacts/{contact.id}", headers=api).status_code == 204
    assert client.get(f"/api/v1/contacts/{contact.id}", headers=api).status_code == 404
    assert db.session.get(Contact, contact.id).deleted_at is not None
    trashed = client.get("/api/v1/contacts?include_deleted=true", headers=api).get_json()["data"]
    assert [c["id"] for c in trashed] == [contact.id] and trashed[0]["deleted_at"]


# --- errors ---------------------------------------------------------------------------------


def test_422_names_each_bad_field(client, api):
    response = client.post(
        "/api/v1/contacts",
        json={"first_name": 5, "emails": [{"label": "work"}], "colour": "red"},
        headers=api,
    )
    assert response.status_code == 422
    body = response.get_json()
    assert response.mimetype == "application/problem+json"
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"first_name", "emails.0.email", "colour"}
    assert all(e["message"] and e["code"] for e in body["errors"])


def test_service_rules_answer_422_on_their_field(client, team, api):
    factories.make_contact(team, email="taken@example.com")
    response = client.post(
        "/api/v1/contacts", json={"emails": [{"email": "taken@example.com"}]}, headers=api
    )
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "emails.0"
    bad_query = client.get("/api/v1/contacts?limit=500&sort=shoe", headers=api)
    assert bad_query.status_code == 422
    assert {e["field"] for e in bad_query.get_json()["errors"]} == {"limit", "sort"}
    not_json = client.post("/api/v1/contacts", data="first_name=A", headers=api)
    assert not_json.status_code == 415


def test_unknown_ids_and_paths_are_404_problems(client, api):
    response = client.get("/api/v1/contacts/999999", headers=api)
    assert response.status_code == 404
    assert response.get_json()["status"] == 404
    assert client.get("/api/v1/nothing-here", headers=api).status_code == 404


# --- ETags ------------------------------------------------------------------------------------


def test_a_stale_if_match_is_412_and_nothing_changes(client, team, api):
    contact = factories.make_contact(team, first_name="Alan")
    first = client.get(f"/api/v1/contacts/{contact.id}", headers=api)
    etag = first.headers["ETag"]
    assert (
        client.get(
            f"/api/v1/contacts/{contact.id}", headers={**api, "If-None-Match": etag}
        ).status_code
        == 304
    )
    ok = client.patch(
        f"/api/v1/contacts/{contact.id}", json={"title": "Dr"}, headers={**api, "If-Match": etag}
    )
    assert ok.status_code == 200 and ok.headers["ETag"] != etag
    stale = client.patch(
        f"/api/v1/contacts/{contact.id}", json={"title": "Prof"}, headers={**api, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert (
        client.delete(
            f"/api/v1/contacts/{contact.id}", headers={**api, "If-Match": etag}
        ).status_code
        == 412
    )
    assert db.session.get(Contact, contact.id).title == "Dr"
    assert db.session.get(Contact, contact.id).deleted_at is None


# --- idempotency ----------------------------------------------------------------------------


def test_an_idempotency_key_replays_the_first_answer(client, api):
    headers = {**api, "Idempotency-Key": "signup-42"}
    body = {"first_name": "Linus", "emails": [{"email": "linus@example.com"}]}
    first = client.post("/api/v1/contacts", json=body, headers=headers)
    again = client.post("/api/v1/contacts", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert db.session.scalar(select(Contact.id).where(Contact.first_name == "Linus")) is not None
    assert len(db.session.scalars(select(Contact)).all()) == 1
    other = client.post("/api/v1/contacts", json={"first_name": "Other"}, headers=headers)
    assert other.status_code == 422
    assert other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    fresh = client.post(
        "/api/v1/contacts", json={"first_name": "Other"}, headers={**api, "Idempotency-Key": "k2"}
    )
    assert fresh.status_code == 201


def test_idempotency_keys_belong_to_one_token(client, owner, api):
    other = bearer(owner)
    body = {"first_name": "Ken"}
    client.post("/api/v1/contacts", json=body, headers={**api, "Idempotency-Key": "same"})
    client.post("/api/v1/contacts", json=body, headers={**other, "Idempotency-Key": "same"})
    assert len(db.session.scalars(select(Contact)).all()) == 2


# --- rate limits ------------------------------------------------------------------------------


def test_past_the_limit_answers_429_with_retry_after(app, client, owner, api):
    app.config["API_RATE_LIMIT"] = "3/minute"
    for remaining in (2, 1, 0):
        response = client.get("/api/v1/tags", headers=api)
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "3"
        assert response.headers["RateLimit-Remaining"] == str(remaining)
        assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
    limited = client.get("/api/v1/tags", headers=api)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Limits are per token: another token of the same person is not slowed down.
    assert client.get("/api/v1/tags", headers=bearer(owner)).status_code == 200


# --- pagination ------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["name", "-created", "id"])
def test_pages_never_skip_or_repeat_while_records_are_added(client, team, api, sort):
    from crm.models import Contact as C

    rows = [
        C(
            team_id=team.id,
            first_name=f"P{i:04d}",
            last_name="Walk",
            sort_name=f"p{(i * 7919) % 1000:04d} walk",
        )
        for i in range(1000)
    ]
    db.session.add_all(rows)
    db.session.commit()
    before = {c.id for c in rows}
    seen, url, added = [], f"/api/v1/contacts?limit=200&sort={sort}", 0
    while url:
        response = client.get(url, headers=api)
        assert response.status_code == 200
        page = response.get_json()
        assert len(page["data"]) <= 200
        seen += [c["id"] for c in page["data"]]
        # Someone adds contacts between our pages, sorting anywhere in the list.
        for name in ("aaa", "mmm", "zzz"):
            db.session.add(
                C(
                    team_id=team.id,
                    first_name=name,
                    last_name=str(added),
                    sort_name=f"{name} {added}",
                )
            )
            added += 1
        db.session.commit()
        url = page["next"]
    assert len(seen) == len(set(seen)), "a contact was listed twice"
    assert before <= set(seen), "a contact was skipped"


def test_filters_match_the_web_list_and_updated_since_syncs(client, team, api, owner):
    ada = factories.make_contact(team, first_name="Ada", last_name="Lovelace")
    factories.make_contact(team, first_name="Bob", last_name="Builder")
    web = client.get("/api/v1/contacts?q=lov", headers=api).get_json()["data"]
    assert [c["id"] for c in web] == [ada.id]
    mine = client.get(f"/api/v1/contacts?owner={owner.id}", headers=api).get_json()["data"]
    assert mine == []
    since = utcnow()
    client.patch(f"/api/v1/contacts/{ada.id}", json={"city": "London"}, headers=api)
    changed = client.get(
        "/api/v1/contacts", query_string={"updated_since": since.isoformat()}, headers=api
    ).get_json()["data"]
    assert [c["id"] for c in changed] == [ada.id]


def test_a_cursor_from_another_sort_is_refused(client, team, api):
    for _ in range(3):
        factories.make_contact(team)
    cursor = client.get("/api/v1/contacts?limit=1", headers=api).get_json()["next_cursor"]
    response = client.get(f"/api/v1/contacts?limit=1&sort=id&cursor={cursor}", headers=api)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "cursor"


def test_an_api_contact_is_found_by_search(app, client, team, api, run_jobs):
    from crm.search import services as search

    search.get_engine(app).rebuild([])
    made = client.post(
        "/api/v1/contacts", json={"first_name": "Zebulon", "last_name": "Quist"}, headers=api
    )
    run_jobs()
    hits = search.search(team.id, None, "zebulon").hits
    assert [(h.kind, h.id) for h in hits] == [("contact", made.get_json()["id"])]


def test_a_failed_create_frees_its_key_and_a_create_in_flight_is_409(client, owner, api):
    headers = {**api, "Idempotency-Key": "retry-me"}
    assert (
        client.post("/api/v1/contacts", json={"last_name": ""}, headers=headers).status_code == 422
    )
    fixed = client.post("/api/v1/contacts", json={"last_name": "Fixed"}, headers=headers)
    assert fixed.status_code == 201

    from crm.models import ApiIdempotencyKey

    token = tokens.tokens_of(factories.team_of(owner).id)[0]
    db.session.add(
        ApiIdempotencyKey(token_id=token.id, key="busy", request_hash="x", status=0, body="")
    )
    db.session.commit()
    busy = client.post(
        "/api/v1/contacts", json={"last_name": "B"}, headers={**api, "Idempotency-Key": "busy"}
    )
    assert busy.status_code == 409


def test_csrf_is_off_for_the_api_only(app, client, api, logged_in):
    app.config["WTF_CSRF_ENABLED"] = True
    made = client.post("/api/v1/contacts", json={"first_name": "Csrf"}, headers=api)
    assert made.status_code == 201
    page = logged_in.post("/settings/api-tokens", data={"name": "x", "scope": "read"})
    assert page.status_code == 400  # the cookie-authenticated token page still needs its token


def test_a_tags_only_change_is_seen_by_sync(client, team, api):
    contact = factories.make_contact(team)
    before = client.get(f"/api/v1/contacts/{contact.id}", headers=api).get_json()["updated_at"]
    client.patch(f"/api/v1/contacts/{contact.id}", json={"tags": ["renewal"]}, headers=api)
    changed = client.get(
        "/api/v1/contacts", query_string={"updated_since": before}, headers=api
    ).get_json()["data"]
    assert [c["id"] for c in changed] == [contact.id]
    assert changed[0]["updated_at"] > before
