"""High availability (docs/reliability.md), on the suite's primary and its synchronous
streaming standby (tests/faults/conftest.py), the app's DATABASE_URL naming both hosts
with target_session_attrs=read-write. Runs after the other faults: the fail-over ends
the primary.

- Read routing: public availability searches read from DATABASE_REPLICA_URL while it is
  within REPLICA_MAX_LAG_SECONDS of the primary, from the primary otherwise; signed-in
  (real-time) searches never read from it.
- Fail-over under load: the primary is stopped as by a crash (immediate) in the middle of
  bookings and dose recordings and the standby promoted; gunicorn and the worker reconnect
  by themselves (no restart), clients get 503 problem+json meanwhile, and, the standby
  being synchronous, no acknowledged write is lost. The write outage is measured."""

from __future__ import annotations

import time
from datetime import timedelta

from cowin_kit import create_app
from cowin_kit.core.db import get_database
from cowin_kit.testing import auth, iso_day, publish, today
from cowin_kit.testing.faults import (
    assert_answers, assert_data_intact, record, wait_until, write_recovery,
)
from cowin_kit.testing.load import Load

SLOT = "09:00-17:00"
CAPACITY = 60


def replayed(standby, session_id: str) -> bool:
    return standby.sql(f"SELECT count(*) FROM vaccination_session WHERE id = '{session_id}'",
                       "cowin") == "1"


def found(app, path: str, session_id: str, headers=None) -> bool:
    answer = app.test_client().get(path, headers=headers or {})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return session_id in answer.get_data(as_text=True)


def test_public_searches_read_from_the_replica_within_the_staleness_bound(instance):
    primary, standby, app = instance.cluster, instance.standby, instance.app
    day = today() + timedelta(days=10)
    path = f"/api/v1/sessions?location=IN-KL&date={day.isoformat()}"
    v2_path = (f"/api/v2/appointment/sessions/findByPin?pincode=695001"
               f"&date={day.strftime('%d-%m-%Y')}")
    v2_public = v2_path.replace("/sessions/", "/sessions/public/")
    old = publish(app, days_ahead=10, code="F-TVM-1")
    wait_until(lambda: replayed(standby, old), 30, 0.1)
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        new = publish(app, days_ahead=10, code="F-TVM-2")  # on the primary only
        common = {**instance.stack.settings, "DATABASE_URL": primary.url("cowin"),
                  "DATABASE_REPLICA_URL": standby.url("cowin"),
                  "AVAILABILITY_CACHE_SECONDS": 0}
        loose = create_app({**common, "REPLICA_MAX_LAG_SECONDS": 3600})
        strict = create_app({**common, "REPLICA_MAX_LAG_SECONDS": 1})
        try:
            # the replica answers while within the bound: the new session is not seen yet
            assert found(loose, path, old) and not found(loose, path, new)
            assert not found(loose, v2_public, new)
            # signed-in searches are real-time: always the primary
            (token, _ref), = instance.take(1)
            assert found(loose, v2_path, new, auth(token))
            # past the bound (the replica is a second and more behind): the primary
            time.sleep(1.5)
            assert found(strict, path, new) and found(strict, v2_public, new)
        finally:
            for made in (loose, strict):
                get_database(made).dispose()
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
    wait_until(lambda: replayed(standby, new), 30, 0.1)


def test_failover_under_load(instance, report):
    primary, standby, stack = instance.cluster, instance.standby, instance.stack
    session_id = publish(instance.app, days_ahead=7, capacity={1: CAPACITY}, slots=SLOT,
                         code="F-TVM-1")
    master, web_workers, worker = stack.web.pid, stack.web_pids(), stack.worker.pid
    load = Load(stack.base_url, session_id, SLOT, instance.take(70),
                [ref for _token, ref in instance.take(30)], instance.vaccinator,
                f"/api/v1/sessions?location=IN-KL&date={iso_day(7)}").start()
    (_token, probe), = instance.take(1)
    time.sleep(1)
    start = time.monotonic()
    primary.stop("immediate")  # as a crash: no shutdown checkpoint, connections cut
    standby.promote()
    promoted = time.monotonic()
    # from the crash to the first write acknowledged by the new primary (a probe sent
    # after the promotion: the load's writes just after the crash may have been the old
    # primary's last)
    outage = write_recovery(stack.base_url, instance.vaccinator, probe, start)
    time.sleep(3)
    load.stop()
    assert stack.web.pid == master and stack.web_pids() == web_workers  # not restarted
    assert stack.worker.poll() is None and stack.worker.pid == worker
    assert_answers(load)
    assert not [o for o in load.outcomes if o.status is None]
    figures = assert_data_intact(instance.app, load, CAPACITY)
    assert stack.server_errors() == []
    record(report, "fail-over to the standby", load, start, start + outage,
           write_outage_seconds=round(outage, 2),
           promote_seconds=round(promoted - start, 2), **figures)
