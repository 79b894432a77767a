"""/api/v1/deals: the deal list's filters; create, edit, move, win, lose, reopen and trash
through the deal services (the same audit and timeline entries as the board)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import selectinload

from crm.api.core import actor_id, team_id
from crm.api.filters import DESCRIPTION as CUSTOM_FILTERS
from crm.api.filters import CustomFilterQuery, custom_filters
from crm.api.resource import Listing, Resource, Write, register
from crm.api.schemas import CustomFieldsIn, CustomFieldsOut, Strict
from crm.deals import queries, services
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel.paging import SortKey
from crm.models import Deal, DealStatus, LostReason, Pipeline, Stage
from crm.security import current_team, get_or_404, scoped


class DealIn(Strict):
    """Fields of a deal. On PATCH only the fields sent change.

    PATCH `stage_id` moves an open deal to the top of that stage (same pipeline);
    `status` won / lost (with `lost_reason_id`) / open closes or reopens it.
    """

    title: str | None = Field(None, max_length=200, description="Required on create.")
    stage_id: int | None = Field(None, description="Default: the first stage of the pipeline.")
    pipeline_id: int | None = Field(None, description="On create: default the team's default.")
    value_minor: int | None = Field(None, ge=0, description="Value in minor units (cents).")
    currency: str | None = Field(None, min_length=3, max_length=3, description="ISO 4217.")
    owner_id: int | None = None
    company_id: int | None = None
    contact_ids: list[int] | None = None
    expected_close: date | None = None
    tags: list[str] | None = None
    status: Literal["open", "won", "lost"] | None = None
    lost_reason_id: int | None = None
    lost_note: str | None = Field(None, max_length=500)
    custom_fields: CustomFieldsIn = None


class DealOut(BaseModel):
    id: int
    title: str
    pipeline_id: int
    stage_id: int
    status: Literal["open", "won", "lost"]
    value_minor: int
    currency: str
    owner_id: int | None
    company_id: int | None
    contact_ids: list[int]
    expected_close: date | None
    tags: list[str]
    lost_reason_id: int | None
    lost_note: str | None
    closed_at: datetime | None
    stage_entered_at: datetime | None
    last_activity_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    custom_fields: CustomFieldsOut


SORTS = {
    "title": SortKey(Deal.title),
    "value": SortKey(Deal.value_minor, int),
    "created": SortKey(Deal.created_at, datetime),
    "updated": SortKey(Deal.updated_at, datetime),
    "id": SortKey(Deal.id, int),
}
SortName = Literal[
    "title",
    "-title",
    "value",
    "-value",
    "created",
    "-created",
    "updated",
    "-updated",
    "id",
    "-id",
]


class DealQuery(CustomFilterQuery):
    q: str | None = Field(None, max_length=100, description="Words in the title.")
    owner: int | None = None
    tag: int | None = None
    close_from: date | None = None
    close_to: date | None = None
    pipeline: int | None = None
    status: Literal["open", "won", "lost", "all"] = "all"
    sort: SortName = "id"
    include_deleted: bool = False


def out(deal: Deal) -> dict:
    return {
        "id": deal.id,
        "title": deal.title,
        "pipeline_id": deal.pipeline_id,
        "stage_id": deal.stage_id,
        "status": deal.status.value,
        "value_minor": deal.value_minor,
        "currency": deal.currency,
        "owner_id": deal.owner_id,
        "company_id": deal.company_id,
        "contact_ids": sorted(c.id for c in deal.contacts),
        "expected_close": deal.expected_close,
        "tags": [t.name for t in deal.tags],
        "lost_reason_id": deal.lost_reason_id,
        "lost_note": deal.lost_note,
        "closed_at": deal.closed_at,
        "stage_entered_at": deal.stage_entered_at,
        "last_activity_at": deal.last_activity_at,
        "created_at": deal.created_at,
        "updated_at": deal.updated_at,
        "deleted_at": deal.deleted_at,
    }


def _select(query: DealQuery):
    filters = queries.Filters(
        owner_id=query.owner,
        tag_id=query.tag,
        q=query.q or "",
        close_from=query.close_from,
        close_to=query.close_to,
        custom=custom_filters(query, "deal"),
    )
    pipeline = get_or_404(Pipeline, query.pipeline) if query.pipeline else None
    if query.include_deleted:  # the list's filters over the trash too (sync)
        stmt = filters.apply(scoped(Deal, with_deleted=True), team_id())
        if pipeline is not None:
            stmt = stmt.where(Deal.pipeline_id == pipeline.id)
        if query.status != "all":
            stmt = stmt.where(Deal.status == DealStatus(query.status))
    else:
        stmt = queries.list_query(team_id(), pipeline, filters, query.status)
    return stmt.options(selectinload(Deal.contacts), selectinload(Deal.tags))


def _stage(stage_id: int | None, pipeline_id: int | None) -> Stage:
    if stage_id:
        stage = db.session.scalars(scoped(Stage).where(Stage.id == stage_id)).first()
        if stage is None:
            raise Invalid("No such stage in your pipelines.", field="stage_id")
        return stage
    pipeline = queries.current_pipeline(team_id(), pipeline_id)
    if pipeline is None or not pipeline.stages or (pipeline_id and pipeline.id != pipeline_id):
        raise Invalid("No such pipeline (or it has no stages).", field="pipeline_id")
    return pipeline.stages[0]


def _create(body: DealIn) -> Deal:
    if body.status not in (None, "open"):
        raise Invalid("A new deal is open; close it with PATCH.", field="status")
    return services.create_deal(
        team_id=team_id(),
        title=body.title or "",
        stage=_stage(body.stage_id, body.pipeline_id),
        currency=body.currency or current_team().currency,
        value_minor=body.value_minor or 0,
        owner_id=body.owner_id if "owner_id" in body.model_fields_set else actor_id(),
        company_id=body.company_id,
        contact_ids=body.contact_ids or (),
        expected_close=body.expected_close,
        tags=body.tags or (),
        actor_id=actor_id(),
        commit=False,
    )


def _update(deal: Deal, body: DealIn) -> None:
    sent = body.model_fields_set
    if "pipeline_id" in sent and body.pipeline_id != deal.pipeline_id:
        raise Invalid("A deal stays in its pipeline.", field="pipeline_id")
    stage = None
    if body.stage_id is not None and body.stage_id != deal.stage_id:
        stage = _stage(body.stage_id, None)
        if stage.pipeline_id != deal.pipeline_id:
            raise Invalid("Choose a stage of the deal's pipeline.", field="stage_id")
        if deal.status != DealStatus.OPEN:
            raise Invalid("Only an open deal moves between stages.", field="stage_id")
    reason = None
    if body.status == "lost" and deal.status != DealStatus.LOST:
        reason = (
            db.session.scalars(
                scoped(LostReason).where(LostReason.id == body.lost_reason_id)
            ).first()
            if body.lost_reason_id
            else None
        )
        if reason is None:
            raise Invalid("Choose why the deal was lost.", field="lost_reason_id")
    fields = {name: getattr(body, name) for name in services.EDITABLE if name in sent}
    if fields.get("title", "") is None:
        raise Invalid("A deal needs a title.", field="title")
    if "value_minor" in fields and fields["value_minor"] is None:
        fields["value_minor"] = 0
    if "currency" in fields:
        fields["currency"] = (fields["currency"] or current_team().currency).upper()
    if fields or "contact_ids" in sent or "tags" in sent:
        services.update_deal(
            deal,
            actor_id=actor_id(),
            contact_ids=(body.contact_ids or []) if "contact_ids" in sent else None,
            tags=(body.tags or []) if "tags" in sent else None,
            **fields,
        )
    if stage is not None:
        services.move_deal(deal, stage, actor_id=actor_id())
    if body.status and body.status != deal.status.value:
        if body.status == "won":
            services.mark_won(deal, actor_id=actor_id())
        elif body.status == "lost":
            services.mark_lost(deal, reason=reason, note=body.lost_note, actor_id=actor_id())
        else:
            services.reopen(deal, actor_id=actor_id())


register(
    Resource(
        "/deals",
        "deal_id",
        Deal,
        name="deal",
        plural="deals",
        tag="deals",
        custom="deal",
        out=out,
        response=DealOut,
        get="Get a deal",
        listing=Listing(
            DealQuery,
            _select,
            SORTS,
            summary="List deals",
            description="The deal list's filters (owner, tag, title words, expected close), "
            f"any status. {CUSTOM_FILTERS}",
        ),
        create=Write(
            _create,
            summary="Create a deal",
            description="Needs a title; lands at the top of its stage, like a deal added on the "
            "board.",
            body=DealIn,
        ),
        update=Write(
            _update,
            summary="Update, move, win or lose a deal",
            description="Fields first, then the stage move, then the status change: each is "
            "audited as on the board. `If-Match`: 412 if the deal changed since you read it.",
            body=DealIn,
        ),
        delete=Write(
            lambda deal: services.delete_deal(deal, actor_id=actor_id()),
            summary="Move a deal to the trash",
        ),
        restore=Write(
            lambda deal: services.restore_deal(deal, actor_id=actor_id()),
            summary="Restore a deal from the trash",
            description="Back into the stage and place it had, as the Restore button on the web "
            "does (audited, `deal.restored` sent to webhooks). Restoring a deal that is not in "
            "the trash changes nothing.",
        ),
    )
)
