"""High availability (docs/reliability.md): a primary and a streaming standby (two
clusters of the test's own), the app's DATABASE_URL naming both hosts with
target_session_attrs=read-write.

- Fail-over under load: the primary is stopped as by a crash (immediate) in the middle of
  bookings and dose recordings and the standby promoted; gunicorn and the worker reconnect
  by themselves (no restart), clients get 503 problem+json meanwhile, and with
  synchronous replication no acknowledged write is lost. The write outage is measured.
- Read routing: public availability searches read from DATABASE_REPLICA_URL while it is
  within REPLICA_MAX_LAG_SECONDS of the primary, from the primary otherwise; signed-in
  (real-time) searches never read from it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from cowin_kit import create_app
from cowin_kit.config.packs import load_pack
from cowin_kit.core.db import get_database
from cowin_kit.testing import (
    accounts_with_members, auth, example_pack, iso_day, publish, staff_token, today,
)
from cowin_kit.testing.load import Load
from cowin_kit.testing.servers import PgCluster, need_cluster_tools
from cowin_kit.testing.stack import KitStack

from cowin_kit.testing.faults import (
    assert_answers, assert_data_intact, first_success_after, instance_settings, record,
    setup_app, wait_until,
)

SLOT = "09:00-17:00"


def both_hosts(primary: PgCluster, standby: PgCluster, database: str) -> str:
    """One URL for the pair: libpq tries the hosts in turn and keeps the one that takes
    writes (SQLAlchemy passes several ``host`` to psycopg)."""
    return (f"postgresql+psycopg://postgres@/{database}?host=127.0.0.1:{primary.port}"
            f"&host=127.0.0.1:{standby.port}&target_session_attrs=read-write"
            f"&connect_timeout=3")


@pytest.fixture(scope="module")
def pair(request, tmp_path_factory):
    """(primary, standby, folder, the in-process app on both hosts), the standby
    synchronous: commits wait until it has them."""
    need_cluster_tools()
    folder = tmp_path_factory.mktemp("replication")
    primary = PgCluster.create("primary")
    request.addfinalizer(primary.drop)
    primary.create_database("cowin")
    standby = PgCluster.standby_of(primary, "standby")
    request.addfinalizer(standby.drop)
    primary.synchronous_standby()
    settings = instance_settings(folder, both_hosts(primary, standby, "cowin"))
    app = setup_app(settings, load_pack(example_pack("IN")))
    request.addfinalizer(lambda: get_database(app).dispose())
    tokens, refs = accounts_with_members(app, 131)
    return primary, standby, folder, settings, app, list(zip(tokens, refs))


def replayed(standby: PgCluster, session_id: str) -> bool:
    return standby.sql(f"SELECT count(*) FROM vaccination_session WHERE id = '{session_id}'",
                       "cowin") == "1"


def found(app, path: str, session_id: str, headers=None) -> bool:
    answer = app.test_client().get(path, headers=headers or {})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return session_id in answer.get_data(as_text=True)


def test_public_searches_read_from_the_replica_within_the_staleness_bound(pair):
    primary, standby, folder, settings, app, people = pair
    day = today() + timedelta(days=3)
    path = f"/api/v1/sessions?location=IN-KL&date={day.isoformat()}"
    v2_path = (f"/api/v2/appointment/sessions/findByPin?pincode=695001"
               f"&date={day.strftime('%d-%m-%Y')}")
    old = publish(app, days_ahead=3, code="F-TVM-1")
    wait_until(lambda: replayed(standby, old), 30, 0.1)
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        new = publish(app, days_ahead=3, code="F-TVM-2")  # on the primary only
        replica = standby.url("cowin")
        common = {**settings, "DATABASE_URL": primary.url("cowin"),
                  "DATABASE_REPLICA_URL": replica, "AVAILABILITY_CACHE_SECONDS": 0}
        loose = create_app({**common, "REPLICA_MAX_LAG_SECONDS": 3600})
        strict = create_app({**common, "REPLICA_MAX_LAG_SECONDS": 1})
        try:
            # the replica answers while within the bound: the new session is not seen yet
            assert found(loose, path, old) and not found(loose, path, new)
            v2_public = v2_path.replace("/sessions/", "/sessions/public/")
            assert not found(loose, v2_public, new)
            # signed-in searches are real-time: always the primary
            token = people[-1][0]
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


def test_failover_under_load(pair, report):
    primary, standby, folder, settings, app, people = pair
    session_id = publish(app, days_ahead=5, capacity={1: 60}, slots=SLOT, code="F-TVM-1")
    vaccinator = staff_token(app, app.test_client(), "vax.failover", "vaccinator",
                             facility_code="F-TVM-1")
    tokens, refs = [p[0] for p in people[:130]], [p[1] for p in people[:130]]
    stack = KitStack(folder, settings)
    try:
        stack.start_web()
        stack.start_worker()
        master, web_workers = stack.web.pid, stack.web_pids()
        load = Load(stack.base_url, session_id, SLOT, list(zip(tokens[:90], refs[:90])),
                    refs[90:], vaccinator,
                    f"/api/v1/sessions?location=IN-KL&date={iso_day(5)}").start()
        time.sleep(2)
        start = time.monotonic()
        primary.stop("immediate")  # as a crash: no shutdown checkpoint, connections cut
        stopped = time.monotonic()
        standby.promote()
        promoted = time.monotonic()
        time.sleep(5)
        load.stop()
        assert stack.web.pid == master and stack.web_pids() == web_workers  # not restarted
        assert stack.worker.poll() is None
        assert_answers(load)
        assert not [o for o in load.outcomes if o.status is None]
        # from the crash to the first write acknowledged among those sent after it
        outage = stopped - start + first_success_after(load, stopped)
        figures = assert_data_intact(app, load, 60)
        assert stack.server_errors() == []
        record(report, "fail-over to the standby", load, start, start + outage,
               write_outage_seconds=round(outage, 2),
               promote_seconds=round(promoted - start, 2), **figures)
    finally:
        stack.stop()
