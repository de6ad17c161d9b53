"""The certificate outbox (cowin_kit.vaccination.models.CertificateDue) as operators see it:
its backlog, counted when /metrics is scraped."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from cowin_kit.core.db import get_database
from cowin_kit.core.metrics import log
from cowin_kit.vaccination.models import CertificateDue


class OutboxBacklogCollector(Collector):
    """``cowin_kit_certificate_outbox_due``, counted when scraped."""

    def __init__(self, app: Flask):
        self.app = app

    def describe(self) -> Iterable[Any]:
        return []  # no query at registration time

    def collect(self) -> Iterable[Any]:
        family = GaugeMetricFamily(
            "cowin_kit_certificate_outbox_due",
            "Certificates due now and not yet issued (the worker's backlog).")
        try:
            with self.app.app_context(), get_database().session() as session:
                due = session.scalar(select(func.count()).select_from(CertificateDue).where(
                    CertificateDue.status == "pending",
                    CertificateDue.next_attempt_at <= datetime.now(UTC)))
        except SQLAlchemyError as exc:
            log.warning("outbox backlog not counted: %s", type(exc).__name__)
            return
        family.add_metric([], float(due or 0))
        yield family
