"""What vaccinating produces beside the dose row itself (cowin_kit.registration.models.Dose):
the certificate outbox and adverse-event reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, BigId, utcnow


class CertificateDue(Base):
    """Transactional outbox: written in the same transaction as the dose, so no dose is
    ever left without a certificate; the worker issues it and retries on failure."""

    __tablename__ = "certificate_due"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dose_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("dose.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16), default="dose")  # dose|correction
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[Optional[str]] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AefiReport(Base):
    """An adverse event following immunization with WHO's core variables, linked to the
    dose (and so its lot) it follows; the other doses of the same visit under suspicion
    are in ``aefi_report_dose``, the investigation's steps in ``aefi_step``
    (cowin_kit.safety.models; the codes are cowin_kit.safety.rules')."""

    __tablename__ = "aefi_report"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dose_id: Mapped[int] = mapped_column(BigId, ForeignKey("dose.id"), index=True)
    onset_at: Mapped[datetime]
    symptoms: Mapped[list[str]]  # the adverse events in the reporter's words
    reactions: Mapped[list[str]] = mapped_column(default=list)  # WHO's listed events
    seriousness: Mapped[str] = mapped_column(String(16))  # non_serious|serious|death
    serious_criteria: Mapped[list[str]] = mapped_column(default=list)
    outcome: Mapped[str] = mapped_column(String(24))
    died_on: Mapped[Optional[date]]
    medical_history: Mapped[str] = mapped_column(String(2000), default="")
    reporter: Mapped[str] = mapped_column(String(150))  # staff user name, or "citizen"
    reporter_type: Mapped[str] = mapped_column(String(16), default="staff")
    reporter_account_id: Mapped[Optional[int]] = mapped_column(
        BigId, ForeignKey("citizen_account.id", ondelete="SET NULL"), index=True)
    notes: Mapped[str] = mapped_column(String(2000), default="")
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the investigation: open at a stage of the pack's, or closed with a WHO category
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    stage: Mapped[str] = mapped_column(String(32), default="")
    causality: Mapped[Optional[str]] = mapped_column(String(4))
    closed_at: Mapped[Optional[datetime]]
