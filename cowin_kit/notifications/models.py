"""The message outbox: every outgoing message is a row, written in the transaction of the
change that caused it and sent later by cowin_kit.notifications.sender."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, BigId, utcnow

PRIORITY_OTP = 10  # sent first, and by the web process's own sender
PRIORITY_NORMAL = 0


class OutboxMessage(Base):
    """One message to send. ``text`` is kept only until the message is sent or has finally
    failed (it may hold an OTP or a secret code); ``last_error`` never holds text."""

    __tablename__ = "message_outbox"
    __table_args__ = (Index("ix_message_outbox_due", "status", "priority", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    template: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[int] = mapped_column(default=PRIORITY_NORMAL)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[Optional[str]] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]]
    # The gateway's id of the message (what the notifier's send returned) and what its
    # delivery reports said: delivered | failed | sent (accepted, not yet delivered).
    provider_ref: Mapped[Optional[str]] = mapped_column(String(100), index=True)
    delivery_status: Mapped[Optional[str]] = mapped_column(String(16))
    delivery_reason: Mapped[Optional[str]] = mapped_column(String(100))
    delivered_at: Mapped[Optional[datetime]]
    # A message sent again by hand (channels.services.retry_message) names the one it
    # repeats; ``handled`` marks a failed message a health worker has dealt with
    # (retried or escalated), so it leaves their list. No foreign key: the table is
    # partitioned by month on PostgreSQL (docs/partitioning.md), and a key referencing it
    # would need created_at too; the retention jobs clear it before the message it names
    # goes.
    retry_of: Mapped[Optional[int]] = mapped_column(BigId)
    handled: Mapped[Optional[str]] = mapped_column(String(16))
