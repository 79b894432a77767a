"""What every API request shares: bearer auth, scopes, rate limits, errors as problem+json,
ETags, idempotent POSTs, keyset pages, and the route registry the OpenAPI document reads.

Routes are declared with @operation(...), naming the pydantic models that validate their
query string and body and describe their answer; the same models build /api/v1/openapi.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import wraps

from flask import Response, current_app, g, request
from limits import parse as parse_limit
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from crm.api import bp
from crm.api import tokens as token_service
from crm.errors import DomainError
from crm.extensions import db, limiter
from crm.kernel import paging
from crm.models import (
    Activity,
    ApiIdempotencyKey,
    Company,
    Contact,
    Deal,
    Pipeline,
    Task,
    TokenScope,
)
from crm.security import get_or_404

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
DEFAULT_RATE_LIMIT = "600/minute"
PROBLEM = "application/problem+json"


# --- errors --------------------------------------------------------------------------------


class ApiError(Exception):
    """An answer other than success, as an RFC 9457 problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None, errors=None):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Validation failed",
    428: "Precondition required",
    429: "Too many requests",
    500: "Server error",
}


def problem(status: int, detail: str | None = None, errors: list | None = None) -> Response:
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = json_response(body, status)
    response.mimetype = PROBLEM
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="rapport"'
    return response


def field_errors(error: ValidationError, prefix: str = "") -> list[dict]:
    """Pydantic's errors as [{field, message, code}], with dotted field paths."""
    out = []
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in item["loc"] if p not in ("body", "query"))
        out.append(
            {
                "field": prefix + path if path else prefix.rstrip(".") or None,
                "message": item["msg"],
                "code": item["type"],
            }
        )
    return out


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    db.session.rollback()
    return problem(error.status, error.detail, error.errors)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    db.session.rollback()
    errors = None
    if error.status == 422:
        errors = [{"field": error.field, "message": error.message, "code": "invalid"}]
    return problem(error.status, error.message, errors)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    detail = {404: "No such record in your team."}.get(error.code, error.description)
    response = problem(error.code, detail)
    if error.code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def json_response(body, status: int = 200) -> Response:
    return current_app.response_class(
        json.dumps(body, separators=(",", ":"), default=_json_default),
        status=status,
        mimetype="application/json",
    )


def _json_default(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# --- authentication, scopes, rate limits ----------------------------------------------------

UNAUTHENTICATED = {"api.openapi", "api.docs"}  # the description is public


@bp.before_request
def _authenticate():
    if request.endpoint in UNAUTHENTICATED:
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return problem(401, "Send a token: Authorization: Bearer <token>.")
    found = token_service.authenticate(secret.strip())
    if found is None:
        return problem(401, "The token is unknown, revoked or expired.")
    token, membership = found
    g.api_token, g.membership, g.team = token, membership, membership.team
    limited = _rate_limit(token.id)
    if limited is not None:
        return limited
    if request.method not in SAFE_METHODS and token.scope != TokenScope.WRITE:
        return problem(403, "This token is read-only.")
    return None


def _limit_item():
    return parse_limit(current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT)


def _rate_limit(token_id: int) -> Response | None:
    """Count the request against the token's window; 429 with Retry-After past the limit."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    item = _limit_item()
    strategy = limiter.limiter
    allowed = strategy.hit(item, "api", str(token_id))
    stats = strategy.get_window_stats(item, "api", str(token_id))
    reset_in = max(0, math.ceil(stats.reset_time - time.time()))
    g.rate_headers = {
        "RateLimit-Limit": str(item.amount),
        "RateLimit-Remaining": str(max(0, stats.remaining)),
        "RateLimit-Reset": str(reset_in),
        "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
    }
    if allowed:
        return None
    response = problem(429, f"At most {item.amount} requests per {item.GRANULARITY.name}.")
    response.headers["Retry-After"] = str(max(1, reset_in))
    return response


@bp.after_request
def _headers(response: Response) -> Response:
    for name, value in (g.get("rate_headers") or {}).items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def actor_id() -> int:
    return g.api_token.user_id


def team_id() -> int:
    # Kept as a number: after a commit g.team is expired, and reading its id would reload it.
    if "api_team_id" not in g:
        g.api_team_id = g.team.id
    return g.api_team_id


def path_record(name: str, model, value: int, *, with_deleted: bool = False):
    """The record of a path argument, as @operation already looked it up (404 for another
    team's id)."""
    found = (g.get("api_records") or {}).get(name)
    if found is not None and found.id == value:
        return found
    return get_or_404(model, value, with_deleted=with_deleted)


# --- ETags ----------------------------------------------------------------------------------


def etag_of(body: dict) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=_json_default).encode())
    return '"' + digest.hexdigest()[:32] + '"'


def check_if_match(current_body: dict) -> None:
    """412 when the client's If-Match names another version than the record's current one."""
    wanted = request.headers.get("If-Match")
    if not wanted or wanted.strip() == "*":
        return
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    if etag_of(current_body) not in tags:
        raise ApiError(412, "Precondition failed", "The record changed since you read it.")


def item_response(body: dict, status: int = 200, location: str | None = None) -> Response:
    tag = etag_of(body)
    if status == 200 and request.method == "GET":
        none_match = request.headers.get("If-None-Match", "")
        if tag in {t.strip().removeprefix("W/") for t in none_match.split(",")}:
            response = current_app.response_class(status=304)
            response.headers["ETag"] = tag
            return response
    response = json_response(body, status)
    response.headers["ETag"] = tag
    if location:
        response.headers["Location"] = location
    return response


def no_content() -> Response:
    return current_app.response_class(status=204)


# --- keyset pages (the kernel's) -----------------------------------------------------------


def keyset_page(stmt, model, sorts, sort, cursor, limit, *, plain: bool = False):
    """crm.kernel.paging.page() over (key, model.id): (rows, next cursor); a foreign cursor
    is answered as a 422 on `cursor`."""
    try:
        page = paging.page(stmt, model.id, sorts, sort, cursor, limit, plain=plain)
    except paging.BadCursor as error:
        raise ApiError(
            422,
            "Validation failed",
            "The cursor is not one this list gave out.",
            [{"field": "cursor", "message": str(error), "code": "cursor"}],
        ) from None
    return page.items, page.next_cursor


def list_response(data: list[dict], next_cursor: str | None) -> Response:
    next_url = None
    if next_cursor:
        args = request.args.to_dict()
        args["cursor"] = next_cursor
        from urllib.parse import urlencode

        next_url = f"{request.base_url}?{urlencode(args)}"
    response = json_response({"data": data, "next": next_url, "next_cursor": next_cursor})
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


# --- the route registry ---------------------------------------------------------------------


@dataclass
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    tag: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    many: bool = False
    status: int = 200
    idempotent: bool = False
    public: bool = False
    description: str = ""
    errors: tuple[int, ...] = field(default_factory=tuple)


OPERATIONS: list[Operation] = []
PATH_MODELS = {
    "contact_id": Contact,
    "company_id": Company,
    "deal_id": Deal,
    "task_id": Task,
    "activity_id": Activity,
    "pipeline_id": Pipeline,
}


def operation(
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    tag: str,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    many: bool = False,
    status: int = 200,
    description: str = "",
    endpoint: str | None = None,
    with_deleted: bool = False,
) -> Callable:
    """Register a view under /api/v1: validates the query string and the JSON body with the
    given models (422 naming each field), passes them as `query=` and `body=`, and records the
    operation for the OpenAPI document. POSTs honour Idempotency-Key. `with_deleted`: the
    path's record may be in the trash (restore)."""

    def decorator(view):
        name_of = endpoint or view.__name__

        @wraps(view)
        def wrapped(**kwargs):
            # Another team's id is a 404 before anything about the request is judged. The
            # records found are kept for the view (see path_record).
            g.api_records = {
                name: get_or_404(PATH_MODELS[name], value, with_deleted=with_deleted)
                for name, value in kwargs.items()
                if name in PATH_MODELS
            }
            if query is not None:
                kwargs["query"] = parse_query(query)
            if body is not None:
                kwargs["body"] = parse_body(body)
            if method == "POST" and request.headers.get("Idempotency-Key"):
                return idempotent(lambda: view(**kwargs))
            return view(**kwargs)

        wrapped.is_public = True  # no login session: the bearer token is checked instead
        bp.add_url_rule(rule, name_of, wrapped, methods=[method])
        OPERATIONS.append(
            Operation(
                rule=rule,
                method=method,
                endpoint=f"api.{name_of}",
                summary=summary,
                tag=tag,
                query=query,
                body=body,
                response=response,
                many=many,
                status=status,
                idempotent=method == "POST",
                public=f"api.{name_of}" in UNAUTHENTICATED,
                description=description or (view.__doc__ or "").strip(),
            )
        )
        return wrapped

    return decorator


def parse_query(model: type[BaseModel]) -> BaseModel:
    args = {}
    for name in request.args:
        values = request.args.getlist(name)
        args[name] = values if len(values) > 1 else values[0]
    try:
        return model.model_validate(args)
    except ValidationError as error:
        raise ApiError(
            422, "Validation failed", "Some query parameters are not valid.", field_errors(error)
        ) from None


def parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise ApiError(415, "Unsupported media type", "Send JSON (Content-Type: application/json).")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "Bad request", "The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ApiError(
            422, "Validation failed", "Some fields are not valid.", field_errors(error)
        ) from None


# --- idempotent POSTs -----------------------------------------------------------------------


def idempotent(run: Callable[[], Response]) -> Response:
    """Replay the stored answer for a repeated Idempotency-Key; refuse it for another body.

    The key is reserved (a committed row) before the create runs, so a parallel retry with
    the same key waits for nothing and creates nothing: it gets 409 until the first answer
    is stored. A failed create frees its key for a corrected retry.
    """
    key = request.headers["Idempotency-Key"].strip()[:255]
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + request.get_data()
    ).hexdigest()
    token_id = g.api_token.id
    reserved = ApiIdempotencyKey(token_id=token_id, key=key, request_hash=digest, status=0, body="")
    db.session.add(reserved)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _replay(token_id, key, digest)
    try:
        response = run()
    except BaseException:
        db.session.rollback()
        _forget(reserved.id)
        raise
    if 200 <= response.status_code < 300:
        reserved.status = response.status_code
        reserved.body = response.get_data(as_text=True)
        reserved.location = response.headers.get("Location")
        db.session.commit()
    else:
        _forget(reserved.id)
    return response


def _forget(reservation_id: int) -> None:
    db.session.execute(db.delete(ApiIdempotencyKey).where(ApiIdempotencyKey.id == reservation_id))
    db.session.commit()


def _replay(token_id: int, key: str, digest: str) -> Response:
    seen = db.session.scalars(
        db.select(ApiIdempotencyKey).where(
            ApiIdempotencyKey.token_id == token_id, ApiIdempotencyKey.key == key
        )
    ).first()
    if seen is None:  # the first request failed and freed the key meanwhile: try again
        raise ApiError(409, "Conflict", "A request with this Idempotency-Key just failed; retry.")
    if seen.status == 0:
        raise ApiError(409, "Conflict", "A request with this Idempotency-Key is in progress.")
    if seen.request_hash != digest:
        raise ApiError(
            422,
            "Validation failed",
            "This Idempotency-Key was used with another request.",
            [
                {
                    "field": "Idempotency-Key",
                    "message": "already used for a different request",
                    "code": "idempotency_key_reused",
                }
            ],
        )
    response = current_app.response_class(
        seen.body, status=seen.status, mimetype="application/json"
    )
    if seen.location:
        response.headers["Location"] = seen.location
    response.headers["Idempotent-Replayed"] = "true"
    return response
