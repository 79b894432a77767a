"""The request path of a web form: check the post, keep it as one submission row, answer.

Promise: bad input raises Invalid and nothing is kept; suspected spam is kept in the Spam list
with its reason; anything else is stored as a PENDING submission (its raw fields, as sent) and
committed before the visitor is answered, then the drain job is woken. The database is the
source of truth: a worker that dies, a lost queue or a restart loses no submission, because the
job (crm/leads/processing.py) and its sweep start from the rows. Three statements per post
(the form, the insert, the commit) so a burst from a busy site is answered at once.
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from itsdangerous import BadSignature, Signer

from crm.errors import Invalid
from crm.extensions import db
from crm.leads import processing
from crm.leads.fields import HONEYPOT, STAMP, clean_values, raw_fields
from crm.models import LeadForm, LeadSubmission, SubmissionStatus, utcnow

log = logging.getLogger(__name__)


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt="lead-form-stamp")


def stamp(form: LeadForm, at: float | None = None) -> str:
    """The signed "form shown at" time the hosted page and the snippet's script post back."""
    return _signer().sign(f"{form.token}.{int(at if at is not None else time.time())}").decode()


def spam_reason(form: LeadForm, data: dict) -> str | None:
    if str(data.get(HONEYPOT) or "").strip():
        return "The hidden honeypot field was filled in."
    raw = str(data.get(STAMP) or "")
    if not raw:
        return "No fill-time stamp (posted without the form's page or script)."
    try:
        token, _, shown = _signer().unsign(raw).decode().rpartition(".")
        shown_at = int(shown)
    except (BadSignature, ValueError):
        return "The fill-time stamp is forged or damaged."
    if token != form.token:
        return "The fill-time stamp belongs to another form."
    elapsed = time.time() - shown_at
    minimum = current_app.config.get("LEADS_MIN_FILL_SECONDS", 3)
    if elapsed < minimum:
        return f"Sent {max(elapsed, 0):.0f} s after the form was shown (people take {minimum} s)."
    return None


def receive(form: LeadForm, data: dict, remote_addr: str | None = None) -> LeadSubmission:
    """Take one posted form (see the module docstring); commits, then wakes the job."""
    clean_values(form, data)  # raises Invalid: the visitor hears about a bad field now
    reason = spam_reason(form, data)
    submission = LeadSubmission(
        team_id=form.team_id,
        form_id=form.id,
        status=SubmissionStatus.SPAM if reason else SubmissionStatus.PENDING,
        reason=reason,
        raw=raw_fields(data),
        remote_addr=(remote_addr or "")[:64] or None,
    )
    db.session.add(submission)
    db.session.commit()
    if not reason:
        _wake()
    return submission


def _wake() -> None:
    # The row is committed: if the queue is unreachable the visitor still gets the thank-you
    # page, and the minute sweep wakes a job for every pending row.
    try:
        processing.wake()
    except Exception:  # noqa: BLE001 - logged; nothing is lost, only delayed
        log.exception("could not wake the web-form job; the sweep will")


def release(submission: LeadSubmission, actor_id: int | None) -> LeadSubmission:
    """An admin says a Spam entry is a real person, or tries a failed one again: it goes back
    to the job as it was sent. Commits."""
    if submission.status not in (SubmissionStatus.SPAM, SubmissionStatus.FAILED):
        raise Invalid("Only submissions in the Spam list or failed ones can be sent again.")
    try:
        clean_values(submission.form, submission.raw or {})
    except Invalid as error:
        raise Invalid(f"This submission cannot become a lead: {error.message}") from None
    if submission.status == SubmissionStatus.SPAM:
        submission.released_at = utcnow()
    submission.status = SubmissionStatus.PENDING
    submission.error = None
    submission.attempts = 0
    db.session.commit()
    _wake()
    return submission
