"""Vaccine products and the schedules that say how they are given (installed from the pack)."""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import String, text
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
    # Antigen codes the product protects against, e.g. ["DTP", "HepB", "Hib"] for a
    # pentavalent vaccine; [] means the product code itself counts as the antigen.
    antigens: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))
    # Stock facts of vaccines.yaml ``stock:`` (cowin_kit.stock): doses_per_vial and the
    # open-vial policy, open_vial_days or discard_at_session_end; {} = single-dose vials.
    stock: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))


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
    # min_age/max_age: whole years (floor) of the pack's ages, for the appointment flows.
    # The dose dicts as the pack wrote them (durations as strings), e.g.
    # [{"number": 1, "booster": false, "age": "6w", "min_age": "6w"},
    #  {"number": 2, "booster": false, "age": "10w", "min_interval": "4w",
    #   "min_interval_days": 28}, ...]
    doses: Mapped[list[Any]]
    # Routine schedules drive due lists, visits and reminders; the others (e.g. a
    # COVID-19 drive) keep the appointment flows.
    routine: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # What the ages count from: "birth" or "pregnancy" (the pregnancy's registration).
    timed_from: Mapped[str] = mapped_column(String(16), default="birth",
                                            server_default="birth")
    # Schedule-level durations as written: start_max_age, grace, prior_series_within.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
