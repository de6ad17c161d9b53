"""Booking: book seats for an account's members, reschedule and cancel a booking, and
list live appointments. The rules are scheduling.rules; book_seats reads and writes plain
rows through booking_rows (the fast path, on PostgreSQL through the driver), reschedule
and cancel work on ORM objects."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit import plugins
from cowin_kit.core import metrics
from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.db import new_uuid, utcnow
from cowin_kit.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _
from cowin_kit.programme import catalogue
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.registration.rules import age_on
from cowin_kit.registration.services import TokenHolder
from cowin_kit.scheduling import booking_rows, rules
from cowin_kit.scheduling.booking_rows import (
    BookableSession, BookingMember, BookingSlot,
)
from cowin_kit.scheduling.models import Appointment, SessionSlot, VaccinationSession
from cowin_kit.geography.places import facility_place
from cowin_kit.scheduling.sessions import (
    published_session, queue_cancelled, release_seats, session_place as _session_place,
)



def _settings():
    return current_app.config["COWIN_KIT"]


def local_now(pack: ActivePack, now: datetime | None) -> datetime:
    """``now`` (default: this moment) in the programme's time zone."""
    moment = now or datetime.now(timezone.utc)
    return moment.astimezone(zoneinfo.ZoneInfo(pack.document["timezone"]))


def _cutoff() -> tuple[int, int]:
    hour, _sep, minute = _settings()["BOOKING_CUTOFF_TIME"].partition(":")
    return int(hour), int(minute or 0)


def booking_closed(pack: ActivePack, day: date, now: datetime | None = None) -> bool:
    """Whether a session on ``day`` can no longer be booked today (the same-day cut-off,
    setting BOOKING_CUTOFF_TIME, has passed): pages then offer no Book button for it."""
    hour, minute = _cutoff()
    return rules.same_day_closed(day, local_now(pack, now), hour, minute)


def _refused(exc: rules.BookingRefused) -> RuleViolation:
    return RuleViolation(str(exc), code=exc.code)


@dataclass(slots=True, eq=False)
class Booking:
    """What book_seats wrote, with what the answer shows: ``rows`` are the appointment rows
    inserted (column name -> value), in the order of ``members``."""
    booking_id: str
    rows: list[dict[str, Any]]
    session: BookableSession
    slot: BookingSlot
    members: list[BookingMember]

    @property
    def appointments(self) -> list[Appointment]:
        """The rows as Appointment objects (copies, not attached to any session)."""
        return [Appointment(**row) for row in self.rows]


def _slot(vaccination_session: VaccinationSession, slot: str) -> SessionSlot:
    wanted = str(slot).replace(" ", "")
    for candidate in vaccination_session.slots:
        cowin_label = candidate.cowin_label if isinstance(candidate, BookingSlot) \
            else rules.cowin_slot_label(candidate)
        if wanted in (candidate.label, cowin_label):
            return candidate
    raise InvalidInput(_("This session has no slot %(slot)s.", slot=slot), code="invalid_slot",
                       fields={"slot": [_("Choose one of the session's slots.")]})


def _session_facts(vaccination_session: VaccinationSession, product_code: str) -> rules.SessionFacts:
    return rules.SessionFacts(
        day=vaccination_session.session_date, product_code=product_code,
        min_age=vaccination_session.min_age, max_age=vaccination_session.max_age,
        status=vaccination_session.status,
        doses_offered=tuple(c.dose_number for c in vaccination_session.capacities if c.capacity > 0))


def _product_code(session: Session, pack: ActivePack | None, product_id: int) -> str:
    def load() -> dict[int, str] | None:
        return {product.id: product.code for product in
                catalogue.products(session, pack)} or None

    codes = (pack.memo(("scheduling", "product_codes"), load) if pack is not None
             else load()) or {}
    if product_id in codes:
        return codes[product_id]
    # a product installed after this snapshot of the pack was taken
    return session.scalar(select(VaccineProduct.code).where(VaccineProduct.id == product_id))


def _check_members(session: Session, pack: ActivePack, vaccination_session: VaccinationSession,
                   members: list[Beneficiary], dose: int | None,
                   now: datetime | None,
                   given_by_member: dict[int, list[rules.GivenDose]] | None = None
                   ) -> list[tuple[Beneficiary, int]]:
    product_code = _product_code(session, pack, vaccination_session.product_id)
    facts = _session_facts(vaccination_session, product_code)
    schedules = catalogue.schedules(session, pack)
    now_local = local_now(pack, now)
    hour, minute = _cutoff()
    if given_by_member is None:
        given_by_member = booking_rows.history(session, pack, [member.id for member in members])
    plan = []
    for member in members:
        given = given_by_member[member.id]
        dose_number = dose or rules.next_dose_number(given)
        try:
            rules.check_booking(
                age=age_on(vaccination_session.session_date, member.birth_year, member.birth_date),
                session=facts, dose_number=dose_number, given=given, schedules=schedules,
                today=now_local.date(), now_local=now_local, cutoff_hour=hour,
                cutoff_minute=minute)
        except rules.BookingRefused as exc:
            raise _refused(exc) from None
        plan.append((member, dose_number))
    return plan


def book(session: Session, pack: ActivePack, account: CitizenAccount, *, session_id: str,
         slot: str, reference_ids: list[str], dose: int | None = None,
         now: datetime | None = None) -> list[Appointment]:
    """Book one seat per member in one transaction: all members get a seat, or none."""
    return book_seats(session, pack, account, session_id=session_id, slot=slot,
                      reference_ids=reference_ids, dose=dose, now=now).appointments


def book_seats(session: Session, pack: ActivePack, account: CitizenAccount | TokenHolder, *,
               session_id: str, slot: str, reference_ids: list[str], dose: int | None = None,
               now: datetime | None = None) -> Booking:
    """book(), with the session, slot and members the answer shows.

    Reads and writes plain rows (booking_rows): the rules, the conditional UPDATEs that
    take the seats, and the appointment and audit rows (audit.values: the event
    audit.record would add) are as with ORM objects, and are written together or not at
    all. ``account`` is the CitizenAccount or, from the API, only what the citizen's token
    names (TokenHolder): the members' read checks that the account still exists with that
    mobile (401 if not). On PostgreSQL a one-member booking with no transaction open runs
    in autocommit mode (booking_rows.run_booking); otherwise it runs in the session's
    transaction, which it commits."""
    if session.autoflush:
        session.flush()  # what the caller added is seen, as autoflush did for ORM queries
    booking = booking_rows.run_booking(
        session, len(reference_ids),
        lambda connection, reuse_session: _book_seats(
            session, connection, pack, account, session_id, slot, reference_ids, dose, now,
            reuse_session))
    if session.in_transaction():
        session.commit()  # its transaction's writes, and the plugins' hooks queued on it
    metrics.APPOINTMENTS_BOOKED.inc(len(booking.rows))
    return booking


def _book_seats(session: Session, connection: Any, pack: ActivePack,
                account: CitizenAccount | TokenHolder, session_id: str, slot: str,
                reference_ids: list[str], dose: int | None, now: datetime | None,
                reuse_session: bool) -> Booking:
    """book_seats on ``connection``: the session's, or one in autocommit mode."""
    # first: it also checks the account (the caller may only have verified the token),
    # and a gone account is refused before anything about the session or members
    found = booking_rows.members_and_history(connection, pack, account, reference_ids)
    vaccination_session = booking_rows.bookable_session(connection, session_id, reuse_session)
    try:
        chosen_slot = _slot(vaccination_session, slot)
        members, given, live = found.checked(reference_ids).members, found.given, found.live
        plan = _check_members(session, pack, vaccination_session, members, dose, now, given)
    except (InvalidInput, RuleViolation):
        # refused on facts this process kept: refused only if they are still the session's
        if reuse_session and booking_rows.session_changed(connection, vaccination_session):
            raise booking_rows.SessionChanged from None
        raise
    for member, dose_number in plan:
        if (member.id, dose_number) in live:
            raise Conflict(_("%(name)s already has an appointment for dose %(n)d.",
                             name=member.name, n=dose_number), code="already_booked")
    booking_id = new_uuid()
    moment = utcnow()
    appointments, events = [], []
    for member, dose_number in plan:
        row = dict(id=new_uuid(), booking_id=booking_id, beneficiary_id=member.id,
                   session_id=vaccination_session.id, slot_id=chosen_slot.id,
                   dose_number=dose_number, status="booked", reschedule_count=0,
                   account_id=account.id, created_at=moment, updated_at=moment)
        appointments.append(row)
        events.append({**audit.values("appointment.book", "appointment", row["id"],
                                      place=audit.Place(vaccination_session.location_id,
                                                        vaccination_session.facility_id),
                                      booking=booking_id,
                                      vaccination_session=vaccination_session.id,
                                      dose=dose_number),
                       "occurred_at": moment})
    booking_rows.write_booking(session, connection, vaccination_session, chosen_slot,
                               appointments, events)
    if plugins.wants("appointment_booked"):
        references = {member.id: member.reference_id for member in members}
        for row in appointments:
            plugins.queue_hook(session, "appointment_booked", appointment_id=row["id"],
                               booking_id=booking_id,
                               reference_id=references[row["beneficiary_id"]],
                               dose_number=row["dose_number"],
                               session_id=vaccination_session.id,
                               session_date=vaccination_session.session_date,
                               facility_code=vaccination_session.facility_code)
    return Booking(booking_id, appointments, vaccination_session, chosen_slot, members)


def booking_appointments(session: Session, account: CitizenAccount, booking_id: str,
                         lock: bool = True) -> list[Appointment]:
    query = select(Appointment).where(Appointment.booking_id == str(booking_id),
                                      Appointment.account_id == account.id,
                                      Appointment.status == "booked").order_by(Appointment.id)
    if lock:
        query = query.with_for_update()  # serialises reschedule against cancel
    rows = list(session.scalars(query)) if rules.looks_like_uuid(booking_id) else []
    if not rows:
        raise NotFound(_("No such appointment."), code="appointment_not_found")
    return rows


def reschedule(session: Session, pack: ActivePack, account: CitizenAccount, *,
               booking_id: str, session_id: str, slot: str,
               now: datetime | None = None) -> list[Appointment]:
    appointments = booking_appointments(session, account, booking_id)
    current = session.get(VaccinationSession, appointments[0].session_id)
    now_local = local_now(pack, now)
    try:
        rules.check_reschedule(appointment_day=current.session_date, today=now_local.date(),
                               reschedule_count=max(a.reschedule_count for a in appointments),
                               max_reschedules=_settings()["MAX_RESCHEDULES"])
    except rules.BookingRefused as exc:
        session.rollback()
        raise _refused(exc) from None
    target = published_session(session, session_id)
    target_slot = _slot(target, slot)
    members = [session.get(Beneficiary, a.beneficiary_id) for a in appointments]
    _check_members(session, pack, target, members,
                   None if len({a.dose_number for a in appointments}) > 1
                   else appointments[0].dose_number, now)
    for appointment in appointments:
        release_seats(session, appointment)
        booking_rows.claim_seats(session, target, target_slot, appointment.dose_number)
        appointment.session_id, appointment.slot_id = target.id, target_slot.id
        appointment.reschedule_count += 1
        audit.record(session, "appointment.reschedule", "appointment", appointment.id,
                     place=facility_place(session, target.facility_id),
                     vaccination_session=target.id)
    session.commit()
    return appointments


def cancel(session: Session, account: CitizenAccount, *, booking_id: str,
           reference_ids: list[str] | None = None) -> list[Appointment]:
    """Cancel all or some members of a booking; cancelling a dose-1 appointment also
    cancels the member's later appointments."""
    appointments = booking_appointments(session, account, booking_id)
    if reference_ids:
        wanted = {str(r) for r in reference_ids}
        refs = dict(session.execute(select(Beneficiary.id, Beneficiary.reference_id).where(
            Beneficiary.id.in_([a.beneficiary_id for a in appointments]))).all())
        appointments = [a for a in appointments if refs[a.beneficiary_id] in wanted]
        if len(appointments) != len(wanted):
            session.rollback()
            raise NotFound(_("No such person in this appointment."),
                           code="beneficiary_not_found")
    cancelled = []
    for appointment in appointments:
        later = []
        if appointment.dose_number == 1:
            later = list(session.scalars(select(Appointment).where(
                Appointment.beneficiary_id == appointment.beneficiary_id,
                Appointment.status == "booked", Appointment.dose_number > 1)
                .with_for_update()))
        for item in [appointment, *later]:
            release_seats(session, item)
            item.status = "cancelled"
            audit.record(session, "appointment.cancel", "appointment", item.id,
                         place=_session_place(session, item.session_id))
            cancelled.append(item)
    queue_cancelled(session, cancelled, "citizen")
    session.commit()
    return cancelled


def live_appointments(session: Session, beneficiary_ids: list[int]) -> list[Appointment]:
    if not beneficiary_ids:
        return []
    return list(session.scalars(select(Appointment).where(
        Appointment.beneficiary_id.in_(beneficiary_ids), Appointment.status == "booked")
        .order_by(Appointment.dose_number)))
