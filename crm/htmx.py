"""One URL, two representations: a full page, or its partial for an htmx request."""

from __future__ import annotations

import json

from flask import Response, make_response, render_template, request

from crm.extensions import htmx


def wants_partial() -> bool:
    """An htmx request that is not a boosted navigation wants only the partial.

    A history restore (Back after hx-push-url, with the page not in htmx's cache) is an htmx
    request too, but it replaces the whole body: it needs the full page.
    """
    if request.headers.get("HX-History-Restore-Request") == "true":
        return False
    return bool(htmx) and not htmx.boosted


def render(page: str, partial: str, /, *, http_status: int = 200, **context) -> Response:
    """Render `partial` for htmx requests and `page` (which includes it) otherwise.

    The status code is keyword-only and named so no template variable can land in it: a
    template variable called `status` (a filter on several lists) once became the status line
    "HTTP/1.1 0 open". `page` and `partial` are positional-only for the same reason.
    """
    template = partial if wants_partial() else page
    response = make_response(render_template(template, **context), http_status)
    response.vary.add("HX-Request")
    return response


def hx_redirect(url: str) -> Response:
    """Navigate the browser after an htmx request; a plain 303 for everything else."""
    if htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    response = make_response("", 303)
    response.headers["Location"] = url
    return response


def trigger(response: Response, event: str, detail: object = True) -> Response:
    """Add an HX-Trigger event (merged with any already set) to a response."""
    current = response.headers.get("HX-Trigger")
    events = json.loads(current) if current and current.startswith("{") else {}
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def is_htmx() -> bool:
    return bool(request.headers.get("HX-Request"))
