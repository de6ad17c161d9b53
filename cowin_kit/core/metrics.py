"""Prometheus metrics: ``/metrics`` on the web app, and on ``WORKER_METRICS_PORT`` for the
worker.

Services count what they do with one line (``metrics.DOSES_RECORDED.inc()``) after their
commit. Under gunicorn every worker process has its own counters: set the environment
variable ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable folder (the Helm chart and the
container do; gunicorn.conf.py empties it at start) and each scrape adds up all processes'
files. Without it (the demo, `flask run`, tests) the process's own registry is served.

``/metrics`` answers only clients in ``METRICS_ALLOWED_NETWORKS`` (by default loopback and
private addresses, i.e. Prometheus inside the cluster); anyone else gets 404, as if there
were no such page.

Metrics (all prefixed ``cowin_kit_``):

- ``http_request_duration_seconds`` histogram, labels ``endpoint`` (Flask endpoint name,
  ``unmatched`` for unknown paths), ``method``, ``status``;
- ``appointments_booked_total``, ``doses_recorded_total``, ``certificates_issued_total``,
  ``otps_sent_total`` counters;
- ``messages_sent_total`` counter, ``message_send_failures_total`` counter (label
  ``final``: ``true`` when a message is given up after its last attempt);
- ``message_outbox_pending`` and ``message_outbox_oldest_pending_age_seconds`` gauges:
  messages not yet sent and the age of the oldest, counted in the database at each scrape
  (cowin_kit.notifications.metrics; a growing age means the gateway or the worker is down);
- ``stock_alerts_total`` counter (label ``kind``: ``near_expiry``, ``stock_out``,
  ``low_stock``): alerts raised by the worker (cowin_kit.stock.services.raise_alerts);
- ``certificate_outbox_due`` gauge: outbox rows whose certificate is due now and not yet
  issued, counted in the database at each scrape (a growing value: add worker replicas);
- ``database_connections`` and ``database_max_connections`` gauges: the PostgreSQL
  server's open connections and its limit, at each scrape (cowin_kit.core.dbstats).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.registry import REGISTRY, Collector

from cowin_kit.core import logging_setup
from cowin_kit.core.setting import SettingsError

log = logging.getLogger(__name__)
SCRAPE_COLLECTORS = "cowin_kit.core.metrics.scrape_collectors"

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_LATENCY = Histogram(
    "cowin_kit_http_request_duration_seconds", "Time to answer an HTTP request.",
    ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS)
APPOINTMENTS_BOOKED = Counter(
    "cowin_kit_appointments_booked", "Appointments booked (one per beneficiary and dose).")
DOSES_RECORDED = Counter("cowin_kit_doses_recorded", "Vaccine doses recorded.")
CERTIFICATES_ISSUED = Counter("cowin_kit_certificates_issued", "Certificates issued.")
OTPS_SENT = Counter("cowin_kit_otps_sent", "One-time passwords sent to mobile numbers.")
MESSAGES_SENT = Counter("cowin_kit_messages_sent",
                        "Outgoing messages (SMS...) delivered to the notifier.")
MESSAGE_FAILURES = Counter(
    "cowin_kit_message_send_failures",
    "Failed message sends; final=\"true\" when the message is given up.", ["final"])
STOCK_ALERTS = Counter(
    "cowin_kit_stock_alerts",
    "Stock alerts raised by the worker (near_expiry, stock_out, low_stock).", ["kind"])


def add_scrape_collector(app: Flask, factory: Callable[[Flask], Collector]) -> None:
    """Count something when scraped (a database figure, for example): ``factory(app)``
    makes a collector for each scrape of the app's /metrics and of its worker's port."""
    app.extensions.setdefault(SCRAPE_COLLECTORS, []).append(factory)


def _add_scrape_collectors(app: Flask, registry: CollectorRegistry) -> None:
    for factory in app.extensions.get(SCRAPE_COLLECTORS, ()):
        registry.register(factory(app))


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(app: Flask) -> bytes:
    """The text format of every metric: all processes' in multiprocess mode, this
    process's otherwise, plus the outbox backlog."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    _add_scrape_collectors(app, registry)
    return generate_latest(registry)


class _Forward(Collector):
    """The process's default registry as one collector of a scrape registry."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self) -> Iterable[Any]:
        return self.registry.collect()


def _allowed(address: str | None, networks: list[str]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics_page() -> Response:
    settings = current_app.config["COWIN_KIT"]
    if not _allowed(request.remote_addr, settings["METRICS_ALLOWED_NETWORKS"]):
        abort(404)
    return Response(exposition(current_app._get_current_object()),  # type: ignore[attr-defined]
                    content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    settings = app.config["COWIN_KIT"]
    for network in settings["METRICS_ALLOWED_NETWORKS"]:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(f"invalid settings:\n  METRICS_ALLOWED_NETWORKS: {network!r} "
                                "is not a network (CIDR)") from None
    if not settings["METRICS_ENABLED"]:
        return

    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g._metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("_metrics_started", None)
    if started is not None:
        current = request._get_current_object()  # type: ignore[attr-defined]
        _request_latency(current.endpoint or "unmatched", current.method,
                         response.status_code).observe(time.perf_counter() - started)
    return response


# REQUEST_LATENCY's child of each (endpoint, method, status), found once: labels() converts
# and looks its arguments up under a lock on every call. The histogram keeps these same
# children, so this holds no label values the histogram does not.
_latency_children: dict[tuple[str, str, int], Histogram] = {}


def _request_latency(endpoint: str, method: str, status: int) -> Histogram:
    key = (endpoint, method, status)
    child = _latency_children.get(key)
    if child is None:
        child = _latency_children[key] = REQUEST_LATENCY.labels(endpoint, method, str(status))
    return child


def serve_worker_metrics(app: Flask) -> int | None:
    """For `cowin-kit worker`: serve /metrics on ``WORKER_METRICS_PORT`` in a thread (the
    worker's counters and the outbox backlog); returns the port, None when off."""
    settings = app.config["COWIN_KIT"]
    port = settings["WORKER_METRICS_PORT"]
    if not port or not settings["METRICS_ENABLED"]:
        return None
    from prometheus_client import start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(REGISTRY))
    _add_scrape_collectors(app, registry)
    start_http_server(port, registry=registry)
    return port


def start_worker_observability(app: Flask) -> int | None:
    """What `cowin-kit worker` does before its loop: its logs on stdout in LOG_FORMAT (as
    the web's), and its /metrics on WORKER_METRICS_PORT; returns the port, None when off."""
    settings = app.config["COWIN_KIT"]
    logging_setup.configure(settings["LOG_FORMAT"], settings["LOG_LEVEL"])
    return serve_worker_metrics(app)


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit hook: drop a dead worker's live gauges (multiprocess mode)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
