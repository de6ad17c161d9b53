"""Sending the message outbox (cowin_kit.notifications.models.OutboxMessage).

``send_due_messages`` is one drain: it claims due rows in small batches (SKIP LOCKED on
PostgreSQL, so any number of drainers never claim the same row), marks them ``sending``
with a lease and commits, then sends them outside any transaction, each in a thread of its
own under ``MESSAGE_SEND_TIMEOUT_SECONDS``, and records the batch's outcomes in one short
transaction: ``sent`` (a secret's text erased: SECRET_TEMPLATES; other texts once a
delivery report says delivered), ``pending`` again with exponential backoff, or
``failed`` after ``MESSAGE_MAX_ATTEMPTS`` (a secret's text erased; others kept for a retry).
A drainer that dies leaves its rows
``sending`` until the lease ends; they are then claimed again.

Who drains:
- ``cowin-kit worker`` (and the demo's in-process worker), every round: OTPs first, then
  everything else;
- each web process, for OTPs only: committing an OTP wakes a background thread of the
  process (``Sender.wake``), which sends it at once, whatever the worker's backlog. The
  request itself only writes the row: a slow or dead gateway delays messages, never pages.

A per-process circuit breaker guards the notifier: after ``NOTIFIER_BREAKER_FAILURES``
consecutive failures no message is claimed for ``NOTIFIER_BREAKER_COOLDOWN_SECONDS`` (they
stay pending), then a single message probes the gateway.

With ``ENV=test`` the sender is synchronous (``Sender.synchronous``): every commit that
queued a message sends all due messages before it returns, so a test reads them at once;
tests of the outbox itself turn it off.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import select, update

from cowin_kit.core import metrics
from cowin_kit.core.db import get_database
from cowin_kit.notifications.models import PRIORITY_OTP, OutboxMessage

# the names a drain needs from the package (the package imports this module lazily)
SECRET_TEMPLATES = frozenset({"otp", "otp_change_mobile", "beneficiary_registered"})

log = logging.getLogger("cowin_kit.notifications")

CLAIM_BATCH = 20
MAX_BACKOFF = timedelta(hours=1)
OUTBOX = OutboxMessage.__table__
DUE_STATUSES = ("pending", "sending")  # "sending" rows are due again once their lease ends


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: base, 2 x base, 4 x base...,
    at most an hour."""
    return min(timedelta(seconds=base_seconds * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


@dataclass
class CircuitBreaker:
    """Closed: send. Open (after ``threshold`` consecutive failures): send nothing until
    ``cooldown`` has passed. Then half-open: one probe; its success closes the breaker,
    its failure opens it again."""

    threshold: int
    cooldown: float
    failures: int = 0
    open_until: float | None = None
    probing: bool = False
    clock: Any = time.monotonic
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_open(self) -> bool:
        with self.lock:
            return self.open_until is not None and self.clock() < self.open_until

    def allowance(self, wanted: int) -> int:
        """How many sends may start now (and, half-open, claim the one probe)."""
        with self.lock:
            if self.open_until is None:
                return wanted
            if self.clock() < self.open_until or self.probing:
                return 0
            self.probing = True
            return min(1, wanted)

    def release_probe(self) -> None:
        with self.lock:
            self.probing = False

    def succeeded(self) -> None:
        with self.lock:
            self.failures, self.open_until, self.probing = 0, None, False

    def failed(self) -> None:
        with self.lock:
            self.failures += 1
            if self.probing or self.failures >= self.threshold:
                if self.open_until is None or self.probing:
                    log.warning("notifier circuit breaker open for %.0f s after %d failures",
                                self.cooldown, self.failures)
                self.open_until = self.clock() + self.cooldown
                self.probing = False


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


class Sender:
    """A process's sending state for one app: its notifier, circuit breaker, messages in
    flight, and the OTP sender thread (started on the first OTP)."""

    def __init__(self, app: Flask, notifier: Any):
        settings = app.config["COWIN_KIT"]
        self.app = app
        self.notifier = notifier
        self.timeout = float(settings["MESSAGE_SEND_TIMEOUT_SECONDS"])
        self.max_attempts = settings["MESSAGE_MAX_ATTEMPTS"]
        self.retry_base = float(settings["MESSAGE_RETRY_BASE_SECONDS"])
        self.concurrency = max(1, settings["MESSAGE_SEND_CONCURRENCY"])
        self.otp_thread_enabled = settings["OTP_SENDER_IN_WEB"]
        self.synchronous = settings["ENV"] == "test"
        self.breaker = CircuitBreaker(settings["NOTIFIER_BREAKER_FAILURES"],
                                      float(settings["NOTIFIER_BREAKER_COOLDOWN_SECONDS"]))
        self.in_flight = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.stopped = threading.Event()

    # -- the OTP sender thread ------------------------------------------------------------
    def wake(self, priority: int) -> None:
        if self.synchronous:
            try:
                self.send_due_messages()
            except Exception:  # never fail the commit that queued the message
                log.exception("synchronous message sending failed")
            return
        if priority < PRIORITY_OTP or not self.otp_thread_enabled:
            return  # the worker sends it
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._otp_loop, daemon=True,
                                                name="cowin-kit-otp-sender")
                self._thread.start()
        self._wake.set()

    def _otp_loop(self) -> None:
        while not self.stopped.is_set():
            self._wake.clear()
            try:
                with self.app.app_context():
                    self.send_due_messages(priority_only=True)
            except Exception:  # the database is away: the rows stay due
                log.exception("OTP sender round failed")
            # Also poll: retries after backoff, OTPs committed by other processes' failures.
            self._wake.wait(min(self.retry_base, 5.0))

    def stop(self) -> None:
        self.stopped.set()
        self._wake.set()

    # -- draining -------------------------------------------------------------------------
    def send_due_messages(self, *, priority_only: bool = False, limit: int = 500,
                          now: datetime | None = None) -> DrainResult:
        """Send up to ``limit`` due messages (highest priority first); see the module doc."""
        result = DrainResult()
        handled = 0
        factory = get_database(self.app).session_factory
        while handled < limit:
            with self._lock:
                room = self.concurrency - self.in_flight
            size = self.breaker.allowance(min(CLAIM_BATCH, room, limit - handled))
            if size <= 0:
                break
            claimed = self._claim(factory, size, priority_only, now)
            if not claimed:
                self.breaker.release_probe()  # nothing to probe with
                break
            handled += len(claimed)
            self._send_batch(factory, claimed, result, now)
            if len(claimed) < size:
                break  # nothing else was due: spare the empty claim (a wake comes for more)
        return result

    def _claim(self, factory: Any, size: int, priority_only: bool,
               now: datetime | None) -> list[dict[str, Any]]:
        now = now or datetime.now(timezone.utc)
        table = OUTBOX  # Core statements: the ORM's bulk-update path costs more per message
        query = (select(table.c.id, table.c.attempts, table.c.recipient, table.c.template,
                        table.c.locale, table.c.text)
                 .where(table.c.status.in_(DUE_STATUSES), table.c.next_attempt_at <= now)
                 .order_by(table.c.priority.desc(), table.c.id).limit(size)
                 .with_for_update(skip_locked=True))
        if priority_only:
            query = query.where(table.c.priority >= PRIORITY_OTP)
        lease = now + timedelta(seconds=2 * self.timeout + 30)
        claimed = []
        with factory() as session:
            for row in session.execute(query).all():
                # conditional, so that two drainers on SQLite (no SKIP LOCKED) never both win
                won = session.execute(update(table).where(
                    table.c.id == row.id, table.c.attempts == row.attempts,
                    table.c.status.in_(DUE_STATUSES))
                    .values(status="sending", attempts=row.attempts + 1,
                            next_attempt_at=lease)).rowcount
                if won == 1:
                    claimed.append({"id": row.id, "attempts": row.attempts + 1,
                                    "to": row.recipient, "template": row.template,
                                    "locale": row.locale, "text": row.text})
            session.commit()
        return claimed

    def _send_batch(self, factory: Any, claimed: list[dict[str, Any]], result: DrainResult,
                    now: datetime | None) -> None:
        outcomes: dict[int, str | None] = {}
        threads = []
        for item in claimed:
            # the caller's context (its request id in the log lines) goes with the send
            thread = threading.Thread(target=contextvars.copy_context().run,
                                      args=(self._send_one, item, outcomes),
                                      daemon=True, name="cowin-kit-message")
            with self._lock:
                self.in_flight += 1
            thread.start()
            threads.append((item, thread))
        deadline = time.monotonic() + self.timeout
        updates = []
        for item, thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            # A send still running past its budget is a failure; its thread is abandoned.
            error = (f"timeout after {self.timeout:g} s" if thread.is_alive()
                     else outcomes.get(item["id"], "no outcome"))
            updates.append(self._outcome(item, error, result, now))
        with factory() as session:  # the batch's outcomes in one transaction
            for statement in updates:
                session.execute(statement)
            session.commit()

    def _send_one(self, item: dict[str, Any], outcomes: dict[int, str | None]) -> None:
        from cowin_kit.notifications import OutgoingMessage

        try:
            with self.app.app_context():
                reference = self.notifier.send(OutgoingMessage(
                    to=item["to"], template=item["template"], locale=item["locale"],
                    text=item["text"]))
            if isinstance(reference, str) and reference:
                item["provider_ref"] = reference[:100]
            outcomes[item["id"]] = None
        except Exception as exc:  # only the class name: a message may hold the text
            outcomes[item["id"]] = type(exc).__name__
        finally:
            with self._lock:
                self.in_flight -= 1

    def _outcome(self, item: dict[str, Any], error: str | None, result: DrainResult,
                 now: datetime | None) -> Any:
        """Count the outcome of one send; return the UPDATE that records it."""
        now = now or datetime.now(timezone.utc)
        values: dict[str, Any]
        if error is None:
            self.breaker.succeeded()
            values = {"status": "sent", "sent_at": now, "last_error": None,
                      "provider_ref": item.get("provider_ref")}
            if item["template"] in SECRET_TEMPLATES:
                values["text"] = ""
            result.sent += 1
            metrics.MESSAGES_SENT.inc()
        else:
            self.breaker.failed()
            log.warning("notifier failed for template %s (message %s, attempt %d): %s",
                        item["template"], item["id"], item["attempts"], error)
            if item["attempts"] >= self.max_attempts:
                values = {"status": "failed", "last_error": error}
                if item["template"] in SECRET_TEMPLATES:
                    values["text"] = ""
                result.failed += 1
                metrics.MESSAGE_FAILURES.labels(final="true").inc()
            else:
                values = {"status": "pending", "last_error": error,
                          "next_attempt_at": now + backoff(item["attempts"], self.retry_base)}
                result.retried += 1
                metrics.MESSAGE_FAILURES.labels(final="false").inc()
        # only if no other drainer took the row over after its lease ended
        return update(OUTBOX).where(
            OUTBOX.c.id == item["id"], OUTBOX.c.status == "sending",
            OUTBOX.c.attempts == item["attempts"]).values(**values)


def sender(app: Flask | None = None) -> Sender:
    from cowin_kit.notifications import SENDER

    return (app or current_app).extensions[SENDER]


def send_due_messages(app: Flask | None = None, **options: Any) -> DrainResult:
    """One drain of the outbox by this process's sender (see ``Sender.send_due_messages``)."""
    return sender(app).send_due_messages(**options)


def wake(priority: int) -> None:
    """A commit queued messages of up to ``priority``: see ``Sender.wake``."""
    if has_app_context():
        from cowin_kit.notifications import SENDER

        found = current_app.extensions.get(SENDER)
        if found is not None:
            found.wake(priority)
