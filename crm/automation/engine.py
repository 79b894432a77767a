"""Running rules: the event subscriber, the run job, retries, loop protection, the sweep.

- on_events (subscriber, after the commit): for each event, the team's active rules with that
  trigger whose conditions hold get a run row (pending), written through a session of its own,
  then a job each. The row is the work; the job only claims it (crm.kernel.work).
- run() (the job): claims the run, then does the rule's actions in order through the same
  services a person uses. Each action's AutomationEffect row is added in the action's own
  transaction (the service's commit), so a worker killed mid-rule re-runs the rule and skips
  what was done. An action that raises a domain error (Invalid/Conflict) fails the run at once;
  any other error is retried with backoff and then shown as failed — never dropped.
- Loop protection: while a run's actions execute, the events they cause know the run's depth
  and chain (a context variable read by on_events in the same thread). A rule never triggers
  itself, and a chain stops after MAX_DEPTH rules; the stopped run is logged as "stopped".
- sweep(): hands back runs whose worker died, requeues due ones, and fires the time-based
  triggers, once per rule, record and date (a unique fire_key).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import outbox, queue
from crm.automation import catalogue
from crm.contacts import services as contacts
from crm.deals import services as deals
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.kernel import members, rotation, tags, work
from crm.kernel.events import Event
from crm.models import (
    ActivityContact,
    AutomationEffect,
    AutomationRule,
    AutomationRun,
    Contact,
    Deal,
    DealStatus,
    RunStatus,
    Stage,
    Task,
    User,
    Webhook,
    utcnow,
)
from crm.tasks import services as tasks
from crm.webhooks import services as webhooks

log = logging.getLogger(__name__)

JOB = "jobs.automation.run_rule"
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
MAX_ATTEMPTS = len(BACKOFF) + 1
STALE_CLAIM = timedelta(minutes=10)
SWEEP_LIMIT = 500  # time-based firings per rule and sweep

MODELS = {"contact": Contact, "deal": Deal, "task": Task}
EVENT_TRIGGERS: dict[str, list[str]] = {}
for _key, (_label, _event, _type) in catalogue.TRIGGERS.items():
    if _event:
        EVENT_TRIGGERS.setdefault(_event, []).append(_key)


@dataclass(frozen=True)
class Running:
    depth: int
    chain: tuple[int, ...]


_running: ContextVar[Running | None] = ContextVar("automation_running", default=None)


# -- firing -----------------------------------------------------------------------------------


def load(session, team_id: int, record_type: str, record_id: int):
    model = MODELS.get(record_type)
    if model is None:
        return None
    stmt = select(model).where(model.team_id == team_id, model.id == record_id)
    if hasattr(model, "deleted_at"):
        stmt = stmt.where(model.deleted_at.is_(None))
    return session.scalars(stmt).first()


def _subject(session, ev: Event) -> tuple[str, int] | None:
    """The record a rule about this event acts on (an email logged → its first contact)."""
    if ev.record_type == "activity":
        contact_id = session.scalars(
            select(ActivityContact.contact_id)
            .where(ActivityContact.activity_id == ev.record_id)
            .order_by(ActivityContact.contact_id)
        ).first()
        return ("contact", contact_id) if contact_id else None
    return ev.record_type, ev.record_id


def trigger_matches(rule: AutomationRule, ev: Event, record) -> bool:
    config = rule.trigger_config or {}
    if rule.trigger == "contact_field_changed":
        watched = config.get("field")
        return bool(ev.changes) and (not watched or watched in ev.changes)
    if rule.trigger == "deal_stage_entered":
        return not config.get("stage_id") or int(config["stage_id"]) == record.stage_id
    return True


def on_events(events: Sequence[Event]) -> list[int]:
    """Write a pending run for each matching rule and event; enqueue them. Returns run ids."""
    wanted = [ev for ev in events if ev.name in EVENT_TRIGGERS]
    if not wanted:
        return []
    running = _running.get()
    depth = running.depth + 1 if running else 1
    chain = list(running.chain) if running else []
    triggers = {t for ev in wanted for t in EVENT_TRIGGERS[ev.name]}
    with Session(db.engine, expire_on_commit=False) as session:
        rules = session.scalars(
            select(AutomationRule)
            .where(
                AutomationRule.team_id.in_({ev.team_id for ev in wanted}),
                AutomationRule.trigger.in_(triggers),
                AutomationRule.active.is_(True),
            )
            .order_by(AutomationRule.id)
        ).all()
        if not rules:
            return []
        # Told twice of an event (the events sweep after a crash): its runs exist already.
        seen = set(
            session.execute(
                select(AutomationRun.rule_id, AutomationRun.fire_key).where(
                    AutomationRun.rule_id.in_({rule.id for rule in rules}),
                    AutomationRun.fire_key.in_({_event_key(ev) for ev in wanted}),
                )
            ).all()
        )
        runs = []
        for ev in wanted:
            subject = _subject(session, ev)
            if subject is None:
                continue
            record = load(session, ev.team_id, *subject)
            if record is None:
                continue
            for rule in rules:
                if rule.team_id != ev.team_id or rule.trigger not in EVENT_TRIGGERS[ev.name]:
                    continue
                if not trigger_matches(rule, ev, record):
                    continue
                if not catalogue.all_hold(rule.conditions, record):
                    continue
                if (rule.id, _event_key(ev)) in seen:
                    continue
                run = AutomationRun(
                    team_id=rule.team_id,
                    rule_id=rule.id,
                    record_type=subject[0],
                    record_id=subject[1],
                    trigger=ev.name,
                    depth=depth,
                    chain=chain,
                    fire_key=_event_key(ev),
                    outcomes=[],
                )
                if rule.id in chain:
                    run.status, run.error = (
                        RunStatus.STOPPED,
                        "Stopped: a rule cannot trigger itself.",
                    )
                elif depth > catalogue.MAX_DEPTH:
                    run.status = RunStatus.STOPPED
                    run.error = (
                        f"Stopped: rules can trigger rules at most {catalogue.MAX_DEPTH} deep."
                    )
                run.finished_at = utcnow() if run.status == RunStatus.STOPPED else None
                runs.append(run)
        if not runs:
            return []
        session.add_all(runs)
        session.commit()
        ids = [r.id for r in runs if r.status == RunStatus.PENDING]
    # One round trip for all of them (a batch of web-form leads fires one event each).
    queue.enqueue_many(JOB, [((ident,), f"automation-run-{ident}") for ident in ids])
    return ids


def _event_key(ev: Event) -> str:
    """The fire_key of an event's runs: one run per rule and event (time triggers use
    "<record id>:<date>")."""
    return f"event:{ev.id}"


def enqueue(run_id: int, at: datetime | None = None) -> None:
    suffix = f"-{int(at.timestamp())}" if at else ""
    queue.enqueue(JOB, run_id, at=at, job_id=f"automation-run-{run_id}{suffix}")


# -- actions ----------------------------------------------------------------------------------


def _owner_id(record) -> int | None:
    return record.assignee_id if isinstance(record, Task) else record.owner_id


def _user(team_id: int, user_id) -> User | None:
    if user_id in (None, "", 0):
        return None
    if not members.is_member(team_id, user_id):
        return None
    return db.session.get(User, int(user_id))


def describe(action: dict, record, session=None) -> str:
    """What the action would do to this record, in words (the dry run and the run log)."""
    session = session or db.session
    kind = action.get("type")
    value = (action.get("value") or "").strip()
    team_id = record.team_id

    def who(user_id):
        user = session.get(User, int(user_id)) if user_id else None
        return user.name if user else "the owner"

    if kind == "assign_owner":
        return f"Assign the owner: {who(action.get('user_id'))}"
    if kind == "round_robin":
        names = ", ".join(who(uid) for uid in action.get("pool") or [])
        return f"Assign the owner by round robin among {names}"
    if kind == "call_webhook":
        hook = session.get(Webhook, int(action.get("webhook_id") or 0))
        target = hook.url if hook is not None and hook.team_id == team_id else "a missing webhook"
        return f"Call the webhook {target}"
    if kind == "add_tag":
        return f"Add tag “{tags.normalize(value)}”"
    if kind == "remove_tag":
        return f"Remove tag “{tags.normalize(value)}”"
    if kind == "create_task":
        assignee = who(action.get("user_id") or _owner_id(record))
        days = int(action.get("days") or 0)
        return f"Create task “{value}” for {assignee}, due in {days} business days"
    if kind == "move_stage":
        stage = session.scalars(
            select(Stage).where(Stage.team_id == team_id, Stage.id == action.get("stage_id"))
        ).first()
        return f"Move the deal to {stage.name if stage else 'a missing stage'}"
    if kind == "set_field":
        return (
            f"Set {catalogue.ALL_FIELDS.get(action.get('field'), action.get('field'))} to “{value}”"
        )
    if kind == "send_email":
        return f"Email {who(action.get('user_id') or _owner_id(record))}: “{value}”"
    return f"Unknown action {kind}"


def _record_effect(run: AutomationRun, index: int, outcome: str) -> None:
    """Added to the session before the service commits: the effect and the action together."""
    db.session.add(AutomationEffect(run_id=run.id, action_index=index, outcome=outcome[:300]))


def _tag_names(record) -> list[str]:
    return [t.name for t in record.tags]


def perform(run: AutomationRun, index: int, action: dict, record, rule: AutomationRule) -> str:
    """Do one action through the services a person uses; its effect commits with it."""
    kind = action.get("type")
    outcome = describe(action, record)
    value = (action.get("value") or "").strip()
    is_contact, is_deal = isinstance(record, Contact), isinstance(record, Deal)
    if kind in ("assign_owner", "round_robin", "add_tag", "remove_tag", "set_field") and not (
        is_contact or is_deal
    ):
        raise Invalid(f"“{catalogue.ACTIONS.get(kind, kind)}” needs a contact or a deal.")
    if kind == "move_stage" and not is_deal:
        raise Invalid("“Move deal to stage” needs a deal.")
    user_id = action.get("user_id")
    if kind == "round_robin":
        # The kernel's turn (the one leads take): its counter row stays locked, and its new
        # value commits with this action's effect and the owner change, or none of them does.
        user_id = rotation.next_member(record.team_id, action.get("pool") or [])
        if user_id is None:
            raise Invalid("Everyone in the round robin is away or has left the team.")
        outcome = f"{outcome}: {members.user_name(user_id)}"
    _record_effect(run, index, outcome)
    if kind in ("assign_owner", "round_robin"):
        user = _user(record.team_id, user_id)
        if user is None:
            raise Invalid("The owner to assign is not a member of the team.")
        if is_contact:
            contacts.update_contact(record, None, {"owner_id": user.id}, commit=True)
        else:
            deals.update_deal(record, owner_id=user.id)
    elif kind in ("add_tag", "remove_tag"):
        names = _tag_names(record)
        name = tags.normalize(value)
        names = names + [name] if kind == "add_tag" else [n for n in names if n != name]
        if is_contact:
            contacts.update_contact(record, None, {"tags": names}, commit=True)
        else:
            deals.update_deal(record, tags=names)
    elif kind == "create_task":
        assignee = action.get("user_id") or _owner_id(record)
        if not assignee or not members.is_member(record.team_id, assignee):
            raise Invalid("The task has nobody to assign it to (the record has no owner).")
        links = {}
        if is_contact:
            links["contact_id"] = record.id
        elif is_deal:
            links["deal_id"] = record.id
        else:
            links = {"contact_id": record.contact_id, "deal_id": record.deal_id}
        due = catalogue.business_days_from(utcnow().date(), int(action.get("days") or 0))
        tasks.create_task(
            record.team_id,
            None,
            title=value or rule.name,
            due_at=due,
            assignee_id=int(assignee),
            notes=f"Created by the automation rule “{rule.name}”.",
            **links,
        )
    elif kind == "move_stage":
        stage = db.session.scalars(
            select(Stage).where(Stage.team_id == record.team_id, Stage.id == action.get("stage_id"))
        ).first()
        if stage is None:
            raise Invalid("The stage to move to no longer exists.")
        if record.stage_id != stage.id:
            deals.move_deal(record, stage)
        else:
            db.session.commit()
    elif kind == "set_field":
        field = action.get("field")
        if is_contact and field in catalogue.SETTABLE["contact"]:
            contacts.update_contact(record, None, {field: value}, commit=True)
        elif is_deal and field in catalogue.SETTABLE["deal"]:
            deals.update_deal(record, **{field: value})
        else:
            raise Invalid(f"The field “{field}” cannot be set on this record.")
    elif kind == "send_email":
        user = _user(record.team_id, action.get("user_id") or _owner_id(record))
        if user is None:
            raise Invalid("The email has nobody to go to (the record has no owner).")
        row = outbox.queue_email(
            to=user.email,
            subject=value or rule.name,
            template="automation",
            kind="automation",
            team_id=record.team_id,
            name=user.name,
            rule=rule,
            record_name=_name(record),
            message=action.get("body") or "",
        )
        db.session.commit()
        outbox.enqueue(row)
    elif kind == "call_webhook":
        # A delivery row (signed, SSRF-checked and retried by the webhooks feature) committed
        # with this action's effect; the worker sends it, never this job or a request.
        row = webhooks.queue_call(
            record.team_id,
            action.get("webhook_id"),
            event=catalogue.WEBHOOK_EVENT,
            record_type=run.record_type,
            record_id=record.id,
            changes={
                "rule_id": rule.id,
                "rule": rule.name,
                "run_id": run.id,
                "trigger": run.trigger,
            },
        )
        db.session.commit()
        webhooks.send([row.id])
    else:
        raise Invalid(f"Unknown action “{kind}”.")
    return outcome


def _name(record) -> str:
    if isinstance(record, Contact):
        return record.sort_name and f"{record.first_name} {record.last_name}".strip() or "a contact"
    return getattr(record, "title", "") or "a record"


# -- the job ----------------------------------------------------------------------------------


def _due(now: datetime):
    return (
        AutomationRun.status == RunStatus.PENDING,
        or_(AutomationRun.next_attempt_at.is_(None), AutomationRun.next_attempt_at <= now),
    )


def run(run_id: int, now: datetime | None = None) -> RunStatus | None:
    """Claim one pending run and do its rule's actions; returns its new status."""
    now = now or utcnow()
    if not work.claim(
        AutomationRun,
        run_id,
        *_due(now),
        values={
            "status": RunStatus.RUNNING,
            "claimed_at": now,
            "attempts": AutomationRun.attempts + 1,
        },
    ):
        return None
    row = db.session.get(AutomationRun, run_id)
    rule = row.rule
    done = dict(
        db.session.execute(
            select(AutomationEffect.action_index, AutomationEffect.outcome).where(
                AutomationEffect.run_id == row.id
            )
        ).all()
    )
    outcomes, error, retry = [], None, False
    token = _running.set(Running(row.depth, (*row.chain, rule.id)))
    try:
        for index, action in enumerate(rule.actions or []):
            if index in done:
                outcomes.append({"action": index, "ok": True, "text": done[index]})
                continue
            record = load(db.session, row.team_id, row.record_type, row.record_id)
            if record is None:
                error = "The record is gone (deleted or moved to the trash)."
                break
            try:
                text = perform(row, index, action, record, rule)
            except (Invalid, Conflict) as exc:
                db.session.rollback()
                error = f"Action {index + 1}: {exc}"
                outcomes.append({"action": index, "ok": False, "text": str(exc)})
                break
            except Exception as exc:  # noqa: BLE001 - retried, then shown in the run log
                db.session.rollback()
                log.exception("automation run %s action %s failed", row.id, index)
                error = f"Action {index + 1}: {exc.__class__.__name__}: {exc}"
                outcomes.append({"action": index, "ok": False, "text": error})
                retry = True
                break
            outcomes.append({"action": index, "ok": True, "text": text})
    finally:
        _running.reset(token)
    row = db.session.get(AutomationRun, run_id)
    row.outcomes, row.error, row.claimed_at = outcomes, error, None
    at = None
    if retry and row.attempts < MAX_ATTEMPTS:
        row.status = RunStatus.PENDING
        at = row.next_attempt_at = utcnow() + BACKOFF[row.attempts - 1]
    else:
        row.status = RunStatus.FAILED if error else RunStatus.DONE
        row.finished_at = utcnow()
    db.session.commit()
    if at is not None:
        enqueue(row.id, at=at)
    return row.status


# -- the sweep --------------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> int:
    """Hand back runs of dead workers, requeue due runs, fire time-based triggers."""
    now = now or utcnow()
    work.reclaim(
        AutomationRun,
        AutomationRun.status == RunStatus.RUNNING,
        work.stale(AutomationRun.claimed_at, STALE_CLAIM, now),
        values={"status": RunStatus.PENDING, "claimed_at": None, "next_attempt_at": None},
    )
    fired = fire_time_triggers(now)
    work.requeue(AutomationRun, *_due(now), enqueue=enqueue)
    return fired


def _candidates(rule: AutomationRule, now: datetime):
    """(record, moment) for each record whose time has come under this rule."""
    config = rule.trigger_config or {}
    days = int(config.get("days") or 0)
    cutoff = now - timedelta(days=days)
    t = rule.trigger
    if t == "task_overdue":
        rows = db.session.scalars(
            select(Task)
            .where(Task.team_id == rule.team_id, Task.done_at.is_(None), Task.due_at < now)
            .limit(SWEEP_LIMIT)
        )
        return [(task, task.due_at) for task in rows]
    if t == "deal_rotting":
        rows = db.session.execute(
            select(Deal, Stage.rot_days)
            .join(Stage, Stage.id == Deal.stage_id)
            .where(
                Deal.team_id == rule.team_id,
                Deal.deleted_at.is_(None),
                Deal.status == DealStatus.OPEN,
                Stage.rot_days.is_not(None),
            )
        ).all()
        out = []
        for deal, rot_days in rows:
            since = (
                max(d for d in (deal.stage_entered_at, deal.last_activity_at) if d)
                if (deal.stage_entered_at or deal.last_activity_at)
                else deal.created_at
            )
            if since + timedelta(days=rot_days) <= now:
                out.append((deal, since))
        return out[:SWEEP_LIMIT]
    model = Contact if t.startswith("contact_") else Deal
    base = select(model).where(model.team_id == rule.team_id, model.deleted_at.is_(None))
    if t.endswith("_no_activity"):
        moment = db.func.coalesce(model.last_activity_at, model.created_at)
        rows = db.session.scalars(base.where(moment <= cutoff).limit(SWEEP_LIMIT))
        return [(r, r.last_activity_at or r.created_at) for r in rows]
    field = config.get("field")
    column = (
        getattr(model, field, None)
        if field in catalogue.DATE_FIELDS["contact" if model is Contact else "deal"]
        else None
    )
    if column is None:
        return []
    limit = cutoff.date() if field == "expected_close" else cutoff
    rows = db.session.scalars(base.where(column.is_not(None), column <= limit).limit(SWEEP_LIMIT))
    return [(r, getattr(r, field)) for r in rows]


def fire_time_triggers(now: datetime) -> int:
    """One run per rule, record and date whose time has come; returns the number written."""
    rules = db.session.scalars(
        select(AutomationRule)
        .where(
            AutomationRule.trigger.in_(catalogue.TIME_TRIGGERS),
            AutomationRule.active.is_(True),
        )
        .order_by(AutomationRule.id)
    ).all()
    fired = 0
    for rule in rules:
        record_type = catalogue.TRIGGERS[rule.trigger][2]
        keys = set(
            db.session.scalars(
                select(AutomationRun.fire_key).where(
                    AutomationRun.rule_id == rule.id, AutomationRun.fire_key.is_not(None)
                )
            )
        )
        rows = []
        for record, moment in _candidates(rule, now):
            key = f"{record.id}:{moment.isoformat()[:10]}"
            if key in keys or not catalogue.all_hold(rule.conditions, record):
                continue
            keys.add(key)
            rows.append(
                AutomationRun(
                    team_id=rule.team_id,
                    rule_id=rule.id,
                    record_type=record_type,
                    record_id=record.id,
                    trigger=rule.trigger,
                    depth=1,
                    chain=[],
                    fire_key=key,
                    outcomes=[],
                )
            )
        if not rows:
            continue
        db.session.add_all(rows)
        try:
            db.session.commit()
        except IntegrityError:  # another sweep fired them first: theirs stand
            db.session.rollback()
            continue
        fired += len(rows)
    return fired
