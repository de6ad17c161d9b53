"""Facilities and vaccination sessions: creating and publishing them."""

from __future__ import annotations

import json
import math
import time as clock
import uuid
import weakref
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import (
    Integer, String, Text, any_, bindparam, cast, exists, func, insert, literal, literal_column,
    null, select, type_coerce, union_all, update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit import metrics, plugins
from cowin_kit.audit import services as audit
from cowin_kit.audit.models import AuditEvent
from cowin_kit.config.runtime import ActivePack
from cowin_kit.db import DriverStatement, autocommit_connection, new_uuid, utcnow
from cowin_kit.errors import Conflict, InvalidInput, NotFound, RuleViolation
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.registration.services import TokenHolder, invalid_token
from cowin_kit.registration.rules import age_on
from cowin_kit.geography.models import Facility, Location
from cowin_kit.i18n import gettext as _
from cowin_kit.scheduling import rules
from cowin_kit.scheduling.models import (
    Appointment, SessionDoseCapacity, SessionSlot, VaccinationSession,
)
from cowin_kit.programme import catalogue
from cowin_kit.programme.models import VaccineProduct




def _settings():
    return current_app.config["COWIN_KIT"]


def _local_now(pack: ActivePack, now: datetime | None) -> datetime:
    moment = now or datetime.now(timezone.utc)
    return moment.astimezone(zoneinfo.ZoneInfo(pack.document["timezone"]))


def _cutoff() -> tuple[int, int]:
    hour, _sep, minute = _settings()["BOOKING_CUTOFF_TIME"].partition(":")
    return int(hour), int(minute or 0)


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
            else _cowin_slot_label(candidate)
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
    local_now = _local_now(pack, now)
    hour, minute = _cutoff()
    if given_by_member is None:
        given_by_member = _history(session, [member.id for member in members])
    plan = []
    for member in members:
        given = given_by_member[member.id]
        dose_number = dose or rules.next_dose_number(given)
        try:
            rules.check_booking(
                age=age_on(vaccination_session.session_date, member.birth_year, member.birth_date),
                session=facts, dose_number=dose_number, given=given, schedules=schedules,
                today=local_now.date(), now_local=local_now, cutoff_hour=hour,
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

    Reads and writes plain rows (see _build_statements): the rules, the conditional
    UPDATEs that take the seats, and the appointment and audit rows (audit.values: the
    event audit.record would add) are as with ORM objects, and are written together or not
    at all. On PostgreSQL each member's seats, appointment and audit event are one
    statement (_book_member_statement). ``account`` is the CitizenAccount or, from the API,
    only what the citizen's token names (TokenHolder): the members' read checks that the
    account still exists with that mobile (401 if not).

    On PostgreSQL a booking for one member, when ``session`` has no transaction of its own
    yet (every API request), runs on a pooled connection in autocommit mode, without BEGIN
    and COMMIT (two round trips less): its one write statement is all or nothing by
    itself, and the reads before it see what they would see in a transaction at READ
    COMMITTED, a snapshot per statement. Otherwise it runs in the session's transaction,
    which it commits."""
    if session.autoflush:
        session.flush()  # what the caller added is seen, as autoflush did for ORM queries
    bind = session.get_bind()
    one_statement = (len(reference_ids) == 1 and not session.in_transaction()
                     and bind.dialect.name == "postgresql")
    for last_try in (False, True):
        try:
            if one_statement:
                with autocommit_connection(bind) as connection:
                    # the session's facts as this process last read them, on the first try
                    booking = _book_seats(session, connection, pack, account, session_id,
                                          slot, reference_ids, dose, now, not last_try)
            else:
                booking = _book_seats(session, session.connection(), pack, account,
                                      session_id, slot, reference_ids, dose, now, False)
            break
        except _SessionChanged:
            # changed since it was read: once more with the session read afresh (changed
            # again in that moment: its seats are being changed, take it as full)
            if last_try:
                raise _fully_booked(session) from None
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
    found = _members_and_history(connection, account, reference_ids)
    vaccination_session = _bookable_session(connection, session_id, reuse_session)
    try:
        chosen_slot = _slot(vaccination_session, slot)
        members, given, live = found.checked(reference_ids).members, found.given, found.live
        plan = _check_members(session, pack, vaccination_session, members, dose, now, given)
    except (InvalidInput, RuleViolation):
        # refused on facts this process kept: refused only if they are still the session's
        if reuse_session and _session_changed(connection, vaccination_session):
            raise _SessionChanged from None
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
                                      booking=booking_id,
                                      vaccination_session=vaccination_session.id,
                                      dose=dose_number),
                       "occurred_at": moment})
    try:
        if connection.dialect.name == "postgresql":
            statement = _statement("book_member_postgresql")
            for row, event in zip(appointments, events):
                values = _book_member_values(row, event, vaccination_session.version)
                if statement.execute(connection, values).fetchone() is None:
                    if _session_changed(connection, vaccination_session):
                        session.rollback()
                        raise _SessionChanged
                    raise _fully_booked(session)
        else:
            for row in appointments:
                _claim(session, vaccination_session, chosen_slot, row["dose_number"])
            connection.execute(_statement("insert_appointment"), appointments)
            connection.execute(_statement("insert_audit"), events)
    except IntegrityError:
        raise _already_booked(session) from None
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
    rows = list(session.scalars(query)) if _looks_like_uuid(booking_id) else []
    if not rows:
        raise NotFound(_("No such appointment."), code="appointment_not_found")
    return rows


def reschedule(session: Session, pack: ActivePack, account: CitizenAccount, *,
               booking_id: str, session_id: str, slot: str,
               now: datetime | None = None) -> list[Appointment]:
    appointments = booking_appointments(session, account, booking_id)
    current = session.get(VaccinationSession, appointments[0].session_id)
    local_now = _local_now(pack, now)
    try:
        rules.check_reschedule(appointment_day=current.session_date, today=local_now.date(),
                               reschedule_count=max(a.reschedule_count for a in appointments),
                               max_reschedules=_settings()["MAX_RESCHEDULES"])
    except rules.BookingRefused as exc:
        session.rollback()
        raise _refused(exc) from None
    target = _published_session(session, session_id)
    target_slot = _slot(target, slot)
    members = [session.get(Beneficiary, a.beneficiary_id) for a in appointments]
    _check_members(session, pack, target, members,
                   None if len({a.dose_number for a in appointments}) > 1
                   else appointments[0].dose_number, now)
    for appointment in appointments:
        _release(session, appointment)
        _claim(session, target, target_slot, appointment.dose_number)
        appointment.session_id, appointment.slot_id = target.id, target_slot.id
        appointment.reschedule_count += 1
        audit.record(session, "appointment.reschedule", "appointment", appointment.id,
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
            _release(session, item)
            item.status = "cancelled"
            audit.record(session, "appointment.cancel", "appointment", item.id)
            cancelled.append(item)
    _queue_cancelled(session, cancelled, "citizen")
    session.commit()
    return cancelled


def live_appointments(session: Session, beneficiary_ids: list[int]) -> list[Appointment]:
    if not beneficiary_ids:
        return []
    return list(session.scalars(select(Appointment).where(
        Appointment.beneficiary_id.in_(beneficiary_ids), Appointment.status == "booked")
        .order_by(Appointment.dose_number)))
