"""Campaigns (supplementary immunization activities): a product given to an age band in
chosen areas between two dates, with a target population per area. Their doses are Dose
rows with ``campaign_id`` set and ``series = "campaign:<code>"``, apart from the routine
series."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import BigInteger, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cowin_kit.core.db import Base, utcnow

CAMPAIGN_SERIES_PREFIX = "campaign:"


def campaign_series(code: str) -> str:
    """The Dose.series of a campaign's doses."""
    return CAMPAIGN_SERIES_PREFIX + code


class Campaign(Base):
    """E.g. a measles-rubella catch-up for 9 months to 15 years in chosen districts.

    Ages are durations as packs write them (``9m``, ``15y``): a person is in the target
    band from the day they reach ``min_age`` until the day before they reach
    ``below_age``. ``sex`` is a pack gender code, or None for everyone."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    names: Mapped[dict[str, str]]           # locale -> name, at least the pack's default
    products: Mapped[list[str]]             # product codes that may be given
    min_age: Mapped[str] = mapped_column(String(8))
    below_age: Mapped[str] = mapped_column(String(8))
    sex: Mapped[Optional[str]] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    doses_per_person: Mapped[int] = mapped_column(default=1, server_default="1")
    created_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    areas: Mapped[list["CampaignArea"]] = relationship(
        back_populates="campaign", order_by="CampaignArea.id", cascade="all, delete-orphan")

    @property
    def series(self) -> str:
        return campaign_series(self.code)

    def name(self, locale: str) -> str:
        return (self.names.get(locale) or self.names.get(locale.split("_")[0])
                or next(iter(self.names.values()), self.code))


class CampaignArea(Base):
    """A location (and everything below it) where the campaign runs, with its target
    population: from the pack's population figures (``target_source`` "population") or a
    micro-plan ("microplan"); None until one is known."""

    __tablename__ = "campaign_area"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"),
                                             index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    target: Mapped[Optional[int]] = mapped_column(BigInteger)
    target_source: Mapped[str] = mapped_column(String(16), default="", server_default="")

    campaign: Mapped[Campaign] = relationship(back_populates="areas")

    __table_args__ = (UniqueConstraint("campaign_id", "location_id"),)
