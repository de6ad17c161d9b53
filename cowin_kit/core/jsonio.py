"""JSON answers encoded with orjson.

Flask's default provider runs the standard library's encoder with sorted keys and ASCII
escapes; on the availability answers (a district's 133 sessions, ~60 KB) that was about a
tenth of the request's CPU. orjson writes the same JSON values several times faster,
straight to UTF-8 bytes. What the standard encoder and Flask did differently is kept as
Flask did it: dates and datetimes as HTTP dates, Decimal and other unknown types through
Flask's own fallback, non-string keys as strings. Keys keep their insertion order (the
answers are built in the documented field order). Reading JSON stays with the
standard library's decoder (:func:`loads`), with a depth limit: deeply nested input is a
ValueError (a request body: 400 ``invalid_json``), never a RecursionError."""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class FastJSONProvider(DefaultJSONProvider):
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)

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


MAX_DEPTH = 64  # of arrays and objects; real bodies and certificates nest under 15


class JSONTooDeep(ValueError):
    """JSON nested deeper than allowed."""


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, **kwargs: Any) -> Any:
    """``json.loads`` that refuses values nested deeper than ``max_depth`` arrays and
    objects with :class:`JSONTooDeep` (a ValueError)."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONTooDeep("JSON nested too deeply") from None
    if not within_depth(value, max_depth):
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels")
    return value


def within_depth(value: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests at most ``max_depth`` lists and dicts (walked without
    recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        depth += 1
        if depth > max_depth:
            return False
        stack.extend((child, depth) for child in item
                     if isinstance(child, (dict, list)))
    return True


def init_app(app: Flask) -> None:
    app.json = FastJSONProvider(app)
