"""Vaccine products and the schedules that say how they are given."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.db import Base, utcnow


class VaccineProduct(Base):
    __tablename__ = "vaccine_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    names: Mapped[dict[str, str]]
    manufacturer: Mapped[str] = mapped_column(String(200))
    # Standard codes: icd11, snomed, eu_product, eu_mah, eu_prophylaxis, cvx.
    codes: Mapped[dict[str, str]]


class VaccineSchedule(Base):
    __tablename__ = "vaccine_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    disease: Mapped[dict[str, str]]
    target_disease: Mapped[str] = mapped_column(String(32))
    products: Mapped[list[str]]
    interchangeable: Mapped[bool] = mapped_column(default=False)
    min_age: Mapped[int] = mapped_column(default=0)
    max_age: Mapped[Optional[int]]
    # [{"number": 1}, {"number": 2, "min_interval_days": 84, ...}, ...]
    doses: Mapped[list[Any]]


class Dose(Base):
    """A dose given to a beneficiary (recorded by a vaccinator, or imported)."""

    __tablename__ = "dose"

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), index=True)
    dose_number: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("vaccine_product.id"))
    administered_at: Mapped[datetime]
    lot: Mapped[str] = mapped_column(String(64))
    facility_id: Mapped[Optional[int]] = mapped_column(ForeignKey("facility.id"))
    vaccinator: Mapped[str] = mapped_column(String(150), default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A client's Idempotency-Key: the same key never records a second dose.
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="recorded")  # recorded|imported

    __table_args__ = (UniqueConstraint("beneficiary_id", "dose_number"),)


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
