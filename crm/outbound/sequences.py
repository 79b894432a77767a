"""Sequences: named steps (an email from a template, or a task for the owner) a contact goes
through, each a number of business days after the previous one.

advance() is a sweep: each due, active enrolment first stops if the contact replied (a mail
through email-in on one of Rapport's threads, see services.note_replies), opted out, bounces,
or its deal was won or lost; otherwise its next step is done. A step is done exactly once: its
EnrolmentStep row (unique per enrolment and position) is written in the same transaction as
the outbox row or the task, so a second worker, a retry or a restart fails on the unique row
and does nothing.
"""

from __future__ import annotations

from email.utils import formataddr

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm import outbox
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel.dates import add_business_days
from crm.models import (
    Contact,
    Deal,
    DealStatus,
    EmailTemplate,
    Enrolment,
    EnrolmentStep,
    Sequence,
    SequenceStep,
    Task,
    User,
    utcnow,
)
from crm.outbound import merge
from crm.outbound.bulk import log_outgoing, skip_reason
from crm.outbound.formatting import to_html
from crm.outbound.services import reply_address, unsubscribe_headers
from crm.security import scoped

BATCH = 100


def create(team_id: int, name: str, steps: list[dict]) -> Sequence:
    """steps: [{"kind": "email", "template_id": 3, "delay_days": 0}, {"kind": "task",
    "task_title": "Call", "delay_days": 2}, …]; the caller's ids are checked against the team."""
    name = (name or "").strip()
    if not name:
        raise Invalid("Give the sequence a name.", field="name")
    if not steps:
        raise Invalid("Add at least one step.", field="steps")
    sequence = Sequence(team_id=team_id, name=name[:120])
    for position, step in enumerate(steps):
        kind = step.get("kind")
        if kind == "email":
            template = db.session.scalar(
                scoped(EmailTemplate, team_id=team_id).where(
                    EmailTemplate.id == step.get("template_id"), EmailTemplate.owner_id.is_(None)
                )
            )
            if template is None:
                raise Invalid("Choose a team template for each email step.", field="steps")
        elif kind != "task" or not (step.get("task_title") or "").strip():
            raise Invalid("A task step needs a title.", field="steps")
        sequence.steps.append(
            SequenceStep(
                team_id=team_id,
                position=position,
                kind=kind,
                delay_days=max(int(step.get("delay_days") or 0), 0),
                template_id=step.get("template_id") if kind == "email" else None,
                task_title=(step.get("task_title") or "")[:200] or None,
            )
        )
    db.session.add(sequence)
    db.session.commit()
    return sequence


def enrol(sequence: Sequence, contact_ids, by: User, deal_id: int | None = None) -> int:
    """Enrol contacts of the sequence's team (once each); returns how many were enrolled."""
    now = utcnow()
    existing = set(
        db.session.scalars(select(Enrolment.contact_id).where(Enrolment.sequence_id == sequence.id))
    )
    wanted = [int(i) for i in dict.fromkeys(contact_ids) if int(i) not in existing]
    people = db.session.scalars(
        scoped(Contact, team_id=sequence.team_id).where(Contact.id.in_(wanted))
    ).all()
    first = sequence.steps[0].delay_days if sequence.steps else 0
    for person in people:
        db.session.add(
            Enrolment(
                team_id=sequence.team_id,
                sequence_id=sequence.id,
                contact_id=person.id,
                deal_id=deal_id,
                enrolled_by_id=by.id,
                next_at=add_business_days(now, first),
            )
        )
    db.session.commit()
    return len(people)


def advance() -> int:
    """Sweep: do (or stop) every due enrolment; returns how many moved."""
    now = utcnow()
    due = db.session.scalars(
        select(Enrolment.id)
        .where(Enrolment.status == "active", Enrolment.next_at <= now)
        .order_by(Enrolment.next_at, Enrolment.id)
        .limit(BATCH)
    ).all()
    moved = 0
    for enrolment_id in due:
        moved += _advance_one(enrolment_id)
    return moved


def _stop_reason(enrolment: Enrolment) -> str | None:
    contact = enrolment.contact
    if contact.deleted_at is not None:
        return "contact deleted"
    if contact.last_replied_at is not None and contact.last_replied_at >= enrolment.created_at:
        return "replied"
    reason = skip_reason(contact)
    if reason:
        return {"bouncing": "bounced"}.get(reason, reason)
    if enrolment.deal_id:
        deal = db.session.get(Deal, enrolment.deal_id)
        if deal is not None and deal.status in (DealStatus.WON, DealStatus.LOST):
            return f"deal {deal.status.value}"
    return None


def _advance_one(enrolment_id: int) -> int:
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or enrolment.status != "active":
        return 0
    reason = _stop_reason(enrolment)
    if reason:
        enrolment.status, enrolment.stop_reason, enrolment.next_at = "stopped", reason, None
        db.session.commit()
        return 1
    steps = enrolment.sequence.steps
    if enrolment.step >= len(steps):
        enrolment.status, enrolment.next_at = "finished", None
        db.session.commit()
        return 1
    step = steps[enrolment.step]
    now = utcnow()
    done = EnrolmentStep(enrolment_id=enrolment.id, position=step.position, done_at=now)
    db.session.add(done)
    try:
        db.session.flush()  # the unique row: a second worker stops here
    except IntegrityError:
        db.session.rollback()
        return 0
    row = None
    if step.kind == "email":
        row = _queue_mail(enrolment, step, now)
        done.outbox_id = row.id
    else:
        task = _task(enrolment, step, now)
        db.session.flush()
        done.task_id = task.id
    enrolment.step += 1
    if enrolment.step < len(steps):
        enrolment.next_at = add_business_days(now, steps[enrolment.step].delay_days)
    else:
        enrolment.status, enrolment.next_at = "finished", None
    db.session.commit()
    if row is not None:
        outbox.enqueue(row)
    return 1


def _queue_mail(enrolment: Enrolment, step: SequenceStep, now):
    contact = enrolment.contact
    template = step.template
    if template is None:
        raise Invalid("The step's template was deleted.", field="steps")
    deal = db.session.get(Deal, enrolment.deal_id) if enrolment.deal_id else None
    context = merge.context_for(contact, deal=deal)
    subject = merge.render(template.subject, context, field="subject").strip()[:300]
    text = merge.render(template.body, context, field="body")
    author = db.session.get(User, enrolment.enrolled_by_id) if enrolment.enrolled_by_id else None
    if author is None:
        author = contact.owner
    headers = unsubscribe_headers(enrolment.team_id, contact.id)
    if enrolment.last_message_id:  # follow-ups thread under the first mail
        headers |= {
            "In-Reply-To": enrolment.last_message_id,
            "References": enrolment.last_message_id,
        }
    row = outbox.queue_composed(
        team_id=enrolment.team_id,
        kind="sequence",
        sender=formataddr((author.name or "", author.email)),
        reply_to=reply_address(enrolment.team_id, author),
        to=[formataddr((contact.name, contact.primary_email))],
        subject=subject,
        text=text,
        html=to_html(text),
        headers=headers,
    )
    db.session.flush()
    email, activity = log_outgoing(enrolment.team_id, author, contact, row, subject, text, now)
    if enrolment.last_message_id:
        email.thread_key = enrolment.last_message_id.strip("<>")[:300]
        email.in_reply_to = enrolment.last_message_id.strip("<>")[:300]
    activity.deal_id = enrolment.deal_id
    db.session.flush()
    email.activity_id = activity.id
    activity.data = activity.data | {"email_message_id": email.id, "thread_key": email.thread_key}
    contact.last_contacted_at = now
    enrolment.last_message_id = enrolment.last_message_id or row.message_id
    return row


def _task(enrolment: Enrolment, step: SequenceStep, now) -> Task:
    contact = enrolment.contact
    task = Task(
        team_id=enrolment.team_id,
        title=f"{step.task_title} — {contact.name}"[:300],
        due_at=now,
        assignee_id=contact.owner_id or enrolment.enrolled_by_id,
        created_by_id=enrolment.enrolled_by_id,
        contact_id=contact.id,
        deal_id=enrolment.deal_id,
    )
    db.session.add(task)
    return task
