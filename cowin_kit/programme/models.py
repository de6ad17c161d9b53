"""Vaccine products and the schedules that say how they are given (installed from the pack)."""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base


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
