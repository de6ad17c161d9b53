"""Facilities and vaccination sessions: creating and publishing them."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.errors import InvalidInput, NotFound
from cowin_kit.geography.models import Location
from cowin_kit.i18n import gettext as _
from cowin_kit.scheduling import rules
from cowin_kit.scheduling.models import (
    Facility, SessionDoseCapacity, SessionSlot, VaccinationSession,
)
from cowin_kit.vaccination.models import VaccineProduct


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
        audit.record(session, "facility.create", "facility", facility.id, code=code)
    else:
        for key, value in values.items():
            setattr(facility, key, value)
        session.flush()
        audit.record(session, "facility.update", "facility", facility.id, code=code)
    return facility


def publish_session(session: Session, *, facility: Facility, session_date: date,
                    product_code: str, slots: str, capacity_by_dose: dict[int, int],
                    min_age: int = 18, max_age: int | None = None,
                    fee: Decimal = Decimal(0)) -> VaccinationSession:
    """Publish one session (or return the one already published for the same facility,
    date and vaccine: publishing is idempotent)."""
    product = session.scalars(select(VaccineProduct).where(VaccineProduct.code == product_code)).first()
    if product is None:
        raise NotFound(_("No vaccine with code %(code)s.", code=product_code),
                       code="vaccine_not_found")
    try:
        slot_times = rules.parse_slots(slots)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_slots") from None
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
        min_age=min_age, max_age=max_age, fee=fee,
        capacities=[SessionDoseCapacity(dose_number=n, capacity=c)
                    for n, c in sorted(capacity_by_dose.items())],
        slots=[SessionSlot(starts_at=start, ends_at=end, capacity=c)
               for (start, end), c in zip(slot_times,
                                          rules.split_capacity(total, len(slot_times)))],
    )
    session.add(vaccination_session)
    session.flush()
    audit.record(session, "session.publish", "vaccination_session", vaccination_session.id,
                 facility=facility.code, date=session_date.isoformat(), vaccine=product_code)
    return vaccination_session
