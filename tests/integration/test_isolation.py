"""Every route of the URL map, walked as another team's owner, answers 404 for our objects;
every state-changing route refuses a request without the CSRF token; and another team's ids put
in every id-like form field of every POST route change none of that team's data.

Each URL argument that names a record must have a maker in OBJECT_MAKERS: a new route with a new
argument fails here until it is registered, and a route that forgets the scoping helper (or
checks input before looking the record up) fails because it does not answer 404.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from crm.extensions import db
from crm.models import (
    BulkSend,
    EmailTemplate,
    InboundMessage,
    Invitation,
    LostReason,
    NeverLog,
    OutboundEmail,
    Sequence,
    Tag,
    Team,
    User,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from tests import factories

# URL argument name → makes one record in `team` (owned by `user`) and returns its id.
OBJECT_MAKERS: dict[str, Callable[[Team, User], int]] = {
    "team_id": lambda team, user: team.id,
    "membership_id": lambda team, user: factories.make_member(team).memberships[0].id,
    "invitation_id": lambda team, user: _add(
        Invitation(
            team_id=team.id,
            email="someone@example.com",
            token_hash=secrets.token_hex(32),
            expires_at=utcnow().replace(year=utcnow().year + 1),
        )
    ),
    "outbox_id": lambda team, user: _add(
        OutboundEmail(
            team_id=team.id,
            kind="test",
            to_addr="a@example.com",
            subject="s",
            body_text="b",
            message_id=f"<isolation-{secrets.token_hex(4)}@test>",
        )
    ),
    "inbound_id": lambda team, user: _add(
        InboundMessage(
            team_id=team.id,
            user_id=user.id,
            via="smtp",
            envelope_to="x@in.rapport.test",
            raw=b"Subject: hi\r\n\r\nhello",
            size=22,
        )
    ),
    "contact_id": lambda team, user: factories.make_contact(team).id,
    "company_id": lambda team, user: factories.make_company(team).id,
    "deal_id": lambda team, user: factories.make_deal(team).id,
    "task_id": lambda team, user: factories.make_task(team).id,
    "activity_id": lambda team, user: (
        factories.make_activity(team, contacts=[factories.make_contact(team)]).id
    ),
    "pipeline_id": lambda team, user: factories.make_pipeline(team).id,
    "attachment_id": lambda team, user: factories.make_email_attachment(team).id,
    "email_message_id": lambda team, user: _with_html(
        factories.make_email_attachment(team).email_message
    ),
    "never_log_id": lambda team, user: _add(NeverLog(team_id=team.id, pattern="x.example")),
    "stage_id": lambda team, user: factories.make_pipeline(team).stages[0].id,
    "other_id": lambda team, user: factories.make_contact(team).id,
    "import_id": lambda team, user: factories.make_import(team, user).id,
    "merge_id": lambda team, user: factories.make_merge(team, user).id,
    "lost_reason_id": lambda team, user: _add(LostReason(team_id=team.id, name="Too pricey")),
    "webhook_id": lambda team, user: _webhook(team).id,
    "delivery_id": lambda team, user: _add(
        WebhookDelivery(
            team_id=team.id, webhook_id=_webhook(team).id, event_id="e1", event="x", payload="{}"
        )
    ),
    "bulk_id": lambda team, user: _add(
        BulkSend(team_id=team.id, author_id=user.id, audience="All", subject="s", body="b")
    ),
    "sequence_id": lambda team, user: _add(Sequence(team_id=team.id, name="Follow up")),
    "template_id": lambda team, user: _add(
        EmailTemplate(team_id=team.id, name="Hello", subject="Hi", body="Hello {{ contact.name }}")
    ),
}

# Endpoints whose arguments are secrets, not record ids; their own tests cover bad values.
NOT_RECORD_ROUTES = {
    "static",
    "auth.reset",
    "auth.accept_invite",
    "auth.confirm_signup",
    "tasks.calendar_feed",
    "outbound.unsubscribe",
}


def _with_html(email) -> int:
    email.html = "<p>formatted</p>"
    db.session.commit()
    return email.id


def _webhook(team: Team) -> Webhook:
    webhook = Webhook(
        team_id=team.id, url="https://example.com/h", events=["contact.created"], secret="s"
    )
    _add(webhook)
    return webhook


def _add(row) -> int:
    db.session.add(row)
    db.session.commit()
    return row.id


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_RECORD_ROUTES or rule.endpoint.endswith(".public"):
            continue
        if not rule.arguments:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_with_a_record_id_is_registered(app):
    unknown = {
        f"{rule.endpoint}: <{arg}>"
        for rule, _ in _routes(app)
        for arg in rule.arguments
        if arg not in OBJECT_MAKERS
    }
    assert not unknown, f"add these URL arguments to OBJECT_MAKERS: {sorted(unknown)}"


def test_another_team_gets_404_on_every_route(app, client, auth):
    ours = factories.make_user(name="Ours", email="ours@example.com", team_name="Ours")
    our_team = factories.team_of(ours)
    theirs = factories.make_user(name="Theirs", email="theirs@example.com", team_name="Theirs")
    ids: dict[str, int] = {}
    for rule, _ in _routes(app):
        for arg in rule.arguments:
            if arg not in ids and arg in OBJECT_MAKERS:
                ids[arg] = OBJECT_MAKERS[arg](our_team, ours)
    auth.login(theirs.email)
    checked, leaks = 0, []
    for rule, method in _routes(app):
        if not set(rule.arguments) <= ids.keys():
            continue
        url = rule.build({arg: ids[arg] for arg in rule.arguments}, append_unknown=False)[1]
        response = client.open(url, method=method)
        checked += 1
        if response.status_code != 404:
            leaks.append(f"{method} {url} ({rule.endpoint}) → {response.status_code}")
    assert checked > 0
    assert not leaks, "routes that do not answer 404 to another team:\n" + "\n".join(leaks)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/settings/",
        "/settings/members",
        "/settings/outbox",
        "/settings/webhooks",
        "/reports/forecast",
    ],
)
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- Every state-changing route: CSRF, and another team's ids in every form field ------------

# The one endpoint without a CSRF token: a mail server posts to it with its bearer secret.
CSRF_EXEMPT = {"inbound.receive"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Reached without a team (log-in and friends): the CSRF walk covers them, the id walk does not.
ACCOUNT_ROUTES = {
    "auth.signup",
    "auth.login",
    "auth.logout",
    "auth.forgot",
    "auth.reset",
    "auth.accept_invite",
}
# Run last: they delete the records the other routes need; and after them, the ones that move
# the session to another team.
DESTRUCTIVE_WORDS = ("delete", "remove", "revert", "undo", "discard")
TEAM_MOVING_WORDS = ("switch", "new_team")


def _state_changing_rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & STATE_CHANGING):
            yield rule, method


def _url(rule, ids: dict[str, int]) -> str:
    values = {arg: ids.get(arg, "not-a-real-token") for arg in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def test_every_state_changing_route_refuses_a_request_without_the_csrf_token(app, client, auth):
    ours = factories.make_user(name="Ours", email="ours@example.com", team_name="Ours")
    team = factories.team_of(ours)
    ids = {arg: make(team, ours) for arg, make in OBJECT_MAKERS.items()}
    auth.login(ours.email)
    app.config["WTF_CSRF_ENABLED"] = True
    exempt = {rule.endpoint for rule in app.url_map.iter_rules()} & CSRF_EXEMPT
    assert exempt == CSRF_EXEMPT, "the documented exemption is gone: update this walk"
    checked, accepted = 0, []
    for rule, method in _state_changing_rules(app):
        if rule.endpoint in CSRF_EXEMPT:
            continue
        for headers in ({}, {"HX-Request": "true"}):
            response = client.open(_url(rule, ids), method=method, data={}, headers=headers)
            checked += 1
            if response.status_code != 400:
                accepted.append(f"{method} {rule.rule} {headers} → {response.status_code}")
    assert checked > 40
    assert not accepted, "state changes accepted without a CSRF token:\n" + "\n".join(accepted)
    assert factories.team_of(ours).name == "Ours"


def _form_field_names() -> set[str]:
    """Every field name of every form class, plus the lists routes read by hand."""
    from flask_wtf import FlaskForm
    from wtforms.fields.core import UnboundField

    import crm  # noqa: F401  (the app is built: every form module is imported)

    names, todo = {"ids", "contact", "stage", "next"}, [FlaskForm]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        for klass in cls.__mro__:
            names.update(k for k, v in vars(klass).items() if isinstance(v, UnboundField))
    return names


ID_WORDS = [
    ("contact", "contact_id"),
    ("other", "contact_id"),
    ("ids", "contact_id"),
    ("company", "company_id"),
    ("deal", "deal_id"),
    ("after", "deal_id"),
    ("stage", "stage_id"),
    ("pipeline", "pipeline_id"),
    ("task", "task_id"),
    ("activity", "activity_id"),
    ("reason", "lost_reason_id"),
    ("membership", "membership_id"),
    ("owner", "user"),
    ("assignee", "user"),
    ("user", "user"),
    ("tag", "tag"),
]


def _their_ids_in_every_id_field(theirs: dict[str, int]) -> dict[str, object]:
    """Plausible values for the other fields, and one of `theirs` in every id-like field."""
    data: dict[str, object] = {
        "title": "Walked",
        "name": "Walked",
        "first_name": "Walked",
        "last_name": "Through",
        "team_name": "Walked",
        "body": "walked",
        "action": "owner",
        "value": "10",
        "currency": "USD",
        "role": "member",
        "email": "walked@example.com",
        "kind": "note",
        "status": "open",
        "confirm": "yes",
    }
    for name in _form_field_names():
        for word, kind in ID_WORDS:
            if word in name and (name.endswith(("_id", "_value")) or name in {"ids", word}):
                data[name] = theirs[kind]
                break
    return data


def _team_rows(team_id: int) -> dict[str, list[tuple]]:
    """Every row of the team, and every link row that points at one, as plain tuples."""
    from sqlalchemy import select

    team_ids: dict[str, set] = {}
    snapshot: dict[str, list[tuple]] = {}
    tables = db.metadata.sorted_tables
    for table in tables:
        if "team_id" in table.c:
            rows = db.session.execute(select(table).where(table.c.team_id == team_id)).all()
            snapshot[table.name] = sorted(tuple(map(repr, r)) for r in rows)
            if "id" in table.c:
                team_ids[table.name] = {r.id for r in rows}
    for table in tables:
        if "team_id" in table.c:
            continue
        links = [
            (column, team_ids[fk.column.table.name])
            for column in table.c
            for fk in column.foreign_keys
            if fk.column.table.name in team_ids
        ]
        if links:
            from sqlalchemy import or_

            clause = or_(*(column.in_(ids) for column, ids in links))
            rows = (
                db.session.execute(select(table).where(clause)).all() if clause is not None else []
            )
            snapshot[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return snapshot


def test_another_teams_ids_in_every_form_field_change_nothing_of_theirs(app, client, auth):
    from crm.models import Tag

    victim = factories.make_user(name="Victim", email="victim@example.com", team_name="Victim")
    victims_team = factories.team_of(victim)
    attacker = factories.make_user(name="Attacker", email="attacker@example.com", team_name="B")
    attackers_team = factories.team_of(attacker)
    theirs = {arg: make(victims_team, victim) for arg, make in OBJECT_MAKERS.items()}
    theirs["user"] = victim.id
    theirs["tag"] = _add(Tag(team_id=victims_team.id, name="victim-tag"))
    ours = {arg: make(attackers_team, attacker) for arg, make in OBJECT_MAKERS.items()}
    data = _their_ids_in_every_id_field(theirs)
    victim_id, attacker_email = victims_team.id, attacker.email
    before = _team_rows(victim_id)
    assert sum(map(len, before.values())) > 20, "the snapshot sees the victim's rows"
    auth.login(attacker_email)
    rules = [
        (rule, method)
        for rule, method in _state_changing_rules(app)
        if rule.endpoint not in CSRF_EXEMPT | ACCOUNT_ROUTES
    ]
    rules.sort(
        key=lambda rm: (
            any(w in rm[0].endpoint for w in TEAM_MOVING_WORDS),
            any(w in rm[0].endpoint for w in DESTRUCTIVE_WORDS),
        )
    )
    checked, errors, changed = 0, [], []
    for rule, method in rules:
        url = _url(rule, ours)
        try:
            response = client.open(url, method=method, data=data)
            status = response.status_code
        except Exception as error:  # TESTING re-raises what would be a 500
            db.session.rollback()
            status = f"500 ({type(error).__name__}: {error})"[:300]
        checked += 1
        if not isinstance(status, int) or status >= 500:
            errors.append(f"{method} {url} ({rule.endpoint}) → {status}")
        db.session.expire_all()
        after = _team_rows(victim_id)
        if after != before:
            diff = sorted(t for t in after if after[t] != before[t])
            changed.append(f"{method} {url} ({rule.endpoint}) changed {diff}")
            before = after
        if client.get("/").status_code != 200:  # logged out or team lost: sign in again
            auth.login(attacker_email)
    assert checked > 40
    assert not errors, "server errors:\n" + "\n".join(errors)
    assert not changed, "another team's ids changed its data:\n" + "\n".join(changed)


# Query-string filters name records too (the reports' pipeline, owner and tag): every GET route
# that reads them answers 404 to another team's ids, like a record in the path.
QUERY_FILTERS: dict[str, Callable[[Team, User], int]] = {
    "pipeline": lambda team, user: factories.make_pipeline(team).id,
    "owner": lambda team, user: user.id,
    "tag": lambda team, user: _add(Tag(team_id=team.id, name="vip")),
}
QUERY_FILTER_PREFIXES = ("reports.",)


def test_another_teams_ids_in_report_filters_are_404(app, client, auth):
    ours = factories.make_user(name="Ours", email="ours@example.com", team_name="Ours")
    our_team = factories.team_of(ours)
    theirs = factories.make_user(name="Theirs", email="theirs@example.com", team_name="Theirs")
    ids = {name: make(our_team, ours) for name, make in QUERY_FILTERS.items()}
    auth.login(theirs.email)
    checked, leaks = 0, []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(QUERY_FILTER_PREFIXES) or rule.arguments:
            continue
        if "GET" not in rule.methods:
            continue
        for name, id_ in ids.items():
            url = f"{rule.rule}?{name}={id_}"
            response = client.get(url)
            checked += 1
            if response.status_code != 404:
                leaks.append(f"GET {url} ({rule.endpoint}) → {response.status_code}")
    assert checked >= 30  # five reports and their CSVs, three filters each
    assert not leaks, "report filters that accept another team's ids:\n" + "\n".join(leaks)
