"""Who gets a new lead: the form's rule, else the team's rule for all new leads.

Round robin is the kernel's (crm/kernel/rotation.py): the same turns whether one submission or
a batch of them asks, and the same rule automation's "round robin" action uses. Members marked
away are skipped and keep their leads.
"""

from __future__ import annotations

from sqlalchemy import select, update

from crm.extensions import db
from crm.kernel import members, rotation
from crm.leads.setup import rule_for
from crm.models import LeadRule, Membership


def assign_round_robin(team_id: int, pool) -> int | None:
    """The next member of `pool` who is not away; None if nobody. The caller commits."""
    return rotation.next_member(team_id, pool)


def choose_assignee(
    team_id: int,
    form_id: int | None,
    values: dict,
    *,
    turns: rotation.Rotation | None = None,
    rules: dict | None = None,
) -> int | None:
    """The assignee of a new lead from this form, or None. A batch passes its `turns` (one
    rotation update per batch) and a `rules` dict that caches the rules it has read."""
    rule = _rule(team_id, form_id, rules) if form_id else None
    if rule is None or rule.mode == "none":
        rule = _rule(team_id, None, rules)
    if rule is None or rule.mode == "none":
        return None

    def turn(pool):
        return turns.next_member(team_id, pool) if turns else rotation.next_member(team_id, pool)

    if rule.mode == "field":
        value = (values.get(rule.field) or "").strip().lower()
        uid = rule.mapping.get(value)
        if uid and _available(team_id, uid):
            return uid
        if rule.pool:
            uid = turn(rule.pool)
            if uid:
                return uid
        if rule.fallback_id and members.is_member(team_id, rule.fallback_id):
            return rule.fallback_id
        return None
    return turn(rule.pool) or rule.fallback_id


def _rule(team_id: int, form_id: int | None, cache: dict | None) -> LeadRule | None:
    if cache is None:
        return rule_for(team_id, form_id)
    key = (team_id, form_id)
    if key not in cache:
        cache[key] = rule_for(team_id, form_id)
    return cache[key]


def _available(team_id: int, user_id: int) -> bool:
    return (
        db.session.scalar(
            select(Membership.id).where(
                Membership.team_id == team_id,
                Membership.user_id == user_id,
                Membership.away.is_(False),
            )
        )
        is not None
    )


def set_away(team_id: int, user_id: int, away: bool) -> None:
    db.session.execute(
        update(Membership)
        .where(Membership.team_id == team_id, Membership.user_id == user_id)
        .values(away=bool(away))
    )
    db.session.commit()
