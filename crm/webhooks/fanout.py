"""The webhooks' subscriber to domain events: one delivery row per event and matching webhook.

Runs right after the commit that emitted the events, in the request (or job) that made them,
or later from the events sweep when that process died first (crm/kernel/events.py). It only
writes rows and enqueues jobs — no network — so a request is never held up by a slow receiver.
Being told twice of an event writes nothing the second time: a webhook that already has a
delivery of that event id is skipped. The session that committed cannot run SQL any more, so
the rows are written through a session of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.extensions import db
from crm.kernel.events import Event
from crm.models import Webhook, WebhookDelivery
from crm.webhooks import delivery, payloads


def on_events(events: Sequence[Event]) -> list[int]:
    """Write the deliveries for these committed events and enqueue them; returns their ids."""
    team_ids = {ev.team_id for ev in events}
    with Session(db.engine, expire_on_commit=False) as session:
        hooks = session.scalars(
            select(Webhook).where(Webhook.team_id.in_(team_ids), Webhook.active.is_(True))
        ).all()
        if not hooks:
            return []
        wanted = [
            (ev, hook)
            for ev in events
            for hook in hooks
            if hook.team_id == ev.team_id and ev.name in (hook.events or [])
        ]
        if not wanted:
            return []
        done = set(
            session.execute(
                select(WebhookDelivery.event_id, WebhookDelivery.webhook_id).where(
                    WebhookDelivery.event_id.in_({ev.id for ev, _ in wanted})
                )
            ).all()
        )
        rows, records = [], {}
        for ev, hook in wanted:
            if (ev.id, hook.id) in done:
                continue  # told twice (the sweep after a crash): already written
            key = (ev.record_type, ev.record_id)
            if key not in records:
                records[key] = payloads.record_data(
                    session, ev.record_type, ev.record_id, ev.team_id
                )
            rows.append(
                WebhookDelivery(
                    team_id=ev.team_id,
                    webhook_id=hook.id,
                    event_id=ev.id,
                    event=ev.name,
                    payload=payloads.build(ev, records[key]),
                )
            )
        if not rows:
            return []
        session.add_all(rows)
        session.commit()
        ids = [row.id for row in rows]
    delivery.enqueue(ids)
    return ids
