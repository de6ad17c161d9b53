"""Places: the country's administrative hierarchy, its postal codes and population, and the
health facilities in it."""

from __future__ import annotations

from datetime import datetime, time
from typing import Optional

from sqlalchemy import BigInteger, ForeignKey, Index, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, utcnow


class Location(Base):
    __tablename__ = "location"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"), index=True)
    level: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    # Names in the pack's other locales: {"hi": "...", "mr": "..."}.
    names: Mapped[dict[str, str]]
    latitude: Mapped[Optional[float]]
    longitude: Mapped[Optional[float]]

    __table_args__ = (Index("ix_location_level_parent", "level", "parent_id"),)

    def localized_name(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get(locale.split("_")[0]) or self.name


class PostalCode(Base):
    __tablename__ = "postal_code"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("location.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PopulationFigure(Base):
    """Coverage denominator: people of one age band and sex living in a place."""

    __tablename__ = "population_figure"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id", ondelete="CASCADE"))
    year: Mapped[int]
    age_band: Mapped[str] = mapped_column(String(16))
    sex: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("location_id", "year", "age_band", "sex"),)


class Facility(Base):
    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    names: Mapped[dict[str, str]]
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"), index=True)
    address: Mapped[str] = mapped_column(String(500), default="")
    postal_code: Mapped[Optional[str]] = mapped_column(String(16), index=True)
    latitude: Mapped[Optional[float]]
    longitude: Mapped[Optional[float]]
    facility_type: Mapped[str] = mapped_column(String(16), default="public")
    fee_type: Mapped[str] = mapped_column(String(8), default="Free")
    opens_at: Mapped[Optional[time]] = mapped_column(Time)
    closes_at: Mapped[Optional[time]] = mapped_column(Time)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
