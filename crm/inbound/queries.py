"""Reads for email-in pages and for the timeline (which shows emails through _email_entry.html)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.kernel import paging
from crm.models import Activity, Contact, ContactEmail, EmailMessage, InboundMessage, InboundStatus
from crm.security import scoped

LOG_PAGE = 50
REVIEW_PAGE = 25


def emails_for_activities(activities: Iterable[Activity]) -> dict[int, EmailMessage]:
    """activity id → its EmailMessage (attachments loaded, `thread_count` set): two queries.

    The timeline calls this once per page and passes `email=emails.get(activity.id)` to
    templates/inbound/_email_entry.html.
    """
    activities = list(activities)
    ids = [a.id for a in activities if a.data and a.data.get("email_message_id")]
    if not ids:
        return {}
    rows = db.session.scalars(
        select(EmailMessage)
        .where(EmailMessage.activity_id.in_(ids))
        .options(selectinload(EmailMessage.attachments))
    ).all()
    keys = {row.thread_key for row in rows}
    team_ids = {row.team_id for row in rows}
    counts = dict(
        db.session.execute(
            select(EmailMessage.thread_key, func.count(EmailMessage.id))
            .where(EmailMessage.team_id.in_(team_ids), EmailMessage.thread_key.in_(keys))
            .group_by(EmailMessage.thread_key)
        ).all()
    )
    for row in rows:
        row.thread_count = counts.get(row.thread_key, 1)
    return {row.activity_id: row for row in rows}


def email_for_activity(activity: Activity) -> EmailMessage | None:
    return emails_for_activities([activity]).get(activity.id)


def _newest_first(stmt, before: str | None, limit: int):
    """A page of InboundMessage rows by id, newest first (crm.kernel.paging)."""
    if position := paging.decode(before, int):
        stmt = stmt.where(InboundMessage.id < position[0])
    page = paging.take(db.session.scalars(stmt).all(), limit, lambda m: paging.encode(m.id))
    return page.items, page.next_cursor


def log_page(team_id: int, status: str | None, before: str | None):
    stmt = (
        scoped(InboundMessage, team_id=team_id)
        .options(selectinload(InboundMessage.user))
        .order_by(InboundMessage.id.desc())
        .limit(LOG_PAGE + 1)
    )
    if status:
        stmt = stmt.where(InboundMessage.status == InboundStatus(status))
    return _newest_first(stmt, before, LOG_PAGE)


def review_page(team_id: int, user_id: int | None, before: str | None):
    """Held mail, newest first: one user's (user_id) or everyone's (None, for admins)."""
    stmt = (
        scoped(InboundMessage, team_id=team_id)
        .where(InboundMessage.status.in_((InboundStatus.REVIEW, InboundStatus.UNVERIFIED)))
        .options(selectinload(InboundMessage.user))
        .order_by(InboundMessage.id.desc())
        .limit(REVIEW_PAGE + 1)
    )
    if user_id is not None:
        stmt = stmt.where(InboundMessage.user_id == user_id)
    return _newest_first(stmt, before, REVIEW_PAGE)


def search_contacts(team_id: int, q: str, limit: int = 8) -> list[Contact]:
    """Contacts whose name or an address starts with `q` (index-friendly prefix matches)."""
    q = q.strip().lower()
    if not q:
        return []
    prefix = q.replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
    by_email = select(ContactEmail.contact_id).where(
        ContactEmail.team_id == team_id, ContactEmail.email.like(prefix, escape="\\")
    )
    stmt = (
        scoped(Contact, team_id=team_id)
        .where(
            or_(
                Contact.sort_name.like(prefix, escape="\\"),
                Contact.last_name.ilike(prefix, escape="\\"),
                Contact.id.in_(by_email),
            )
        )
        .options(selectinload(Contact.emails), selectinload(Contact.company))
        .order_by(Contact.sort_name, Contact.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt).all())
