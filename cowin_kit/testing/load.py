"""A bounded load generator on loopback: a few threads booking seats, recording doses
and searching through the HTTP API of a running instance (cowin_kit.testing.stack), each
answer recorded with its time. For the fault-injection suite (docs/reliability.md)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from cowin_kit.testing.stack import http_json

__all__ = ["Load", "Outcome"]


@dataclass
class Outcome:
    kind: str            # booking | dose | search
    started: float       # time.monotonic()
    seconds: float
    status: int | None   # None: no answer (see error)
    code: str | None     # problem+json code, when there is one
    error: str | None    # connection | timeout
    ref: str = ""
    content_type: str = ""
    retry_after: str | None = None
    body: dict | None = None

    @property
    def label(self) -> str:
        if self.status is None:
            return str(self.error)
        return f"{self.status} {self.code}" if self.code else str(self.status)


@dataclass
class Load:
    """Threads that each send one request after another (a pause between) until stopped.

    - bookings: (citizen token, reference id) pairs taken in turn, each booking one seat
      of ``session_id`` (a pair already booked is answered 409, a full session too);
    - doses: reference ids, each recorded once by ``vaccinator`` with an Idempotency-Key
      (a dose answered 503 or not at all is sent again with the same key, as a field
      device does, until acknowledged);
    - searches: ``search_path`` (public availability)."""

    base_url: str
    session_id: str
    slot: str
    bookings: list[tuple[str, str]]
    doses: list[str]
    vaccinator: str
    search_path: str
    timeout: float = 10.0
    pause: float = 0.05
    booking_threads: int = 2
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> "Load":
        self._booking_queue = list(self.bookings)
        self._dose_queue = [(ref, str(uuid.uuid4())) for ref in self.doses]
        targets = [self._book] * self.booking_threads + [self._dose, self._search]
        for target in targets:
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def __enter__(self) -> "Load":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    # --- the clients ---------------------------------------------------------------------

    def _request(self, kind: str, method: str, path: str, body=None, headers=None,
                 ref: str = "") -> Outcome:
        started = time.monotonic()
        try:
            status, head, parsed = http_json(method, self.base_url + path, body, headers,
                                             timeout=self.timeout)
            outcome = Outcome(kind, started, time.monotonic() - started, status,
                              parsed.get("code") if isinstance(parsed, dict) else None,
                              None, ref, head.get("Content-Type", ""),
                              head.get("Retry-After"),
                              parsed if isinstance(parsed, dict) else None)
        except TimeoutError:
            outcome = Outcome(kind, started, time.monotonic() - started, None, None,
                              "timeout", ref)
        except OSError:
            outcome = Outcome(kind, started, time.monotonic() - started, None, None,
                              "connection", ref)
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def _book(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._booking_queue:
                    self._booking_queue = list(self.bookings)
                token, ref = self._booking_queue.pop()
            self._request("booking", "POST", "/api/v1/appointments",
                          {"session_id": self.session_id, "slot": self.slot,
                           "beneficiaries": [ref]},
                          {"Authorization": f"Bearer {token}"}, ref)
            self._stop.wait(self.pause)

    def _dose(self) -> None:
        while not self._stop.is_set() and self._dose_queue:
            ref, key = self._dose_queue[0]
            outcome = self._request("dose", "POST", "/api/v1/vaccinator/doses",
                                    {"reference_id": ref, "vaccine": "COVISHIELD",
                                     "lot": "4121Z005"},
                                    {"Authorization": f"Bearer {self.vaccinator}",
                                     "Idempotency-Key": key}, ref)
            if outcome.status is not None and outcome.status < 500:
                self._dose_queue.pop(0)  # acknowledged (or refused): the next person
            self._stop.wait(self.pause * 2)

    def _search(self) -> None:
        while not self._stop.is_set():
            self._request("search", "GET", self.search_path)
            self._stop.wait(self.pause * 2)

    # --- what happened -------------------------------------------------------------------

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if start <= o.started < end]

    @staticmethod
    def summary(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
        """Answers by kind and label ('201', '409 fully_booked', '503 database_unavailable',
        'connection', 'timeout')."""
        counts: dict[str, Counter] = {}
        for outcome in outcomes:
            counts.setdefault(outcome.kind, Counter())[outcome.label] += 1
        return {kind: dict(sorted(counter.items())) for kind, counter in sorted(counts.items())}

    def acknowledged(self, kind: str) -> list[Outcome]:
        """Writes the server acknowledged (201, or 200 for a dose already recorded)."""
        return [o for o in self.outcomes if o.kind == kind and o.status in (200, 201)]
