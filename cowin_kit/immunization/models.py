"""What the routine wing keeps of its own: the reminders already sent (so a worker restart
never sends one twice)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, utcnow


class ReminderSent(Base):
    """One reminder of one dose for one reason (``before`` its due date, ``overdue``
    after it), per pregnancy for pregnancy schedules (``cycle``: the pregnancy's id, 0
    for birth-timed schedules). The unique key is what makes reminders idempotent: the
    row and the outbox message are written in one transaction."""

    __tablename__ = "reminder_sent"

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(
        ForeignKey("beneficiary.id", ondelete="CASCADE"), index=True)
    schedule: Mapped[str] = mapped_column(String(64))
    dose: Mapped[int]
    reason: Mapped[str] = mapped_column(String(16))  # before | overdue
    cycle: Mapped[int] = mapped_column(default=0, server_default="0")
    due_date: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("beneficiary_id", "schedule", "dose", "reason", "cycle"),)
