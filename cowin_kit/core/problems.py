"""Domain errors as RFC 9457 `application/problem+json` responses."""

from __future__ import annotations

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from cowin_kit.core.errors import (
    Conflict, DomainError, Forbidden, InvalidInput, NotFound, RuleViolation, Unauthorized,
)
from cowin_kit.core.i18n import gettext, lazy_gettext, ngettext

TITLES = {
    InvalidInput: lazy_gettext("The request has invalid data"),
    NotFound: lazy_gettext("Not found"),
    Conflict: lazy_gettext("Conflict"),
    RuleViolation: lazy_gettext("Not allowed by the rules"),
    Forbidden: lazy_gettext("Forbidden"),
    Unauthorized: lazy_gettext("Sign-in required"),
}


def _title(exc: DomainError) -> str:
    for cls in type(exc).__mro__:
        if cls in TITLES:
            return str(TITLES[cls])
    return str(lazy_gettext("Error"))

PROBLEM_TYPE_BASE = "https://cowin-kit.org/problems/"


def problem_response(status: int, code: str, title: str, detail: str,
                     fields: dict[str, list[str]] | None = None,
                     rows: list[dict] | None = None) -> Response:
    body = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status,
            "code": code, "detail": detail}
    if fields:
        body["errors"] = fields
    if rows:  # the problems of an uploaded file, one per bad cell: {line, column, message}
        body["rows"] = rows
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        return problem_response(exc.status, exc.code, _title(exc),
                                str(exc.message), exc.fields, getattr(exc, "rows", None))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        return problem_response(413, "request_too_large", gettext("The request is too large"),
                                ngettext("The request body may hold at most %(num)d byte.",
                                         "The request body may hold at most %(num)d bytes.",
                                         limit))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return problem_response(exc.code or 500, code, exc.name or "Error",
                                exc.description or "")
