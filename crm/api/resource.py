"""One shape for the API's record resources: list, create, get, update, delete and restore.

Every record resource answers the same way — keyset pages with `updated_since`, 201 with a
Location, ETags (304 on If-None-Match, 412 on a stale If-Match), 422 naming each field,
idempotent creates, delete to the trash and restore from it — so those handlers are written
once, here. A resource module declares what is its own: its schemas, its list's query object,
the service calls, and how a record looks (`out`).

Endpoints are named list_<plural>, create_<name>, get_<name>, update_<name>, delete_<name>,
restore_<name> (the OpenAPI operationIds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g, url_for
from pydantic import BaseModel

from crm.api.core import (
    actor_id,
    check_if_match,
    item_response,
    keyset_page,
    list_response,
    no_content,
    operation,
    path_record,
    team_id,
)
from crm.api.schemas import page_of
from crm.extensions import db
from crm.kernel import custom_fields, custom_json


@dataclass(frozen=True)
class Listing:
    """GET <path>: `select(query)` is the list's statement from its query object (team-scoped,
    filtered); `sorts` the keyset sort keys; `rows` turns a page of rows into dicts (default:
    `out` each); `plain` pages over plain rows instead of ORM objects."""

    query: type[BaseModel]
    select: Callable[[Any], Any]
    sorts: dict
    summary: str
    description: str = ""
    plain: bool = False
    rows: Callable[[list], list[dict]] | None = None


@dataclass(frozen=True)
class Write:
    """A write: `run(body)` for a create (returns the record), `run(record, body)` for an
    update, `run(record)` for a delete or restore — each a call to the feature's service."""

    run: Callable
    summary: str
    description: str = ""
    body: type[BaseModel] | None = None


@dataclass(frozen=True)
class Resource:
    path: str  # "/contacts"
    id_arg: str  # "contact_id" (also a key of core.PATH_MODELS)
    model: type
    name: str  # "contact"
    plural: str  # "contacts"
    tag: str
    out: Callable[[Any], dict]
    response: type[BaseModel]
    get: str  # the summary of GET <path>/<id>
    listing: Listing
    create: Write | None = None
    update: Write | None = None
    delete: Write | None = None
    restore: Write | None = None
    # The custom-field entity ("contact"): records carry `custom_fields` in and out, and the
    # create service is called with commit=False so its values join the same transaction.
    custom: str | None = None

    @property
    def item_rule(self) -> str:
        return f"{self.path}/<id:{self.id_arg}>"


def register(resource: Resource) -> Resource:
    """Add the resource's routes to the API blueprint (and so to the OpenAPI document)."""
    r = resource
    model, base_out = r.model, r.out

    def fields():
        """The team's custom fields of this entity, read once per request (and detached, so
        the request's commit does not expire them into one reload per field)."""
        cache = g.setdefault("api_custom_fields", {})
        if r.custom not in cache:
            cache[r.custom] = custom_fields.fields_for(team_id(), r.custom)
            for field in cache[r.custom]:
                db.session.expunge(field)
        return cache[r.custom]

    def with_custom(data: list[dict]) -> list[dict]:
        if r.custom is None:
            return data
        values = custom_json.as_json(team_id(), r.custom, [d["id"] for d in data], fields=fields())
        for d in data:
            d["custom_fields"] = values[d["id"]]
        return data

    def out(record) -> dict:
        return with_custom([base_out(record)])[0]

    def checked(body):
        """The body's custom values, validated before anything is written."""
        given = getattr(body, "custom_fields", None)
        if r.custom is None or not given:
            return []
        return custom_json.check(team_id(), r.custom, given, fields=fields())

    def list_view(query):
        stmt = r.listing.select(query)
        if query.updated_since:
            stmt = stmt.where(model.updated_at >= query.updated_since)
        rows, next_cursor = keyset_page(
            stmt,
            model,
            r.listing.sorts,
            query.sort,
            query.cursor,
            query.limit,
            plain=r.listing.plain,
        )
        data = r.listing.rows(rows) if r.listing.rows else [base_out(row) for row in rows]
        return list_response(with_custom(data), next_cursor)

    operation(
        r.path,
        summary=r.listing.summary,
        tag=r.tag,
        query=r.listing.query,
        response=page_of(r.response),
        description=r.listing.description,
        endpoint=f"list_{r.plural}",
    )(list_view)

    def get_view(**ids):
        return item_response(out(path_record(r.id_arg, model, ids[r.id_arg])))

    operation(r.item_rule, summary=r.get, tag=r.tag, response=r.response, endpoint=f"get_{r.name}")(
        get_view
    )

    if r.create is not None:
        create = r.create

        def create_view(body):
            values = checked(body)
            record = create.run(body)
            custom_json.write(record, values, actor_id())
            db.session.commit()
            location = url_for(f"api.get_{r.name}", **{r.id_arg: record.id})
            return item_response(out(record), 201, location)

        operation(
            r.path,
            "POST",
            summary=create.summary,
            tag=r.tag,
            body=create.body,
            response=r.response,
            status=201,
            description=create.description,
            endpoint=f"create_{r.name}",
        )(create_view)

    if r.update is not None:
        update = r.update

        def update_view(body, **ids):
            values = checked(body)
            record = path_record(r.id_arg, model, ids[r.id_arg])
            check_if_match(out(record))
            # Custom values first, uncommitted: the service's commit saves them with the rest.
            custom_json.write(record, values, actor_id())
            update.run(record, body)
            db.session.commit()
            db.session.refresh(record)
            return item_response(out(record))

        operation(
            r.item_rule,
            "PATCH",
            summary=update.summary,
            tag=r.tag,
            body=update.body,
            response=r.response,
            description=update.description,
            endpoint=f"update_{r.name}",
        )(update_view)

    if r.delete is not None:
        delete = r.delete

        def delete_view(**ids):
            record = path_record(r.id_arg, model, ids[r.id_arg])
            check_if_match(out(record))
            delete.run(record)
            return no_content()

        operation(
            r.item_rule,
            "DELETE",
            summary=delete.summary,
            tag=r.tag,
            description=delete.description,
            endpoint=f"delete_{r.name}",
        )(delete_view)

    if r.restore is not None:
        restore = r.restore

        def restore_view(**ids):
            record = path_record(r.id_arg, model, ids[r.id_arg], with_deleted=True)
            restore.run(record)
            db.session.refresh(record)
            return item_response(out(record))

        operation(
            f"{r.item_rule}/restore",
            "POST",
            summary=restore.summary,
            tag=r.tag,
            response=r.response,
            description=restore.description,
            endpoint=f"restore_{r.name}",
            with_deleted=True,
        )(restore_view)

    return resource
