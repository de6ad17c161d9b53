"""A small response cache for public, cacheable answers (availability).

CoWIN's public availability could be up to 30 minutes stale; serving a cached body turns
a handful of queries into a dictionary (or Redis) lookup. In process memory by default,
Redis when COWIN_KIT_REDIS_URL is set (shared by every worker and pod)."""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from flask import Flask, Response, current_app, request

MAX_ENTRIES = 20_000


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
    def __init__(self, url: str):
        import redis

        self._client = redis.Redis.from_url(url)

    def get(self, key: str) -> bytes | None:
        return self._client.get("cowin-kit:response:" + key)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self._client.set("cowin-kit:response:" + key, value, ex=ttl)


def init_app(app: Flask) -> None:
    url = app.config["COWIN_KIT"]["REDIS_URL"]
    app.extensions["cowin_kit.cache"] = RedisCache(url) if url else MemoryCache()


def _etag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def cached_response(view: Callable[..., Response]) -> Callable[..., Response]:
    """Serve the view's 200 answer from the cache for AVAILABILITY_CACHE_SECONDS; the key
    is the full URL and the answer's language. The entry keeps the body's ETag, so a hit
    costs a lookup and a comparison, not a hash of the body."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        from flask_babel import get_locale

        ttl = current_app.config["COWIN_KIT"]["AVAILABILITY_CACHE_SECONDS"]
        if ttl <= 0:
            return view(*args, **kwargs)
        cache = current_app.extensions["cowin_kit.cache"]
        key = f"v2|{get_locale()}|{request.full_path}"  # v2: entries carry their ETag
        entry = cache.get(key)
        if entry is not None:
            etag, _, body = entry.partition(b"\n")
            tag = etag.decode("ascii")
        else:
            response = view(*args, **kwargs)
            if response.status_code != 200:
                return response
            body = response.get_data()
            tag = _etag(body)
            cache.set(key, tag.encode("ascii") + b"\n" + body, ttl)
        headers = {"Cache-Control": f"public, max-age={ttl}", "ETag": f'"{tag}"'}
        if request.if_none_match.contains(tag):
            return current_app.response_class(status=304, headers=headers)
        return current_app.response_class(body, mimetype="application/json", headers=headers)
    return wrapper
