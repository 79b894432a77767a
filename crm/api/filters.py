"""The custom-field filters of the API's lists: `cf_<key>=value` and `cf_<key>__<op>=value`, as
the web lists read them (crm.kernel.custom_fields), checked against the team's fields (422
naming an unknown field or an operator its type does not have)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from crm.api.core import ApiError, team_id
from crm.api.schemas import ListQuery
from crm.kernel import custom_fields

DESCRIPTION = (
    "Custom fields filter as on the page: `cf_<key>=value` (equals) or "
    "`cf_<key>__<op>=value` with op `contains`, `min`, `max`, `any` (comma-separated "
    "options) or `empty` (1 / 0), as the field's type allows (see GET /custom-fields)."
)


class CustomFilterQuery(ListQuery):
    """A list query that also takes the custom-field filters of its entity."""

    # Described on the operation (DESCRIPTION): their names depend on the team's fields.
    custom: SkipJsonSchema[dict[str, str]] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _custom_filters(cls, data):
        if isinstance(data, dict):
            data = dict(data)
            custom = {}
            for name in [k for k in data if str(k).startswith("cf_")]:
                value = data.pop(name)
                custom[name] = value[-1] if isinstance(value, list) else value
            data["custom"] = custom
        return data


def custom_filters(query: CustomFilterQuery, entity: str) -> tuple[tuple[str, str], ...]:
    """The query's custom-field filters for the list's query object (its `custom`); 422 naming
    one whose field or operator is unknown."""
    if not query.custom:
        return ()
    by_key = {f.key: f for f in custom_fields.fields_for(team_id(), entity)}
    for name in query.custom:
        key, _, op = name[3:].partition("__")
        field = by_key.get(key)
        if field is None or (op or "eq") not in custom_fields.OPERATORS.get(field.type, ()):
            allowed = ", ".join(custom_fields.OPERATORS.get(field.type, ())) if field else ""
            message = (
                f"{field.label} filters by: {allowed}." if field else f"No custom field {key!r}."
            )
            raise ApiError(
                422,
                "Validation failed",
                "Some query parameters are not valid.",
                [{"field": name, "message": message, "code": "custom_filter"}],
            )
    return tuple(sorted(query.custom.items()))
