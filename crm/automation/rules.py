"""Admins' rules: read from the settings form, checked, saved; and the dry run.

Promise: a saved rule only names triggers, fields, operators and actions from the catalogue, and
members, stages and pipelines of its own team; a bad one raises Invalid naming the form field.
dry_run() evaluates a rule against an existing record and describes each action without
writing anything.
"""

from __future__ import annotations

from sqlalchemy import select

from crm.automation import catalogue, engine
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import members
from crm.models import AutomationRule, AutomationRun, Stage, Webhook
from crm.security import scoped

CONDITION_ROWS = 3
ACTION_ROWS = 5


def _int(value, field: str, *, minimum: int = 0, maximum: int = 3650) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise Invalid("Enter a whole number.", field=field) from None
    if not minimum <= number <= maximum:
        raise Invalid(f"Enter a number from {minimum} to {maximum}.", field=field)
    return number


def _stage(team_id: int, value, field: str) -> int:
    stage = db.session.scalars(
        select(Stage).where(Stage.team_id == team_id, Stage.id == _int(value, field, maximum=2**31))
    ).first()
    if stage is None:
        raise Invalid("Choose a stage of your pipelines.", field=field)
    return stage.id


def _member(team_id: int, value, field: str, *, optional: bool) -> int | None:
    if value in (None, "", "0"):
        if optional:
            return None
        raise Invalid("Choose a teammate.", field=field)
    if not str(value).strip().isdigit():
        raise Invalid("Choose a teammate.", field=field)
    user = members.check_member(team_id, value, field=field)
    return user.id if user else None


def _webhook(team_id: int, value, i: int) -> int:
    field = f"act_webhook_{i}"
    ident = _int(value, field, minimum=1, maximum=2**31) if value not in (None, "") else None
    found = ident and db.session.scalar(
        select(Webhook.id).where(Webhook.team_id == team_id, Webhook.id == ident)
    )
    if not found:
        raise Invalid("Choose one of your webhooks (add it in Settings → Webhooks).", field=field)
    return found


def parse(team_id: int, data: dict) -> dict:
    """The rule's columns from the form's flat fields (see forms.RuleForm)."""
    name = (data.get("name") or "").strip()
    if not name:
        raise Invalid("Give the rule a name.", field="name")
    trigger = data.get("trigger")
    if trigger not in catalogue.TRIGGERS:
        raise Invalid("Choose a trigger from the list.", field="trigger")
    record_type = catalogue.TRIGGERS[trigger][2]
    config: dict = {}
    if trigger == "contact_field_changed":
        watched = data.get("trigger_field") or ""
        if watched and watched not in catalogue.WATCHED:
            raise Invalid("Choose a field from the list.", field="trigger_field")
        config["field"] = watched
    if trigger == "deal_stage_entered" and data.get("trigger_stage"):
        config["stage_id"] = _stage(team_id, data["trigger_stage"], "trigger_stage")
    if trigger in (
        "contact_no_activity",
        "deal_no_activity",
        "contact_days_after",
        "deal_days_after",
    ):
        config["days"] = _int(data.get("trigger_days"), "trigger_days", minimum=1)
    if trigger in ("contact_days_after", "deal_days_after"):
        field = data.get("trigger_date_field")
        if field not in catalogue.DATE_FIELDS[record_type]:
            raise Invalid("Choose a date field of this record.", field="trigger_date_field")
        config["field"] = field

    conditions = []
    for i in range(CONDITION_ROWS):
        field, op = data.get(f"cond_field_{i}") or "", data.get(f"cond_op_{i}") or ""
        value = (data.get(f"cond_value_{i}") or "").strip()
        if not field:
            continue
        if field not in catalogue.FIELDS[record_type]:
            raise Invalid("That field is not one of this record's.", field=f"cond_field_{i}")
        if op not in catalogue.OPS:
            raise Invalid("Choose how to compare.", field=f"cond_op_{i}")
        if op not in ("empty", "not_empty") and not value:
            raise Invalid("Enter the value to compare with.", field=f"cond_value_{i}")
        conditions.append({"field": field, "op": op, "value": value[:200]})

    actions = []
    for i in range(ACTION_ROWS):
        kind = data.get(f"act_type_{i}") or ""
        if not kind:
            continue
        if kind not in catalogue.ACTIONS:
            raise Invalid("Choose an action from the list.", field=f"act_type_{i}")
        value = (data.get(f"act_value_{i}") or "").strip()[:200]
        action: dict = {"type": kind, "value": value}
        if kind == "assign_owner":
            action["user_id"] = _member(
                team_id, data.get(f"act_user_{i}"), f"act_user_{i}", optional=False
            )
        if kind == "round_robin":
            pool = []
            for uid in data.get(f"act_pool_{i}") or []:
                uid = _member(team_id, uid, f"act_pool_{i}", optional=False)
                if uid not in pool:
                    pool.append(uid)
            if not pool:
                raise Invalid("Choose the teammates who take turns.", field=f"act_pool_{i}")
            action["pool"] = pool
        if kind == "call_webhook":
            action["webhook_id"] = _webhook(team_id, data.get(f"act_webhook_{i}"), i)
        if kind in ("create_task", "send_email"):
            action["user_id"] = _member(
                team_id, data.get(f"act_user_{i}"), f"act_user_{i}", optional=True
            )
            if not value:
                raise Invalid(
                    "Enter the task's title or the email's subject.", field=f"act_value_{i}"
                )
        if kind == "create_task":
            action["days"] = _int(data.get(f"act_days_{i}") or 0, f"act_days_{i}", maximum=365)
        if kind in ("add_tag", "remove_tag") and not value:
            raise Invalid("Enter the tag.", field=f"act_value_{i}")
        if kind == "move_stage":
            if record_type != "deal":
                raise Invalid("Only a deal's rule can move a deal.", field=f"act_type_{i}")
            action["stage_id"] = _stage(team_id, data.get(f"act_stage_{i}"), f"act_stage_{i}")
        if kind == "set_field":
            field = data.get(f"act_field_{i}")
            if field not in catalogue.SETTABLE.get(record_type, ()):
                raise Invalid("Choose a field this record can have set.", field=f"act_field_{i}")
            action["field"] = field
        if (
            kind in ("assign_owner", "round_robin", "add_tag", "remove_tag", "set_field")
            and record_type == "task"
        ):
            raise Invalid("A task's rule can create tasks and send emails.", field=f"act_type_{i}")
        actions.append(action)
    if not actions:
        raise Invalid("Add at least one action.", field="act_type_0")
    return {
        "name": name[:200],
        "trigger": trigger,
        "trigger_config": config,
        "conditions": conditions,
        "actions": actions,
    }


def create_rule(team_id: int, actor_id: int | None, data: dict) -> AutomationRule:
    rule = AutomationRule(
        team_id=team_id, created_by_id=actor_id, active=True, **parse(team_id, data)
    )
    db.session.add(rule)
    db.session.commit()
    return rule


def update_rule(rule: AutomationRule, data: dict) -> AutomationRule:
    for key, value in parse(rule.team_id, data).items():
        setattr(rule, key, value)
    db.session.commit()
    return rule


def set_active(rule: AutomationRule, active: bool) -> AutomationRule:
    rule.active = active
    db.session.commit()
    return rule


def delete_rule(rule: AutomationRule) -> None:
    db.session.delete(rule)
    db.session.commit()


def as_form_data(rule: AutomationRule) -> dict:
    """The flat form fields of a saved rule (for the edit form)."""
    config = rule.trigger_config or {}
    data = {
        "name": rule.name,
        "trigger": rule.trigger,
        "trigger_field": config.get("field") if rule.trigger == "contact_field_changed" else "",
        "trigger_date_field": config.get("field", ""),
        "trigger_stage": config.get("stage_id") or "",
        "trigger_days": config.get("days") or "",
    }
    for i, cond in enumerate(rule.conditions or []):
        data |= {
            f"cond_field_{i}": cond["field"],
            f"cond_op_{i}": cond["op"],
            f"cond_value_{i}": cond["value"],
        }
    for i, action in enumerate(rule.actions or []):
        data |= {
            f"act_type_{i}": action["type"],
            f"act_value_{i}": action.get("value", ""),
            f"act_days_{i}": action.get("days", ""),
            f"act_user_{i}": action.get("user_id") or "",
            f"act_stage_{i}": action.get("stage_id") or "",
            f"act_field_{i}": action.get("field") or "",
            f"act_pool_{i}": [str(u) for u in action.get("pool") or []],
            f"act_webhook_{i}": action.get("webhook_id") or "",
        }
    return data


def dry_run(rule: AutomationRule, record_id) -> dict:
    """What the rule would do to this record: each condition's result and each action, unwritten."""
    record_type = catalogue.TRIGGERS[rule.trigger][2]
    try:
        ident = int(str(record_id).strip())
    except (TypeError, ValueError):
        raise Invalid(
            "Enter the record's number (from its page's address).", field="record_id"
        ) from None
    record = engine.load(db.session, rule.team_id, record_type, ident)
    if record is None:
        raise Invalid(f"No {record_type} {ident} in your team.", field="record_id")
    values = catalogue.fields(record)
    checks = []
    for cond in rule.conditions or []:
        label = catalogue.ALL_FIELDS.get(cond["field"], cond["field"])
        text = f"{label} {catalogue.OPS[cond['op']]} {cond['value']}".strip()
        checks.append({"text": text, "ok": catalogue.holds(cond, values)})
    return {
        "record_type": record_type,
        "record": record,
        "checks": checks,
        "would_run": all(c["ok"] for c in checks),
        "actions": [engine.describe(a, record) for a in rule.actions or []],
    }


def recent_runs(rule: AutomationRule | None = None, limit: int = 50) -> list[AutomationRun]:
    stmt = scoped(AutomationRun)
    if rule is not None:
        stmt = stmt.where(AutomationRun.rule_id == rule.id)
    return db.session.scalars(stmt.order_by(AutomationRun.id.desc()).limit(limit)).all()
