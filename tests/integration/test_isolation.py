"""Every route of the URL map, walked as another team's owner, answers 404 for our objects.

Each URL argument that names a record must have a maker in OBJECT_MAKERS: a new route with a new
argument fails here until it is registered, and a route that forgets the scoping helper (or
checks input before looking the record up) fails because it does not answer 404.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crm.extensions import db
from crm.models import (
    InboundMessage,
    Invitation,
    LostReason,
    NeverLog,
    OutboundEmail,
    Tag,
    Team,
    User,
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
            token_hash="x" * 64,
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
            message_id="<isolation@test>",
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
    "field_id": lambda team, user: factories.make_custom_field(team).id,
    "record_id": lambda team, user: factories.make_contact(team).id,
    "view_id": lambda team, user: factories.make_saved_view(team, user).id,
}

# Endpoints whose arguments are secrets, not record ids; their own tests cover bad values.
NOT_RECORD_ROUTES = {"static", "auth.reset", "auth.accept_invite", "tasks.calendar_feed"}


def _with_html(email) -> int:
    email.html = "<p>formatted</p>"
    db.session.commit()
    return email.id


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
    "path", ["/", "/settings/", "/settings/members", "/settings/outbox", "/reports/forecast"]
)
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


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
