"""The OpenAPI 3.1 document, built from the registered operations and their pydantic models,
and Swagger UI (vendored in static/vendor/swagger-ui) to browse it at /api/v1/docs."""

from __future__ import annotations

import re

from flask import current_app, render_template
from pydantic import BaseModel

from crm.api.core import OPERATIONS, TITLES, json_response, operation
from crm.api.schemas import Problem

VERSION = "1.0.0"
REF = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], components: dict) -> dict:
    """A $ref to `model`, its schema (and the models it uses) added to the components."""
    schema = model.model_json_schema(ref_template=REF, mode="serialization")
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _input_schema(model: type[BaseModel], components: dict) -> dict:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _parameters(op, components: dict) -> list[dict]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
        for name in re.findall(r"<id:(\w+)>", op.rule)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF, mode="validation")
        for name, definition in schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            description = prop.pop("description", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                param["description"] = description
            params.append(param)
    if op.method in ("PATCH", "DELETE"):
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": "The ETag you read; 412 if the record changed since.",
                "schema": {"type": "string"},
            }
        )
    if op.method == "POST":
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Retry-safe create: the same key replays the first answer; "
                "the same key with another body is a 422.",
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    return params


def _problem(status: int) -> dict:
    return {
        "description": TITLES.get(status, "Error"),
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def build_document() -> dict:
    components: dict = {}
    _schema(Problem, components)
    paths: dict = {}
    for op in OPERATIONS:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", op.rule)
        path = "/api/v1" + path
        entry = {
            "operationId": op.endpoint.removeprefix("api."),
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(op, components),
        }
        if op.description:
            entry["description"] = op.description
        if op.public:
            entry["security"] = []
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _input_schema(op.body, components)}},
            }
        if op.response is not None:
            success = {
                "description": "OK" if op.status == 200 else "Created",
                "content": {"application/json": {"schema": _schema(op.response, components)}},
            }
            if not op.many and op.rule.count("<") and op.method != "DELETE":
                success["headers"] = {"ETag": {"schema": {"type": "string"}}}
        else:
            success = {"description": "No content"}
        status = str(op.status if op.response is not None else 204)
        responses = {status: success}
        if not op.public:
            for code in (401, 403, 429):
                responses[str(code)] = _problem(code)
        if op.rule.count("<"):
            responses["404"] = _problem(404)
        if op.query is not None or op.body is not None:
            responses["422"] = _problem(422)
        if op.method in ("PATCH", "DELETE"):
            responses["412"] = _problem(412)
        entry["responses"] = responses
        paths.setdefault(path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rapport API",
            "version": VERSION,
            "description": "Contacts, companies, deals, tasks and the timeline of your team. "
            "Authenticate with a personal token: `Authorization: Bearer rap_…` "
            "(Settings → API tokens).",
        },
        "servers": [{"url": current_app.config.get("BASE_URL", "")}],
        "security": [{"bearer": []}],
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@operation("/openapi.json", summary="This OpenAPI document", tag="meta")
def openapi():
    """The OpenAPI 3.1 description of every route under /api/v1 (no token needed)."""
    return json_response(build_document())


@operation("/docs", summary="Browsable API documentation (HTML)", tag="meta")
def docs():
    """Swagger UI over the OpenAPI document (no token needed)."""
    response = current_app.make_response(render_template("api/docs.html"))
    # Swagger UI sets style attributes; scripts stay 'self' only.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response
