"""Turning stored submissions into contacts and leads: the batched, idempotent, resumable job.

Promise:
- `process_pending()` (the drain job, woken by each post) claims PENDING submissions a batch at
  a time through the kernel's claim (crm/kernel/work.py: two workers never share a row) and
  processes a batch in ONE transaction.
- A submission becomes PROCESSED in the same transaction as everything it causes (the contact,
  its lead, the timeline entry, audit entries, the form's deal and task, the assignee's outbox
  notice), so it happens once or not at all: a worker killed mid-batch leaves its rows
  PROCESSING, the sweep hands them back after STALE_CLAIM, and the next job starts them afresh.
- A batch that fails as a whole is rolled back and done again one submission at a time; one
  that fails alone is FAILED with its error, shown on the form's settings page, where an admin
  can send it again. One that stopped its worker MAX_ATTEMPTS times is FAILED too.
- Read once per batch: the forms, the contacts with the batch's email addresses (same email →
  the same contact, also inside one batch), their leads, the assignment rules, the teams'
  currencies. The round-robin counter is locked at the batch's first turn and written back once
  (crm/kernel/rotation.Rotation). Search indexing follows the batch's one commit.
- Events (heard by automation and webhooks after the commit): `form.submitted` for every
  submission and `lead.created` for a new lead; their record is the contact.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from time import monotonic

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from crm import outbox, queue
from crm.contacts import services as contacts
from crm.deals import services as deals
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import audit, companies, events, timeline, work
from crm.kernel.rotation import Rotation
from crm.leads.assignment import choose_assignee
from crm.leads.fields import CONTACT_FIELDS, TRACKING, clean_values
from crm.leads.status import team_currency
from crm.models import (
    ActivityKind,
    Contact,
    ContactEmail,
    Lead,
    LeadForm,
    LeadStatus,
    LeadSubmission,
    OutboundEmail,
    Stage,
    SubmissionStatus,
    User,
    utcnow,
)
from crm.tasks import services as tasks

log = logging.getLogger(__name__)

JOB = "jobs.leads.process_pending"
BATCH_SIZE = 50  # submissions per transaction: bigger batches hold SQLite's write lock longer
DRAIN_SECONDS = 20.0  # one drain job hands over to a fresh one after this (RQ job timeouts)
STALE_CLAIM = timedelta(minutes=10)
MAX_ATTEMPTS = 3
_FLAG = "rapport:leads-drain-queued"
Status = SubmissionStatus


def wake() -> None:
    """Make sure a drain job is queued (one, however many posts arrive)."""
    queue.enqueue_once(JOB, _FLAG)


def process_pending(limit: int | None = None, seconds: float = DRAIN_SECONDS) -> int:
    """Process every PENDING submission, a batch (one transaction) at a time; the count."""
    limit = limit or current_app.config.get("LEADS_BATCH_SIZE") or BATCH_SIZE
    queue.drain_started(_FLAG)
    started, done = monotonic(), 0
    while ids := claim(limit=limit):
        process_batch(ids)
        done += len(ids)
        if monotonic() - started > seconds:
            wake()
            break
    return done


def claim(*, ids: list[int] | None = None, limit: int = BATCH_SIZE) -> list[int]:
    """PENDING → PROCESSING with one conditional UPDATE (committed)."""
    return work.claim_batch(
        LeadSubmission,
        LeadSubmission.status == Status.PENDING,
        values={
            "status": Status.PROCESSING,
            "claimed_at": utcnow(),
            "attempts": LeadSubmission.attempts + 1,
        },
        limit=limit,
        ids=ids,
    )


def process_batch(ids: list[int]) -> None:
    """Claimed submissions in one transaction; on failure, one at a time (see the docstring)."""
    try:
        notices = _process_batch(ids)
    except Exception as error:  # noqa: BLE001 - kept on the submission, never lost
        db.session.rollback()
        if len(ids) > 1:
            for ident in ids:
                process_batch([ident])
            return
        log.warning("lead submission %s failed: %s", ids[0], error, exc_info=True)
        _fail(ids[0], error)
        return
    outbox.enqueue_many(notices)


class _Batch:
    """What a batch reads once, and what it has made so far (so a second post with the same
    email in the same batch finds the contact the first one made)."""

    def __init__(self, items: list[tuple[LeadSubmission, LeadForm, dict]]):
        self.turns = Rotation()
        self.rules: dict = {}
        self.currencies: dict[int, str] = {}
        keys = {(s.team_id, v["email"]) for s, _, v in items if v.get("email")}
        self.contacts: dict[tuple[int, str], Contact] = {}
        if keys:
            rows = db.session.execute(
                select(ContactEmail.team_id, ContactEmail.email, Contact)
                .join(Contact, Contact.id == ContactEmail.contact_id)
                .where(
                    ContactEmail.team_id.in_({t for t, _ in keys}),
                    ContactEmail.email.in_({e for _, e in keys}),
                )
            ).all()
            self.contacts = {(t, e): c for t, e, c in rows if (t, e) in keys}
        ids = {c.id for c in self.contacts.values()}
        self.leads: dict[int, Lead] = {}
        if ids:
            found = db.session.scalars(select(Lead).where(Lead.contact_id.in_(ids)))
            self.leads = {lead.contact_id: lead for lead in found}

    def currency(self, team_id: int) -> str:
        if team_id not in self.currencies:
            self.currencies[team_id] = team_currency(team_id)
        return self.currencies[team_id]


def _process_batch(ids: list[int]) -> list[OutboundEmail]:
    rows = db.session.scalars(
        select(LeadSubmission)
        .where(LeadSubmission.id.in_(ids), LeadSubmission.status == Status.PROCESSING)
        .order_by(LeadSubmission.id)
    ).all()
    if not rows:
        return []
    forms = {
        form.id: form
        for form in db.session.scalars(
            select(LeadForm).where(LeadForm.id.in_({r.form_id for r in rows}))
        )
    }
    items = []
    for row in rows:
        try:
            items.append((row, forms[row.form_id], clean_values(forms[row.form_id], row.raw or {})))
        except Invalid as error:  # a rule changed since (a field made required): say so
            _mark(row, Status.FAILED, f"It cannot become a lead: {error.message}")
    batch = _Batch(items)
    notices = [notice for row, form, values in items if (notice := _one(batch, form, row, values))]
    batch.turns.save()
    db.session.commit()
    return notices


def _one(batch: _Batch, form: LeadForm, submission: LeadSubmission, values: dict):
    """One submission inside the batch's transaction; returns the assignee's notice, if any."""
    team_id = form.team_id
    now = utcnow()
    first, last = values.get("first_name"), values.get("last_name")
    if values.get("name") and not (first or last):
        first, _, last = values["name"].partition(" ")
    email = values.get("email")
    contact = batch.contacts.get((team_id, email)) if email else None
    fields = {k: values[k] for k in CONTACT_FIELDS if values.get(k)}
    source = (values.get("source") or values.get("utm_source") or form.name)[:100]
    if contact is None:
        contact = _create_contact(form, values, fields, first, last, source)
        if email:
            batch.contacts[(team_id, email)] = contact
    else:
        _fill_blanks(form, contact, values, fields, first, last)
    submission.contact_id = contact.id

    lead = batch.leads.get(contact.id)
    new_lead = lead is None
    tracking = {k: values[k] for k in TRACKING if values.get(k)}
    timeline.record(
        team_id=team_id,
        kind=ActivityKind.NOTE,
        contact_ids=[contact.id],
        subject=f"Web form “{form.name}” · source: {source}"[:300],
        body=values.get("message"),
        occurred_at=now,
        data={"form_id": form.id, "form": form.name, "submission_id": submission.id, **tracking},
    )
    assignee_id = None
    if new_lead:
        lead = Lead(
            team_id=team_id,
            contact_id=contact.id,
            status=LeadStatus.NEW,
            source=source,
            form_id=form.id,
            arrived_at=now,
        )
        db.session.add(lead)
        batch.leads[contact.id] = lead
        if contact.owner_id is None:
            assignee_id = choose_assignee(
                team_id, form.id, values, turns=batch.turns, rules=batch.rules
            )
            lead.assignee_id = contact.owner_id = assignee_id
        else:
            lead.assignee_id = contact.owner_id
        db.session.flush()
        _follow_up(batch, form, lead, contact, now)
    _emit(form, submission, contact, lead, new_lead, source)
    _mark(submission, Status.PROCESSED, None)
    return _notify(lead, contact, form) if assignee_id else None


def _create_contact(form, values, fields, first, last, source) -> Contact:
    data = {
        **fields,
        "first_name": first or "",
        "last_name": last or "",
        "emails": [values["email"]] if values.get("email") else [],
        "phones": [values["phone"]] if values.get("phone") else [],
        "source": source,
        "owner_id": None,
        "tags": [form.tag] if form.tag else [],
    }
    company = companies.find_or_create(form.team_id, None, values.get("company"))
    if company is not None:
        data["company_id"] = company.id
    return contacts.create_contact(form.team_id, None, data, commit=False)


def _fill_blanks(form, contact: Contact, values, fields, first, last) -> None:
    """The visitor rule: a post never overwrites what the team already knows."""
    if contact.untrash():
        # The person wrote again: their contact comes back out of the trash (audited).
        audit.write(
            team_id=form.team_id,
            actor_id=None,
            entity_type="contact",
            entity_id=contact.id,
            action="restore",
            timeline=True,
            contact_ids=[contact.id],
        )
    data = {k: v for k, v in fields.items() if not getattr(contact, k)}
    if first and not contact.first_name and not contact.last_name:
        data.update(first_name=first, last_name=last or "")
    if values.get("phone"):
        data["phones"] = [p.e164 for p in contact.phones] + [values["phone"]]
    if form.tag:
        data["tags"] = [t.name for t in contact.tags] + [form.tag]
    if values.get("company") and contact.company_id is None:
        company = companies.find_or_create(form.team_id, None, values["company"])
        data["company_id"] = company.id if company else None
    if data:
        contacts.update_contact(contact, None, data, commit=False)


def _follow_up(batch: _Batch, form: LeadForm, lead: Lead, contact: Contact, now) -> None:
    """The form's deal and follow-up task for a new lead, in the batch's transaction."""
    team_id = form.team_id
    if form.stage_id:
        stage = db.session.get(Stage, form.stage_id)
        if stage is not None and stage.team_id == team_id:
            deal = deals.create_deal(
                team_id=team_id,
                title=f"{contact.name} ({form.name})",
                stage=stage,
                currency=batch.currency(team_id),
                owner_id=lead.assignee_id,
                company_id=contact.company_id,
                contact_ids=[contact.id],
                commit=False,
            )
            lead.deal_id = deal.id
    if form.create_task and lead.assignee_id:
        tasks.create_task(
            team_id,
            None,
            title=f"Follow up with {contact.name} (web form)",
            due_at=now.date(),
            assignee_id=lead.assignee_id,
            contact_id=contact.id,
            commit=False,
        )


def _emit(form, submission, contact, lead, new_lead: bool, source: str) -> None:
    common = {"team_id": form.team_id, "record_type": "contact", "record_id": contact.id}
    events.emit(
        "form.submitted",
        **common,
        changes={
            "form_id": form.id,
            "form": form.name,
            "submission_id": submission.id,
            "lead_id": lead.id,
            "source": source,
        },
    )
    if new_lead:
        events.emit(
            "lead.created",
            **common,
            changes={
                "lead_id": lead.id,
                "status": lead.status.value,
                "source": source,
                "form_id": form.id,
                "assignee_id": lead.assignee_id,
            },
        )


def _notify(lead: Lead, contact: Contact, form: LeadForm | None) -> OutboundEmail | None:
    user = db.session.get(User, lead.assignee_id)
    if user is None:
        return None
    return outbox.queue_email(
        to=user.email,
        subject=f"New lead for you: {contact.name}",
        template="lead_assigned",
        kind="lead_assigned",
        team_id=lead.team_id,
        user=user,
        contact=contact,
        lead=lead,
        form_name=form.name if form else None,
        url=current_app.config["BASE_URL"].rstrip("/") + f"/contacts/{contact.id}",
    )


def _mark(submission: LeadSubmission, status: SubmissionStatus, error: str | None) -> None:
    submission.status, submission.error, submission.claimed_at = status, error, None


def _fail(ident: int, error: Exception) -> None:
    """One submission failed on its own: back to the queue if the database was only busy,
    else FAILED with the reason the team sees."""
    submission = db.session.get(LeadSubmission, ident)
    if submission is None or submission.status != Status.PROCESSING:
        return
    if isinstance(error, OperationalError) and submission.attempts < MAX_ATTEMPTS:
        _mark(submission, Status.PENDING, None)  # the sweep wakes a job for it
    elif isinstance(error, Invalid):
        _mark(submission, Status.FAILED, error.message[:2000])
    else:
        _mark(submission, Status.FAILED, f"{type(error).__name__}: {error}"[:2000])
    db.session.commit()


def sweep() -> int:
    """Hand back submissions whose worker died (FAILED after MAX_ATTEMPTS), wake a job for any
    that wait; returns how many wait."""
    now = utcnow()
    stale = (
        LeadSubmission.status == Status.PROCESSING,
        work.stale(LeadSubmission.claimed_at, STALE_CLAIM, now),
    )
    work.reclaim(
        LeadSubmission,
        *stale,
        LeadSubmission.attempts >= MAX_ATTEMPTS,
        values={
            "status": Status.FAILED,
            "claimed_at": None,
            "error": f"The worker stopped {MAX_ATTEMPTS} times while processing it.",
        },
    )
    work.reclaim(LeadSubmission, *stale, values={"status": Status.PENDING, "claimed_at": None})
    waiting = db.session.scalar(
        select(db.func.count(LeadSubmission.id)).where(LeadSubmission.status == Status.PENDING)
    )
    if waiting:
        wake()
    return waiting or 0
