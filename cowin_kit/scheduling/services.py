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


# --- booking ------------------------------------------------------------------------------



class FullyBooked(Conflict):
    code = "fully_booked"


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


def _build_statements() -> dict[str, Any]:
    """The booking's queries, built once (on first use, when every mapper is known) rather
    than per request; the values are bound when each runs. The booking reads and writes
    plain rows with Core statements on the tables (no ORM objects, no identity map, no
    unit of work): measured per booking, loading and flushing ORM objects cost more CPU
    than the statements themselves."""
    doses = (select(literal("dose"), Dose.beneficiary_id, Dose.dose_number, VaccineProduct.code,
                    Dose.administered_at)
             .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
             .where(Dose.beneficiary_id.in_(bindparam("ids", expanding=True))))
    seats, slots = SessionDoseCapacity.__table__.c, SessionSlot.__table__.c
    sessions, facilities = VaccinationSession.__table__.c, Facility.__table__.c
    members, given = Beneficiary.__table__.c, Dose.__table__.c
    products, appointments = VaccineProduct.__table__.c, Appointment.__table__.c
    accounts = CitizenAccount.__table__.c

    def none(column: Any) -> Any:
        # a NULL typed as ``column``: the first SELECT of a UNION types the result columns
        return type_coerce(null(), column.type)

    # the session with its facility, slots and seats per dose: one row per slot and dose
    # (outer joins, as the ORM's joined loading of these relationships did)
    bookable_session = (
        select(sessions.id, sessions.facility_id, sessions.session_date,
               sessions.product_id, sessions.min_age, sessions.max_age, sessions.status,
               facilities.code, facilities.name, facilities.names, sessions.version,
               slots.id, slots.starts_at, slots.ends_at, seats.dose_number, seats.capacity)
        .select_from(VaccinationSession.__table__
                     .join(Facility.__table__, facilities.id == sessions.facility_id)
                     .outerjoin(SessionSlot.__table__, slots.session_id == sessions.id)
                     .outerjoin(SessionDoseCapacity.__table__, seats.session_id == sessions.id))
        .where(sessions.id == bindparam("session_id"))
        .order_by(slots.starts_at, slots.id, seats.dose_number))

    def members_and_history(named: Any, by_member_ids: bool) -> Any:
        # the account's members named in the request, their given doses, their live
        # appointments, and the account itself if it still has the mobile the token names
        # (so a booking needs no read of its own for that): one round trip (kind, member
        # or account id, then the columns of each kind)
        owned = (members.account_id == bindparam("account_id"), named)
        # a literal, not a parameter: a prepared statement's generic plan may then use the
        # partial unique index of live appointments (status = 'booked')
        live = appointments.status == literal_column("'booked'", String)
        if by_member_ids:
            # PostgreSQL: doses and appointments found by the members' ids, worked out
            # first (an InitPlan: = ANY(array)), so that every plan reads them through
            # their beneficiary_id indexes. Joined to the members instead, a plan kept by a
            # prepared statement from statistics taken while the appointment table was
            # nearly empty read every live appointment per booking.
            # (the cast makes it ANY(array), not ANY(subquery))
            ids = cast(select(func.array_agg(members.id)).where(*owned).scalar_subquery(),
                       ARRAY(Integer))
            doses_from, doses_where = (
                Dose.__table__.join(VaccineProduct.__table__, products.id == given.product_id),
                (given.beneficiary_id == any_(ids),))
            bookings_from, bookings_where = Appointment.__table__, (
                appointments.beneficiary_id == any_(ids), live)
        else:
            doses_from, doses_where = (
                Dose.__table__.join(Beneficiary.__table__, members.id == given.beneficiary_id)
                .join(VaccineProduct.__table__, products.id == given.product_id), owned)
            bookings_from, bookings_where = (
                Appointment.__table__.join(Beneficiary.__table__,
                                           members.id == appointments.beneficiary_id),
                (*owned, live))
        return union_all(
            select(literal("member"), members.id, members.reference_id, members.name,
                   members.birth_year, members.birth_date, none(given.dose_number),
                   none(products.code), none(given.administered_at))
            .where(*owned),
            select(literal("dose"), given.beneficiary_id, null(), null(), null(), null(),
                   given.dose_number, products.code, given.administered_at)
            .select_from(doses_from).where(*doses_where),
            select(literal("live"), appointments.beneficiary_id, null(), null(), null(), null(),
                   appointments.dose_number, null(), null())
            .select_from(bookings_from).where(*bookings_where),
            select(literal("account"), accounts.id, null(), null(), null(), null(), null(),
                   null(), null())
            .where(accounts.id == bindparam("account_id"),
                   accounts.mobile == bindparam("account_mobile")))

    return {
        # _claim's conditional UPDATEs (the same SQL as when built per call on the ORM
        # classes; as Core statements they cost a third of the CPU)
        "claim_dose": (
            update(SessionDoseCapacity.__table__)
            .where(seats.session_id == bindparam("claim_session"),
                   seats.dose_number == bindparam("claim_dose"),
                   seats.booked < seats.capacity)
            .values(booked=seats.booked + 1)),
        "claim_slot": (
            update(SessionSlot.__table__)
            .where(slots.id == bindparam("claim_slot"), slots.booked < slots.capacity)
            .values(booked=slots.booked + 1)),
        "bookable_session": bookable_session,
        "members_and_history": members_and_history(
            members.reference_id.in_(bindparam("reference_ids", expanding=True)),
            by_member_ids=False),
        "insert_appointment": insert(Appointment.__table__),
        "insert_audit": insert(AuditEvent.__table__),
        "doses": doses,
        # PostgreSQL: the booking's three statements, run through the driver (see
        # cowin_kit.db.DriverStatement), the member list as one array parameter
        "members_and_history_postgresql": DriverStatement(members_and_history(
            members.reference_id == any_(bindparam("reference_ids", type_=ARRAY(String))),
            by_member_ids=True)),
        "bookable_session_postgresql": DriverStatement(bookable_session),
        "session_version_postgresql": DriverStatement(
            select(sessions.version).where(sessions.id == bindparam("session_id"))),
        "book_member_postgresql": DriverStatement(_book_member_statement()),
    }


def _book_member_statement() -> Any:
    """PostgreSQL: one member's booking in one statement (one round trip instead of four),
    all or nothing on its own, so that a one-member booking needs no transaction around it.

    ``seats`` locks the dose's seat row and the slot's row together (SELECT ... FOR UPDATE
    on their join), and only if both still have a free seat and the session is still at
    the version the rules were checked against (``session_version``, see
    BookableSession): PostgreSQL re-checks the seats on the newest row versions once it
    holds the locks, so two requests can never both take the last seat (no read-then-write
    race). Only then do the two UPDATEs take one seat each, the appointment is inserted
    and its audit event written, chained by their RETURNING rows in data-modifying CTEs.
    The statement returns the appointment's id, or no row and changes nothing if either
    seat was gone or the session changed (a dose seat is never taken without its slot
    seat, or the other way round).

    Its values (_book_member_values): each given once (the session, slot and dose of the
    claim are the appointment's too; its creation time is its update time and the audit
    event's), what every booking writes the same is written in the statement: every
    parameter costs the driver CPU per booking."""
    seats, slots = SessionDoseCapacity.__table__.c, SessionSlot.__table__.c
    sessions = VaccinationSession.__table__.c
    appointments, events = Appointment.__table__, AuditEvent.__table__
    session_id, slot_id, dose_number, created_at = (
        bindparam("claim_session", type_=String), bindparam("claim_slot", type_=Integer),
        bindparam("claim_dose", type_=Integer),
        bindparam("created_at", type_=appointments.c.created_at.type))
    one = literal_column("1", Integer)
    free = (select(seats.dose_number, slots.id)
            .select_from(SessionDoseCapacity.__table__
                         .join(SessionSlot.__table__, slots.id == slot_id)
                         .join(VaccinationSession.__table__,
                               sessions.id == seats.session_id))
            .where(seats.session_id == session_id, seats.dose_number == dose_number,
                   seats.booked < seats.capacity, slots.booked < slots.capacity,
                   sessions.version == bindparam("session_version", type_=Integer))
            .with_for_update(of=[SessionDoseCapacity.__table__, SessionSlot.__table__])
            .cte("seats"))
    dose = (update(SessionDoseCapacity.__table__)
            .where(seats.session_id == session_id, seats.dose_number == dose_number,
                   exists(select(free.c.dose_number)))
            .values(booked=seats.booked + one)
            .returning(seats.dose_number).cte("claimed_dose"))
    slot = (update(SessionSlot.__table__)
            .where(slots.id == slot_id, exists(select(free.c.id)))
            .values(booked=slots.booked + one)
            .returning(slots.id).cte("claimed_slot"))
    appointment = {
        "id": bindparam("appointment_id", type_=String),
        "booking_id": bindparam("booking_id", type_=String),
        "beneficiary_id": bindparam("beneficiary_id", type_=Integer),
        "session_id": session_id, "slot_id": slot_id, "dose_number": dose_number,
        "status": literal_column("'booked'", String),
        "reschedule_count": literal_column("0", Integer),
        "account_id": bindparam("account_id", type_=Integer),
        "created_at": created_at, "updated_at": created_at}
    booked = (insert(appointments)
              .from_select(list(appointment), select(*appointment.values())
                           .where(exists(select(dose.c.dose_number)),
                                  exists(select(slot.c.id))))
              .returning(appointments.c.id).cte("booked"))
    event = {
        "occurred_at": created_at,
        "action": literal_column("'appointment.book'", String),
        "object_type": literal_column("'appointment'", String), "object_id": booked.c.id,
        **{name: bindparam(f"audit_{name}", type_=events.c[name].type)
           for name in ("actor_type", "actor_id", "request_id", "source_ip", "details")}}
    return (insert(events)
            .from_select(list(event), select(*event.values()).select_from(booked))
            .returning(events.c.object_id))


def _book_member_values(row: dict[str, Any], event: dict[str, Any], version: int
                        ) -> dict[str, Any]:
    """The values of _book_member_statement for one appointment row and its audit event
    (audit.values)."""
    return {"claim_session": row["session_id"], "claim_slot": row["slot_id"],
            "claim_dose": row["dose_number"], "session_version": version,
            "appointment_id": row["id"], "booking_id": row["booking_id"],
            "beneficiary_id": row["beneficiary_id"], "account_id": row["account_id"],
            "created_at": row["created_at"], "audit_actor_type": event["actor_type"],
            "audit_actor_id": event["actor_id"], "audit_request_id": event["request_id"],
            "audit_source_ip": event["source_ip"], "audit_details": event["details"]}


_STATEMENTS: dict[str, Any] = {}


def _statement(name: str) -> Any:
    if not _STATEMENTS:
        _STATEMENTS.update(_build_statements())
    return _STATEMENTS[name]


def published_session(session: Session, session_id: str) -> VaccinationSession:
    found = session.get(VaccinationSession, str(session_id)) if _looks_like_uuid(session_id) else None
    if found is None:
        raise NotFound(_("No such session."), code="session_not_found")
    return found


@dataclass(slots=True, eq=False)
class BookingSlot:
    """A slot as a booking reads it (a copy of its row), with SessionSlot's attribute names;
    its two spellings made once (it is kept with its BookableSession; formatting times
    cost more than a booking's rules)."""
    id: int
    starts_at: time
    ends_at: time
    label: str = field(init=False)  # as SessionSlot.label
    cowin_label: str = field(init=False)  # as cowin_slot_label

    def __post_init__(self) -> None:
        self.label = f"{self.starts_at:%H:%M}-{self.ends_at:%H:%M}"
        self.cowin_label = cowin_slot_label(self)


@dataclass(slots=True, eq=False)
class DoseSeats:
    dose_number: int
    capacity: int


@dataclass(slots=True, eq=False)
class BookableSession:
    """A session as a booking reads it, with its facility's code and names, its slots and
    its seats per dose: the attributes of VaccinationSession that the rules read, at
    ``version`` (never changed once read: a process keeps and shares them, see
    _bookable_session)."""
    id: str
    facility_id: int
    session_date: date
    product_id: int
    min_age: int
    max_age: int | None
    status: str
    facility_code: str
    facility_name: str
    facility_names: dict[str, str]
    version: int
    slots: list[BookingSlot] = field(default_factory=list)
    capacities: list[DoseSeats] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class BookingMember:
    """A member as a booking reads it: what the rules and the answer need."""
    id: int
    reference_id: str
    name: str
    birth_year: int
    birth_date: date | None


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


def _rows(connection: Any, name: str, values: dict[str, Any]) -> Any:
    """The rows of one of the booking's reads: on PostgreSQL through the driver
    (``<name>_postgresql``), elsewhere through SQLAlchemy; tuples in the same order."""
    if connection.dialect.name == "postgresql":
        return _statement(f"{name}_postgresql").execute(connection, values).fetchall()
    return connection.execute(_statement(name), values).all()


# The bookable facts of sessions as this process last read them, per database (engine):
# session id -> (monotonic time until which they may be used, BookableSession). In a
# stampede most bookings are for a few sessions, and a booking that reuses them saves a
# round trip and a four-table read. Reusing them is safe because the booking's write
# takes seats only if the session is still at the version read (_book_member_statement);
# if not, the booking reads the session again and starts over (book_seats). The time
# limit only bounds how long a facility's renamed name may still show in answers.
_KEPT_SESSIONS: weakref.WeakKeyDictionary[Any, dict[str, tuple[float, BookableSession]]] = \
    weakref.WeakKeyDictionary()
KEEP_SESSION_SECONDS = 60.0
KEEP_SESSIONS_AT_MOST = 10_000


def _kept_sessions(engine: Any) -> dict[str, tuple[float, BookableSession]]:
    kept = _KEPT_SESSIONS.get(engine)
    if kept is None:
        kept = _KEPT_SESSIONS.setdefault(engine, {})
    return kept


def _bookable_session(connection: Any, session_id: str, reuse: bool = False
                      ) -> BookableSession:
    """The session as published_session finds it, with its facility, slots and seats per
    dose, in one round trip of plain rows; with ``reuse``, as this process last read it
    if that was less than KEEP_SESSION_SECONDS ago (no round trip at all)."""
    kept = _kept_sessions(connection.engine)
    if reuse:
        entry = kept.get(session_id)
        if entry is not None and entry[0] > clock.monotonic():
            return entry[1]
    rows = _rows(connection, "bookable_session", {"session_id": str(session_id)}) \
        if _looks_like_uuid(session_id) else None
    if not rows:
        raise NotFound(_("No such session."), code="session_not_found")
    first = rows[0]
    found = BookableSession(*first[:11])
    slot_ids: set[int] = set()
    doses: set[int] = set()
    for row in rows:  # one row per slot and dose: each slot and dose once, in order
        if row[11] is not None and row[11] not in slot_ids:
            slot_ids.add(row[11])
            found.slots.append(BookingSlot(row[11], row[12], row[13]))
        if row[14] is not None and row[14] not in doses:
            doses.add(row[14])
            found.capacities.append(DoseSeats(row[14], row[15]))
    found.capacities.sort(key=lambda seats: seats.dose_number)
    if len(kept) >= KEEP_SESSIONS_AT_MOST:
        kept.clear()  # a bound, not an LRU: the hot sessions are read again at once
    kept[found.id] = (clock.monotonic() + KEEP_SESSION_SECONDS, found)
    return found


def _forget_session(connection: Any, session_id: str) -> None:
    _kept_sessions(connection.engine).pop(session_id, None)


class _SessionChanged(Exception):
    """The booking's write found the session at another version than the one its rules
    were checked against (changed meanwhile); nothing was written."""


def _session_changed(connection: Any, seen: BookableSession) -> bool:
    """Whether the session is no longer at the version ``seen`` (then forgotten by this
    process): after a booking's write took no seat, to tell a change from a full session."""
    version = _statement("session_version_postgresql").execute(
        connection, {"session_id": seen.id}).fetchone()
    if version is not None and version[0] == seen.version:
        return False
    _forget_session(connection, seen.id)
    return True


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _slot(vaccination_session: VaccinationSession, slot: str) -> SessionSlot:
    wanted = str(slot).replace(" ", "")
    for candidate in vaccination_session.slots:
        cowin_label = candidate.cowin_label if isinstance(candidate, BookingSlot) \
            else cowin_slot_label(candidate)
        if wanted in (candidate.label, cowin_label):
            return candidate
    raise InvalidInput(_("This session has no slot %(slot)s.", slot=slot), code="invalid_slot",
                       fields={"slot": [_("Choose one of the session's slots.")]})


def cowin_slot_label(slot: SessionSlot | BookingSlot) -> str:
    """CoWIN's slot spelling, e.g. 09:00AM-11:00AM."""
    return f"{slot.starts_at:%I:%M%p}-{slot.ends_at:%I:%M%p}"


@dataclass(slots=True, eq=False)
class MembersRead:
    """What _members_and_history read: the account's members named (ordered by id), the
    doses given to them, and their live appointments as (member id, dose number)."""
    members: list[BookingMember]
    given: dict[int, list[rules.GivenDose]]
    live: set[tuple[int, int]]

    def checked(self, reference_ids: list[str]) -> MembersRead:
        """Itself if it names each member asked for once, else the refusal."""
        if not reference_ids or len(set(reference_ids)) != len(reference_ids):
            raise InvalidInput(_("Name each member once."), code="invalid_beneficiaries")
        if len(self.members) != len(reference_ids):
            raise NotFound(_("No such person in this account."), code="beneficiary_not_found")
        return self


def _members_and_history(connection: Any, account: CitizenAccount | TokenHolder,
                         reference_ids: list[str]) -> MembersRead:
    """The members named, their doses and live appointments, in one round trip; 401 if
    the account is gone or no longer has the token's mobile (``account`` may be what the
    token says, not yet read). The members are checked against the request by the caller
    (MembersRead.checked), after its other look-ups, so that the refusals come in the order
    they always did."""
    members: list[BookingMember] = []
    given: dict[int, list[rules.GivenDose]] = {}
    booked: set[tuple[int, int]] = set()
    account_found = False
    for kind, member_id, reference, name, year, born, number, code, at in _rows(
            connection, "members_and_history",
            {"account_id": account.id, "account_mobile": account.mobile,
             "reference_ids": [str(r) for r in reference_ids]}):
        if kind == "member":
            members.append(BookingMember(member_id, reference, name, year, born))
        elif kind == "dose":  # the day in UTC, as the ORM's UTCDateTime gives it
            given.setdefault(member_id, []).append(
                rules.GivenDose(number, code, at.astimezone(timezone.utc).date()))
        elif kind == "live":
            booked.add((member_id, number))
        else:
            account_found = True
    if not account_found:
        raise invalid_token()
    members.sort(key=lambda member: member.id)
    for member in members:
        given.setdefault(member.id, [])
    return MembersRead(members, given, booked)


def _history(session: Session, member_ids: list[int]) -> dict[int, list[rules.GivenDose]]:
    """The doses given to these members: one round trip for all members."""
    given: dict[int, list[rules.GivenDose]] = {member_id: [] for member_id in member_ids}
    for _kind, member_id, number, code, at in session.execute(_statement("doses"),
                                                              {"ids": member_ids}):
        given[member_id].append(rules.GivenDose(number, code, at.date()))
    return given


def _session_facts(vaccination_session: VaccinationSession, product_code: str) -> rules.SessionFacts:
    return rules.SessionFacts(
        day=vaccination_session.session_date, product_code=product_code,
        min_age=vaccination_session.min_age, max_age=vaccination_session.max_age,
        status=vaccination_session.status,
        doses_offered=tuple(c.dose_number for c in vaccination_session.capacities if c.capacity > 0))


def _claim(session: Session, vaccination_session: VaccinationSession | BookableSession,
           slot: SessionSlot | BookingSlot, dose_number: int) -> None:
    """Take one seat of the dose and one of the slot, atomically in the database: the
    conditional UPDATE is evaluated on the locked row, so two requests can never both
    take the last seat (no read-then-write race). The statements are prebuilt on the
    tables (see _build_statements) and run on the session's connection (they touch no ORM
    object); pending changes are flushed first, as the session's autoflush did when they
    were ORM statements."""
    if session.autoflush:
        session.flush()
    connection = session.connection()
    taken = connection.execute(_statement("claim_dose"),
                               {"claim_session": vaccination_session.id,
                                "claim_dose": dose_number}).rowcount
    if taken == 1:
        taken = connection.execute(_statement("claim_slot"), {"claim_slot": slot.id}).rowcount
    if taken != 1:
        raise _fully_booked(session)


def _fully_booked(session: Session) -> FullyBooked:
    """The error of a seat not taken, after rolling back the seats taken before it."""
    session.rollback()
    return FullyBooked(_("This session is fully booked. Please choose another one."))


def _already_booked(session: Session) -> Conflict:
    """The error of an appointment the partial unique index refused (the same member
    booked the same dose at the same moment), after rolling back."""
    session.rollback()
    return Conflict(_("An appointment for this dose already exists."), code="already_booked")


def _release(session: Session, appointment: Appointment) -> None:
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
    target = published_session(session, session_id)
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


def _queue_cancelled(session: Session, appointments: list[Appointment], reason: str) -> None:
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


def live_appointments(session: Session, beneficiary_ids: list[int]) -> list[Appointment]:
    if not beneficiary_ids:
        return []
    return list(session.scalars(select(Appointment).where(
        Appointment.beneficiary_id.in_(beneficiary_ids), Appointment.status == "booked")
        .order_by(Appointment.dose_number)))


# --- availability -------------------------------------------------------------------------
#
# The search reads plain rows (Core selects of the columns it shows, no ORM objects and no
# identity map) into the small slotted classes below, which carry the attribute names of
# the models that the API views, the pages and the slot alerts read. An answer of a
# district (about 133 sessions, 400 slots) built ORM objects for about half of its time.


@dataclass(slots=True, eq=False)
class Place:
    """A location as the search shows it (a copy of its row). Places are kept per snapshot
    of the installed pack (see _places_memo): locations change only with a pack install."""
    id: int
    code: str
    parent_id: int | None
    level: int
    name: str
    names: dict[str, str]

    def localized_name(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get(locale.split("_")[0]) or self.name


@dataclass(slots=True, eq=False)
class FacilityRow:
    """The facility columns of a search answer (a row, not a Facility object)."""
    id: int
    code: str
    name: str
    names_json: str | None             # ``names`` as the database's JSON text
    location_id: int
    address: str
    postal_code: str | None
    latitude: float | None
    longitude: float | None
    facility_type: str
    fee_type: str
    opens_at: time | None
    closes_at: time | None

    @property
    def names(self) -> dict[str, str]:
        return _json_names(self.names_json)


_NAMES: dict[str, dict[str, str]] = {}


def _json_names(text: str | None) -> dict[str, str] | None:
    """A names document decoded once per process: most facilities share a few (often
    ``{}``), and decoding each row's copy was a good part of a search's cost. The dicts
    are shared, so they are read, never changed."""
    if text is None:
        return None
    names = _NAMES.get(text)
    if names is None:
        if len(_NAMES) >= 4096:  # arbitrary names cannot grow it without bound
            _NAMES.clear()
        names = _NAMES[text] = json.loads(text)
    return names


@dataclass(slots=True, eq=False)
class SessionRow:
    """The vaccination session columns of a search answer."""
    id: str
    facility_id: int
    session_date: date
    product_id: int
    min_age: int
    max_age: int | None
    fee: Decimal
    status: str


@dataclass(slots=True, eq=False)
class SlotRow:
    """A session's time slot in a search answer; ``label`` as SessionSlot.label, and
    ``cowin_label`` as CoWIN spells it (cowin_slot_label)."""
    id: int
    session_id: str
    starts_at: time
    ends_at: time
    capacity: int
    booked: int
    label: str
    cowin_label: str


@dataclass(slots=True)
class SessionAvailability:
    session: SessionRow
    product_code: str
    product_names: dict[str, str]
    available: dict[int, int]          # dose number -> seats left
    slots: list[SlotRow]

    @property
    def available_total(self) -> int:
        return sum(self.available.values())


@dataclass(slots=True)
class CentreAvailability:
    facility: FacilityRow | Facility   # a row from the search; views may pass a Facility
    path: list[Place]                  # level 1 .. the facility's location
    sessions: list[SessionAvailability] = field(default_factory=list)
    distance_km: float | None = None


_FACILITY = Facility.__table__.c
_SESSION = VaccinationSession.__table__.c
_SEATS = SessionDoseCapacity.__table__.c
_SLOT = SessionSlot.__table__.c
_LOCATION = Location.__table__.c
_FACILITY_COLUMNS = (_FACILITY.id, _FACILITY.code, _FACILITY.name,
                     cast(_FACILITY.names, Text).label("names_json"),
                     _FACILITY.location_id, _FACILITY.address, _FACILITY.postal_code,
                     _FACILITY.latitude, _FACILITY.longitude, _FACILITY.facility_type,
                     _FACILITY.fee_type, _FACILITY.opens_at, _FACILITY.closes_at)
_SESSION_COLUMNS = (_SESSION.id, _SESSION.facility_id, _SESSION.session_date,
                    _SESSION.product_id, _SESSION.min_age, _SESSION.max_age, _SESSION.fee,
                    _SESSION.status)
_N_SESSION = len(_SESSION_COLUMNS)
_ID_CHUNK = 1000
# Statements built once per process and database dialect (their compiled forms are then
# found in SQLAlchemy's cache without building them again); the searches by their filters.
_AVAILABILITY_STATEMENTS: dict[tuple, Any] = {}


def _one_of(column: Any, name: str, dialect: str, inline: bool = False) -> Any:
    """``column`` is one of the list bound as ``name``. On PostgreSQL ``= ANY(array)``: one
    parameter, so the statement's text is the same for every list (the driver converts and
    prepares it once, instead of an IN list of 133 placeholders rendered, parsed and
    planned per request). With ``inline`` (PostgreSQL) the values are written into the
    statement instead (a few ids or days): the search's plan depends on them, and a
    prepared statement's generic plan for "any of these places on any of these days" is
    a parallel scan of all sessions (80 ms), so it must never be used. Elsewhere an
    expanding IN."""
    if dialect == "postgresql" and not inline:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True,
                                literal_execute=inline and dialect == "postgresql"))


def _one_of_session_ids(column: Any, dialect: str) -> Any:
    """``column`` is one of the session ids bound as ``ids`` (see :func:`_session_ids`). On
    PostgreSQL the ids travel as one comma-separated text split by the server: psycopg
    converts a Python list of 133 strings into an array parameter in Python code, which
    cost more than the statement's own execution."""
    if dialect == "postgresql":
        return column == any_(func.string_to_array(bindparam("ids", type_=String), ","))
    return _one_of(column, "ids", dialect)


def _session_ids(ids: list[str], dialect: str) -> Any:
    """The ``ids`` parameter of :func:`_one_of_session_ids` (ids are UUIDs: no commas)."""
    return ",".join(ids) if dialect == "postgresql" else ids


def _availability_statement(dialect: str, name: str) -> Any:
    statement = _AVAILABILITY_STATEMENTS.get((dialect, name))
    if statement is not None:
        return statement
    if name == "place":
        statement = (select(_LOCATION.id, _LOCATION.code, _LOCATION.parent_id, _LOCATION.level,
                            _LOCATION.name, _LOCATION.names)
                     .where(_LOCATION.id == bindparam("place_id")))
    elif name == "children":
        statement = select(_LOCATION.id).where(_one_of(_LOCATION.parent_id, "parents", dialect))
    elif name == "seats":
        statement = (select(_SEATS.session_id, _SEATS.dose_number, _SEATS.capacity - _SEATS.booked)
                     .where(_one_of_session_ids(_SEATS.session_id, dialect)))
    elif name == "slots":
        statement = (select(_SLOT.id, _SLOT.session_id, _SLOT.starts_at, _SLOT.ends_at,
                            _SLOT.capacity, _SLOT.booked)
                     .where(_one_of_session_ids(_SLOT.session_id, dialect))
                     .order_by(_SLOT.starts_at))
    elif name == "near":
        statement = select(*_FACILITY_COLUMNS).where(
            _FACILITY.latitude.between(bindparam("lat_low"), bindparam("lat_high")),
            _FACILITY.longitude.between(bindparam("long_low"), bindparam("long_high")))
    else:
        raise KeyError(name)
    _AVAILABILITY_STATEMENTS[(dialect, name)] = statement
    return statement


def _search_statement(dialect: str, kind: str, by_place: bool, by_postal_code: bool,
                      by_ids: bool, by_fee: bool, by_product: bool, by_age: bool) -> Any:
    """The facilities (``kind`` "facilities") or the published sessions on the days with
    their facilities ("sessions") that a search's filters select, built once per set of
    filters; the values are bound when it runs."""
    key = (dialect, kind, by_place, by_postal_code, by_ids, by_fee, by_product, by_age)
    statement = _AVAILABILITY_STATEMENTS.get(key)
    if statement is not None:
        return statement
    where = []
    if by_place:
        where.append(_one_of(_FACILITY.location_id, "places", dialect, inline=True))
    if by_postal_code:
        where.append(_FACILITY.postal_code == bindparam("postal_code"))
    if by_ids:
        where.append(_one_of(_FACILITY.id, "facility_ids", dialect, inline=True))
    if by_fee:
        where.append(_FACILITY.fee_type == bindparam("fee_type"))
    if kind == "facilities":
        statement = select(*_FACILITY_COLUMNS).where(*where).order_by(_FACILITY.id)
    else:
        where += [_one_of(_SESSION.session_date, "days", dialect, inline=True),
                  _SESSION.status == "published"]
        if by_product:
            products = VaccineProduct.__table__.c
            where.append(_SESSION.product_id.in_(
                select(products.id).where(products.code == bindparam("product_code"))
                .scalar_subquery()))
        if by_age:
            where += [_SESSION.min_age <= bindparam("age"),
                      _SESSION.max_age.is_(None) | (_SESSION.max_age >= bindparam("age"))]
        statement = (select(*_SESSION_COLUMNS, *_FACILITY_COLUMNS)
                     .join_from(VaccinationSession.__table__, Facility.__table__,
                                _FACILITY.id == _SESSION.facility_id)
                     .where(*where)
                     .order_by(_SESSION.facility_id, _SESSION.session_date))
    _AVAILABILITY_STATEMENTS[key] = statement
    return statement


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


_SLOT_LABELS: dict[tuple[time, time], tuple[str, str]] = {}


def _slot_labels(starts_at: time, ends_at: time) -> tuple[str, str]:
    """(label, CoWIN label) of a slot's times, formatted once per process: sessions share
    a handful of slot times, and strftime is a good part of an answer's cost."""
    key = (starts_at, ends_at)
    labels = _SLOT_LABELS.get(key)
    if labels is None:
        if len(_SLOT_LABELS) >= 4096:  # arbitrary times cannot grow it without bound
            _SLOT_LABELS.clear()
        labels = _SLOT_LABELS[key] = (f"{starts_at:%H:%M}-{ends_at:%H:%M}",
                                      f"{starts_at:%I:%M%p}-{ends_at:%I:%M%p}")
    return labels


def _snapshot() -> ActivePack | None:
    from cowin_kit.config.runtime import active_pack

    try:
        return active_pack()
    except NotFound:  # no pack installed yet: nothing is kept
        return None


def _places_memo(pack: ActivePack | None, name: str) -> dict:
    """A dict kept with this snapshot of the installed pack (shared by the process's
    threads, dropped with the snapshot), or a new one for this call without a pack."""
    return pack.memo(("scheduling", name), dict) if pack is not None else {}


def place(session: Session, location_id: int, pack: ActivePack | None = None) -> Place | None:
    """The location ``location_id`` as a Place (None if there is none), read once per
    snapshot of the installed pack."""
    places = _places_memo(pack or _snapshot(), "places")
    found = places.get(location_id)
    if found is None:
        row = session.execute(_availability_statement(_dialect(session), "place"),
                              {"place_id": location_id}).first()
        if row is None:
            return None
        found = places[location_id] = Place(*row)
    return found


def descendant_location_ids(session: Session, location_id: int,
                            pack: ActivePack | None = None) -> list[int]:
    """The location and every place below it (one query per level, then kept per
    snapshot of the installed pack)."""
    known = _places_memo(pack or _snapshot(), "descendants")
    found = known.get(location_id)
    if found is None:
        children = _availability_statement(_dialect(session), "children")
        ids, frontier = [location_id], [location_id]
        while frontier:
            frontier = list(session.scalars(children, {"parents": frontier}))
            ids += frontier
        found = known[location_id] = tuple(ids)
    return list(found)


def _place_path(session: Session, location_id: int, pack: ActivePack | None) -> tuple[Place, ...]:
    paths = _places_memo(pack, "paths")
    path = paths.get(location_id)
    if path is None:
        here = place(session, location_id, pack)
        if here is None:
            return ()
        path = (() if here.parent_id is None
                else _place_path(session, here.parent_id, pack)) + (here,)
        paths[location_id] = path
    return path


def location_path(session: Session, location_id: int, cache: dict[int, list[Place]],
                  pack: ActivePack | None = None) -> list[Place]:
    """Level 1 .. the location, as Places; ``cache`` keeps the lists of one answer (the
    places themselves are kept per snapshot of the installed pack)."""
    path = cache.get(location_id)
    if path is None:
        path = cache[location_id] = list(_place_path(session, location_id,
                                                     pack or _snapshot()))
    return path


def _products(session: Session, pack: ActivePack | None, wanted: set[int]) -> dict[int, VaccineProduct]:
    products = {product.id: product for product in
                catalogue.products(session, pack)}
    if not wanted <= products.keys():  # a product installed after this snapshot was taken
        products = {product.id: product for product in session.scalars(select(VaccineProduct))}
    return products


def find_availability(session: Session, *, days: list[date], location_id: int | None = None,
                      postal_code: str | None = None, facility_ids: list[int] | None = None,
                      product_code: str | None = None, age: int | None = None,
                      dose: int | None = None, fee_type: str | None = None,
                      include_empty_centres: bool = False) -> list[CentreAvailability]:
    """Published sessions on ``days`` at the facilities selected by place, postal code or
    ids, filtered; grouped by facility in a stable order (facility id, then date)."""
    if session.autoflush:  # as the ORM queries this replaced would have
        session.flush()
    pack = _snapshot()
    dialect = _dialect(session)
    flags = (location_id is not None, postal_code is not None, facility_ids is not None,
             fee_type is not None)
    params: dict[str, Any] = {"postal_code": postal_code, "fee_type": fee_type,
                              "product_code": product_code, "age": age,
                              "days": list(days)}
    if location_id is not None:
        params["places"] = descendant_location_ids(session, location_id, pack)
    if facility_ids is not None:
        params["facility_ids"] = list(facility_ids)
        if not facility_ids:
            return []
    centres: dict[int, CentreAvailability] = {}
    paths: dict[int, list[Place]] = {}
    if include_empty_centres:
        for row in session.execute(_search_statement(dialect, "facilities", *flags, False, False),
                                   params):
            facility = FacilityRow(*row)
            centres[facility.id] = CentreAvailability(
                facility, location_path(session, facility.location_id, paths, pack))
    rows = session.execute(_search_statement(dialect, "sessions", *flags, product_code is not None,
                                             age is not None), params).all()
    if not rows:
        return list(centres.values())
    ids = [row[0] for row in rows]
    capacities: dict[str, dict[int, int]] = {}
    slots: dict[str, list[SlotRow]] = {}
    # Two statements, not one UNION ALL: PostgreSQL plans that as a parallel append, and
    # starting its workers took 10 ms.
    seats_statement = _availability_statement(dialect, "seats")
    slots_statement = _availability_statement(dialect, "slots")
    for chunk_start in range(0, len(ids), _ID_CHUNK):
        chunk = {"ids": _session_ids(ids[chunk_start:chunk_start + _ID_CHUNK], dialect)}
        for session_id, dose_number, left in session.execute(seats_statement, chunk).all():
            seats = capacities.get(session_id)
            if seats is None:
                seats = capacities[session_id] = {}
            seats[dose_number] = left
        for slot_id, session_id, starts_at, ends_at, capacity, booked in session.execute(
                slots_statement, chunk).all():
            labels = _SLOT_LABELS.get((starts_at, ends_at)) or _slot_labels(starts_at, ends_at)
            slot = SlotRow(slot_id, session_id, starts_at, ends_at, capacity, booked, *labels)
            found = slots.get(session_id)
            if found is None:
                slots[session_id] = [slot]
            else:
                found.append(slot)
    products = {product_id: (product.code, product.names) for product_id, product in
                _products(session, pack, {row[3] for row in rows}).items()}
    centre = None
    for row in rows:
        session_id = row[0]
        available = capacities.get(session_id, {})
        if dose is not None and available.get(dose, 0) <= 0 and not include_empty_centres:
            continue
        facility_id = row[1]
        if centre is None or centre.facility.id != facility_id:
            centre = centres.get(facility_id)
            if centre is None:
                facility = FacilityRow(*row[_N_SESSION:])
                centre = centres[facility_id] = CentreAvailability(
                    facility, location_path(session, facility.location_id, paths, pack))
        product_code, product_names = products[row[3]]
        centre.sessions.append(SessionAvailability(
            SessionRow(*row[:_N_SESSION]), product_code, product_names, available,
            slots.get(session_id, [])))
    return list(centres.values())


def search(session: Session, query: dict[str, Any]) -> list[CentreAvailability]:
    """Centres with sessions for an availability query as the schemas load it (API and
    pages): ``location`` code, ``postal_code`` or ``lat``/``long``/``radius_km`` (nearest
    first), ``date`` and ``days``, optional ``vaccine``, ``age``, ``dose``, ``fee_type``."""
    days = [query["date"] + timedelta(days=n) for n in range(query["days"])]
    filters: dict[str, Any] = dict(days=days, product_code=query.get("vaccine"),
                                   age=query.get("age"), dose=query.get("dose"),
                                   fee_type=query.get("fee_type"))
    if "location" in query:
        location_id = session.scalar(select(Location.id).where(Location.code == query["location"]))
        if location_id is None:
            raise NotFound(_("No location with code %(code)s.", code=query["location"]),
                           code="location_not_found")
        return find_availability(session, location_id=location_id, **filters)
    if "postal_code" in query:
        return find_availability(session, postal_code=query["postal_code"], **filters)
    near = nearest_facilities(session, query["lat"], query["long"], radius_km=query["radius_km"])
    distances = {facility.id: km for facility, km in near}
    centres = find_availability(session, facility_ids=list(distances), **filters)
    for centre in centres:
        centre.distance_km = distances[centre.facility.id]
    return sorted(centres, key=lambda c: c.distance_km)


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), good to a few metres for this purpose."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def nearest_facilities(session: Session, latitude: float, longitude: float, *,
                       radius_km: float = 25.0, limit: int = 20) -> list[tuple[FacilityRow, float]]:
    """Facilities within ``radius_km``, nearest first (a bounding box in SQL, then the
    exact distance)."""
    dlat = radius_km / 111.0
    dlon = radius_km / max(1e-6, 111.0 * math.cos(math.radians(latitude)))
    if session.autoflush:
        session.flush()
    candidates = session.execute(_availability_statement(_dialect(session), "near"), {
        "lat_low": latitude - dlat, "lat_high": latitude + dlat,
        "long_low": longitude - dlon, "long_high": longitude + dlon})
    found = [(facility, _distance_km(latitude, longitude, facility.latitude, facility.longitude))
             for facility in (FacilityRow(*row) for row in candidates)]
    return sorted([item for item in found if item[1] <= radius_km], key=lambda x: x[1])[:limit]


# --- session management -------------------------------------------------------------------

@dataclass
class Notice:
    """A message to send once the transaction that caused it has committed."""
    mobile: str
    locale: str
    template: str
    params: dict


def send_notices(notices: list[Notice]) -> None:
    from cowin_kit import notifications

    for notice in notices:
        notifications.notify(notice.mobile, notice.template, notice.locale, **notice.params)


def cancel_session(session: Session, pack: ActivePack, session_id: str) -> list[Notice]:
    """Cancel a published session: its appointments are released and the people booked
    are told (the caller sends the returned notices after the commit)."""
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
        _release(session, appointment)
        appointment.status = "cancelled"
        account = session.get(CitizenAccount, appointment.account_id)
        beneficiary = session.get(Beneficiary, appointment.beneficiary_id)
        notices.append(Notice(account.mobile, account.locale or pack.default_locale,
                              "session_cancelled",
                              {"name": beneficiary.name, "facility": facility.name,
                               "date": vaccination_session.session_date.isoformat()}))
    audit.record(session, "session.cancel", "vaccination_session", vaccination_session.id,
                 appointments_released=len(booked))
    _queue_cancelled(session, booked, "session_cancelled")
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
            raise RuleViolation(_("Dose %(n)d already has %(booked)d people booked; the "
                                  "session cannot have fewer seats.", n=dose_number,
                                  booked=row.booked), code="capacity_below_booked")
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
                 vaccination_session.id, capacity={str(k): v for k, v in capacity_by_dose.items()})
    session.commit()
    return vaccination_session


# --- slot alerts --------------------------------------------------------------------------

def subscribe_slot_alert(session: Session, account: CitizenAccount, *, age: int,
                         dose: int = 1, location_code: str | None = None,
                         postal_code: str | None = None,
                         product_code: str | None = None) -> "SlotAlertSubscription":
    from cowin_kit.scheduling.models import SlotAlertSubscription

    if (location_code is None) == (postal_code is None):
        raise InvalidInput(_("Choose a place or a postal code."), code="invalid_alert")
    location_id = None
    if location_code is not None:
        location_id = session.scalar(select(Location.id).where(Location.code == location_code))
        if location_id is None:
            raise NotFound(_("No location with code %(code)s.", code=location_code),
                           code="location_not_found")
    if product_code is not None and session.scalar(
            select(VaccineProduct.id).where(VaccineProduct.code == product_code)) is None:
        raise NotFound(_("No vaccine with code %(code)s.", code=product_code),
                       code="vaccine_not_found")
    subscription = SlotAlertSubscription(account_id=account.id, location_id=location_id,
                                         postal_code=postal_code, product_code=product_code,
                                         dose_number=dose, age=age)
    session.add(subscription)
    session.flush()
    audit.record(session, "slot_alert.subscribe", "slot_alert_subscription", subscription.id)
    session.commit()
    return subscription


def unsubscribe_slot_alert(session: Session, account: CitizenAccount, subscription_id: int) -> None:
    from cowin_kit.scheduling.models import SlotAlertSubscription

    subscription = session.get(SlotAlertSubscription, subscription_id) \
        if 0 < subscription_id < 2**31 else None
    if subscription is None or subscription.account_id != account.id:
        raise NotFound(_("No such alert."), code="alert_not_found")
    subscription.active = False
    audit.record(session, "slot_alert.unsubscribe", "slot_alert_subscription", subscription.id)
    session.commit()


def dispatch_slot_alerts(session: Session, pack: ActivePack, *, now: datetime | None = None,
                         period_seconds: int | None = None, limit: int = 1000) -> int:
    """Tell subscribers whose wish matches seats that are free now. Oldest subscription
    first, each at most once per period; returns how many were told.

    Run by the worker. Subscriptions are claimed with SKIP LOCKED on PostgreSQL so that
    several workers never tell the same person twice, and subscribers with the same wish
    share one availability search."""
    from cowin_kit.scheduling.models import SlotAlertSubscription

    now = now or datetime.now(timezone.utc)
    period = timedelta(seconds=period_seconds if period_seconds is not None
                       else _settings()["SLOT_ALERT_PERIOD_SECONDS"])
    today = _local_now(pack, now).date()
    days = [today + timedelta(days=n) for n in range(7)]
    due = list(session.scalars(select(SlotAlertSubscription).where(
        SlotAlertSubscription.active,
        (SlotAlertSubscription.last_notified_at.is_(None))
        | (SlotAlertSubscription.last_notified_at <= now - period))
        .order_by(SlotAlertSubscription.created_at, SlotAlertSubscription.id).limit(limit)
        .with_for_update(skip_locked=True)))
    found: dict[tuple, tuple[int, str] | None] = {}
    notices = []
    for subscription in due:
        wish = (subscription.location_id, subscription.postal_code, subscription.product_code,
                subscription.age, subscription.dose_number)
        if wish not in found:
            centres = find_availability(session, days=days, location_id=subscription.location_id,
                                        postal_code=subscription.postal_code,
                                        product_code=subscription.product_code,
                                        age=subscription.age, dose=subscription.dose_number)
            seats = sum(item.available.get(subscription.dose_number, 0)
                        for centre in centres for item in centre.sessions)
            first_with_seats = next(
                (centre.facility.name for centre in centres
                 if any(item.available.get(subscription.dose_number, 0) > 0
                        for item in centre.sessions)), None)
            found[wish] = (seats, first_with_seats) if seats > 0 and first_with_seats else None
        if found[wish] is None:
            continue
        seats, facility_name = found[wish]
        account = session.get(CitizenAccount, subscription.account_id)
        notices.append(Notice(account.mobile, account.locale or pack.default_locale,
                              "slot_alert", {"seats": seats, "facility": facility_name,
                                             "dose": subscription.dose_number}))
        subscription.last_notified_at = now
        audit.record(session, "slot_alert.notify", "slot_alert_subscription", subscription.id,
                     seats=seats)
    session.commit()
    send_notices(notices)
    return len(notices)
