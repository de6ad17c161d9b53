"""The vaccination sessions facilities publish, their seats and slots, appointments and
slot alerts."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Optional

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String, Time, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cowin_kit.core.db import Base, BigId, new_uuid, utcnow


class VaccinationSession(Base):
    __tablename__ = "vaccination_session"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    session_date: Mapped[date] = mapped_column(Date)
    product_id: Mapped[int] = mapped_column(ForeignKey("vaccine_product.id"), index=True)
    min_age: Mapped[int] = mapped_column(default=18)
    max_age: Mapped[Optional[int]]
    fee: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(0))
    status: Mapped[str] = mapped_column(String(16), default="published")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Moves on (version + 1) with every change of what a booking reads of the session:
    # its status, ages, seats per dose, slots. Bookings take their seats only at the
    # version they checked their rules against (scheduling.booking_rows, BookableSession);
    # taking seats (the ``booked`` counters) does not change it.
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    # "fixed": a session day at the facility; "outreach": a team from the facility at a
    # site of its area (a village, a school), named by ``site``.
    kind: Mapped[str] = mapped_column(String(16), default="fixed", server_default="fixed")
    site: Mapped[str] = mapped_column(String(200), default="", server_default="")

    capacities: Mapped[list["SessionDoseCapacity"]] = relationship(
        cascade="all, delete-orphan", order_by="SessionDoseCapacity.dose_number"
    )
    slots: Mapped[list["SessionSlot"]] = relationship(
        cascade="all, delete-orphan", order_by="SessionSlot.starts_at"
    )
    # The products offered besides ``product_id`` (the session's main product, the one the
    # booking flows and the CoWIN v2 API show): a routine session offers several.
    extra_products: Mapped[list["SessionProduct"]] = relationship(
        cascade="all, delete-orphan", order_by="SessionProduct.product_id"
    )

    __table_args__ = (
        Index("ix_vaccination_session_facility_date", "facility_id", "session_date"),
    )


SESSION_KINDS = ("fixed", "outreach")


class SessionProduct(Base):
    """A product a session offers besides its main product (``VaccinationSession.product_id``)."""

    __tablename__ = "session_product"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("vaccination_session.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("vaccine_product.id"), primary_key=True)


class SessionDoseCapacity(Base):
    """Seats of one session for one dose number; ``booked`` is claimed atomically."""

    __tablename__ = "session_dose_capacity"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("vaccination_session.id", ondelete="CASCADE"), primary_key=True
    )
    dose_number: Mapped[int] = mapped_column(primary_key=True)
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
    )


class SessionSlot(Base):
    __tablename__ = "session_slot"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("vaccination_session.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[time] = mapped_column(Time)
    ends_at: Mapped[time] = mapped_column(Time)
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
    )

    @property
    def label(self) -> str:
        return f"{self.starts_at:%H:%M}-{self.ends_at:%H:%M}"


class Appointment(Base):
    """One beneficiary's seat at a session for one dose. At most one live (booked)
    appointment per beneficiary and dose, enforced by a partial unique index."""

    __tablename__ = "appointment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    # Members booked together share a booking id: CoWIN's appointment_confirmation_no.
    booking_id: Mapped[str] = mapped_column(String(36), index=True)
    beneficiary_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("vaccination_session.id"), index=True)
    slot_id: Mapped[int] = mapped_column(BigId, ForeignKey("session_slot.id"))
    dose_number: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="booked")  # booked|cancelled|completed
    reschedule_count: Mapped[int] = mapped_column(default=0)
    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("citizen_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("uq_appointment_live_dose", "beneficiary_id", "dose_number", unique=True,
              sqlite_where=text("status = 'booked'"), postgresql_where=text("status = 'booked'")),
    )


class SlotAlertSubscription(Base):
    """A citizen's wish to hear when seats appear (CoWIN users asked for this instead of
    bots polling the availability API)."""

    __tablename__ = "slot_alert_subscription"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("citizen_account.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"))
    postal_code: Mapped[Optional[str]] = mapped_column(String(16))
    product_code: Mapped[Optional[str]] = mapped_column(String(64))
    dose_number: Mapped[int] = mapped_column(default=1)
    age: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_notified_at: Mapped[Optional[datetime]]
    # When dispatch last looked at it, matched or not: dispatch takes the longest unlooked
    # first, so subscriptions that match nothing do not hold the front of the line.
    last_checked_at: Mapped[Optional[datetime]]
