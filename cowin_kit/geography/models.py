"""Places of the country's administrative hierarchy, their postal codes and population."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.db import Base


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
