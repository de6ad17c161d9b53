"""The message outbox as operators see it, counted when /metrics is scraped."""

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
from cowin_kit.notifications.models import OutboxMessage


class MessageOutboxCollector(Collector):
    """``cowin_kit_message_outbox_pending`` and
    ``cowin_kit_message_outbox_oldest_pending_age_seconds``."""

    def __init__(self, app: Flask):
        self.app = app

    def describe(self) -> Iterable[Any]:
        return []  # no query at registration time

    def collect(self) -> Iterable[Any]:
        try:
            with self.app.app_context(), get_database().session() as session:
                count, oldest = session.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.status.in_(("pending", "sending")))).one()
        except SQLAlchemyError as exc:
            log.warning("message outbox not counted: %s", type(exc).__name__)
            return
        if isinstance(oldest, str):  # SQLite's aggregate loses the column type
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        pending = GaugeMetricFamily("cowin_kit_message_outbox_pending",
                                    "Outgoing messages not yet sent (pending or in flight).")
        pending.add_metric([], float(count or 0))
        yield pending
        age = GaugeMetricFamily(
            "cowin_kit_message_outbox_oldest_pending_age_seconds",
            "Age of the oldest message not yet sent; 0 when none is waiting.")
        age.add_metric([], max(0.0, (datetime.now(UTC) - oldest).total_seconds())
                       if oldest is not None else 0.0)
        yield age
