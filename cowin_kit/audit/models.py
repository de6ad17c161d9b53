"""The append-only audit trail: who did what to which object, when and from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, BigId, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_type: Mapped[str] = mapped_column(String(16))  # citizen, staff, partner, cli, system
    actor_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[Optional[str]] = mapped_column(String(64))
    source_ip: Mapped[Optional[str]] = mapped_column(String(64))
    # Where it happened (the place of its target: a facility's area, a person's area...);
    # both empty for what belongs to no area (a citizen's account, a national setting),
    # which only national auditors read. Plain ids, no foreign keys: the trail outlives
    # what it names.
    location_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    facility_id: Mapped[Optional[int]] = mapped_column(Integer)
    # Never ID numbers, OTPs or secrets: only what an auditor may read.
    details: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)
