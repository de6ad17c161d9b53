"""Rate limits: the one mechanism of every limited route and of partner keys.

Semantics (those of the `limits` library's FixedWindowRateLimiter, which
tests/test_rate_limits.py checks hit by hit): a limit ``N/period`` allows N requests per
key in a fixed window that opens with the key's first request and lasts the period. Every
request is counted, a refused one too; of several limits (``5/hour;20/day``) the request
is counted in each in turn until one refuses it. A refusal is 429 ``too_many_requests``
with Retry-After (seconds until the refusing window ends). Routes limited with
``headers=True`` (OTP, sign-in, verification, the app-wide API_LIMITS_PER_IP) also answer
X-RateLimit-Limit, -Remaining and -Reset (epoch seconds) and Retry-After on every answer,
describing the limit closest to being used up (the refusing one on a 429).

Counts live in the app's own store: process memory, or Redis when COWIN_KIT_REDIS_URL is
set (then shared by every worker and pod using that Redis). Each app has its own store
and reads its own settings, so apps of one process do not count for each other."""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
from typing import Any, Callable, NamedTuple

from flask import Flask, Response, current_app, g, request
from limits import parse_many

from cowin_kit.core.errors import DomainError
from cowin_kit.core.i18n import gettext as _, ngettext

EXTENSION = "cowin_kit.core.ratelimit"
log = logging.getLogger(__name__)


class Limit(NamedTuple):
    amount: int
    seconds: int


@functools.lru_cache(maxsize=256)
def parse_limits(spec: str) -> tuple[Limit, ...]:
    """'100/5minute;1000/hour' -> (Limit(100, 300), Limit(1000, 3600)); '' -> no limit."""
    return tuple(Limit(item.amount, item.get_expiry()) for item in parse_many(spec)) \
        if spec else ()


class RateLimited(DomainError):
    status = 429
    code = "too_many_requests"


# --- the stores: count of a key's current window, and when that window ends -----------------

class MemoryWindows:
    """Counts in this process's memory (one app's own)."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int], list[float]] = {}  # -> [count, ends]
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def hit(self, name: str, seconds: int, now: float, timed: bool) -> tuple[int, float]:
        with self._lock:
            if now >= self._next_prune:  # forget ended windows, at most once a second
                self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
                self._next_prune = now + 1.0
            window = self._windows.get((name, seconds))
            if window is None or window[1] <= now:
                window = self._windows[(name, seconds)] = [0, now + seconds]
            window[0] += 1
            return int(window[0]), window[1]

    def ends(self, name: str, seconds: int, now: float) -> float:
        window = self._windows.get((name, seconds))
        return window[1] if window is not None else now

    def peek(self, name: str, seconds: int, now: float) -> tuple[int, float]:
        """The count of the key's current window and its end, counting nothing."""
        with self._lock:
            window = self._windows.get((name, seconds))
            if window is None or window[1] <= now:
                return 0, now
            return int(window[0]), window[1]


# One round trip per window: INCR and the key's expiry when it has none (a new window, or a
# key some crash left without one) in one script; the timed one also answers the
# milliseconds left. EVAL with the script's text rather than EVALSHA: Redis keeps the
# compiled script by its hash either way, and a restarted or flushed Redis never answers
# NOSCRIPT.
_HIT = b"local n = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX') "
_HIT_SCRIPT = _HIT + b"return n"
_TIMED_HIT_SCRIPT = _HIT + b"return {n, redis.call('PTTL', KEYS[1])}"

REDIS_PREFIX = "cowin-kit:limit:"
REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
# After Redis failed, limits are counted in process memory for this long before Redis is
# tried again (docs/reliability.md).
REDIS_RETRY_SECONDS = 5.0


def _bulk(part: bytes) -> bytes:
    """One argument of a command in the Redis protocol (RESP2), as redis-py packs it."""
    return b"$%d\r\n%b\r\n" % (len(part), part)


class RedisWindows:
    """Counts in Redis under ``cowin-kit:limit:<name>:<seconds>``, shared by every app on
    that Redis. A hit is a command packed here and sent on a connection of the thread's own
    (made from the pool's settings, with its retries): redis-py's pipeline, or a connection
    checked out of the pool and back, cost more CPU than the round trip itself."""

    _EVAL_HIT = b"*5\r\n" + _bulk(b"EVAL") + _bulk(_HIT_SCRIPT) + _bulk(b"1")
    _EVAL_TIMED_HIT = b"*5\r\n" + _bulk(b"EVAL") + _bulk(_TIMED_HIT_SCRIPT) + _bulk(b"1")

    def __init__(self, url: str) -> None:
        import redis

        # A Redis that does not answer must not hold requests: give up after a second
        # (options in the URL win) and count in process memory for a while (RateLimiter).
        self._pool = redis.ConnectionPool.from_url(url, **REDIS_TIMEOUTS)
        self._local = threading.local()
        self.errors: tuple[type[BaseException], ...] = (
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

    def hit(self, name: str, seconds: int, now: float, timed: bool) -> tuple[int, float]:
        """The count, and when ``timed`` the window's end (else 0: one integer to read is
        cheaper, and the end is needed only on refusals and on routes with headers)."""
        key = _bulk(f"{REDIS_PREFIX}{name}:{seconds}".encode()) + _bulk(b"%d" % seconds)
        if not timed:
            return int(self._call(self._EVAL_HIT + key)), 0.0
        count, left_ms = self._call(self._EVAL_TIMED_HIT + key)
        return int(count), now + int(left_ms) / 1000

    def ends(self, name: str, seconds: int, now: float) -> float:
        key = f"{REDIS_PREFIX}{name}:{seconds}".encode()
        left_ms = int(self._call(b"*2\r\n" + _bulk(b"PTTL") + _bulk(key)))
        return now + max(0, left_ms) / 1000

    def peek(self, name: str, seconds: int, now: float) -> tuple[int, float]:
        key = f"{REDIS_PREFIX}{name}:{seconds}".encode()
        count = self._call(b"*2\r\n" + _bulk(b"GET") + _bulk(key))
        if count is None:
            return 0, now
        return int(count), self.ends(name, seconds, now)

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


class RateLimiter:
    """One app's limits: its settings and its store."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        url = settings["REDIS_URL"]
        self.windows: MemoryWindows | RedisWindows = RedisWindows(url) if url else MemoryWindows()
        # Redis down: the limits still hold, counted by each process for itself (so with N
        # processes a key gets up to N times its limit) until Redis answers again.
        self.fallback = MemoryWindows()
        self._redis_down_until = float("-inf")

    def limits(self, limits: str) -> tuple[Limit, ...]:
        """A setting's name (its current value) or limits written out ('30/minute')."""
        return parse_limits(self.settings.get(limits, limits))

    def hit(self, limits: tuple[Limit, ...], name: str, now: float, timed: bool = True) \
            -> tuple[bool, Limit, int, float]:
        """Count one request of ``name`` in each limit in turn until one refuses it:
        (refused, the refusing limit or else the one closest to being used up, its count,
        the end of its window: 0 if not ``timed`` and not refused)."""
        windows = self.windows
        if isinstance(windows, RedisWindows):
            if time.monotonic() < self._redis_down_until:
                windows = self.fallback
            else:
                try:
                    return self._hit(windows, limits, name, now, timed)
                except windows.errors as exc:
                    if self._redis_down_until == float("-inf") or \
                            time.monotonic() - self._redis_down_until > REDIS_RETRY_SECONDS:
                        log.warning("Redis unreachable (%s): rate limits counted in this "
                                    "process for %.0f s", type(exc).__name__,
                                    REDIS_RETRY_SECONDS)
                    self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                    windows = self.fallback
        return self._hit(windows, limits, name, now, timed)

    @staticmethod
    def _hit(windows: MemoryWindows | RedisWindows, limits: tuple[Limit, ...], name: str,
             now: float, timed: bool) -> tuple[bool, Limit, int, float]:
        shown = None
        for limit in limits:
            count, ends = windows.hit(name, limit.seconds, now, timed)
            if count > limit.amount:
                if not timed:
                    ends = windows.ends(name, limit.seconds, now)
                return True, limit, count, ends
            if shown is None or limit.amount - count < shown[0].amount - shown[1]:
                shown = (limit, count, ends)
        assert shown is not None  # limits is never empty here
        return (False, *shown)


# --- in requests ---------------------------------------------------------------------------

class _Shown:
    """The limit an answer's headers describe (``g.rate_limit``)."""
    __slots__ = ("amount", "remaining", "ends", "retry_after", "headers")

    def __init__(self, amount: int, remaining: int, ends: float, retry_after: int,
                 headers: bool) -> None:
        self.amount, self.remaining, self.ends = amount, remaining, ends
        self.retry_after, self.headers = retry_after, headers


def check(limits: str, scope: str, key: str, *, headers: bool = False) -> int | None:
    """Count this request of ``key`` against ``limits`` (a setting's name, or limits
    written out); None when allowed, else the seconds until the refusing window ends (the
    answer then carries Retry-After)."""
    limiter: RateLimiter = current_app.extensions[EXTENSION]
    items = limiter.limits(limits)
    if not items:
        return None
    now = time.time()
    refused, limit, count, ends = limiter.hit(items, f"{scope}:{key}", now, headers)
    if not (refused or headers):
        return None  # the hot path (searches, booking): nothing to show
    shown: _Shown | None = g.get("rate_limit")
    remaining = max(0, limit.amount - count)
    if shown is None or refused or remaining < shown.remaining:
        shown = g.rate_limit = _Shown(limit.amount, remaining, ends,
                                      max(1, math.ceil(ends - now)),
                                      headers or (shown is not None and shown.headers))
    elif headers:
        shown.headers = True
    return shown.retry_after if refused else None


def failures_refused(limits: str, scope: str, key: str) -> int | None:
    """For limits on failures only (staff sign-in): None while ``key`` has fewer failures
    than ``limits`` allow in its current windows, else the seconds until the refusing
    window ends. Counts nothing: ``count_failure`` counts a failure once it happened.
    Parallel attempts may each pass before any counts: at most that many more failures."""
    limiter: RateLimiter = current_app.extensions[EXTENSION]
    now = time.time()
    for limit in limiter.limits(limits):
        count, ends = limiter.windows.peek(f"{scope}:{key}", limit.seconds, now)
        if count >= limit.amount:
            return max(1, math.ceil(ends - now))
    return None


def count_failure(limits: str, scope: str, key: str) -> None:
    """Count one failure of ``key`` in each of ``limits`` (see ``failures_refused``)."""
    limiter: RateLimiter = current_app.extensions[EXTENSION]
    now = time.time()
    for limit in limiter.limits(limits):
        limiter.windows.hit(f"{scope}:{key}", limit.seconds, now, False)


def refusal(seconds: int) -> RateLimited:
    return RateLimited(ngettext(
        "Too many requests in a short time. Please wait %(num)d second and try again.",
        "Too many requests in a short time. Please wait %(num)d seconds and try again.",
        seconds))


def client_address() -> str:
    """The client's address (behind TRUSTED_PROXIES: the one they report)."""
    return request.remote_addr or "127.0.0.1"


def mobile_key() -> str:
    """The mobile number an OTP is asked for (form field or JSON member ``mobile``), as
    its last 10 digits."""
    raw = request.form.get("mobile")
    if raw is None:
        data = request.get_json(silent=True)
        raw = data.get("mobile", "") if isinstance(data, dict) else ""
    digits = "".join(ch for ch in str(raw) if ch.isdigit())
    return "mobile:" + digits[-10:]


def limited(limits: str, scope: str, key: Callable[[], str] = client_address,
            methods: tuple[str, ...] | None = None,
            headers: bool = False) -> Callable[[Callable], Callable]:
    """Refuse a route's request with 429 once its key has used ``limits`` (a setting's
    name such as SEARCH_LIMITS_PER_IP, or limits written out such as '30/minute').
    Routes sharing a scope share the counts. ``methods``: count only these (a page's GET
    shows the form; its POST does the work). ``headers``: X-RateLimit-* on every answer."""
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if methods is None or request.method in methods:
                wait = check(limits, scope, key(), headers=headers)
                if wait is not None:
                    raise refusal(wait)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def otp_limited(methods: tuple[str, ...] | None = None) -> Callable[[Callable], Callable]:
    """OTP_LIMITS_PER_NUMBER per mobile number, then OTP_LIMITS_PER_IP per client address,
    on a route sending OTPs: one count of each for every such route (API v1, CoWIN v2,
    the pages), so that no channel gives a number or an address more OTPs."""
    by_number = limited("OTP_LIMITS_PER_NUMBER", "otp-number", mobile_key, methods, True)
    by_address = limited("OTP_LIMITS_PER_IP", "otp-ip", client_address, methods, True)
    return lambda view: by_number(by_address(view))


# --- the app ---------------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    settings = app.config["COWIN_KIT"]
    app.extensions[EXTENSION] = RateLimiter(settings)
    if settings["API_LIMITS_PER_IP"]:
        app.before_request(_count_every_request)
    app.after_request(_add_headers)


def _count_every_request() -> None:
    """API_LIMITS_PER_IP per route and client address, on every route (static files and
    unknown addresses aside), besides the route's own limits."""
    endpoint = request.endpoint
    if endpoint is None or endpoint.rpartition(".")[2] == "static":
        return
    wait = check("API_LIMITS_PER_IP", f"app:{endpoint}", client_address(), headers=True)
    if wait is not None:
        raise refusal(wait)


def _add_headers(response: Response) -> Response:
    shown: _Shown | None = g.get("rate_limit")
    if shown is not None:
        headers = response.headers
        if shown.headers:
            headers["X-RateLimit-Limit"] = str(shown.amount)
            headers["X-RateLimit-Remaining"] = str(shown.remaining)
            headers["X-RateLimit-Reset"] = str(math.ceil(shown.ends))
            headers["Retry-After"] = str(shown.retry_after)
        elif response.status_code == 429:
            headers["Retry-After"] = str(shown.retry_after)
    return response
