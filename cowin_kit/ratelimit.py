"""Rate limits (flask-limiter): in process memory by default, in Redis when
COWIN_KIT_REDIS_URL is set so that limits hold across workers and pods."""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from typing import Any, Callable

from flask import Flask, Response, current_app, g, request
from flask.globals import request_ctx
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from cowin_kit.errors import DomainError
from cowin_kit.i18n import gettext as _

limiter = Limiter(key_func=get_remote_address, headers_enabled=True)


def init_app(app: Flask) -> None:
    settings = app.config["COWIN_KIT"]
    app.config["RATELIMIT_STORAGE_URI"] = settings["REDIS_URL"] or "memory://"
    app.config["RATELIMIT_STRATEGY"] = "moving-window"
    if settings["API_LIMITS_PER_IP"]:
        app.config["RATELIMIT_DEFAULT"] = settings["API_LIMITS_PER_IP"]
    limiter.init_app(app)
    if not settings["API_LIMITS_PER_IP"]:
        # Without a default limit Flask-Limiter's app-wide check finds nothing to count,
        # yet resolving that cost a fifth of a trivial request's CPU. Routes with their own
        # limits (OTP, sign-in, verify) are checked by their decorators, not by this hook.
        app.before_request_funcs[None].remove(limiter._check_request_limit)
    _run_limiter_hooks_only_when_used(app, limiter)
    app.after_request(add_retry_after)


# Where Flask-Limiter (4.x) keeps a request's limit state: its Limiter.context property
# creates it on the request context at the first check of the request.
_LIMITER_STATE = "_limiter_request_context"


def _run_limiter_hooks_only_when_used(app: Flask, limiter: Any) -> None:
    """Flask-Limiter's after-request hook (X-RateLimit-* headers, conditional deductions)
    and teardown hook (clearing its state) act only on the state its limit checks keep on
    the request context. On a request no check looked at they did nothing, yet cost about
    a tenth of a small request's CPU; and that is most requests: only a few routes have
    Flask-Limiter limits, and unless API_LIMITS_PER_IP sets an app-wide one,
    cowin_kit.ratelimit removes the check of every request. So they run only when that
    state exists."""

    def state_kept() -> bool:
        context = request_ctx._get_current_object()  # type: ignore[attr-defined]
        return hasattr(context, _LIMITER_STATE)

    def when_used_after(hook: Callable[[Response], Response]) -> Callable[[Response], Response]:
        @functools.wraps(hook)
        def after_request(response: Response) -> Response:
            return hook(response) if state_kept() else response
        return after_request

    def when_used_teardown(hook: Callable[[BaseException | None], None]) \
            -> Callable[[BaseException | None], None]:
        @functools.wraps(hook)
        def teardown_request(exc: BaseException | None) -> None:
            if state_kept():
                hook(exc)
        return teardown_request

    def owned_by_limiter(hook: Any) -> bool:  # partial(Limiter.__inject_headers, limiter)
        return getattr(hook, "__self__", None) is limiter or \
            (isinstance(hook, functools.partial) and limiter in hook.args)

    for hooks, wrap in ((app.after_request_funcs, when_used_after),
                        (app.teardown_request_funcs, when_used_teardown)):
        funcs = hooks.get(None, [])
        funcs[:] = [wrap(hook) if owned_by_limiter(hook) else hook for hook in funcs]


def mobile_key() -> str:
    """Limit key of OTP requests: the number asked for, as sent (normalised digits)."""
    data = request.get_json(silent=True) or {}
    digits = "".join(ch for ch in str(data.get("mobile", "")) if ch.isdigit())
    return "mobile:" + digits[-10:]


# --- a lean fixed-window limit for the hottest public routes --------------------------------
#
# Flask-Limiter resolves a route's limits, exemptions and key on every request and, with
# in-memory storage, starts an expiry thread; on a cached availability search that was
# about 40 % of the request's CPU. Searches need only "at most N per window per client":
# one counter per (client, window), in process memory or in Redis (shared by all pods).

class RateLimited(DomainError):
    status = 429
    code = "too_many_requests"


@functools.lru_cache(maxsize=64)
def _parse(spec: str) -> tuple[tuple[int, int], ...]:
    """'100/5minute;1000/hour' -> ((100, 300), (1000, 3600)); empty -> no limit."""
    return tuple((item.amount, item.get_expiry()) for item in parse_many(spec)) if spec else ()


class _MemoryWindows:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def hit(self, key: str, window: int, now: float) -> tuple[int, float]:
        start = int(now // window)
        with self._lock:
            if now >= self._next_prune:  # forget finished windows, at most once a second
                self._counts = {k: v for k, v in self._counts.items() if k[2] >= int(now // k[1])}
                self._next_prune = now + 1.0
            count = self._counts.get((key, window, start), 0) + 1
            self._counts[(key, window, start)] = count
        return count, (start + 1) * window - now


# One round trip per window: INCR, and the key's expiry when it has none (a new window), in
# a Lua script so that both happen at once. EVAL with the script's text rather than EVALSHA:
# Redis keeps the compiled script by its hash either way, and a restarted or flushed Redis
# never answers NOSCRIPT, so there is no second path to keep.
_HIT_SCRIPT = (b"local n = redis.call('INCR', KEYS[1]) "
               b"redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX') return n")


def _bulk(part: bytes) -> bytes:
    """One argument of a command in the Redis protocol (RESP2), as redis-py packs it."""
    return b"$%d\r\n%b\r\n" % (len(part), part)


class _RedisWindows:
    """The counts in Redis, shared by every worker and pod. A hit is a command packed here
    and sent on a connection of the thread's own (made from the client's pool settings,
    with the client's retries): redis-py's pipeline, or even execute_command with a
    connection checked out of the pool and back (a lock, counters, a poll for stray data
    each time), cost more CPU than the round trip itself."""

    _EVAL_HIT = b"*5\r\n" + _bulk(b"EVAL") + _bulk(_HIT_SCRIPT) + _bulk(b"1")

    def __init__(self, url: str) -> None:
        import redis

        self._pool = redis.ConnectionPool.from_url(url)
        self._local = threading.local()

    def hit(self, key: str, window: int, now: float) -> tuple[int, float]:
        start = int(now // window)
        name = f"cowin-kit:limit:{key}:{window}:{start}".encode()
        count = self._call(self._EVAL_HIT + _bulk(name) + _bulk(b"%d" % (window + 1)))
        return int(count), (start + 1) * window - now

    def _connection(self) -> Any:
        """This thread's connection (made after a fork, never shared between processes)."""
        local, pid = self._local, os.getpid()
        if getattr(local, "pid", None) != pid:
            local.connection = self._pool.connection_class(**self._pool.connection_kwargs)
            local.pid = pid
        return local.connection

    def _call(self, packed: bytes) -> Any:
        connection = self._connection()

        def send_and_read() -> Any:
            connection.send_packed_command([packed])
            return connection.read_response()

        try:
            # as Redis.execute_command: a connection error disconnects, then retries
            return connection.retry.call_with_retry(send_and_read,
                                                    lambda _error: connection.disconnect())
        except BaseException:
            # whatever went wrong, no half-read answer may be left for the next command
            connection.disconnect()
            raise


def _windows() -> _MemoryWindows | _RedisWindows:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = app.extensions.get("cowin_kit.windows")
    if store is None:
        url = app.config["COWIN_KIT"]["REDIS_URL"]
        store = app.extensions["cowin_kit.windows"] = _RedisWindows(url) if url else _MemoryWindows()
    return store


def limited(setting: str, scope: str, key: Callable[[], str] = get_remote_address,
            methods: tuple[str, ...] | None = None) -> Callable[[Callable], Callable]:
    """Refuse a client's request with 429 ``too_many_requests`` (and Retry-After) once it
    has made the setting's number of requests in the current fixed window. ``methods``:
    count only these (a page's GET shows the form; its POST does the work)."""
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            limits = _parse(current_app.config["COWIN_KIT"][setting])
            if limits and (methods is None or request.method in methods):
                store, who, now = _windows(), f"{scope}:{key()}", time.time()
                for amount, window in limits:
                    count, reset_in = store.hit(who, window, now)
                    if count > amount:
                        g.retry_after = max(1, math.ceil(reset_in))
                        raise RateLimited(_("Too many requests in a short time. Please wait "
                                            "%(seconds)d seconds and try again.",
                                            seconds=g.retry_after))
            return view(*args, **kwargs)
        return wrapper
    return decorator


def add_retry_after(response: Response) -> Response:
    if response.status_code == 429 and "retry_after" in g:
        response.headers["Retry-After"] = str(g.retry_after)
    return response
