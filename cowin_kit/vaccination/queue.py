"""What the vaccinator sees at the facility: today's sessions with the queue of people
booked, a person checked in by reference ID (never the secret code; the ID masked), and
the end-of-day summary.
The API and the pages both read them here and only format the answer."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity import access
from cowin_kit.identity.models import Gender, IdDocumentType, StaffUser
from cowin_kit.registration import reads
from cowin_kit.registration.models import BOOKED_SERIES, Beneficiary, Dose
from cowin_kit.registration.rules import is_reference_id, masked_id
from cowin_kit.scheduling.models import (
    Appointment, SessionDoseCapacity, SessionSlot, VaccinationSession,
)
from cowin_kit.geography.models import Facility
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.vaccination.models import AefiReport
from cowin_kit.vaccination.services import staff_facility, todays_sessions

# Appointments that belong in the queue: still to come, or done today.
QUEUED = ("booked", "completed")


@dataclass(frozen=True)
class QueueEntry:
    reference_id: str
    name: str
    dose: int
    slot: str
    status: str  # booked or completed


@dataclass(frozen=True)
class TodaySession:
    session: VaccinationSession
    product: VaccineProduct
    capacity: dict[int, int]  # seats per dose number
    booked: dict[int, int]
    queue: list[QueueEntry]


@dataclass(frozen=True)
class Today:
    facility: Facility
    sessions: list[TodaySession]


def todays_queue(session: Session, pack: ActivePack, actor: StaffUser,
                 facility_code: str | None) -> Today:
    """Today's sessions at the actor's facility (named, or their only one) with the people
    booked, in slot order. InvalidInput ``facility_required`` when the actor works at
    several facilities and named none."""
    facility = staff_facility(session, actor, facility_code, action="beneficiary.verify")
    sessions = []
    for item in todays_sessions(session, pack, facility):
        caps = list(session.scalars(select(SessionDoseCapacity)
                                    .where(SessionDoseCapacity.session_id == item.id)))
        queue = [QueueEntry(beneficiary.reference_id, beneficiary.name,
                            appointment.dose_number, slot.label, appointment.status)
                 for appointment, beneficiary, slot in session.execute(
                     select(Appointment, Beneficiary, SessionSlot)
                     .join(Beneficiary, Beneficiary.id == Appointment.beneficiary_id)
                     .join(SessionSlot, SessionSlot.id == Appointment.slot_id)
                     .where(Appointment.session_id == item.id,
                            Appointment.status.in_(QUEUED))
                     .order_by(SessionSlot.starts_at, Appointment.created_at))]
        sessions.append(TodaySession(
            item, session.get(VaccineProduct, item.product_id),
            {c.dose_number: c.capacity for c in caps}, {c.dose_number: c.booked for c in caps},
            queue))
    return Today(facility, sessions)


@dataclass(frozen=True)
class PastDose:
    dose: Dose
    product: VaccineProduct


@dataclass(frozen=True)
class Booked:
    """The person's live appointment (the lowest dose's) and where it is."""

    appointment: Appointment
    session: VaccinationSession
    facility: Facility


@dataclass(frozen=True)
class CheckIn:
    beneficiary: Beneficiary
    gender_labels: dict[str, Any]
    id_type_labels: dict[str, Any]
    id_number_masked: str
    doses: list[PastDose]
    booked: Booked | None

    @property
    def secret_code_required(self) -> bool:
        """Booked online: the person proves it is them with their secret code."""
        return self.booked is not None


def check_in(session: Session, actor: StaffUser, reference_id: str, *,
             reason: str | None = None) -> CheckIn:
    """A person as the vaccinator checks them in. Forbidden without ``beneficiary.verify``
    anywhere; NotFound ``beneficiary_not_found``. The read is audited: a person neither
    of the vaccinator's area nor booked at one of their facilities takes a ``reason``
    (Forbidden ``reason_required`` without one; registration.reads)."""
    access.check_access(actor, "beneficiary.verify", message=_("You may not check people in."))
    beneficiary = _find_beneficiary(session, reference_id)
    doses = [PastDose(dose, session.get(VaccineProduct, dose.product_id))
             for dose in session.scalars(select(Dose)
                                         .where(Dose.beneficiary_id == beneficiary.id,
                                                Dose.series == BOOKED_SERIES)
                                         .order_by(Dose.dose_number))]
    appointment = session.scalars(select(Appointment).where(
        Appointment.beneficiary_id == beneficiary.id, Appointment.status == "booked")
        .order_by(Appointment.dose_number)).first()
    booked = None
    if appointment is not None:
        vaccination_session = session.get(VaccinationSession, appointment.session_id)
        booked = Booked(appointment, vaccination_session,
                        session.get(Facility, vaccination_session.facility_id))
    reads.record_staff_read(
        session, actor, beneficiary, actions=("beneficiary.verify",), view="check_in",
        reason=reason, also=[] if booked is None else
        [access.scope_for_facility(session, booked.facility.id)])
    return CheckIn(beneficiary, session.get(Gender, beneficiary.gender_id).labels,
                   session.get(IdDocumentType, beneficiary.id_type_id).labels
                   if beneficiary.id_type_id is not None else {},
                   masked_id(beneficiary.id_number_last4), doses, booked)


def _find_beneficiary(session: Session, reference_id: str) -> Beneficiary:
    """The person with this reference ID, or NotFound ``beneficiary_not_found``."""
    found = None
    if is_reference_id(str(reference_id)):
        found = session.scalars(select(Beneficiary)
                                .where(Beneficiary.reference_id == str(reference_id))).first()
    if found is None:
        raise NotFound(_("No one is registered with this reference ID."),
                       code="beneficiary_not_found")
    return found


@dataclass(frozen=True)
class SessionTally:
    product: VaccineProduct
    status: str
    capacity: int
    completed: int  # vaccinated
    waiting: int  # booked, not yet seen
    cancelled: int


@dataclass(frozen=True)
class LotTally:
    product: VaccineProduct
    lot: str
    dose: int
    count: int


@dataclass(frozen=True)
class DaySummary:
    day: date
    sessions: list[SessionTally]
    doses: list[LotTally]  # recorded today at the facility, by vaccine, lot and dose
    aefi_count: int  # reported today for doses given at the facility

    @property
    def total(self) -> int:
        return sum(d.count for d in self.doses)


def day_summary(session: Session, pack: ActivePack, facility: Facility) -> DaySummary:
    """The facility's end-of-day summary (the pack's local day)."""
    tz = zoneinfo.ZoneInfo(pack.document["timezone"])
    today = datetime.now(tz).date()
    start = datetime.combine(today, time(0), tz).astimezone(timezone.utc)
    end = datetime.combine(today + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
    tallies = []
    for item in todays_sessions(session, pack, facility):
        counts = {status: n for status, n in session.execute(
            select(Appointment.status, func.count()).where(Appointment.session_id == item.id)
            .group_by(Appointment.status))}
        tallies.append(SessionTally(
            product=session.get(VaccineProduct, item.product_id), status=item.status,
            capacity=sum(c.capacity for c in item.capacities),
            completed=counts.get("completed", 0), waiting=counts.get("booked", 0),
            cancelled=counts.get("cancelled", 0)))
    lots = [LotTally(session.get(VaccineProduct, product_id), lot, number, n)
            for product_id, lot, number, n in session.execute(
                select(Dose.product_id, Dose.lot, Dose.dose_number, func.count())
                .where(Dose.facility_id == facility.id, Dose.administered_at >= start,
                       Dose.administered_at < end)
                .group_by(Dose.product_id, Dose.lot, Dose.dose_number)
                .order_by(Dose.product_id, Dose.lot, Dose.dose_number))]
    aefi_count = session.scalar(select(func.count()).select_from(AefiReport)
                                .join(Dose, Dose.id == AefiReport.dose_id)
                                .where(Dose.facility_id == facility.id,
                                       AefiReport.reported_at >= start,
                                       AefiReport.reported_at < end)) or 0
    return DaySummary(today, tallies, lots, aefi_count)
