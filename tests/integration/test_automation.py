"""Automation rules: each trigger and action, conditions, loop protection, the dry run, a worker
killed mid-rule re-running it without doubling, retries shown in the log, time-based firing
once, and the settings pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.automation import engine
from crm.contacts import services as contacts
from crm.deals import services as deals
from crm.extensions import db
from crm.kernel import events
from crm.models import (
    AutomationRule,
    AutomationRun,
    Contact,
    Deal,
    LostReason,
    OutboundEmail,
    Pipeline,
    Role,
    RunStatus,
    Task,
    utcnow,
)
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def rule(team, trigger, actions, *, conditions=(), config=None, name="Rule") -> AutomationRule:
    row = AutomationRule(
        team_id=team.id,
        name=name,
        trigger=trigger,
        trigger_config=config or {},
        conditions=list(conditions),
        actions=list(actions),
    )
    db.session.add(row)
    db.session.commit()
    return row


def runs(rule_row=None) -> list[AutomationRun]:
    db.session.expire_all()
    stmt = select(AutomationRun).order_by(AutomationRun.id)
    if rule_row is not None:
        stmt = stmt.where(AutomationRun.rule_id == rule_row.id)
    return db.session.scalars(stmt).all()


def fresh(model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


def tasks_titled(title: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Task).where(Task.title == title))


def pipeline_of(team) -> Pipeline:
    return db.session.scalars(select(Pipeline).where(Pipeline.team_id == team.id)).first()


def new_contact(team, owner, **data) -> Contact:
    return contacts.create_contact(team.id, owner.id, {"first_name": "Ada", **data})


# -- triggers and actions ---------------------------------------------------------------------


def test_contact_created_runs_its_actions_in_order_after_the_commit(team, owner, run_jobs):
    mate = factories.make_member(team, name="Mo Mate")
    r = rule(
        team,
        "contact_created",
        [
            {"type": "add_tag", "value": "New Lead"},
            {"type": "create_task", "value": "Call them", "days": 2},
            {"type": "assign_owner", "user_id": mate.id},
            {"type": "send_email", "value": "A new lead for you"},
        ],
    )
    contact = new_contact(team, owner)
    assert [run.status for run in runs(r)] == [RunStatus.PENDING]  # a row before it is a job
    run_jobs()
    contact = fresh(Contact, contact.id)
    assert [t.name for t in contact.tags] == ["new lead"]
    assert contact.owner_id == mate.id
    task = db.session.scalars(select(Task).where(Task.contact_id == contact.id)).one()
    assert task.title == "Call them" and task.assignee_id == owner.id  # owner at that moment
    assert task.due_at.date().weekday() < 5 and task.due_at.date() > utcnow().date()
    mail = db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "automation")).one()
    assert mail.to_addr == mate.email and mail.subject == "A new lead for you"
    (run,) = runs(r)
    assert run.status == RunStatus.DONE and run.trigger == "contact.created"
    assert [o["ok"] for o in run.outcomes] == [True] * 4
    assert "Add tag “new lead”" in run.outcomes[0]["text"]


def test_conditions_decide_whether_a_rule_fires(team, owner, run_jobs):
    r = rule(
        team,
        "contact_created",
        [{"type": "add_tag", "value": "web"}],
        conditions=[
            {"field": "source", "op": "eq", "value": "Website"},
            {"field": "owner_id", "op": "eq", "value": str(owner.id)},
        ],
    )
    web = new_contact(team, owner, source="website")
    other = new_contact(team, owner, source="fair")
    run_jobs()
    assert [run.record_id for run in runs(r)] == [web.id]
    assert [t.name for t in fresh(Contact, web.id).tags] == ["web"]
    assert fresh(Contact, other.id).tags == []


def test_tag_conditions_and_comparisons():
    from crm.automation.catalogue import holds

    values = {"tags": ["vip"], "value": 1200.0, "title": "Big Deal", "city": None}
    assert holds({"field": "tags", "op": "has_tag", "value": "VIP"}, values)
    assert holds({"field": "tags", "op": "lacks_tag", "value": "cold"}, values)
    assert holds({"field": "value", "op": "gt", "value": "1000"}, values)
    assert not holds({"field": "value", "op": "lt", "value": "abc"}, values)
    assert holds({"field": "title", "op": "contains", "value": "big"}, values)
    assert holds({"field": "city", "op": "empty", "value": ""}, values)


def test_contact_field_changed_fires_for_the_watched_field_only(team, owner, run_jobs):
    r = rule(
        team,
        "contact_field_changed",
        [{"type": "set_field", "field": "source", "value": "moved"}],
        config={"field": "City"},
    )
    contact = new_contact(team, owner)
    contacts.update_contact(contact, owner.id, {"title": "CEO"})
    run_jobs()
    assert runs(r) == []
    contacts.update_contact(fresh(Contact, contact.id), owner.id, {"city": "Lyon"})
    run_jobs()
    assert [run.status for run in runs(r)] == [RunStatus.DONE]
    assert fresh(Contact, contact.id).source == "moved"


@pytest.mark.parametrize(
    ("trigger", "name"),
    [
        ("lead_status_changed", "lead.status_changed"),
        ("form_submitted", "form.submitted"),
    ],
)
def test_lead_and_form_triggers_fire_on_their_events(team, owner, run_jobs, trigger, name):
    r = rule(team, trigger, [{"type": "add_tag", "value": "inbound"}])
    contact = factories.make_contact(team, owner_id=owner.id)
    events.emit(name, team_id=team.id, record_type="contact", record_id=contact.id)
    db.session.commit()
    run_jobs()
    assert [t.name for t in fresh(Contact, contact.id).tags] == ["inbound"]
    assert runs(r)[0].trigger == name


def test_email_logged_acts_on_the_emails_contact(team, owner, run_jobs):
    r = rule(team, "email_logged", [{"type": "create_task", "value": "Reply", "days": 1}])
    contact = factories.make_contact(team, owner_id=owner.id)
    activity = factories.make_activity(team, contacts=[contact])
    events.emit("email.logged", team_id=team.id, record_type="activity", record_id=activity.id)
    db.session.commit()
    run_jobs()
    assert runs(r)[0].record_id == contact.id
    assert tasks_titled("Reply") == 1


def test_deal_triggers_and_deal_actions(team, owner, run_jobs):
    pipeline = pipeline_of(team)
    first, second, third = pipeline.stages[:3]
    created = rule(
        team,
        "deal_created",
        [{"type": "move_stage", "stage_id": second.id}, {"type": "add_tag", "value": "fresh"}],
    )
    entered = rule(
        team,
        "deal_stage_entered",
        [{"type": "set_field", "field": "title", "value": "Qualified deal"}],
        config={"stage_id": second.id},
    )
    won = rule(team, "deal_won", [{"type": "create_task", "value": "Send thanks", "days": 1}])
    lost = rule(team, "deal_lost", [{"type": "send_email", "value": "Deal lost"}])
    deal = deals.create_deal(
        team_id=team.id, title="Acme", stage=first, currency="EUR", owner_id=owner.id
    )
    run_jobs()
    deal = fresh(Deal, deal.id)
    assert deal.stage_id == second.id and [t.name for t in deal.tags] == ["fresh"]
    assert deal.title == "Qualified deal"  # entered the stage through the first rule's move
    assert runs(entered)[0].depth == 2
    deals.move_deal(deal, third)
    run_jobs()
    assert len(runs(entered)) == 1  # another stage: not this rule's
    deals.mark_won(fresh(Deal, deal.id))
    run_jobs()
    assert tasks_titled("Send thanks") == 1
    other = deals.create_deal(
        team_id=team.id, title="Beta", stage=first, currency="EUR", owner_id=owner.id
    )
    run_jobs()
    reason = LostReason(team_id=team.id, name="Price")
    db.session.add(reason)
    db.session.commit()
    deals.mark_lost(fresh(Deal, other.id), reason=reason)
    run_jobs()
    assert [run.status for run in runs(lost)] == [RunStatus.DONE]
    assert [run.status for run in runs(won)] == [RunStatus.DONE]
    assert len(runs(created)) == 2


# -- loop protection --------------------------------------------------------------------------


def test_a_rule_never_triggers_itself(team, owner, run_jobs):
    r = rule(team, "contact_field_changed", [{"type": "add_tag", "value": "touched"}])
    contact = new_contact(team, owner)
    contacts.update_contact(contact, owner.id, {"city": "Oslo"})
    run_jobs()
    statuses = [run.status for run in runs(r)]
    assert statuses == [RunStatus.DONE, RunStatus.STOPPED]
    assert "cannot trigger itself" in runs(r)[1].error
    assert [t.name for t in fresh(Contact, contact.id).tags] == ["touched"]


def test_rules_triggering_rules_stop_at_the_depth_limit(team, owner, run_jobs):
    chain = [
        rule(team, "contact_created", [{"type": "set_field", "field": "title", "value": "a"}]),
        rule(
            team,
            "contact_field_changed",
            [{"type": "set_field", "field": "source", "value": "b"}],
            config={"field": "Title"},
        ),
        rule(
            team,
            "contact_field_changed",
            [{"type": "set_field", "field": "city", "value": "c"}],
            config={"field": "Source"},
        ),
        rule(
            team,
            "contact_field_changed",
            [{"type": "set_field", "field": "country", "value": "d"}],
            config={"field": "City"},
        ),
    ]
    contact = new_contact(team, owner)
    run_jobs()
    assert [[(r.depth, r.status) for r in runs(x)] for x in chain] == [
        [(1, RunStatus.DONE)],
        [(2, RunStatus.DONE)],
        [(3, RunStatus.DONE)],
        [(4, RunStatus.STOPPED)],
    ]
    contact = fresh(Contact, contact.id)
    assert (contact.title, contact.source, contact.city, contact.country) == ("a", "b", "c", None)


# -- failures, retries and crashes ------------------------------------------------------------


class Killed(BaseException):
    """The worker process dying mid-rule (nothing after it runs)."""


def test_a_worker_killed_mid_rule_reruns_it_without_doubling(team, owner, monkeypatch, run_jobs):
    r = rule(
        team,
        "contact_created",
        [
            {"type": "create_task", "value": "First", "days": 1},
            {"type": "create_task", "value": "Second", "days": 1},
        ],
    )
    new_contact(team, owner)
    (run,) = runs(r)
    real = engine.tasks.create_task

    def dies_on_second(*args, **kwargs):
        if kwargs.get("title") == "Second":
            raise Killed()
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.tasks, "create_task", dies_on_second)
    with pytest.raises(Killed):
        engine.run(run.id)
    db.session.rollback()
    assert runs(r)[0].status == RunStatus.RUNNING and tasks_titled("First") == 1
    monkeypatch.setattr(engine.tasks, "create_task", real)
    engine.sweep(now=utcnow() + engine.STALE_CLAIM + timedelta(minutes=1))
    run_jobs()
    (run,) = runs(r)
    assert run.status == RunStatus.DONE and run.attempts == 2
    assert (tasks_titled("First"), tasks_titled("Second")) == (1, 1)


def test_a_failing_action_is_retried_then_shown_as_failed(team, owner, monkeypatch, logged_in):
    r = rule(team, "contact_created", [{"type": "create_task", "value": "Call", "days": 1}])
    new_contact(team, owner)
    (run,) = runs(r)

    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(engine.tasks, "create_task", broken)
    later = utcnow()
    for attempt in range(1, engine.MAX_ATTEMPTS + 1):
        engine.run(run.id, now=later)
        run = runs(r)[0]
        assert run.attempts == attempt
        later = utcnow() + timedelta(days=1)
        if attempt < engine.MAX_ATTEMPTS:
            assert run.status == RunStatus.PENDING and run.next_attempt_at > utcnow()
    assert run.status == RunStatus.FAILED and "database hiccup" in run.error
    page = logged_in.get(f"/settings/automation/{r.id}")
    assert "database hiccup" in page.text and "failed" in page.text


def test_a_domain_error_fails_the_run_at_once_with_its_message(team, owner, run_jobs):
    r = rule(team, "contact_created", [{"type": "create_task", "value": "Call", "days": 1}])
    contacts.create_contact(team.id, None, {"first_name": "Nobody's"})
    run_jobs()
    (run,) = runs(r)
    assert run.status == RunStatus.FAILED and run.attempts == 1
    assert "nobody to assign" in run.error


# -- time-based triggers ----------------------------------------------------------------------


def test_no_activity_fires_once_per_record_and_date(team, owner, run_jobs):
    r = rule(
        team,
        "contact_no_activity",
        [{"type": "create_task", "value": "Nudge", "days": 0}],
        config={"days": 2},
        conditions=[{"field": "lifecycle", "op": "eq", "value": "lead"}],
    )
    quiet = factories.make_contact(team, owner_id=owner.id, lifecycle="lead")
    quiet.created_at = utcnow() - timedelta(days=3)
    recent = factories.make_contact(team, owner_id=owner.id, lifecycle="lead")
    customer = factories.make_contact(team, owner_id=owner.id, lifecycle="customer")
    customer.created_at = utcnow() - timedelta(days=3)
    db.session.commit()
    assert engine.sweep() == 1
    assert engine.sweep() == 0
    run_jobs()
    assert [run.record_id for run in runs(r)] == [quiet.id]
    assert tasks_titled("Nudge") == 1
    assert recent.id != quiet.id
    # New activity, then two quiet days again: a new date, so it fires again.
    quiet = fresh(Contact, quiet.id)
    quiet.last_activity_at = utcnow() - timedelta(days=2, hours=1)
    db.session.commit()
    assert engine.sweep() == 1


def test_task_overdue_and_deal_rotting_fire_once(team, owner, run_jobs):
    overdue = rule(team, "task_overdue", [{"type": "send_email", "value": "Overdue"}])
    rotting = rule(team, "deal_rotting", [{"type": "add_tag", "value": "rotting"}])
    factories.make_task(team, assignee_id=owner.id, due_at=utcnow() - timedelta(hours=2))
    stage = pipeline_of(team).stages[0]
    stage.rot_days = 3
    deal = factories.make_deal(team, stage=stage, stage_entered_at=utcnow() - timedelta(days=4))
    factories.make_deal(team, stage=stage, stage_entered_at=utcnow() - timedelta(days=1))
    assert engine.sweep() == 2
    assert engine.sweep() == 0
    run_jobs()
    assert [run.status for run in runs(overdue)] == [RunStatus.DONE]
    assert [run.record_id for run in runs(rotting)] == [deal.id]
    assert [t.name for t in fresh(Deal, deal.id).tags] == ["rotting"]
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(OutboundEmail)
            .where(OutboundEmail.subject == "Overdue")
        )
        == 1
    )


# -- settings pages and the dry run -----------------------------------------------------------


def test_an_admin_creates_a_rule_in_settings(logged_in, team, owner):
    page = logged_in.get("/settings/automation")
    assert page.status_code == 200 and "at most" not in page.text
    assert "chain of 3 rules" in page.text
    bad = logged_in.post("/settings/automation", data={"name": "x", "trigger": "contact_created"})
    assert bad.status_code == 422 and "Add at least one action." in bad.text
    response = logged_in.post(
        "/settings/automation",
        data={
            "name": "Tag web leads",
            "trigger": "contact_created",
            "cond_field_0": "source",
            "cond_op_0": "eq",
            "cond_value_0": "web",
            "act_type_0": "add_tag",
            "act_value_0": "web lead",
            "act_type_1": "create_task",
            "act_value_1": "Call",
            "act_days_1": "2",
        },
    )
    assert response.status_code == 303
    saved = db.session.scalars(select(AutomationRule)).one()
    assert saved.conditions == [{"field": "source", "op": "eq", "value": "web"}]
    assert [a["type"] for a in saved.actions] == ["add_tag", "create_task"]
    edit = logged_in.get(response.headers["Location"])
    assert 'value="web lead"' in edit.text


def test_a_member_cannot_open_automation_settings(client, auth, team):
    member = factories.make_member(team, role=Role.MEMBER)
    auth.login(member.email)
    assert client.get("/settings/automation").status_code in (403, 404)


def test_dry_run_shows_what_the_rule_would_do_without_doing_it(logged_in, team, owner):
    r = rule(
        team,
        "contact_created",
        [{"type": "add_tag", "value": "VIP"}, {"type": "create_task", "value": "Call", "days": 2}],
        conditions=[{"field": "city", "op": "eq", "value": "Paris"}],
    )
    paris = factories.make_contact(team, owner_id=owner.id, city="Paris")
    rome = factories.make_contact(team, owner_id=owner.id, city="Rome")
    page = logged_in.get(f"/settings/automation/{r.id}/try", query_string={"record_id": paris.id})
    assert page.status_code == 200
    assert "Add tag “vip”" in page.text and "Create task “Call” for Olive Owner" in page.text
    page = logged_in.get(f"/settings/automation/{r.id}/try", query_string={"record_id": rome.id})
    assert "would do nothing" in page.text
    page = logged_in.get(f"/settings/automation/{r.id}/try", query_string={"record_id": "abc"})
    assert page.status_code == 422 and "record&#39;s number" in page.text
    assert fresh(Contact, paris.id).tags == [] and tasks_titled("Call") == 0 and runs() == []


def test_paused_rules_do_not_fire(logged_in, team, owner, run_jobs):
    r = rule(team, "contact_created", [{"type": "add_tag", "value": "x"}])
    logged_in.post(f"/settings/automation/{r.id}/active", data={"active": "0"})
    new_contact(team, owner)
    run_jobs()
    assert runs(r) == []


def test_business_days_skip_weekends():
    from datetime import date

    from crm.automation.catalogue import business_days_from

    friday = date(2026, 12, 4)
    assert business_days_from(friday, 1) == date(2026, 12, 7)  # Monday
    assert business_days_from(friday, 0) == friday
    assert business_days_from(date(2026, 12, 2), 2) == friday


def test_a_rule_naming_another_teams_teammate_is_refused(logged_in, team):
    stranger = factories.make_user(name="Stranger", email="stranger@example.com")
    response = logged_in.post(
        "/settings/automation",
        data={
            "name": "Hand over",
            "trigger": "contact_created",
            "act_type_0": "assign_owner",
            "act_user_0": str(stranger.id),
        },
    )
    assert response.status_code == 422 and "member of this team" in response.text
    assert db.session.scalars(select(AutomationRule)).all() == []
