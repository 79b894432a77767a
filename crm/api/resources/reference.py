"""/api/v1 pipelines (with their stages), tags and members: read only."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.api.core import item_response, json_response, operation
from crm.api.schemas import Strict
from crm.deals import queries as deal_queries
from crm.extensions import db
from crm.kernel import custom_fields
from crm.models import Membership, Pipeline, Tag, User
from crm.security import current_team, get_or_404, scoped


class StageOut(BaseModel):
    id: int
    name: str
    position: int
    probability: int = Field(description="Percent, 0–100.")
    rot_days: int | None


class PipelineOut(BaseModel):
    id: int
    name: str
    is_default: bool
    stages: list[StageOut]
    created_at: datetime
    updated_at: datetime


class TagOut(BaseModel):
    id: int
    name: str


class MemberOut(BaseModel):
    user_id: int = Field(description="The id used by owner_id, assignee_id, author_id.")
    name: str
    email: str
    role: Literal["owner", "admin", "member"]


class NoQuery(Strict):
    """No parameters."""


def _all(item: type[BaseModel]) -> type[BaseModel]:
    return type(f"{item.__name__}List", (BaseModel,), {"__annotations__": {"data": list[item]}})


def pipeline_out(pipeline: Pipeline) -> dict:
    return {
        "id": pipeline.id,
        "name": pipeline.name,
        "is_default": pipeline.is_default,
        "stages": [
            {
                "id": s.id,
                "name": s.name,
                "position": s.position,
                "probability": s.probability,
                "rot_days": s.rot_days,
            }
            for s in pipeline.stages
        ],
        "created_at": pipeline.created_at,
        "updated_at": pipeline.updated_at,
    }


@operation(
    "/pipelines",
    summary="List pipelines and their stages",
    tag="pipelines",
    query=NoQuery,
    response=_all(PipelineOut),
)
def list_pipelines(query: NoQuery):
    """All of them (a team has a few); stages in board order."""
    pipelines = deal_queries.pipelines(current_team().id)
    return json_response({"data": [pipeline_out(p) for p in pipelines]})


@operation(
    "/pipelines/<id:pipeline_id>",
    summary="Get a pipeline and its stages",
    tag="pipelines",
    response=PipelineOut,
)
def get_pipeline(pipeline_id: int):
    return item_response(pipeline_out(get_or_404(Pipeline, pipeline_id)))


@operation("/tags", summary="List tags", tag="tags", query=NoQuery, response=_all(TagOut))
def list_tags(query: NoQuery):
    """Tags are created by naming them in a record's `tags`."""
    rows = db.session.scalars(scoped(Tag).order_by(Tag.name)).all()
    return json_response({"data": [{"id": t.id, "name": t.name} for t in rows]})


@operation(
    "/members",
    summary="List the team's members",
    tag="members",
    query=NoQuery,
    response=_all(MemberOut),
)
def list_members(query: NoQuery):
    rows = db.session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.team_id == current_team().id)
        .order_by(User.name)
        .options(selectinload(Membership.user))
    ).all()
    return json_response(
        {
            "data": [
                {"user_id": u.id, "name": u.name, "email": u.email, "role": m.role.value}
                for m, u in rows
            ]
        }
    )


class OptionOut(BaseModel):
    id: str = Field(description="What a select value holds; send the id or the label.")
    label: str


class CustomFieldOut(BaseModel):
    key: str = Field(description="The name in a record's `custom_fields` (never changes).")
    entity: Literal["contact", "company", "deal"]
    label: str
    type: Literal[
        "text",
        "long_text",
        "number",
        "money",
        "date",
        "checkbox",
        "select",
        "multi_select",
        "url",
        "email",
        "phone",
        "member",
    ] = Field(
        description="JSON forms: number → number; money → integer minor units in `currency`; "
        'date → "YYYY-MM-DD"; checkbox → boolean; select → option id; multi_select → list '
        "of option ids; member → user id; the others → string."
    )
    required: bool
    help_text: str
    section: str
    options: list[OptionOut]
    currency: str | None


class CustomFieldQuery(Strict):
    entity: Literal["contact", "company", "deal"] | None = Field(
        None, description="Only the fields of contacts, companies or deals."
    )


@operation(
    "/custom-fields",
    summary="List the team's custom fields",
    tag="custom fields",
    query=CustomFieldQuery,
    response=_all(CustomFieldOut),
)
def list_custom_fields(query: CustomFieldQuery):
    """What `custom_fields` holds on contacts, companies and deals, in the order of the
    record pages. Admins manage them under Settings → Custom fields."""
    entities = [query.entity] if query.entity else ["contact", "company", "deal"]
    data = [
        {
            "key": f.key,
            "entity": f.entity,
            "label": f.label,
            "type": f.type,
            "required": f.required,
            "help_text": f.help_text or "",
            "section": f.section or "",
            "options": [{"id": o["id"], "label": o["label"]} for o in f.options or ()],
            "currency": f.currency or None,
        }
        for entity in entities
        for f in custom_fields.fields_for(current_team().id, entity)
    ]
    return json_response({"data": data})
