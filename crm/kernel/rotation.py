"""Round robin: whose turn it is among a chosen set of members, fairly, under concurrency.

Promise: a pool is a list of user ids in turn order; its turn counter is one row
(`lead_rotation`, keyed by team and the sorted ids, so any feature naming the same members
shares the same turns). `next_member()` takes one turn; `Rotation` takes many for a batch and
writes the counter back once. Either way the row is locked from the first turn until the
caller's commit (PostgreSQL's row lock, SQLite's write lock), so two requests, jobs or servers
never get the same turn: 100 leads at once over 4 members give 25 each, in strict order.
Members marked away are skipped (they keep what they have); a pool with nobody present gives
None. Leads (new-lead assignment) and automation (the "round robin" action) both call this.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from crm.extensions import db
from crm.models import LeadRotation, Membership


def pool_key(pool) -> str:
    return ",".join(str(u) for u in sorted({int(u) for u in pool}))


def present(team_id: int, pool) -> list[int]:
    """The pool's members (in turn order) who belong to the team and are not away."""
    pool = [int(u) for u in dict.fromkeys(pool or [])]
    if not pool:
        return []
    here = set(
        db.session.scalars(
            select(Membership.user_id).where(
                Membership.team_id == team_id,
                Membership.user_id.in_(pool),
                Membership.away.is_(False),
            )
        )
    )
    return [u for u in pool if u in here]


def _advance(team_id: int, key: str, by: int) -> int:
    """Add `by` to the pool's counter (one UPDATE … RETURNING, which locks the row until the
    caller commits; the row is made on first use) and return the new value."""
    stmt = (
        update(LeadRotation)
        .where(LeadRotation.team_id == team_id, LeadRotation.pool_key == key)
        .values(turn=LeadRotation.turn + by)
        .returning(LeadRotation.turn)
    )
    turn = db.session.execute(stmt).scalar()
    if turn is not None:
        return turn
    # Another transaction may make the row at the same time: DO NOTHING, then take the turn.
    make = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        make(LeadRotation)
        .values(team_id=team_id, pool_key=key, turn=0)
        .on_conflict_do_nothing(index_elements=["team_id", "pool_key"])
    )
    return db.session.execute(stmt).scalar()


def next_member(team_id: int, pool) -> int | None:
    """The next present member of `pool`; None if nobody. The caller commits."""
    available = present(team_id, pool)
    if not available:
        return None
    turn = _advance(team_id, pool_key(pool), 1)
    return available[(turn - 1) % len(available)]


class Rotation:
    """Turns for a batch: each pool's row is locked and read at its first turn, counted in
    memory after that, and written back once by `save()` (call it before the commit)."""

    def __init__(self):
        # (team, pool key) → [present members, turn, turns taken in memory]
        self._pools: dict[tuple[int, str], list] = {}

    def next_member(self, team_id: int, pool) -> int | None:
        key = (team_id, pool_key(pool or []))
        state = self._pools.get(key)
        if state is None:
            available = present(team_id, pool)
            turn = _advance(team_id, key[1], 1) if available else 0
            state = self._pools[key] = [available, turn, 0]
        else:
            if not state[0]:
                return None
            state[1] += 1
            state[2] += 1
        available, turn, _ = state
        return available[(turn - 1) % len(available)] if available else None

    def save(self) -> None:
        """Write back the turns counted in memory: one UPDATE per pool that took more than one."""
        for (team_id, key), (_, turn, extra) in self._pools.items():
            if extra:
                db.session.execute(
                    update(LeadRotation)
                    .where(LeadRotation.team_id == team_id, LeadRotation.pool_key == key)
                    .values(turn=turn)
                )
        self._pools.clear()
