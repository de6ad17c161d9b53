"""``cowin_kit_database_connections`` and ``cowin_kit_database_max_connections``: the
PostgreSQL server's open connections (every client's, from ``pg_stat_activity``) and its
``max_connections``, counted when /metrics is scraped. Their ratio is the saturation the
Helm chart's PrometheusRule alerts on: the web pods, workers and jobs of every replica
share the one limit. Nothing is reported for SQLite."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cowin_kit.core.db import get_database
from cowin_kit.core.metrics import log


class DatabaseConnectionsCollector(Collector):
    def __init__(self, app: Flask):
        self.app = app

    def describe(self) -> Iterable[Any]:
        return []  # no query at registration time

    def collect(self) -> Iterable[Any]:
        try:
            with self.app.app_context(), get_database().session() as session:
                if session.get_bind().dialect.name != "postgresql":
                    return
                used = session.scalar(text("SELECT count(*) FROM pg_stat_activity"))
                limit = session.scalar(text("SELECT current_setting('max_connections')::int"))
        except SQLAlchemyError as exc:
            log.warning("database connections not counted: %s", type(exc).__name__)
            return
        used_family = GaugeMetricFamily(
            "cowin_kit_database_connections",
            "Connections open on the PostgreSQL server (all clients).")
        used_family.add_metric([], float(used or 0))
        yield used_family
        limit_family = GaugeMetricFamily(
            "cowin_kit_database_max_connections", "The PostgreSQL server's max_connections.")
        limit_family.add_metric([], float(limit or 0))
        yield limit_family
