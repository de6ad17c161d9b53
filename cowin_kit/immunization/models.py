"""Campaigns (supplementary immunization activities): a product given to an age band in
chosen areas between two dates, with a target population per area. Their doses are Dose
rows with ``campaign_id`` set and ``series = "campaign:<code>"``, apart from the routine
series.

And the reminders of routine doses already sent (so a worker restart never sends one
twice); and the kept due state (``pending_dose``, ``due_refresh``) the due lists read
(cowin_kit.immunization.duestate)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cowin_kit.core.db import Base, BigId, utcnow

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


class ReminderSent(Base):
    """One reminder of one dose for one reason (``before`` its due date, ``overdue``
    after it), per pregnancy for pregnancy schedules (``cycle``: the pregnancy's id, 0
    for birth-timed schedules). The unique key is what makes reminders idempotent: the
    row and the outbox message are written in one transaction."""

    __tablename__ = "reminder_sent"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"), index=True)
    schedule: Mapped[str] = mapped_column(String(64))
    dose: Mapped[int]
    reason: Mapped[str] = mapped_column(String(16))  # before | overdue
    cycle: Mapped[int] = mapped_column(BigId, default=0, server_default="0")
    due_date: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("beneficiary_id", "schedule", "dose", "reason", "cycle"),)


class PendingDose(Base):
    """A dose a person still needs, as :func:`cowin_kit.programme.due.evaluate` computed it
    on ``as_of`` (cowin_kit.immunization.duestate keeps these rows; the rules are the only
    definition). Per schedule instance (a person's schedule, or one pregnancy's) the rows
    are the chain of doses that are, or will become, the instance's first pending dose:
    the first one, then the one that takes over when it is missed (past ``latest``), etc.

    On any day D >= as_of the row is on a list when ``active_from`` (None: already on
    as_of) <= D <= ``until`` (None: no end), and its status is a pure function of the
    stored dates: upcoming (D < earliest), due (D < overdue_from), else overdue.
    ``until`` is ``latest`` capped by the last day the person counts as a child (birth-
    timed schedules). ``location_id``/``facility_id`` are the person's, copied (a change
    refreshes the person)."""

    __tablename__ = "pending_dose"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"))
    facility_id: Mapped[Optional[int]] = mapped_column(ForeignKey("facility.id"))
    schedule: Mapped[str] = mapped_column(String(64))
    dose: Mapped[int]
    pregnancy_id: Mapped[Optional[int]] = mapped_column(
        BigId, ForeignKey("pregnancy.id", ondelete="CASCADE"))
    booster: Mapped[bool] = mapped_column(default=False)
    earliest: Mapped[date] = mapped_column(Date)
    due: Mapped[date] = mapped_column(Date)
    latest: Mapped[Optional[date]] = mapped_column(Date)
    overdue_from: Mapped[date] = mapped_column(Date)     # due + routine.overdue_after
    active_from: Mapped[Optional[date]] = mapped_column(Date)
    until: Mapped[Optional[date]] = mapped_column(Date)
    as_of: Mapped[date] = mapped_column(Date)
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_pending_dose_location_id_earliest", "location_id", "earliest"),
        Index("ix_pending_dose_facility_id_earliest", "facility_id", "earliest"),
        Index("ix_pending_dose_due", "due"),
    )


class DueRefresh(Base):
    """A full refresh of ``pending_dose`` (``cowin-kit due-list refresh``, the worker's
    nightly job): the fingerprint of the routine rules it used. The lists read the table
    only while the last finished whole-country refresh has the current rules'
    fingerprint (a pack that changed the schedules makes them evaluate live until the
    next refresh)."""

    __tablename__ = "due_refresh"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    location_code: Mapped[Optional[str]] = mapped_column(String(64))  # None: everyone
    as_of: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[datetime]]
    people: Mapped[int] = mapped_column(default=0)
    rows: Mapped[int] = mapped_column(default=0)
