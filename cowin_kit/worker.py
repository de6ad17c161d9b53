"""The background worker: everything that must happen after a request, not inside it.

Jobs, each run when due:
- the message outbox (every poll, first, and again after slot alerts): OTPs before any
  other message (cowin_kit.notifications.sender; web processes also send OTPs themselves);
- the certificate outbox (every poll): a certificate for every recorded dose;
- slot alerts (every ``SLOT_ALERT_POLL_SECONDS``): subscribers told of free seats;
- routine dose reminders (every ``reminder_poll_seconds``, an hour by default; each dose's
  reminder once, whatever the restarts: cowin_kit.immunization.reminders), and with them
  the purge of expired USSD sessions (cowin_kit.channels) and the retention jobs
  (cowin_kit.privacy.retention: old OTPs, messages, audit details, abandoned accounts;
  on PostgreSQL whole monthly partitions dropped where allowed) and, before them, the
  monthly partitions of the next ``PARTITION_MONTHS_AHEAD`` months created
  (cowin_kit.core.partitioning, docs/partitioning.md);
- stock (every ``stock_poll_seconds``, an hour by default): open vials past their
  open-vial policy discarded as wastage, then near-expiry, stock-out and low-stock alerts
  raised once per store and day (cowin_kit.stock.services.raise_alerts: a stock_alert row,
  a log line, a metric, and a message in the outbox to the nearest stock managers of the
  store's place who have a mobile number);
- the daily refresh of the pending doses the due lists read
  (cowin_kit.immunization.duestate.refresh_all): once per day in the pack's timezone,
  skipped when a whole-country refresh with the current rules already finished that day
  (so restarts and several replicas do not repeat it; two replicas starting it together
  write the same rows, person by person under a row lock). It runs in the round: the
  outbox waits for it once a day (minutes for millions of children).

Production runs ``cowin-kit worker`` (any number of replicas: outbox rows and alert
subscriptions are claimed with SKIP LOCKED on PostgreSQL); the demo runs the same loop in a
thread. Requests never dispatch alerts themselves: under a stampede a cancellation must not
pay for hundreds of availability searches.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from flask import Flask

from cowin_kit.audit.services import Actor, acting_as
from cowin_kit.certificates.services import keystore, process_outbox
from cowin_kit.channels.services import purge_sessions
from cowin_kit.config.runtime import active_pack
from cowin_kit.core import partitioning
from cowin_kit.core.db import get_database
from cowin_kit.immunization import duestate
from cowin_kit.immunization.duelists import today_in
from cowin_kit.immunization.reminders import send_reminders
from cowin_kit.notifications.sender import send_due_messages
from cowin_kit.privacy import retention
from cowin_kit.scheduling.alerts import dispatch_slot_alerts
from cowin_kit.stock.services import close_vials, raise_alerts

log = logging.getLogger("cowin_kit.worker")


@dataclass
class WorkerRound:
    messages_sent: int = 0
    messages_failed: int = 0
    certificates_issued: int = 0
    alerts_sent: int = 0
    alerts_checked: bool = False
    reminders_sent: int = 0
    vials_discarded: int = 0
    stock_alerts: int = 0
    partitions_created: list[str] = field(default_factory=list)
    due_state_refreshed: int | None = None      # people, when the refresh ran in the round
    purged: int = 0                             # rows the retention jobs deleted or cut
    failed: list[str] = field(default_factory=list)


@dataclass
class Worker:
    """One worker's state: when each periodic job last ran."""

    app: Flask
    alert_poll_seconds: float | None = None
    reminder_poll_seconds: float = 3600.0
    stock_poll_seconds: float = 3600.0
    _last_alerts: float = field(default=float("-inf"), init=False)
    _last_reminders: float = field(default=float("-inf"), init=False)
    _last_stock: float = field(default=float("-inf"), init=False)

    _due_state_day: object = field(default=None, init=False)

    def run_round(self, *, force_alerts: bool = False, force_reminders: bool = False,
                  force_stock: bool = False, force_due_state: bool = False,
                  now: datetime | None = None) -> WorkerRound:
        """Run every job that is due now, in the app's context."""
        result = WorkerRound()
        with self.app.app_context(), acting_as(Actor("system", "worker")):
            pack = active_pack()
            database = get_database()
            self._send_messages(result, now)
            try:
                result.certificates_issued = process_outbox(
                    database.session_factory, pack, lambda: keystore().current(), now=now)
            except Exception:  # e.g. no signing keys yet: the rows stay due; alerts still go
                log.exception("certificate outbox failed; retrying next round")
                result.failed.append("certificates")
            poll = (self.alert_poll_seconds if self.alert_poll_seconds is not None
                    else self.app.config["COWIN_KIT"]["SLOT_ALERT_POLL_SECONDS"])
            if force_alerts or time.monotonic() - self._last_alerts >= poll:
                self._last_alerts = time.monotonic()
                result.alerts_checked = True
                # Messages are rendered in the subscriber's language: that needs a request
                # context for Babel.
                with self.app.test_request_context(), database.session() as session:
                    result.alerts_sent = dispatch_slot_alerts(session, pack, now=now)
                if result.alerts_sent:
                    self._send_messages(result, now)
            if force_reminders or time.monotonic() - self._last_reminders \
                    >= self.reminder_poll_seconds:
                self._last_reminders = time.monotonic()
                try:
                    with self.app.test_request_context(), database.session() as session:
                        day = now.astimezone(ZoneInfo(pack.document["timezone"])).date() \
                            if now is not None else today_in(pack)
                        result.reminders_sent = send_reminders(session, pack, day)
                except Exception:  # sent ones are recorded; the rest go next time
                    log.exception("routine reminders failed; retrying next round")
                    result.failed.append("reminders")
                if result.reminders_sent:
                    self._send_messages(result, now)
                try:  # hourly too: USSD sessions expired an hour ago or more
                    with database.session() as session:
                        purge_sessions(session, now=now)
                except Exception:
                    log.exception("purging USSD sessions failed; retrying next time")
                self._create_partitions(result, now)
                try:
                    with database.session() as session:
                        periods = retention.Periods.from_settings(self.app.config["COWIN_KIT"])
                        result.purged = retention.purge(session, periods, now=now).total()
                except Exception:
                    log.exception("retention jobs failed; retrying next time")
                    result.failed.append("retention")
            if force_stock or time.monotonic() - self._last_stock >= self.stock_poll_seconds:
                self._last_stock = time.monotonic()
                try:
                    with self.app.test_request_context(), database.session() as session:
                        moment = now or datetime.now(timezone.utc)
                        result.vials_discarded = close_vials(session, pack, moment)
                        day = moment.astimezone(ZoneInfo(pack.document["timezone"])).date()
                        result.stock_alerts = len(raise_alerts(session, pack, day))
                except Exception:  # the next round looks again
                    log.exception("stock job failed; retrying next round")
                    result.failed.append("stock")
            self._refresh_due_state(result, pack, now, force_due_state)
        return result

    def _create_partitions(self, result: WorkerRound, now: datetime | None) -> None:
        """The monthly partitions ahead (PostgreSQL; nothing on SQLite or a table not yet
        partitioned). A lock not had within seconds: the next hour tries again; the
        default partition takes the rows meanwhile."""
        try:
            with get_database().engine.begin() as connection:
                if partitioning.is_postgresql(connection):
                    connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                result.partitions_created = partitioning.ensure_partitions(
                    connection, now or datetime.now(timezone.utc),
                    self.app.config["COWIN_KIT"]["PARTITION_MONTHS_AHEAD"])
        except Exception:
            log.exception("creating partitions failed; retrying next time")
            result.failed.append("partitions")

    def _refresh_due_state(self, result: WorkerRound, pack, now: datetime | None,
                           force: bool) -> None:
        """The daily full refresh of the due lists' table, in the round (the outbox waits
        for it: minutes for millions of people, once a day)."""
        day = now.astimezone(ZoneInfo(pack.document["timezone"])).date() \
            if now is not None else today_in(pack)
        if not force and self._due_state_day == day:
            return
        try:
            with get_database().session() as session:
                if not force and duestate.refreshed_today(session, pack, day):
                    self._due_state_day = day
                    return
                report = duestate.refresh_all(session, pack, on=day)
            log.info("due lists: refreshed %d people, %d pending doses in %.0f s",
                     report.people, report.rows, report.seconds)
            self._due_state_day = day
            result.due_state_refreshed = report.people
        except Exception:  # the next round tries again
            log.exception("due state refresh failed; retrying next round")
            result.failed.append("due_state")

    @staticmethod
    def _send_messages(result: WorkerRound, now: datetime | None) -> None:
        try:
            drained = send_due_messages(now=now)
        except Exception:  # the rows stay due
            log.exception("message outbox failed; retrying next round")
            result.failed.append("messages")
            return
        result.messages_sent += drained.sent
        result.messages_failed += drained.failed

    def run_forever(self, interval: float, stop: threading.Event | None = None,
                    report: Callable[[WorkerRound], None] | None = None) -> None:
        """Poll until ``stop`` is set. A failing round is logged and retried next round:
        nothing is lost, the outbox row or subscription is still due."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                done = self.run_round()
                if report is not None:
                    report(done)
            except Exception:
                log.exception("worker round failed; retrying in %.0f s", interval)
            stop.wait(interval)


def start_in_thread(app: Flask, interval: float = 2.0) -> threading.Event:
    """The demo's in-process worker; set the returned event to stop it."""
    stop = threading.Event()
    worker = Worker(app)
    threading.Thread(target=worker.run_forever, args=(interval, stop),
                     name="cowin-kit-worker", daemon=True).start()
    return stop


def describe(done: WorkerRound) -> str | None:
    parts = []
    if done.messages_sent:
        parts.append(f"sent {done.messages_sent} message(s)")
    if done.messages_failed:
        parts.append(f"gave up {done.messages_failed} message(s)")
    if done.certificates_issued:
        parts.append(f"issued {done.certificates_issued} certificate(s)")
    if done.alerts_sent:
        parts.append(f"sent {done.alerts_sent} slot alert(s)")
    if done.reminders_sent:
        parts.append(f"queued {done.reminders_sent} dose reminder(s)")
    if done.vials_discarded:
        parts.append(f"discarded {done.vials_discarded} open vial(s)")
    if done.stock_alerts:
        parts.append(f"raised {done.stock_alerts} stock alert(s)")
    if done.purged:
        parts.append(f"purged {done.purged} row(s) past their retention period")
    if done.partitions_created:
        parts.append(f"created partition(s) {', '.join(done.partitions_created)}")
    if done.due_state_refreshed:
        parts.append(f"refreshed the due state of {done.due_state_refreshed} people")
    if not parts:
        return None
    return f"{datetime.now(timezone.utc):%H:%M:%S} " + ", ".join(parts)
