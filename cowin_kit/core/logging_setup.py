"""Logs on standard output, as text or one JSON object a line (``LOG_FORMAT``), each line of
a request carrying that request's id.

The id comes from the ``X-Request-ID`` header the ingress sets (when it is a sane token) or
is made here; it is echoed in the answer, written into audit records and put on every log
line emitted while the request runs (a context variable, so threads of gunicorn's gthread
workers do not mix them up). Gunicorn's access log uses :class:`GunicornLogger` so that its
lines have the same shape. Only the path is logged, never the query string or a body: they
may hold ID numbers or mobile numbers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cowin_kit_request_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_HANDLER_MARK = "_cowin_kit_handler"
_gunicorn_log_format = "text"  # set by configure(), read by GunicornLogger
# LogRecord attributes that are not "extra" fields of a call.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id"}


def current_request_id() -> str | None:
    return request_id_var.get()


def accept_request_id(raw: str | None) -> str:
    """The ingress's id when it is a plain token (no spaces or control characters that
    could forge log lines), else a new one."""
    if raw and _SANE_REQUEST_ID.match(raw):
        return raw
    return new_request_id()


# The version (4) and variant (RFC 4122) bits uuid.uuid4() sets in its 16 random bytes.
_UUID4_CLEAR = ~((0xf000 << 64) | (0xc000 << 48))
_UUID4_SET = (4 << 76) | (0x8000 << 48)


def new_request_id() -> str:
    """uuid.uuid4().hex, made from the same random bytes without building a UUID object
    (which cost more than half of it, on every request without an ingress id)."""
    return "%032x" % (int.from_bytes(os.urandom(16), "big") & _UUID4_CLEAR | _UUID4_SET)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) \
                    else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time of each line."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure(log_format: str, level: str = "INFO") -> None:
    """One stdout handler on the root logger in the chosen format (replacing the one this
    function installed before, leaving handlers others installed alone).

    Called by the processes that serve: gunicorn.conf.py (web) and `cowin-kit worker`;
    other commands keep their plain output."""
    global _gunicorn_log_format
    _gunicorn_log_format = log_format
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = StdoutHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.getLogger("cowin_kit").setLevel(level)


def init_app(app: Flask) -> None:
    """A request id for every request, bound to its log lines and echoed in the answer."""
    app.before_request(_bind_request_id)
    app.after_request(_echo_request_id)
    app.teardown_request(_unbind_request_id)


# Every request passes through these hooks: each reaches `g` and `request` (context-local
# proxies, a lookup per use) once, and reads the header straight from the WSGI environ
# (what request.headers.get does, minus its key conversion).
_REQUEST_ID_ENVIRON_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


def _bind_request_id() -> None:
    request_globals = g._get_current_object()  # type: ignore[attr-defined]
    request_id = accept_request_id(request.environ.get(_REQUEST_ID_ENVIRON_KEY))
    request_globals.request_id = request_id
    request_globals._request_id_token = request_id_var.set(request_id)


def _echo_request_id(response: Response) -> Response:
    request_globals = g._get_current_object()  # type: ignore[attr-defined]
    if "request_id" in request_globals and REQUEST_ID_HEADER not in response.headers:
        response.headers.add(REQUEST_ID_HEADER, request_globals.request_id)
    return response


def _unbind_request_id(_exc: BaseException | None) -> None:
    token = g.pop("_request_id_token", None)
    if token is not None:
        try:
            request_id_var.reset(token)
        except ValueError:  # set in another context (streamed response): just clear
            request_id_var.set(None)


# --- gunicorn -----------------------------------------------------------------------------

try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover  (gunicorn is a dependency; Windows has none)
    _GunicornLogger = object  # type: ignore[assignment,misc]


class GunicornLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """Gunicorn's error and access logs in the format of ``COWIN_KIT_LOG_FORMAT``.

    Access lines: method, path (no query string), status, duration, bytes, the request id
    (as echoed by the app) and the client address. Set as ``logger_class`` in
    gunicorn.conf.py."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        log_format = _gunicorn_log_format
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(make_formatter(log_format))
                handler.addFilter(RequestIdFilter())

    def access(self, resp, req, environ, request_time) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict
                or self.cfg.syslog):
            return
        headers = {name.lower(): value for name, value in (resp.headers or [])}
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        duration_ms = round(request_time.total_seconds() * 1000, 2)
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status) if str(status).isdigit() else status,
            "duration_ms": duration_ms,
            "bytes": getattr(resp, "sent", None),
            "client": environ.get("REMOTE_ADDR"),
            "request_id": headers.get(REQUEST_ID_HEADER.lower()) or "-",
        }
        message = (f'{fields["method"]} {fields["path"]} {fields["status"]} '
                   f'{duration_ms}ms')
        try:
            self.access_log.info(message, extra=fields)
        except Exception:  # never break a request over a log line
            self.exception("access log line failed")
