"""crm.kernel.work: one conditional UPDATE decides who owns a work row; stale claims go back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm.extensions import db
from crm.kernel import work
from crm.models import OutboundEmail, OutboxStatus, utcnow

PENDING, SENDING = OutboxStatus.PENDING, OutboxStatus.SENDING


def _rows(n: int) -> list[int]:
    rows = [
        OutboundEmail(
            kind="test", to_addr="a@example.com", subject="s", body_text="b", message_id=f"<{i}@t>"
        )
        for i in range(n)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [r.id for r in rows]


def _status(ident: int) -> OutboxStatus:
    return db.session.scalar(select(OutboundEmail.status).where(OutboundEmail.id == ident))


def test_a_row_is_claimed_once():
    (ident,) = _rows(1)
    take = {"status": SENDING, "claimed_at": utcnow()}
    assert work.claim(OutboundEmail, ident, OutboundEmail.status == PENDING, values=take)
    assert not work.claim(OutboundEmail, ident, OutboundEmail.status == PENDING, values=take)
    assert _status(ident) == SENDING


def test_batches_never_overlap_and_take_the_oldest_first():
    ids = _rows(5)
    take = {"status": SENDING, "claimed_at": utcnow()}
    first = work.claim_batch(OutboundEmail, OutboundEmail.status == PENDING, values=take, limit=3)
    second = work.claim_batch(OutboundEmail, OutboundEmail.status == PENDING, values=take, limit=3)
    assert first == ids[:3] and second == ids[3:]
    only = work.claim_batch(
        OutboundEmail, OutboundEmail.status == PENDING, values=take, limit=3, ids=[ids[0]]
    )
    assert only == []


def test_only_stale_claims_are_handed_back_and_waiting_rows_requeued():
    old, fresh, waiting = _rows(3)
    now = utcnow()
    for ident, at in ((old, now - timedelta(minutes=11)), (fresh, now - timedelta(minutes=1))):
        work.claim(OutboundEmail, ident, values={"status": SENDING, "claimed_at": at})
    lease = timedelta(minutes=10)
    back = work.reclaim(
        OutboundEmail,
        OutboundEmail.status == SENDING,
        work.stale(OutboundEmail.claimed_at, lease, now),
        values={"status": PENDING},
    )
    assert back == 1
    assert (_status(old), _status(fresh), _status(waiting)) == (PENDING, SENDING, PENDING)
    queued: list[int] = []
    assert work.requeue(OutboundEmail, OutboundEmail.status == PENDING, enqueue=queued.append) == 2
    assert queued == [old, waiting]
