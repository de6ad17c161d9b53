"""JSON answers encoded with orjson.

Flask's default provider runs the standard library's encoder with sorted keys and ASCII
escapes; on the availability answers (a district's 133 sessions, ~60 KB) that was about a
tenth of the request's CPU. orjson writes the same JSON values several times faster,
straight to UTF-8 bytes. What the standard encoder and Flask did differently is kept as
Flask did it: dates and datetimes as HTTP dates, Decimal and other unknown types through
Flask's own fallback, non-string keys as strings. Keys keep their insertion order (the
answers are built in the documented field order). Reading JSON stays with Flask's
provider, so request parsing and its errors are unchanged."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class FastJSONProvider(DefaultJSONProvider):
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # an explicit json.dumps option (indent, ...): the standard encoder
            return super().dumps(obj, **kwargs)
        return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode("utf-8")

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        if self._app.debug:  # indented, for people reading answers in development
            return super().response(obj)
        body = orjson.dumps(obj, default=self.default, option=_OPTIONS) + b"\n"
        return self._app.response_class(body, mimetype=self.mimetype)


def init_app(app: Flask) -> None:
    app.json = FastJSONProvider(app)
