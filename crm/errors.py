"""Domain errors and the error pages: a full page, or a toast fragment for htmx."""

from __future__ import annotations

import logging

from flask import Flask, make_response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from crm.extensions import db
from crm.htmx import is_htmx

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule refused the request; the message is safe to show to the user."""

    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    status = 422


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


MESSAGES = {
    400: "That request could not be understood.",
    403: "You do not have permission to do that.",
    404: "That page does not exist, or it is not in your team.",
    405: "That action is not allowed here.",
    409: "Someone changed this at the same time. Reload and try again.",
    413: "That upload is too large.",
    422: "Some of what you entered needs fixing.",
    429: "Too many attempts. Wait a minute and try again.",
    500: "Something went wrong on our side. It has been logged.",
}


def _respond(status: int, message: str):
    if is_htmx():
        response = make_response(
            render_template("errors/_toast.html", status=status, message=message), status
        )
        # The fragment goes to the toast region, whatever element made the request.
        response.headers["HX-Retarget"] = "#toasts"
        response.headers["HX-Reswap"] = "beforeend"
    else:
        response = make_response(
            render_template("errors/page.html", status=status, message=message), status
        )
    response.vary.add("HX-Request")
    return response


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        return _respond(error.status, error.message)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _respond(400, "Your session expired or the form was stale. Reload and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        message = MESSAGES.get(error.code) or error.description or "Error"
        if error.code == 429:
            message = MESSAGES[429]
        return _respond(error.code, message)

    @app.errorhandler(Exception)
    def unhandled(error: Exception):
        db.session.rollback()
        if isinstance(error, HTTPException):
            return http_error(error)
        if app.testing and not app.config.get("SHOW_500_PAGE"):
            raise error  # tests fail loudly, with the traceback
        log.exception("unhandled error", exc_info=error)
        return _respond(500, MESSAGES[500])
