"""Reading leads: the Leads list (new and unassigned first) and speed-to-lead by member."""

from __future__ import annotations

from sqlalchemy import case, func, select

from crm.extensions import db
from crm.models import (
    Activity,
    ActivityContact,
    ActivityKind,
    Contact,
    Lead,
    LeadStatus,
    LeadSubmission,
    SubmissionStatus,
    User,
)
from crm.security import scoped


def _first_touch(team_id: int):
    """Per lead: when a member first logged an activity on its contact after it arrived."""
    return (
        select(func.min(Activity.occurred_at))
        .join(ActivityContact, ActivityContact.activity_id == Activity.id)
        .where(
            Activity.team_id == team_id,
            ActivityContact.contact_id == Lead.contact_id,
            Activity.author_id.is_not(None),
            Activity.kind != ActivityKind.SYSTEM,
            Activity.deleted_at.is_(None),
            Activity.occurred_at >= Lead.arrived_at,
        )
        .correlate(Lead)
        .scalar_subquery()
    )


def leads(team_id: int, status: str | None = None, limit: int = 200) -> list[tuple[Lead, object]]:
    """(lead, first member activity) rows: new and unassigned first, then new, then the rest."""
    first = _first_touch(team_id).label("first_at")
    order = case(
        (Lead.status == LeadStatus.NEW, case((Lead.assignee_id.is_(None), 0), else_=1)),
        else_=2,
    )
    stmt = (
        scoped(Lead, team_id=team_id)
        .join(Contact, Contact.id == Lead.contact_id)
        .where(Contact.deleted_at.is_(None))
        .add_columns(first)
    )
    if status:
        stmt = stmt.where(Lead.status == status)
    stmt = stmt.order_by(order, Lead.arrived_at.desc(), Lead.id.desc()).limit(limit)
    return list(db.session.execute(stmt).all())


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def speed_report(team_id: int) -> list[dict]:
    """Speed-to-lead per assignee: leads, answered, median and p90 seconds (answered only)."""
    first = _first_touch(team_id).label("first_at")
    rows = db.session.execute(
        select(Lead.assignee_id, User.name, Lead.arrived_at, first)
        .outerjoin(User, User.id == Lead.assignee_id)
        .where(Lead.team_id == team_id)
    ).all()
    by_member: dict = {}
    for assignee_id, name, arrived, first_at in rows:
        entry = by_member.setdefault(
            assignee_id, {"name": name or "Unassigned", "leads": 0, "s": []}
        )
        entry["leads"] += 1
        if first_at is not None:
            entry["s"].append(max((first_at - arrived).total_seconds(), 0.0))
    report = []
    for entry in by_member.values():
        seconds = sorted(entry["s"])
        report.append(
            {
                "name": entry["name"],
                "leads": entry["leads"],
                "answered": len(seconds),
                "median": _percentile(seconds, 0.5) if seconds else None,
                "p90": _percentile(seconds, 0.9) if seconds else None,
            }
        )
    return sorted(report, key=lambda r: r["name"])


def spam(team_id: int, limit: int = 200) -> list[LeadSubmission]:
    return list(
        db.session.scalars(
            scoped(LeadSubmission, team_id=team_id)
            .where(LeadSubmission.status == SubmissionStatus.SPAM)
            .order_by(LeadSubmission.id.desc())
            .limit(limit)
        )
    )


def submission_counts(team_id: int, form_id: int) -> dict[str, int]:
    """How many of a form's submissions are in each state (waiting, processed, failed, spam)."""
    rows = db.session.execute(
        select(LeadSubmission.status, func.count())
        .where(LeadSubmission.team_id == team_id, LeadSubmission.form_id == form_id)
        .group_by(LeadSubmission.status)
    ).all()
    return {str(status): count for status, count in rows}


def failed(team_id: int, form_id: int, limit: int = 50) -> list[LeadSubmission]:
    """A form's submissions that could not become leads, newest first, with their reasons."""
    return list(
        db.session.scalars(
            scoped(LeadSubmission, team_id=team_id)
            .where(
                LeadSubmission.form_id == form_id,
                LeadSubmission.status == SubmissionStatus.FAILED,
            )
            .order_by(LeadSubmission.id.desc())
            .limit(limit)
        )
    )


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
