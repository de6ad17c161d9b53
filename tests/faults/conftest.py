"""The fault-injection suite's instance: a PostgreSQL cluster and a Redis of its own (on
ports of their own: the shared server on 5432 is never restarted), gunicorn and the
worker as processes, the India pack, signing keys, a vaccinator and citizens. Every test
is marked ``faults`` (``make faults`` runs them alone) and ``slow``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cowin_kit.testing import accounts_with_members, publish, staff_token
from cowin_kit.testing.faults import instance_settings, setup_app
from cowin_kit.testing.servers import PgCluster, RedisServer, need_cluster_tools
from cowin_kit.testing.stack import KitStack

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.slow)


class Instance:
    """What the tests share: the servers, the stack, the app that sets up and checks."""

    def __init__(self, cluster, redis, stack, app, vaccinator, people):
        self.cluster, self.redis, self.stack, self.app = cluster, redis, stack, app
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
    cluster = PgCluster.create("faults")
    request.addfinalizer(cluster.drop)
    redis = RedisServer(folder / "redis")
    request.addfinalizer(redis.stop)
    redis.start()
    url = cluster.create_database("cowin")
    settings = instance_settings(folder, url, redis.url)
    app = setup_app(settings, load_pack(example_pack("IN")))
    request.addfinalizer(lambda: get_database(app).dispose())
    publish(app, days_ahead=30, capacity={1: 1}, code="F-TVM-1")  # the facility
    vaccinator = staff_token(app, app.test_client(), "vax.faults", "vaccinator",
                             facility_code="F-TVM-1")
    tokens, refs = accounts_with_members(app, 560)
    stack = KitStack(folder, settings)
    request.addfinalizer(stack.stop)
    stack.start_web()
    stack.start_worker()
    return Instance(cluster, redis, stack, app, vaccinator, list(zip(tokens, refs)))


@pytest.fixture(scope="package")
def report():
    """Figures of each fault, written to $FAULTS_REPORT (JSON) when set
    (docs/reliability.md is written from them)."""
    figures: dict[str, dict] = {}
    yield figures
    target = os.environ.get("FAULTS_REPORT")
    if target:
        Path(target).write_text(json.dumps(figures, indent=2) + "\n")
