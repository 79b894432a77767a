"""A lead's life after it arrives: its status (with the lead.status_changed event), converting
it to a deal in one step, and speed to lead."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from crm.deals import services as deals
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import events, timeline
from crm.kernel.fields import clean_text
from crm.kernel.ids import parse_id
from crm.models import ActivityKind, Lead, LeadStatus, Pipeline, Stage, Team


def team_currency(team_id: int) -> str:
    return db.session.get(Team, team_id).currency


def set_status(
    lead: Lead, status, *, actor_id: int | None = None, reason: str | None = None
) -> Lead:
    """Move a lead to another status (a disqualified lead needs a reason); commits.

    Converting goes through convert(), which also creates the deal.
    """
    try:
        status = LeadStatus(status)
    except ValueError:
        raise Invalid("Choose a status from the list.", field="status") from None
    reason = clean_text(reason, 200, "reason")
    if status == LeadStatus.DISQUALIFIED and not reason:
        raise Invalid("Say why the lead is disqualified.", field="reason")
    if status == LeadStatus.CONVERTED and lead.deal_id is None:
        raise Invalid("Convert the lead to create its deal.", field="status")
    old = lead.status
    lead.status = status
    lead.reason = reason if status == LeadStatus.DISQUALIFIED else None
    if old != status:
        events.emit(
            "lead.status_changed",
            team_id=lead.team_id,
            record_type="contact",
            record_id=lead.contact_id,
            actor_id=actor_id,
            changes={
                "lead_id": lead.id,
                "status": [old.value, status.value],
                **({"reason": lead.reason} if lead.reason else {}),
            },
        )
        timeline.record(
            team_id=lead.team_id,
            kind=ActivityKind.SYSTEM,
            author_id=actor_id,
            contact_ids=[lead.contact_id],
            subject=f"Lead status: {old.label} → {status.label}"
            + (f" ({lead.reason})" if lead.reason else ""),
            data={"lead_id": lead.id, "from": old.value, "to": status.value},
        )
    db.session.commit()
    return lead


def convert(lead: Lead, *, actor_id: int | None, title: str | None = None, stage_id=None):
    """Make the lead's deal in one step (the default pipeline's first stage unless a stage is
    given) and mark the lead converted; returns the deal."""
    if lead.status == LeadStatus.CONVERTED and lead.deal_id:
        raise Invalid("This lead is converted already.")
    team_id = lead.team_id
    if stage_id:
        stage = db.session.scalars(
            select(Stage).where(Stage.team_id == team_id, Stage.id == parse_id(stage_id))
        ).first()
    else:
        pipeline = db.session.scalars(
            select(Pipeline)
            .where(Pipeline.team_id == team_id)
            .order_by(Pipeline.is_default.desc(), Pipeline.id)
        ).first()
        stage = pipeline.stages[0] if pipeline and pipeline.stages else None
    if stage is None:
        raise Invalid("Create a pipeline first: the deal needs a stage.", field="stage_id")
    contact = lead.contact
    deal = deals.create_deal(
        team_id=team_id,
        title=(title or "").strip() or contact.name,
        stage=stage,
        currency=team_currency(team_id),
        owner_id=lead.assignee_id or actor_id,
        company_id=contact.company_id,
        contact_ids=[contact.id],
        actor_id=actor_id,
    )
    lead.deal_id = deal.id
    set_status(lead, LeadStatus.CONVERTED, actor_id=actor_id)
    return deal


def speed_seconds(first_at: datetime | None, arrived_at: datetime) -> float | None:
    if first_at is None:
        return None
    return max((first_at - arrived_at).total_seconds(), 0.0)
