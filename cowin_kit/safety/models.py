"""What the safety domain keeps beside the report itself
(cowin_kit.vaccination.models.AefiReport): the doses under suspicion, the investigation's
steps and the alerts raised for serious cases."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, BigId, utcnow


class AefiReportDose(Base):
    """A dose the report names as suspected (WHO: every vaccine given, with its lot): the
    report's own dose, and the others of the same visit."""

    __tablename__ = "aefi_report_dose"

    report_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("aefi_report.id", ondelete="CASCADE"), primary_key=True)
    dose_id: Mapped[int] = mapped_column(BigId, ForeignKey("dose.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)


class AefiStep(Base):
    """One step of an investigation: who acted in which stage, what they found, the WHO
    causality category if they gave one, and where the report went next."""

    __tablename__ = "aefi_step"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(BigId, ForeignKey("aefi_report.id", ondelete="CASCADE"),
                                           index=True)
    stage: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(150))
    role: Mapped[str] = mapped_column(String(32))
    findings: Mapped[str] = mapped_column(String(4000), default="")
    causality: Mapped[Optional[str]] = mapped_column(String(4))
    outcome: Mapped[Optional[str]] = mapped_column(String(24))
    next_stage: Mapped[str] = mapped_column(String(32), default="")
    status_after: Mapped[str] = mapped_column(String(16))
    acted_at: Mapped[datetime] = mapped_column(default=utcnow)


class AefiAlert(Base):
    """A serious case's alert to the area (the pack's alert level): shown to the staff who
    read AEFI reports there until one of them acknowledges it."""

    __tablename__ = "aefi_alert"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(BigId, ForeignKey("aefi_report.id", ondelete="CASCADE"),
                                           unique=True)
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"), index=True)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_by: Mapped[Optional[str]] = mapped_column(String(150))
    acknowledged_at: Mapped[Optional[datetime]]
