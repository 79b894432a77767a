"""An export is its list: each filter and sort of a list gives the same records, in the same
order, on screen and in its CSV file (contacts, companies, deals, tasks).

The data is made so that every filter excludes something and every sort changes the order;
another team's look-alike rows and trashed rows must appear in neither.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from crm.deals import queries as deal_queries
from crm.extensions import db
from crm.models import DealStatus, Lifecycle, Tag, Task, utcnow
from crm.tasks import services as tasks
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def _screen(client, url: str, row_id: str) -> list[int]:
    response = client.get(url)
    # Not the status code: /deals/list answers "0 open" today (issue 19, item 16).
    assert "<html" in response.get_data(as_text=True)
    return [int(i) for i in re.findall(rf'id="{row_id}-(\d+)"', response.get_data(as_text=True))]


def _file(client, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def _check(on_screen: list[int], in_file: list[int], everything: list[int], args: dict) -> None:
    assert in_file == on_screen
    assert len(set(on_screen)) == len(on_screen)
    if any(k != "sort" for k in args):
        assert on_screen and len(on_screen) < len(everything), "the filter must exclude some"
    elif args:
        assert on_screen != everything, "the sort must change the order"


# --- Contacts ---------------------------------------------------------------------------------


@pytest.fixture
def contacts(team, owner):
    now = utcnow()
    mia = factories.make_member(team, name="Mia Member")
    vip = Tag(team_id=team.id, name="vip")
    acme = factories.make_company(team, name="Acme")
    ada = factories.make_contact(
        team,
        first_name="Ada",
        last_name="Lovelace",
        phone="+4930123456",
        owner_id=owner.id,
        lifecycle=Lifecycle.CUSTOMER,
        company_id=acme.id,
        last_activity_at=now - timedelta(days=2),
        created_at=now - timedelta(days=300),
    )
    ada.tags = [vip]
    bob = factories.make_contact(
        team,
        first_name="Bob",
        last_name="Builder",
        email="bob@builder.example",
        lifecycle=Lifecycle.LEAD,
        created_at=now - timedelta(days=100),
    )
    cara = factories.make_contact(
        team,
        first_name="Cara",
        last_name="Chen",
        phone="+15551234567",
        owner_id=mia.id,
        last_activity_at=now - timedelta(days=60),
        created_at=now - timedelta(days=200),
    )
    cara.tags = [vip]
    dan = factories.make_contact(
        team,
        first_name="Dan",
        last_name="Duck",
        owner_id=owner.id,
        lifecycle=Lifecycle.CUSTOMER,
        last_activity_at=now - timedelta(days=40),
        created_at=now - timedelta(days=10),
    )
    gone = factories.make_contact(team, first_name="Ada", last_name="Trashed", deleted_at=now)
    factories.make_contact(factories.team_of(factories.make_user()), first_name="Ada")
    db.session.commit()
    return {
        "owner": owner.id,
        "mia": mia.id,
        "vip": vip.id,
        "acme": acme.id,
        "names": {c.first_name: c.id for c in (ada, bob, cara, dan)},
        "everything": [ada.id, bob.id, cara.id, dan.id],
        "trashed": gone.id,
    }


CONTACT_ARGS = [
    pytest.param({}, id="all"),
    pytest.param({"q": "ada"}, id="q-name"),
    pytest.param({"q": "lovel"}, id="q-last-name"),
    pytest.param({"q": "bob@b"}, id="q-email"),
    pytest.param({"q": "+49 30 12"}, id="q-phone"),
    pytest.param({"q": "30123"}, id="q-digits-inside-a-number"),
    pytest.param({"owner": "{owner}"}, id="owner"),
    pytest.param({"owner": "0"}, id="owner-nobody"),
    pytest.param({"tag": "{vip}"}, id="tag"),
    pytest.param({"stage": "customer"}, id="stage"),
    pytest.param({"company": "{acme}"}, id="company"),
    pytest.param({"idle": "30"}, id="idle"),
    pytest.param({"sort": "newest"}, id="sort-newest"),
    pytest.param({"sort": "recent"}, id="sort-recent"),
    pytest.param({"tag": "{vip}", "idle": "30", "sort": "recent"}, id="tag-idle-recent"),
]


def _fill(args: dict, ids: dict) -> dict:
    return {k: v.format(**ids) for k, v in args.items()}


@pytest.mark.parametrize("args", CONTACT_ARGS)
def test_contact_export_is_the_contact_list(logged_in, contacts, args):
    args = _fill(args, contacts)
    query = urlencode(args)
    on_screen = _screen(logged_in, f"/contacts?{query}", "contact-row")
    in_file = [
        contacts["names"][row["First name"]]
        for row in _file(logged_in, f"/contacts/export.csv?{query}")
    ]
    if args.get("q") == "30123":  # digits inside a number match nothing, on screen and in file
        assert on_screen == in_file == []
        return
    _check(on_screen, in_file, contacts["everything"], args)


def test_the_contact_list_export_link_follows_the_filters_changed_in_place(
    logged_in, contacts, htmx_headers
):
    """The results region brings a fresh Export link along (htmx swaps it out of band)."""
    response = logged_in.get(
        f"/contacts?tag={contacts['vip']}&idle=30",
        headers={**htmx_headers, "HX-Target": "contact-results"},
    )
    html = response.get_data(as_text=True)
    assert "<html" not in html
    link = re.search(r'<a id="contacts-export"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in link
    assert f'href="/contacts/export.csv?tag={contacts["vip"]}&amp;idle=30"' in link


# --- Companies --------------------------------------------------------------------------------


@pytest.fixture
def companies(team, owner):
    mia = factories.make_member(team, name="Mia Member")
    vip = Tag(team_id=team.id, name="vip")
    acme = factories.make_company(team, name="Acme", domain="acme.example", owner_id=owner.id)
    acme.tags = [vip]
    globex = factories.make_company(team, name="Globex", domain="gx.example", owner_id=mia.id)
    initech = factories.make_company(team, name="Initech", domain="initech.example")
    initech.tags = [vip]
    factories.make_company(team, name="Acme Trashed", deleted_at=utcnow())
    factories.make_company(factories.team_of(factories.make_user()), name="Acme")
    db.session.commit()
    return {
        "owner": owner.id,
        "vip": vip.id,
        "names": {c.name: c.id for c in (acme, globex, initech)},
        "everything": [acme.id, globex.id, initech.id],
    }


@pytest.mark.parametrize(
    "args",
    [
        pytest.param({}, id="all"),
        pytest.param({"q": "ac"}, id="q-name"),
        pytest.param({"q": "gx"}, id="q-domain"),
        pytest.param({"tag": "{vip}"}, id="tag"),
        pytest.param({"owner": "{owner}"}, id="owner"),
        pytest.param({"q": "a", "tag": "{vip}"}, id="q-and-tag"),
    ],
)
def test_company_export_is_the_company_list(logged_in, companies, args):
    args = _fill(args, companies)
    query = urlencode(args)
    on_screen = _screen(logged_in, f"/companies?{query}", "company-row")
    rows = _file(logged_in, f"/companies/export.csv?{query}")
    in_file = [companies["names"][row["Name"]] for row in rows]
    _check(on_screen, in_file, companies["everything"], args)


# --- Deals ------------------------------------------------------------------------------------


@pytest.fixture
def deals(team, owner):
    from crm.models import Pipeline, Stage

    pipeline = deal_queries.current_pipeline(team.id, None) or factories.make_pipeline(team)
    second = Pipeline(team_id=team.id, name="Partners")
    second.stages = [Stage(team_id=team.id, name="Talking", position=0, probability=10)]
    db.session.add(second)
    vip = Tag(team_id=team.id, name="vip")
    now = utcnow()
    today = now.date()
    specs = [
        # title, value, owner, status, expected close, age in days, pipeline
        ("Alpha renewal", 50_000, owner.id, DealStatus.OPEN, today + timedelta(days=40), 9, None),
        ("beta expansion", 900_000, None, DealStatus.OPEN, today + timedelta(days=5), 3, None),
        ("Gamma pilot", 10_000, owner.id, DealStatus.WON, today - timedelta(days=3), 30, None),
        ("Delta rollout", 300_000, None, DealStatus.LOST, None, 20, None),
        ("Epsilon partner", 70_000, owner.id, DealStatus.OPEN, None, 1, second),
    ]
    made = {}
    for title, value, owner_id, status, close, age, where in specs:
        made[title] = factories.make_deal(
            team,
            title=title,
            value_minor=value,
            owner_id=owner_id,
            status=status,
            expected_close=close,
            pipeline=where or pipeline,
            stage=(where or pipeline).stages[0],
            created_at=now - timedelta(days=age),
            updated_at=now - timedelta(days=age * 7 % 11),
            closed_at=now if status != DealStatus.OPEN else None,
        )
    made["Alpha renewal"].tags = [vip]
    made["Gamma pilot"].tags = [vip]
    factories.make_deal(team, title="Alpha trashed", deleted_at=now)
    factories.make_deal(factories.team_of(factories.make_user()), title="Alpha renewal")
    db.session.commit()
    return {
        "owner": owner.id,
        "vip": vip.id,
        "sales": pipeline.id,
        "from": (today + timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=30)).isoformat(),
        "everything": [d.id for d in made.values()],
    }


@pytest.mark.parametrize(
    "args",
    [
        pytest.param({"status": "all"}, id="all"),
        pytest.param({}, id="status-open"),
        pytest.param({"status": "won"}, id="status-won"),
        pytest.param({"status": "lost"}, id="status-lost"),
        pytest.param({"status": "all", "pipeline": "{sales}"}, id="pipeline"),
        pytest.param({"status": "all", "owner": "{owner}"}, id="owner"),
        pytest.param({"status": "all", "tag": "{vip}"}, id="tag"),
        pytest.param({"status": "all", "q": "ta"}, id="q"),
        pytest.param({"status": "all", "close_from": "{from}"}, id="close-from"),
        pytest.param({"status": "all", "close_to": "{to}"}, id="close-to"),
        pytest.param({"status": "all", "sort": "created"}, id="sort-created"),
        pytest.param({"status": "all", "sort": "value"}, id="sort-value"),
        pytest.param({"status": "all", "sort": "close"}, id="sort-close"),
        pytest.param({"status": "all", "sort": "title"}, id="sort-title"),
    ],
)
def test_deal_export_is_the_deal_list(logged_in, deals, args):
    args = _fill(args, deals)
    query = urlencode(args)
    on_screen = _screen(logged_in, f"/deals/list?{query}", "deal-row")
    in_file = [int(row["id"]) for row in _file(logged_in, f"/deals/export.csv?{query}")]
    assert in_file == on_screen
    everything = _screen(logged_in, "/deals/list?status=all", "deal-row")
    assert sorted(everything) == sorted(deals["everything"])
    if set(args) - {"status", "sort"} or args.get("status") != "all":
        assert on_screen and len(on_screen) < len(everything), "the filter must exclude some"
    elif "sort" in args:
        assert on_screen != everything, "the sort must change the order"


def test_the_deal_list_export_link_follows_the_filters_changed_in_place(
    logged_in, deals, htmx_headers
):
    html = logged_in.get("/deals/list?status=won&sort=value", headers=htmx_headers).get_data(
        as_text=True
    )
    assert "<html" not in html
    link = re.search(r'<a id="deals-export"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in link
    assert 'href="/deals/export.csv?status=won&amp;sort=value"' in link


def test_a_deal_title_that_starts_with_a_space_and_a_formula_is_text_in_both_exports(
    logged_in, team
):
    factories.make_deal(team, title=" =1+1")
    factories.make_contact(team, first_name=" =1+1", last_name="")
    deal_row = _file(logged_in, "/deals/export.csv")[0]
    contact_row = _file(logged_in, "/contacts/export.csv")[0]
    assert deal_row["title"] == contact_row["First name"] == "' =1+1"


# --- Tasks ------------------------------------------------------------------------------------


@pytest.fixture
def task_list(team, owner):
    mia = factories.make_member(team, name="Mia Member")
    contact = factories.make_contact(team, first_name="Ada")
    company = factories.make_company(team, name="Acme")
    deal = factories.make_deal(team, title="Big deal")
    today = utcnow().date()

    def make(title, **kw):
        return tasks.create_task(team.id, owner.id, title=title, **kw)

    made = [
        make("Late call", due_at=today - timedelta(days=3), contact_id=contact.id),
        make("Later call", due_at=today - timedelta(days=1), company_id=company.id),
        make("Today mail", due_at=today, deal_id=deal.id),
        make("Next week", due_at=today + timedelta(days=7)),
        make("Tomorrow", due_at=today + timedelta(days=1), contact_id=contact.id),
        make("Someday"),
        make("Mia's job", assignee_id=mia.id, due_at=today),
        make("Mia's other", assignee_id=mia.id, contact_id=contact.id),
    ]
    for title in ("Done first", "Done second"):
        done = make(title)
        tasks.complete_task(done, owner.id)
    other = factories.team_of(factories.make_user())
    factories.make_task(other, title="Late call")
    return {
        "mia": mia.id,
        "contact": contact.id,
        "company": company.id,
        "deal": deal.id,
        "ids": {
            t.title: t.id for t in db.session.scalars(db.select(Task).filter_by(team_id=team.id))
        },
        "count": len(made),
    }


@pytest.mark.parametrize(
    "args",
    [
        pytest.param({}, id="mine"),
        pytest.param({"view": "team"}, id="team"),
        pytest.param({"view": "team", "assignee": "{mia}"}, id="team-assignee"),
        pytest.param({"done": "1"}, id="done"),
        pytest.param({"view": "team", "linked": "contact"}, id="linked-contact"),
        pytest.param({"view": "team", "linked": "company"}, id="linked-company"),
        pytest.param({"view": "team", "linked": "deal"}, id="linked-deal"),
        pytest.param({"view": "team", "linked": "none"}, id="linked-none"),
        pytest.param({"view": "team", "contact": "{contact}"}, id="contact"),
        pytest.param({"company": "{company}"}, id="company"),
        pytest.param({"deal": "{deal}"}, id="deal"),
    ],
)
def test_task_export_is_the_task_list(logged_in, task_list, args):
    args = _fill(args, task_list)
    query = urlencode(args)
    on_screen = _screen(logged_in, f"/tasks?{query}", "task")
    in_file = [
        task_list["ids"][row["Title"]] for row in _file(logged_in, f"/tasks/export.csv?{query}")
    ]
    assert in_file == on_screen
    if args == {"view": "team"}:
        assert len(on_screen) == task_list["count"]
    else:
        assert on_screen and len(on_screen) < task_list["count"], "the filter must exclude some"


def test_task_export_of_another_teams_record_is_404(logged_in, task_list):
    other = factories.make_contact(factories.team_of(factories.make_user()))
    assert logged_in.get(f"/tasks/export.csv?contact={other.id}").status_code == 404


def test_an_exported_phone_reads_as_the_number_and_a_formula_stays_text(logged_in, team):
    factories.make_contact(team, first_name="Priya", last_name="Phone", phone="+14155550134")
    factories.make_contact(team, first_name="=1+1", last_name="+1+cmd|' /C calc'!A0")
    rows = {row["First name"]: row for row in _file(logged_in, "/contacts/export.csv")}
    assert "+14155550134" in rows["Priya"].values()
    assert "'+14155550134" not in rows["Priya"].values()
    formula = rows["'=1+1"]
    assert "'+1+cmd|' /C calc'!A0" in formula.values()
