"""A small response cache for public, cacheable answers (availability).

CoWIN's public availability could be up to 30 minutes stale; serving a cached body turns
a handful of queries into a dictionary (or Redis) lookup. In process memory by default,
Redis when COWIN_KIT_REDIS_URL is set (shared by every worker and pod)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from flask import Flask, Response, current_app, request

MAX_ENTRIES = 20_000
log = logging.getLogger(__name__)


class MemoryCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._entries.get(key)
            if item is None or item[0] < time.monotonic():
                return None
            self._entries.move_to_end(key)
            return item[1]

    def set(self, key: str, value: bytes, ttl: int) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class RedisCache:
    """Answers in Redis. Redis down is a cache miss, not an error: the answer is computed
    (and not stored), and Redis is left alone for RETRY_SECONDS before it is tried again."""

    RETRY_SECONDS = 5.0

    def __init__(self, url: str):
        import redis

        # give up after a second (options in the URL win): a miss costs less than a wait
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1.0,
                                            socket_timeout=1.0)
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                        OSError)
        self._down_until = float("-inf")

    def get(self, key: str) -> bytes | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            return self._client.get("cowin-kit:response:" + key)
        except self._errors as exc:
            self._went_down(exc)
            return None

    def set(self, key: str, value: bytes, ttl: int) -> None:
        if time.monotonic() < self._down_until:
            return
        try:
            self._client.set("cowin-kit:response:" + key, value, ex=ttl)
        except self._errors as exc:
            self._went_down(exc)

    def _went_down(self, exc: BaseException) -> None:
        log.warning("Redis unreachable (%s): answers not cached for %.0f s",
                    type(exc).__name__, self.RETRY_SECONDS)
        self._down_until = time.monotonic() + self.RETRY_SECONDS


def init_app(app: Flask) -> None:
    url = app.config["COWIN_KIT"]["REDIS_URL"]
    app.extensions["cowin_kit.core.cache"] = RedisCache(url) if url else MemoryCache()


def _etag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


# Answers at least this long are also kept gzip-compressed (once, when cached) and served
# so to clients that accept it, as browsers and mobile HTTP stacks all do: a district's
# answer shrinks about fivefold, and a hit costs no compression.
GZIP_MIN_BYTES = 1024


def _entry(body: bytes) -> tuple[str, bytes]:
    """(ETag, stored entry): ``tag \n length-of-body \n body gzip-body-or-nothing``."""
    tag = _etag(body)
    packed = gzip.compress(body, compresslevel=6, mtime=0) \
        if len(body) >= GZIP_MIN_BYTES else b""
    return tag, b"%s\n%d\n%s%s" % (tag.encode("ascii"), len(body), body, packed)


def _unpack(entry: bytes) -> tuple[str, bytes, bytes]:
    tag, _, rest = entry.partition(b"\n")
    length, _, rest = rest.partition(b"\n")
    size = int(length)
    return tag.decode("ascii"), rest[:size], rest[size:]


_GZIP_ACCEPTED: dict[str, bool] = {}


def _accepts_gzip() -> bool:
    """Whether Accept-Encoding allows gzip (``gzip``, ``x-gzip`` or ``*``, not at q=0);
    clients send a few distinct headers, so each is parsed once."""
    header = request.environ.get("HTTP_ACCEPT_ENCODING")
    if not header:
        return False
    accepted = _GZIP_ACCEPTED.get(header)
    if accepted is None:
        accepted = request.accept_encodings["gzip"] > 0 or \
            request.accept_encodings["x-gzip"] > 0
        if len(_GZIP_ACCEPTED) >= 1024:  # arbitrary headers cannot grow it
            _GZIP_ACCEPTED.clear()
        _GZIP_ACCEPTED[header] = accepted
    return accepted


_VARY = "Accept-Language, Cookie"
_VARY_GZIP = "Accept-Encoding, Accept-Language, Cookie"


def cached_response(view: Callable[..., Response]) -> Callable[..., Response]:
    """Serve the view's 200 answer from the cache for AVAILABILITY_CACHE_SECONDS; the key
    is the full URL and the answer's language. The entry keeps the body's ETag and its
    gzip form, so a hit costs a lookup and a comparison, not a hash or a compression."""
    return cached_for("AVAILABILITY_CACHE_SECONDS", "application/json")(view)


def cached_for(ttl_setting: str, mimetype: str
               ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """``cached_response`` with the time to live read from the setting ``ttl_setting`` and
    answers of type ``mimetype`` (text/csv, text/html...)."""
    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        return _cached(view, ttl_setting, mimetype)
    return decorate


def _cached(view: Callable[..., Response], ttl_setting: str,
            mimetype: str) -> Callable[..., Response]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        from flask_babel import get_locale

        from cowin_kit.core.db import allow_stale_reads

        allow_stale_reads()  # an answer that may be cached may come from the replica

        ttl = current_app.config["COWIN_KIT"][ttl_setting]
        if ttl <= 0:
            return view(*args, **kwargs)
        cache = current_app.extensions["cowin_kit.core.cache"]
        environ = request.environ  # the raw path and query: as unique, cheaper than parsed
        key = f"v3|{mimetype}|{get_locale()}|{environ.get('PATH_INFO', '')}?" \
              f"{environ.get('QUERY_STRING', '')}"  # v3: entries carry ETag and gzip
        entry = cache.get(key)
        if entry is not None:
            tag, body, packed = _unpack(entry)
        else:
            response = view(*args, **kwargs)
            if response.status_code != 200:
                return response
            _tag, entry = _entry(response.get_data())
            cache.set(key, entry, ttl)
            tag, body, packed = _unpack(entry)
        # The answer's language follows Accept-Language and the cookies (see
        # cowin_kit.web.ui._select_locale): shared caches must key on them too.
        headers = {"Cache-Control": f"public, max-age={ttl}", "Vary": _VARY}
        if packed:
            headers["Vary"] = _VARY_GZIP
            if _accepts_gzip():
                # a representation of its own: its own strong ETag
                headers["ETag"] = f'"{tag}-gzip"'
                headers["Content-Encoding"] = "gzip"
                if request.if_none_match.contains(f"{tag}-gzip"):
                    return current_app.response_class(status=304, headers=headers)
                return current_app.response_class(packed, mimetype=mimetype,
                                                  headers=headers)
        headers["ETag"] = f'"{tag}"'
        if request.if_none_match.contains(tag):
            return current_app.response_class(status=304, headers=headers)
        return current_app.response_class(body, mimetype=mimetype, headers=headers)
    return wrapper
