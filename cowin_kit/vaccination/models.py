"""What vaccinating produces beside the dose row itself (cowin_kit.registration.models.Dose):
the certificate outbox and adverse-event reports."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, utcnow


class CertificateDue(Base):
    """Transactional outbox: written in the same transaction as the dose, so no dose is
    ever left without a certificate; the worker issues it and retries on failure."""

    __tablename__ = "certificate_due"

    id: Mapped[int] = mapped_column(primary_key=True)
    dose_id: Mapped[int] = mapped_column(ForeignKey("dose.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16), default="dose")  # dose|correction
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[Optional[str]] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AefiReport(Base):
    """An adverse event following immunization, linked to the dose and so to its lot."""

    __tablename__ = "aefi_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    dose_id: Mapped[int] = mapped_column(ForeignKey("dose.id"), index=True)
    onset_at: Mapped[datetime]
    symptoms: Mapped[list[str]]
    seriousness: Mapped[str] = mapped_column(String(16))  # non_serious|serious|death
    outcome: Mapped[str] = mapped_column(String(24))
    reporter: Mapped[str] = mapped_column(String(150))
    notes: Mapped[str] = mapped_column(String(2000), default="")
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
