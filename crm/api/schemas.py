"""Pydantic models shared by the resources: list query basics, problems, pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _aware(value: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


UTCTime = Annotated[datetime, AfterValidator(_aware)]

# The custom values of a contact, company or deal, as written and as read.
CustomFieldsIn = Annotated[
    dict[str, Any] | None,
    Field(
        description="Custom field values by the field's key (GET /custom-fields lists the "
        "team's fields); only the keys sent change, null clears one."
    ),
]
CustomFieldsOut = Annotated[
    dict[str, Any],
    Field(description="The team's custom fields by key (GET /custom-fields), null when unset."),
]


class Strict(BaseModel):
    """Unknown fields are an error (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class ListQuery(Strict):
    cursor: str | None = Field(None, description="The `next_cursor` of the previous page.")
    limit: int = Field(50, ge=1, le=200, description="Records per page (at most 200).")
    updated_since: UTCTime | None = Field(
        None, description="Only records changed at or after this time (ISO 8601), for sync."
    )


class FieldError(BaseModel):
    field: str | None = Field(description="The field, dotted for nested ones (`emails.0`).")
    message: str
    code: str


class Problem(BaseModel):
    """An RFC 9457 problem document; `errors` names each invalid field (422)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


def page_of(item: type[BaseModel]) -> type[BaseModel]:
    """The list envelope for `item`: data, the next page's URL and its cursor."""
    return type(
        f"{item.__name__}Page",
        (BaseModel,),
        {
            "__annotations__": {
                "data": list[item],
                "next": str | None,
                "next_cursor": str | None,
            },
            "__doc__": f"A page of {item.__name__} records; `next` is null on the last page.",
        },
    )
