"""The booking's fast path: what book_seats reads and writes, as plain rows, and on
PostgreSQL through the driver.

It replaces the ORM path (ORM objects loaded, changed and flushed in the session's
transaction, as reschedule and cancel in booking.py still do): measured per booking,
loading and flushing ORM objects cost more CPU than the statements themselves. Here the
booking's statements are SQLAlchemy Core statements on the tables, built once per process
(_build_statements), read into small slotted classes (BookableSession, MembersRead). On
PostgreSQL the same statements run through the driver as prepared statements
(cowin_kit.core.db.DriverStatement), each member's seats, appointment and audit event are one
statement (_book_member_statement), a one-member booking runs without a transaction
(cowin_kit.core.db.autocommit_connection, see run_booking), and a session's bookable facts are
kept per process (bookable_session, KEEP_SESSION_SECONDS), the write checking that the
session is still at the version read.

Held to the ORM path by tests/test_booking.py (the booking's answer against the listing
and its rows read through the ORM, its audit events against audit.record's, every rule and
refusal; run on SQLite and on PostgreSQL), tests/test_booking_session_changes.py (kept
facts against every change staff make; dose and slot seats under concurrency) and
tests/test_db_pool.py (DriverStatement and autocommit connections)."""

from __future__ import annotations

import time as clock
import weakref
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, Callable, TypeVar

from sqlalchemy import (
    BigInteger, Integer, String, any_, bindparam, cast, exists, func, insert, literal,
    literal_column, null, select, type_coerce, union_all, update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit.audit.models import AuditEvent
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.db import DriverStatement, autocommit_connection
from cowin_kit.core.errors import Conflict, InvalidInput, NotFound
from cowin_kit.geography.models import Facility
from cowin_kit.core.i18n import gettext as _
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import BOOKED_SERIES, Beneficiary, CitizenAccount, Dose
from cowin_kit.registration.services import TokenHolder, invalid_token
from cowin_kit.scheduling import rules
from cowin_kit.scheduling.models import (
    Appointment, SessionDoseCapacity, SessionSlot, VaccinationSession,
)

T = TypeVar("T")


class FullyBooked(Conflict):
    code = "fully_booked"


def _build_statements() -> dict[str, Any]:
    """The booking's queries, built once (on first use, when every mapper is known) rather
    than per request; the values are bound when each runs. The booking reads and writes
    plain rows with Core statements on the tables (no ORM objects, no identity map, no
    unit of work): measured per booking, loading and flushing ORM objects cost more CPU
    than the statements themselves."""
    doses = (select(literal("dose"), Dose.beneficiary_id, Dose.dose_number, VaccineProduct.code,
                    Dose.administered_at)
             .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
             .where(Dose.beneficiary_id.in_(bindparam("ids", expanding=True)),
                    Dose.series == literal_column(repr(BOOKED_SERIES), String)))
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
               slots.id, slots.starts_at, slots.ends_at, seats.dose_number, seats.capacity,
               facilities.location_id)
        .select_from(VaccinationSession.__table__
                     .join(Facility.__table__, facilities.id == sessions.facility_id)
                     .outerjoin(SessionSlot.__table__, slots.session_id == sessions.id)
                     .outerjoin(SessionDoseCapacity.__table__, seats.session_id == sessions.id))
        .where(sessions.id == bindparam("session_id"))
        .order_by(slots.starts_at, slots.id, seats.dose_number))

    def members_query(named: Any, by_member_ids: bool) -> Any:
        # the account's members named in the request, their given doses, their live
        # appointments, and the account itself if it still has the mobile and token epoch
        # the token names (so a booking needs no read of its own for that): one round trip (kind, member
        # or account id, then the columns of each kind)
        owned = (members.account_id == bindparam("account_id"), named)
        # a literal, not a parameter: a prepared statement's generic plan may then use the
        # partial unique index of live appointments (status = 'booked')
        live = appointments.status == literal_column("'booked'", String)
        booked_series = given.series == literal_column(repr(BOOKED_SERIES), String)
        if by_member_ids:
            # PostgreSQL: doses and appointments found by the members' ids, worked out
            # first (an InitPlan: = ANY(array)), so that every plan reads them through
            # their beneficiary_id indexes. Joined to the members instead, a plan kept by a
            # prepared statement from statistics taken while the appointment table was
            # nearly empty read every live appointment per booking.
            # (the cast makes it ANY(array), not ANY(subquery))
            ids = cast(select(func.array_agg(members.id)).where(*owned).scalar_subquery(),
                       ARRAY(BigInteger))
            doses_from, doses_where = (
                Dose.__table__.join(VaccineProduct.__table__, products.id == given.product_id),
                (given.beneficiary_id == any_(ids), booked_series))
            bookings_from, bookings_where = Appointment.__table__, (
                appointments.beneficiary_id == any_(ids), live)
        else:
            doses_from, doses_where = (
                Dose.__table__.join(Beneficiary.__table__, members.id == given.beneficiary_id)
                .join(VaccineProduct.__table__, products.id == given.product_id),
                (*owned, booked_series))
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
                   accounts.mobile == bindparam("account_mobile"),
                   accounts.token_epoch == bindparam("account_epoch")))

    return {
        # claim_seats' conditional UPDATEs (the same SQL as when built per call on the ORM
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
        "members_and_history": members_query(
            members.reference_id.in_(bindparam("reference_ids", expanding=True)),
            by_member_ids=False),
        "insert_appointment": insert(Appointment.__table__),
        "insert_audit": insert(AuditEvent.__table__),
        "doses": doses,
        # PostgreSQL: the booking's three statements, run through the driver (see
        # cowin_kit.core.db.DriverStatement), the member list as one array parameter
        "members_and_history_postgresql": DriverStatement(members_query(
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
        bindparam("claim_session", type_=String), bindparam("claim_slot", type_=slots.id.type),
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
        "beneficiary_id": bindparam("beneficiary_id", type_=appointments.c.beneficiary_id.type),
        "session_id": session_id, "slot_id": slot_id, "dose_number": dose_number,
        "status": literal_column("'booked'", String),
        "reschedule_count": literal_column("0", Integer),
        "account_id": bindparam("account_id", type_=appointments.c.account_id.type),
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
           for name in ("actor_type", "actor_id", "request_id", "source_ip", "location_id",
                        "facility_id", "details")}}
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
            "audit_source_ip": event["source_ip"], "audit_location_id": event["location_id"],
            "audit_facility_id": event["facility_id"], "audit_details": event["details"]}


_STATEMENTS: dict[str, Any] = {}


def _statement(name: str) -> Any:
    if not _STATEMENTS:
        _STATEMENTS.update(_build_statements())
    return _STATEMENTS[name]


@dataclass(slots=True, eq=False)
class BookingSlot:
    """A slot as a booking reads it (a copy of its row), with SessionSlot's attribute names;
    its two spellings made once (it is kept with its BookableSession; formatting times
    cost more than a booking's rules)."""
    id: int
    starts_at: time
    ends_at: time
    label: str = field(init=False)  # as SessionSlot.label
    cowin_label: str = field(init=False)  # as rules.cowin_slot_label

    def __post_init__(self) -> None:
        self.label = f"{self.starts_at:%H:%M}-{self.ends_at:%H:%M}"
        self.cowin_label = rules.cowin_slot_label(self)


@dataclass(slots=True, eq=False)
class DoseSeats:
    dose_number: int
    capacity: int


@dataclass(slots=True, eq=False)
class BookableSession:
    """A session as a booking reads it, with its facility's code and names, its slots and
    its seats per dose: the attributes of VaccinationSession that the rules read, at
    ``version`` (never changed once read: a process keeps and shares them, see
    bookable_session)."""
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
    location_id: int | None = None  # the facility's (the place of its audit events)


@dataclass(slots=True, eq=False)
class BookingMember:
    """A member as a booking reads it: what the rules and the answer need."""
    id: int
    reference_id: str
    name: str
    birth_year: int
    birth_date: date | None


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
# if not, the booking reads the session again and starts over (run_booking). The time
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


def bookable_session(connection: Any, session_id: str, reuse: bool = False
                      ) -> BookableSession:
    """The session as sessions.published_session finds it, with its facility, slots and seats per
    dose, in one round trip of plain rows; with ``reuse``, as this process last read it
    if that was less than KEEP_SESSION_SECONDS ago (no round trip at all)."""
    kept = _kept_sessions(connection.engine)
    if reuse:
        entry = kept.get(session_id)
        if entry is not None and entry[0] > clock.monotonic():
            return entry[1]
    rows = _rows(connection, "bookable_session", {"session_id": str(session_id)}) \
        if rules.looks_like_uuid(session_id) else None
    if not rows:
        raise NotFound(_("No such session."), code="session_not_found")
    first = rows[0]
    found = BookableSession(*first[:11])
    found.location_id = first[16]
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


class SessionChanged(Exception):
    """The booking's write found the session at another version than the one its rules
    were checked against (changed meanwhile); nothing was written."""


def session_changed(connection: Any, seen: BookableSession) -> bool:
    """Whether the session is no longer at the version ``seen`` (then forgotten by this
    process): after a booking's write took no seat, to tell a change from a full session."""
    version = _statement("session_version_postgresql").execute(
        connection, {"session_id": seen.id}).fetchone()
    if version is not None and version[0] == seen.version:
        return False
    _forget_session(connection, seen.id)
    return True


@dataclass(slots=True, eq=False)
class MembersRead:
    """What members_and_history read: the account's members named (ordered by id), the
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


def members_and_history(connection: Any, pack: ActivePack,
                        account: CitizenAccount | TokenHolder,
                        reference_ids: list[str]) -> MembersRead:
    """The members named, their doses and live appointments, in one round trip; 401 if
    the account is gone or no longer has the token's mobile and epoch (``account`` may be
    what the token says, not yet read). The members are checked against the request by the caller
    (MembersRead.checked), after its other look-ups, so that the refusals come in the order
    they always did."""
    members: list[BookingMember] = []
    given: dict[int, list[rules.GivenDose]] = {}
    booked: set[tuple[int, int]] = set()
    account_found = False
    for kind, member_id, reference, name, year, born, number, code, at in _rows(
            connection, "members_and_history",
            {"account_id": account.id, "account_mobile": account.mobile,
             "account_epoch": account.token_epoch,
             "reference_ids": [str(r) for r in reference_ids]}):
        if kind == "member":
            members.append(BookingMember(member_id, reference, name, year, born))
        elif kind == "dose":  # the programme's day, as sessions are dated
            given.setdefault(member_id, []).append(rules.GivenDose(number, code, pack.day_of(at)))
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


def history(session: Session, pack: ActivePack,
            member_ids: list[int]) -> dict[int, list[rules.GivenDose]]:
    """The doses given to these members, dated in the programme's time zone: one round
    trip for all members."""
    given: dict[int, list[rules.GivenDose]] = {member_id: [] for member_id in member_ids}
    for _kind, member_id, number, code, at in session.execute(_statement("doses"),
                                                              {"ids": member_ids}):
        given[member_id].append(rules.GivenDose(number, code, pack.day_of(at)))
    return given


def claim_seats(session: Session, vaccination_session: VaccinationSession | BookableSession,
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
        raise fully_booked(session)


def fully_booked(session: Session) -> FullyBooked:
    """The error of a seat not taken, after rolling back the seats taken before it."""
    session.rollback()
    return FullyBooked(_("This session is fully booked. Please choose another one."))


def _already_booked(session: Session) -> Conflict:
    """The error of an appointment the partial unique index refused (the same member
    booked the same dose at the same moment), after rolling back."""
    session.rollback()
    return Conflict(_("An appointment for this dose already exists."), code="already_booked")


def write_booking(session: Session, connection: Any, seen: BookableSession,
                  slot: BookingSlot, appointments: list[dict[str, Any]],
                  events: list[dict[str, Any]]) -> None:
    """Take each appointment's seats and write the appointment rows and their audit events
    (``events``, audit.values), all or nothing: FullyBooked if a seat is gone, Conflict
    already_booked if the live-appointment index refuses one, SessionChanged (nothing
    written) if the session is no longer at the version ``seen``. On PostgreSQL one
    statement per member (_book_member_statement), elsewhere claim_seats and two INSERTs."""
    try:
        if connection.dialect.name == "postgresql":
            statement = _statement("book_member_postgresql")
            for row, event in zip(appointments, events):
                values = _book_member_values(row, event, seen.version)
                if statement.execute(connection, values).fetchone() is None:
                    if session_changed(connection, seen):
                        session.rollback()
                        raise SessionChanged
                    raise fully_booked(session)
        else:
            for row in appointments:
                claim_seats(session, seen, slot, row["dose_number"])
            connection.execute(_statement("insert_appointment"), appointments)
            connection.execute(_statement("insert_audit"), events)
    except IntegrityError:
        raise _already_booked(session) from None


def run_booking(session: Session, members: int, attempt: Callable[[Any, bool], T]) -> T:
    """``attempt(connection, reuse_session)``'s result: a booking of ``members`` run on the
    connection it should use, once more if the session changed meanwhile.

    On PostgreSQL a booking for one member, when ``session`` has no transaction of its own
    yet (every API request), runs on a pooled connection in autocommit mode, without BEGIN
    and COMMIT (two round trips less): its one write statement is all or nothing by
    itself, and the reads before it see what they would see in a transaction at READ
    COMMITTED, a snapshot per statement; its first try may use the session's facts as
    this process last read them (``reuse_session``). Otherwise it runs on the session's
    connection, in its transaction."""
    bind = session.get_bind()
    one_statement = (members == 1 and not session.in_transaction()
                     and bind.dialect.name == "postgresql")
    for last_try in (False, True):
        try:
            if one_statement:
                with autocommit_connection(bind) as connection:
                    return attempt(connection, not last_try)
            return attempt(session.connection(), False)
        except SessionChanged:
            # changed since it was read: once more with the session read afresh (changed
            # again in that moment: its seats are being changed, take it as full)
            if last_try:
                raise fully_booked(session) from None
    raise AssertionError("unreachable: the last try returns or raises")
