"""Fault injection under load (docs/reliability.md): web workers and the background
worker killed with SIGKILL in the middle of bookings and dose recordings, PostgreSQL
restarted, Redis stopped, the certificate outbox filled while the worker is down.

After each fault: no acknowledged write lost, no seat sold twice, every recorded dose has
its certificate exactly once, the app serves again without being restarted, and while
the fault lasted clients got answers or 503 problem+json, never a 500 nor a wait past
their timeout."""

from __future__ import annotations

import os
import signal
import time

from sqlalchemy import func, select

from cowin_kit.core.db import get_database
from cowin_kit.testing import iso_day, publish
from cowin_kit.testing.faults import (
    assert_answers, assert_data_intact, record, wait_until, write_recovery,
)
from cowin_kit.testing.load import Load
from cowin_kit.vaccination.models import CertificateDue

SLOT = "09:00-17:00"
CAPACITY = 60


def start_load(instance, days_ahead: int, people: int = 70, doses: int = 30) -> Load:
    """Bookings of ``people`` citizens for one new session of CAPACITY seats (more
    people than seats: some are refused as fully booked), ``doses`` doses, searches."""
    session_id = publish(instance.app, days_ahead=days_ahead, capacity={1: CAPACITY},
                         slots=SLOT, code="F-TVM-1")
    bookings = instance.take(people)
    dosed = [ref for _token, ref in instance.take(doses)]
    return Load(instance.stack.base_url, session_id, SLOT, bookings, dosed,
                instance.vaccinator,
                f"/api/v1/sessions?location=IN-KL&date={iso_day(days_ahead)}").start()


def test_web_workers_killed_mid_request(instance, report):
    stack = instance.stack
    master = stack.web.pid
    load = start_load(instance, days_ahead=3)
    time.sleep(2)
    start = time.monotonic()
    killed = []
    for _ in range(2):
        victim = stack.web_pids()[0]
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)
        time.sleep(1.5)
    end = time.monotonic()
    (_token, probe), = instance.take(1)
    recovery = write_recovery(stack.base_url, instance.vaccinator, probe, end, load)
    wait_until(lambda: len(stack.web_pids()) == stack.web_workers
               and not set(killed) & set(stack.web_pids()), 60)
    time.sleep(2)
    load.stop()
    assert stack.web.poll() is None and stack.web.pid == master  # no restart of the app
    assert_answers(load, connection_errors_allowed=True)  # requests in a killed worker
    figures = assert_data_intact(instance.app, load, CAPACITY)
    assert stack.server_errors() == []
    record(report, "web workers killed", load, start, end,
           recovery_seconds=round(recovery, 2), **figures)


def test_worker_killed_and_the_outbox_filled_while_it_is_down(instance, report):
    stack = instance.stack
    app = get_database(instance.app)
    load = start_load(instance, days_ahead=4, doses=50)
    time.sleep(2)
    start = time.monotonic()
    stack.kill_worker()  # in the middle of its rounds: certificates of the doses so far
    time.sleep(4)  # doses keep coming: the outbox fills

    with instance.app.app_context(), app.session() as session:
        backlog = session.scalar(select(func.count()).select_from(CertificateDue)
                                 .where(CertificateDue.status == "pending"))
    assert backlog > 0
    stack.start_worker()
    time.sleep(0.6)
    stack.kill_worker()  # again, while it drains the backlog
    stack.start_worker()
    end = time.monotonic()
    time.sleep(3)
    load.stop()
    assert_answers(load)
    assert not [o for o in load.outcomes if o.status is None]
    drained_from = time.monotonic()
    figures = assert_data_intact(instance.app, load, CAPACITY)
    assert stack.server_errors() == []
    record(report, "background worker killed, outbox filled", load, start, end,
           outbox_backlog=backlog,
           outbox_drained_seconds=round(time.monotonic() - drained_from, 2), **figures)


def test_postgresql_restarted_under_load(instance, report):
    stack = instance.stack
    master, web_workers, worker = stack.web.pid, stack.web_pids(), stack.worker.pid
    load = start_load(instance, days_ahead=5)
    (_token, probe), = instance.take(1)
    time.sleep(1)
    start = time.monotonic()
    instance.cluster.stop("fast")  # every connection closed, new ones refused
    time.sleep(3)
    instance.cluster.start()
    back = time.monotonic()
    recovery = write_recovery(stack.base_url, instance.vaccinator, probe, back, load)
    time.sleep(3)
    load.stop()
    assert stack.web.pid == master and stack.web_pids() == web_workers  # not restarted
    assert stack.worker.poll() is None and stack.worker.pid == worker
    assert_answers(load)
    assert not [o for o in load.outcomes if o.status is None]
    during = load.between(start, back)
    assert any(o.status == 503 for o in during)
    figures = assert_data_intact(instance.app, load, CAPACITY)
    assert stack.server_errors() == []
    record(report, "PostgreSQL restarted", load, start, back,
           outage_seconds=round(back - start, 2),
           recovery_seconds=round(recovery, 2), **figures)


def test_redis_stopped_under_load(instance, report):
    stack = instance.stack
    master, web_workers = stack.web.pid, stack.web_pids()
    load = start_load(instance, days_ahead=6)
    time.sleep(2)
    start = time.monotonic()
    instance.redis.stop()
    time.sleep(3)
    instance.redis.start()
    end = time.monotonic()
    time.sleep(2)
    load.stop()
    assert stack.web.pid == master and stack.web_pids() == web_workers
    assert_answers(load)
    during = load.between(start, end)
    # degraded, not down: limits counted per process, answers computed uncached
    assert during and all(o.status is not None and o.status < 500 for o in during), \
        Load.summary(during)
    figures = assert_data_intact(instance.app, load, CAPACITY)
    assert stack.server_errors() == []
    record(report, "Redis stopped", load, start, end, **figures)
