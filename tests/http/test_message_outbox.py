"""The message outbox: requests only write messages; the senders deliver them with a time
budget, backoff, a circuit breaker, and erase their text; concurrent drainers never send a
message twice."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from cowin_kit import notifications
from cowin_kit.core.db import get_database
from cowin_kit.notifications.models import OutboxMessage
from cowin_kit.notifications.sender import Sender, backoff, send_due_messages, sender
from cowin_kit.testing.api import sign_in


class Gateway:
    """A notifier: while ``down`` each send hangs ``hang`` seconds and fails; up, it
    delivers (records) the message."""

    def __init__(self, hang: float = 0.0, down: bool = False, error: str = "gateway down"):
        self.hang, self.down, self.error = hang, down, error
        self.calls = 0
        self.delivered = []
        self.lock = threading.Lock()

    def send(self, message) -> None:
        with self.lock:
            self.calls += 1
        if self.down:
            time.sleep(self.hang)
            raise TimeoutError(self.error)
        with self.lock:
            self.delivered.append(message)


def background(app, gateway, **attributes) -> Sender:
    """The app's sender, as in production (not synchronous), through ``gateway``."""
    found = sender(app)
    found.synchronous = False
    found.notifier = gateway
    for name, value in attributes.items():
        setattr(found, name, value)
    return found


def queue(app, n: int = 1, template: str = "slot_alert", **extra) -> None:
    with app.test_request_context(), get_database(app).session() as session:
        add = notifications.queue_otp if template == "otp" else notifications.queue
        for i in range(n):
            add(session, f"+9198765{i:05d}", template, "en",
                **(extra or {"seats": 3, "dose": 1, "facility": "PHC"}))
        session.commit()


def rows(app) -> list[OutboxMessage]:
    with get_database(app).session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_hanging_gateway_slows_neither_the_otp_request_nor_healthz(reg_app):
    gateway = Gateway(hang=2.0, down=True)
    otp_sender = background(reg_app, gateway, timeout=0.5, retry_base=0.2)
    otp_sender.breaker.cooldown = 0.3
    client = reg_app.test_client()
    try:
        started = time.monotonic()
        asked = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"})
        assert asked.status_code == 200
        assert time.monotonic() - started < 1.0
        assert wait_for(lambda: gateway.calls >= 1)  # the sender thread is stuck in it now
        started = time.monotonic()
        assert client.get("/healthz").status_code == 200
        again = client.post("/api/v1/auth/otp", json={"mobile": "9876500000"})
        assert again.status_code == 200
        assert time.monotonic() - started < 1.0
        assert gateway.delivered == []

        gateway.down = False  # the gateway recovers: each OTP goes out, once
        assert wait_for(lambda: len(gateway.delivered) == 2)
        time.sleep(0.5)
        assert sorted(m.to for m in gateway.delivered) == ["+919876500000", "+919876543210"]
        assert [(r.status, r.text) for r in rows(reg_app)] == [("sent", "")] * 2
        otp = gateway.delivered[0].text.split()[0]
        assert otp.isdigit() and all(otp not in (r.last_error or "") for r in rows(reg_app))
    finally:
        otp_sender.stop()


def test_failed_sends_back_off_then_give_up_keeping_only_a_retryable_text(reg_app):
    gateway = Gateway(down=True, error="could not send 482913 to the phone")
    # only this test's drains send: no OTP thread racing them on the real clock
    background(reg_app, gateway, max_attempts=3, retry_base=10.0, otp_thread_enabled=False)
    sender(reg_app).breaker.threshold = 100
    queue(reg_app)
    t0 = datetime.now(timezone.utc)

    assert send_due_messages(reg_app, now=t0).retried == 1
    (row,) = rows(reg_app)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "TimeoutError")
    assert row.next_attempt_at == t0 + timedelta(seconds=10) and row.text

    assert send_due_messages(reg_app, now=t0 + timedelta(seconds=9)).retried == 0  # not due
    assert send_due_messages(reg_app, now=t0 + timedelta(seconds=10)).retried == 1
    (row,) = rows(reg_app)
    assert row.attempts == 2 and row.next_attempt_at == t0 + timedelta(seconds=30)
    assert send_due_messages(reg_app, now=t0 + timedelta(seconds=30)).failed == 1
    (row,) = rows(reg_app)
    # a slot alert holds no secret: its text stays, so that it can be sent again
    # (channels.services.retry_message); a secret's text is erased (below)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 3, None) and row.text
    assert "482913" not in row.last_error
    assert gateway.calls == 3
    queue(reg_app, template="otp", otp="482913", minutes=3)
    # the OTP is queued at the real clock: its three attempts are timed from then
    t1 = datetime.now(timezone.utc)
    for seconds in (0, 10, 30):
        send_due_messages(reg_app, now=t1 + timedelta(seconds=seconds))
    otp = [r for r in rows(reg_app) if r.template == "otp"][0]
    assert (otp.status, otp.text) == ("failed", "")
    assert backoff(8, 10.0) == timedelta(seconds=1280) and backoff(20, 10.0) == timedelta(hours=1)


def test_a_sent_message_keeps_no_text_and_a_slow_send_is_cut_at_its_budget(reg_app):
    gateway = Gateway()
    background(reg_app, gateway, otp_thread_enabled=False)
    queue(reg_app, template="otp", otp="123456", minutes=3)
    assert send_due_messages(reg_app).sent == 1
    (row,) = rows(reg_app)
    assert (row.status, row.text, row.attempts) == ("sent", "", 1) and row.sent_at
    assert gateway.delivered[0].text.startswith("123456 ")

    slow = Gateway(hang=3.0, down=True)
    background(reg_app, slow, timeout=0.3)
    queue(reg_app)
    started = time.monotonic()
    assert send_due_messages(reg_app).retried == 1
    assert time.monotonic() - started < 2.0
    assert rows(reg_app)[-1].last_error == "timeout after 0.3 s"


def test_the_circuit_breaker_opens_after_failures_and_closes_after_a_good_probe(reg_app):
    clock = [0.0]
    gateway = Gateway(down=True)
    found = background(reg_app, gateway, retry_base=0.0, concurrency=1)
    found.breaker.threshold, found.breaker.cooldown = 2, 60.0
    found.breaker.clock = lambda: clock[0]
    queue(reg_app, 4)

    assert send_due_messages(reg_app).retried == 2  # two failures open it
    assert found.breaker.is_open
    assert send_due_messages(reg_app).retried == 0 and gateway.calls == 2  # nothing tried
    assert {r.status for r in rows(reg_app)} == {"pending"}

    clock[0] = 61.0  # cool-down over: one probe, which fails, opens it again
    assert send_due_messages(reg_app).retried == 1 and gateway.calls == 3
    assert found.breaker.is_open

    clock[0] = 122.0
    gateway.down = False  # the probe succeeds: closed, everything goes
    assert send_due_messages(reg_app).sent == 4
    assert not found.breaker.is_open
    assert [r.status for r in rows(reg_app)] == ["sent"] * 4


def test_concurrent_drainers_never_send_a_message_twice(pg_app):
    gateway = Gateway()
    background(pg_app, gateway)
    queue(pg_app, 120)
    drainers = [Sender(pg_app, gateway) for _ in range(4)]
    for drainer in drainers:
        drainer.synchronous = False

    def drain(drainer):
        with pg_app.app_context():
            drainer.send_due_messages()

    threads = [threading.Thread(target=drain, args=(d,)) for d in drainers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(m.to for m in gateway.delivered) == sorted(f"+9198765{i:05d}"
                                                            for i in range(120))
    assert {r.status for r in rows(pg_app)} == {"sent"}


def test_the_worker_sends_otps_before_the_backlog(reg_app):
    from cowin_kit.worker import Worker

    gateway = Gateway()
    background(reg_app, gateway, otp_thread_enabled=False, concurrency=1)
    queue(reg_app, 3)
    queue(reg_app, template="otp", otp="654321", minutes=3)
    assert Worker(reg_app, alert_poll_seconds=3600).run_round().messages_sent == 4
    assert [m.template for m in gateway.delivered] == ["otp"] + ["slot_alert"] * 3


def test_the_outbox_is_measured(reg_app):
    from prometheus_client.parser import text_string_to_metric_families

    background(reg_app, Gateway(down=True))
    queue(reg_app, 2)
    time.sleep(0.05)
    text = reg_app.test_client().get("/metrics").get_data(as_text=True)
    samples = {s.name: s.value for f in text_string_to_metric_families(text)
               for s in f.samples}
    assert samples["cowin_kit_message_outbox_pending"] == 2
    assert samples["cowin_kit_message_outbox_oldest_pending_age_seconds"] > 0
    send_due_messages(reg_app)
    text = reg_app.test_client().get("/metrics").get_data(as_text=True)
    samples = {(s.name, tuple(s.labels.items())): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("cowin_kit_message_send_failures_total", (("final", "false"),))] >= 2


def test_sign_in_still_reads_the_otp_at_once_in_tests(reg_app):
    assert sign_in(reg_app, reg_app.test_client())


@pytest.mark.parametrize("env, shown", [("production", False), ("dev", True)])
def test_the_log_notifier_masks_message_text_in_production(env, shown, caplog):
    notifier = notifications.make_notifier(
        "log", show_text=env in ("dev", "demo", "test"))
    caplog.set_level(logging.INFO, logger="cowin_kit.notifications")
    notifier.send(notifications.OutgoingMessage("+919876543210", "otp", "en",
                                                "481516 is your one-time password"))
    (record,) = caplog.records
    assert ("481516" in record.getMessage()) is shown
    assert "+919876543210" in record.getMessage()


def test_a_production_app_gets_the_masking_log_notifier(make_app):
    from cryptography.fernet import Fernet

    app = make_app(ENV="production", NOTIFIER="log", SECRET_KEY="s" * 40,
                   ENCRYPTION_KEYS=[Fernet.generate_key().decode()], ID_HASH_KEY="h" * 40)
    assert app.extensions["cowin_kit.notifier"].show_text is False
    assert make_app(NOTIFIER="log").extensions["cowin_kit.notifier"].show_text is True
