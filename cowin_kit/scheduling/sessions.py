"""Facilities and vaccination sessions as staff manage them: upsert a facility, publish a
session, change its seats, cancel it (its appointments released, the people booked told);
and the seat and hook bookkeeping that booking shares with these (release_seats,
queue_cancelled)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cowin_kit import notifications, plugins
from cowin_kit.audit import services as audit
from cowin_kit.geography.places import facility_place
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.db import get_database
from cowin_kit.core.errors import InvalidInput, NotFound, RuleViolation
from cowin_kit.geography.models import Facility, Location
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.scheduling import rules
from cowin_kit.scheduling.models import (
    SESSION_KINDS, Appointment, SessionDoseCapacity, SessionProduct, SessionSlot,
    VaccinationSession,
)


def upsert_facility(session: Session, *, code: str, name: str, location_code: str,
                    address: str = "", postal_code: str | None = None,
                    latitude: float | None = None, longitude: float | None = None,
                    facility_type: str = "public", fee_type: str = "Free",
                    opens_at: time | None = None, closes_at: time | None = None,
                    names: dict[str, str] | None = None) -> Facility:
    if fee_type not in rules.FEE_TYPES:
        raise InvalidInput(_("Fee type must be Free or Paid."), code="invalid_fee_type")
    if facility_type not in rules.FACILITY_TYPES:
        raise InvalidInput(_("Facility type must be public or private."),
                           code="invalid_facility_type")
    location_id = session.scalar(select(Location.id).where(Location.code == location_code))
    if location_id is None:
        raise NotFound(_("No location with code %(code)s.", code=location_code),
                       code="location_not_found")
    facility = session.scalars(select(Facility).where(Facility.code == code)).first()
    values = dict(name=name, names=names or {}, location_id=location_id, address=address,
                  postal_code=postal_code, latitude=latitude, longitude=longitude,
                  facility_type=facility_type, fee_type=fee_type, opens_at=opens_at,
                  closes_at=closes_at)
    if facility is None:
        facility = Facility(code=code, **values)
        session.add(facility)
        session.flush()
        audit.record(session, "facility.create", "facility", facility.id,
                     place=audit.at_facility(facility), code=code)
    else:
        for key, value in values.items():
            setattr(facility, key, value)
        session.flush()
        audit.record(session, "facility.update", "facility", facility.id,
                     place=audit.at_facility(facility), code=code)
    return facility


def publish_session(session: Session, *, facility: Facility, session_date: date,
                    product_code: str, slots: str, capacity_by_dose: dict[int, int],
                    min_age: int = 18, max_age: int | None = None,
                    fee: Decimal = Decimal(0), other_product_codes: Iterable[str] = (),
                    kind: str = "fixed", site: str = "") -> VaccinationSession:
    """Publish one session (or return the one already published for the same facility,
    date and vaccine: publishing is idempotent). ``product_code`` is the session's main
    product (the one bookings and the CoWIN v2 API show); ``other_product_codes`` are the
    other products it offers (a routine immunization day gives several). ``kind`` is
    "fixed" (at the facility) or "outreach" (at ``site``, a place of the facility's area)."""
    product = _product(session, product_code)
    others: list[VaccineProduct] = []
    for code in dict.fromkeys(other_product_codes):
        other = _product(session, code)
        if other.id != product.id:
            others.append(other)
    site = " ".join(str(site or "").split())
    if kind not in SESSION_KINDS:
        raise InvalidInput(_("The session kind must be fixed or outreach."),
                           code="invalid_session_kind")
    if kind == "outreach" and not site:
        raise InvalidInput(_("Name the outreach site."), code="site_required")
    if len(site) > 200:
        raise InvalidInput(_("The site name is too long."), code="invalid_site")
    try:
        slot_times = rules.parse_slots(slots)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_slots") from None
    if max_age is not None and max_age < min_age:
        raise InvalidInput(_("The maximum age is below the minimum age."), code="invalid_ages")
    if any(n < 0 for n in capacity_by_dose.values()) or not any(capacity_by_dose.values()):
        raise InvalidInput(_("A session needs seats for at least one dose."),
                           code="invalid_capacity")
    existing = session.scalars(select(VaccinationSession).where(
        VaccinationSession.facility_id == facility.id,
        VaccinationSession.session_date == session_date,
        VaccinationSession.product_id == product.id,
    )).first()
    if existing is not None:
        return existing
    total = sum(capacity_by_dose.values())
    vaccination_session = VaccinationSession(
        facility_id=facility.id, session_date=session_date, product_id=product.id,
        min_age=min_age, max_age=max_age, fee=fee, kind=kind, site=site,
        extra_products=[SessionProduct(product_id=other.id) for other in others],
        capacities=[SessionDoseCapacity(dose_number=n, capacity=c)
                    for n, c in sorted(capacity_by_dose.items())],
        slots=[SessionSlot(starts_at=start, ends_at=end, capacity=c)
               for (start, end), c in zip(slot_times,
                                          rules.split_capacity(total, len(slot_times)))],
    )
    session.add(vaccination_session)
    session.flush()
    audit.record(session, "session.publish", "vaccination_session", vaccination_session.id,
                 place=audit.at_facility(facility), facility=facility.code, date=session_date.isoformat(), vaccine=product_code,
                 other_vaccines=[other.code for other in others], kind=kind)
    return vaccination_session


def _product(session: Session, code: str) -> VaccineProduct:
    product = session.scalars(select(VaccineProduct).where(VaccineProduct.code == code)).first()
    if product is None:
        raise NotFound(_("No vaccine with code %(code)s.", code=code), code="vaccine_not_found")
    return product


def offered_products(session: Session, vaccination_session: VaccinationSession
                     ) -> list[VaccineProduct]:
    """Every product the session offers: its main product first, then the others."""
    ids = [vaccination_session.product_id] + [
        row.product_id for row in vaccination_session.extra_products]
    found = {p.id: p for p in session.scalars(select(VaccineProduct)
                                              .where(VaccineProduct.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def session_place(session: Session, session_id: str) -> audit.Place:
    """The place of a vaccination session's events (its facility's)."""
    return facility_place(session, session.scalar(
        select(VaccinationSession.facility_id).where(VaccinationSession.id == session_id)))


def published_session(session: Session, session_id: str) -> VaccinationSession:
    """The session ``session_id`` (any status); NotFound if there is none."""
    found = session.get(VaccinationSession, str(session_id)) \
        if rules.looks_like_uuid(session_id) else None
    if found is None:
        raise NotFound(_("No such session."), code="session_not_found")
    return found


def release_seats(session: Session, appointment: Appointment) -> None:
    """Give back the dose seat and the slot seat ``appointment`` holds."""
    session.execute(
        update(SessionDoseCapacity)
        .where(SessionDoseCapacity.session_id == appointment.session_id,
               SessionDoseCapacity.dose_number == appointment.dose_number,
               SessionDoseCapacity.booked > 0)
        .values(booked=SessionDoseCapacity.booked - 1)
        .execution_options(synchronize_session=False))
    session.execute(
        update(SessionSlot)
        .where(SessionSlot.id == appointment.slot_id, SessionSlot.booked > 0)
        .values(booked=SessionSlot.booked - 1)
        .execution_options(synchronize_session=False))


def queue_cancelled(session: Session, appointments: list[Appointment], reason: str) -> None:
    """Queue the plugins' appointment_cancelled hook for each of ``appointments``."""
    if not appointments or not plugins.wants("appointment_cancelled"):
        return
    references = dict(session.execute(select(Beneficiary.id, Beneficiary.reference_id).where(
        Beneficiary.id.in_({a.beneficiary_id for a in appointments}))).all())
    for appointment in appointments:
        plugins.queue_hook(session, "appointment_cancelled", appointment_id=appointment.id,
                           booking_id=appointment.booking_id,
                           reference_id=references[appointment.beneficiary_id],
                           dose_number=appointment.dose_number,
                           session_id=appointment.session_id, reason=reason)


@dataclass
class Notice:
    """A message for someone, queued in the message outbox."""
    mobile: str
    locale: str
    template: str
    params: dict


def queue_notices(session: Session, notices: list[Notice]) -> None:
    """Add ``notices`` to the message outbox in ``session``; the caller commits."""
    for notice in notices:
        notifications.queue(session, notice.mobile, notice.template, notice.locale,
                            **notice.params)


def send_notices(notices: list[Notice]) -> None:
    """Queue ``notices`` in a transaction of their own (for callers that have committed)."""
    if notices:
        with get_database().session() as session:
            queue_notices(session, notices)
            session.commit()


def cancel_session(session: Session, pack: ActivePack, session_id: str) -> list[Notice]:
    """Cancel a published session: its appointments are released and the people booked
    are told (their messages are queued in the same transaction; returned for the caller's
    information)."""
    vaccination_session = published_session(session, session_id)
    if vaccination_session.status == "cancelled":
        return []
    vaccination_session.status = "cancelled"
    vaccination_session.version = VaccinationSession.version + 1
    facility = session.get(Facility, vaccination_session.facility_id)
    notices = []
    booked = list(session.scalars(select(Appointment).where(
        Appointment.session_id == vaccination_session.id, Appointment.status == "booked")
        .with_for_update()))
    for appointment in booked:
        release_seats(session, appointment)
        appointment.status = "cancelled"
        account = session.get(CitizenAccount, appointment.account_id)
        beneficiary = session.get(Beneficiary, appointment.beneficiary_id)
        notices.append(Notice(account.mobile, account.locale or pack.default_locale,
                              "session_cancelled",
                              {"name": beneficiary.name, "facility": facility.name,
                               "date": vaccination_session.session_date.isoformat()}))
    audit.record(session, "session.cancel", "vaccination_session", vaccination_session.id,
                 place=audit.at_facility(facility), appointments_released=len(booked))
    queue_cancelled(session, booked, "session_cancelled")
    queue_notices(session, notices)
    session.commit()
    return notices


def change_capacity(session: Session, session_id: str, capacity_by_dose: dict[int, int]) -> VaccinationSession:
    """Change a session's seats per dose; never below what is already booked."""
    vaccination_session = published_session(session, session_id)
    current = {c.dose_number: c for c in session.scalars(
        select(SessionDoseCapacity).where(SessionDoseCapacity.session_id == vaccination_session.id)
        .with_for_update())}
    for dose_number, capacity in sorted(capacity_by_dose.items()):
        if capacity < 0:
            raise InvalidInput(_("Seats cannot be negative."), code="invalid_capacity")
        row = current.get(dose_number)
        if row is None:
            session.add(SessionDoseCapacity(session_id=vaccination_session.id,
                                            dose_number=dose_number, capacity=capacity))
        elif capacity < row.booked:
            session.rollback()
            raise RuleViolation(ngettext(
                "Dose %(n)d already has %(num)d person booked; the session cannot have "
                "fewer seats.", "Dose %(n)d already has %(num)d people booked; the session "
                "cannot have fewer seats.", row.booked, n=dose_number), code="capacity_below_booked")
        else:
            row.capacity = capacity
    session.flush()
    # The slots share the session's seats again, never below what each has booked.
    total = session.scalar(select(func.sum(SessionDoseCapacity.capacity))
                           .where(SessionDoseCapacity.session_id == vaccination_session.id)) or 0
    slots = list(vaccination_session.slots)
    for slot, share in zip(slots, rules.split_capacity(total, len(slots))):
        slot.capacity = max(share, slot.booked)
    vaccination_session.version = VaccinationSession.version + 1
    audit.record(session, "session.change_capacity", "vaccination_session",
                 vaccination_session.id,
                 place=facility_place(session, vaccination_session.facility_id), capacity={str(k): v for k, v in capacity_by_dose.items()})
    session.commit()
    return vaccination_session
