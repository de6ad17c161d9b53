"""Domain errors as RFC 9457 `application/problem+json` responses."""

from __future__ import annotations

from flask import Flask, Response, json
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, TimeoutError as PoolTimeout
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


# Seconds a client is asked to wait when the database cannot be reached: a restart or a
# fail-over takes a few seconds (docs/reliability.md).
UNAVAILABLE_RETRY_AFTER = 5


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be used right now (down, restarting,
    failing over, refusing connections, the pool exhausted, a standby that cannot write)
    rather than that the request or the code is wrong."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    original = exc.orig
    try:
        import psycopg
        from psycopg import errors as pg_errors
    except ImportError:  # SQLite only
        return False
    if isinstance(original, (pg_errors.ReadOnlySqlTransaction, pg_errors.AdminShutdown,
                             pg_errors.CannotConnectNow, pg_errors.CrashShutdown)):
        return True
    # psycopg's OperationalError without an SQLSTATE: a connection refused, reset or closed
    return isinstance(original, (psycopg.OperationalError, psycopg.InterfaceError)) \
        and getattr(original, "sqlstate", None) in (None, "08000", "08001", "08003", "08006",
                                                    "57P01", "57P02", "57P03")


def unavailable_response() -> Response:
    response = problem_response(
        503, "database_unavailable", gettext("Service temporarily unavailable"),
        gettext("The database cannot be reached at the moment. Please try again in a few "
                "seconds."))
    response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(SQLAlchemyError)
    def _database_error(exc: SQLAlchemyError) -> Response:
        """A database that is down or failing over is 503 with Retry-After (clients retry;
        the pool renews its connections by itself). Any other database error is a bug: the
        usual 500."""
        if database_unavailable(exc):
            app.logger.warning("database unavailable: %s", type(exc.__cause__ or exc).__name__)
            return unavailable_response()
        return app.handle_exception(exc)

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
