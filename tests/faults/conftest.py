"""The fault-injection suite's instance: a PostgreSQL primary with a synchronous
streaming standby and a Redis, all of its own (on ports of their own: the shared server on
5432 is never restarted), gunicorn and the worker as processes on one database URL naming
both hosts (target_session_attrs=read-write), the India pack, signing keys, a vaccinator
and citizens. Every test is marked ``faults`` (``make faults`` runs them alone) and
``slow``; the fail-over (tests/faults/test_replication.py) runs last."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cowin_kit.testing import accounts_with_members, publish, staff_token
from cowin_kit.testing.faults import instance_settings, setup_app
from cowin_kit.testing.servers import (
    PgCluster, RedisServer, failover_url, free_port, need_cluster_tools,
)
from cowin_kit.testing.stack import KitStack

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.slow)


class Instance:
    """What the tests share: the servers, the stack, the app that sets up and checks."""

    def __init__(self, cluster, standby, redis, stack, app, vaccinator, people):
        self.cluster, self.standby, self.redis = cluster, standby, redis
        self.stack, self.app = stack, app
        self.vaccinator = vaccinator
        self._people = people  # [(token, ref)]

    def take(self, n: int) -> list[tuple[str, str]]:
        taken, self._people = self._people[:n], self._people[n:]
        assert len(taken) == n, "the instance ran out of citizens"
        return taken


@pytest.fixture(scope="package")
def instance(tmp_path_factory, request):
    need_cluster_tools(redis=True)
    from cowin_kit.config.packs import load_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.testing import example_pack

    folder = tmp_path_factory.mktemp("faults")
    cluster = PgCluster.create("primary")
    request.addfinalizer(cluster.drop)
    cluster.create_database("cowin")
    # the standby is copied while the database is set up (it streams what follows)
    standby_port = free_port()
    with ThreadPoolExecutor(1) as pool:
        copying = pool.submit(PgCluster.standby_of, cluster, "standby", standby_port)
        try:
            redis = RedisServer(folder / "redis")
            request.addfinalizer(redis.stop)
            redis.start()
            settings = instance_settings(
                folder, failover_url(cluster.port, standby_port, "cowin"), redis.url)
            app = setup_app(settings, load_pack(example_pack("IN")))
            request.addfinalizer(lambda: get_database(app).dispose())
        finally:
            standby = copying.result()
            request.addfinalizer(standby.drop)
    cluster.synchronous_standby()  # a fail-over loses no acknowledged write
    stack = KitStack(folder, settings)
    request.addfinalizer(stack.stop)
    stack.start_web(wait=False)  # gunicorn starts while the citizens are made
    stack.start_worker()
    publish(app, days_ahead=30, capacity={1: 1}, code="F-TVM-1")  # the facility
    vaccinator = staff_token(app, app.test_client(), "vax.faults", "vaccinator",
                             facility_code="F-TVM-1")
    tokens, refs = accounts_with_members(app, 540)
    stack.wait_ready()
    return Instance(cluster, standby, redis, stack, app, vaccinator, list(zip(tokens, refs)))


@pytest.fixture(scope="package")
def report():
    """Figures of each fault, written to $FAULTS_REPORT (JSON) when set
    (docs/reliability.md is written from them)."""
    figures: dict[str, dict] = {}
    yield figures
    target = os.environ.get("FAULTS_REPORT")
    if target:
        Path(target).write_text(json.dumps(figures, indent=2) + "\n")
