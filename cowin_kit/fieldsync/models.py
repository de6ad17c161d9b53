"""What the server remembers of field devices' uploads: one row per client id processed
(exact-once), and the conflicts waiting for a supervisor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, BigId, utcnow

RECORD_KINDS = ("register_person", "record_visit", "record_dose", "check_in", "report_aefi")
RECORD_STATUSES = ("accepted", "conflict", "refused")
REVIEW_STATUSES = ("open", "accepted", "rejected")


class FieldRecord(Base):
    """One record uploaded by a device, by its client id: processed once; a record sent
    again is answered from ``result`` (what the first processing answered). Written in the
    same transaction as what the record changed, so both exist or neither does."""

    __tablename__ = "field_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    staff: Mapped[str] = mapped_column(String(150), default="")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FieldReview(Base):
    """A conflict of a field record, waiting for (or decided by) a supervisor. ``payload``
    is the record as sent, with any ID number replaced by its masked form; the number
    itself is kept only encrypted (``id_number_encrypted``) for an accepting decision."""

    __tablename__ = "field_review"
    __table_args__ = (Index("ix_field_review_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    id_number_encrypted: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    staff: Mapped[str] = mapped_column(String(150), default="")
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    decided_by: Mapped[str | None] = mapped_column(String(150))
    decided_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
