"""Outbound HTTP for plugins (part of :mod:`cowin_kit.plugins`): :func:`http_request`,
safe for the credentials in its headers (redirects only within the origin), with retries."""

from __future__ import annotations

import logging
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException, HTTPMessage
from typing import Any, Callable, Collection, Mapping

log = logging.getLogger("cowin_kit.plugins")

# --- outbound HTTP ---------------------------------------------------------------------------

#: Answers worth another attempt (with ``retries``); any other error answer is final.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: HTTPMessage
    body: bytes
    url: str  # the one answered, after redirects within the origin


class HttpError(Exception):
    """The request failed: ``status`` is the final error answer's (None when no answer
    came: connection error or timeout), ``body`` its body, ``attempts`` how many were made,
    ``transient`` whether retrying later may help (network errors and RETRY_STATUSES)."""

    def __init__(self, reason: str, *, status: int | None = None, body: bytes = b"",
                 attempts: int = 1, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.status, self.body = reason, status, body
        self.attempts, self.transient = attempts, transient


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # http_request follows them itself, within the origin only


def _origin(url: str, allowed_hosts: Collection[str] | None) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise HttpError(f"not an http(s) URL: {url!r}")
    if parts.username is not None:
        raise HttpError("credentials belong in a header, not in the URL")
    if allowed_hosts is not None and host not in {h.lower() for h in allowed_hosts}:
        raise HttpError(f"host {host!r} is not in the allowed hosts")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise HttpError(f"bad port in {url!r}") from None
    return scheme, host, port


def http_request(method: str, url: str, *, headers: Mapping[str, str] | None = None,
                 body: bytes | None = None, timeout: float = 10.0, retries: int = 0,
                 backoff_seconds: float = 0.5, allowed_hosts: Collection[str] | None = None,
                 max_redirects: int = 5, ssl_context: ssl.SSLContext | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> HttpResponse:
    """Send one HTTP request to an external service, safely for the credentials in
    ``headers``: only http(s) URLs; redirects followed only within the URL's origin
    (scheme, host and port), so headers never reach another host and https never falls
    back to http; with ``allowed_hosts``, only those hosts. Each attempt has ``timeout``
    seconds; a connection error, timeout or an answer in RETRY_STATUSES is tried again up
    to ``retries`` times after ``backoff_seconds``, doubled each time. A 2xx answer is
    returned; anything else raises HttpError."""
    origin = _origin(url, allowed_hosts)
    handlers: list[Any] = [_NoRedirects()]
    if ssl_context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
    opener = urllib.request.build_opener(*handlers)
    attempt = 1
    while True:
        try:
            return _follow(opener, method.upper(), url, dict(headers or {}), body, timeout,
                           origin, allowed_hosts, max_redirects)
        except HttpError as exc:
            exc.attempts = attempt
            if not exc.transient or attempt > retries:
                raise
            delay = backoff_seconds * 2 ** (attempt - 1)
            log.warning("%s %s: attempt %d failed (%s); retrying in %.1fs", method.upper(),
                        urllib.parse.urlsplit(url).netloc, attempt, exc.reason, delay)
            sleep(delay)
            attempt += 1


def _follow(opener: urllib.request.OpenerDirector, method: str, url: str,
            headers: dict[str, str], body: bytes | None, timeout: float,
            origin: tuple[str, str, int], allowed_hosts: Collection[str] | None,
            max_redirects: int) -> HttpResponse:
    for _hop in range(max_redirects + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with opener.open(request, timeout=timeout) as answer:
                return HttpResponse(answer.status, answer.headers, answer.read(), url)
        except urllib.error.HTTPError as exc:
            with exc:
                status, answer_body, location = exc.code, exc.read(), exc.headers.get("Location")
        except (urllib.error.URLError, TimeoutError, ConnectionError, HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise HttpError(f"{type(exc).__name__}: {reason}", transient=True) from None
        if status not in _REDIRECTS or not location:
            raise HttpError(f"HTTP {status}", status=status, body=answer_body,
                            transient=status in RETRY_STATUSES)
        target = urllib.parse.urljoin(url, location)
        try:
            same = _origin(target, allowed_hosts) == origin
        except HttpError:
            same = False
        if not same:
            raise HttpError(f"HTTP {status}: redirect to another origin refused",
                            status=status, body=answer_body)
        if status in (301, 302, 303) and method not in ("GET", "HEAD"):
            method, body = "GET", None  # as browsers and urllib do
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        url = target
    raise HttpError(f"more than {max_redirects} redirects")
