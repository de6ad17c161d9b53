"""Recording doses at the facility and walk-in registration (AEFI reports: cowin_kit.safety).

Recording writes the dose and its "certificate due" outbox row in one transaction, so a
process that dies after the commit still leaves the certificate to the worker."""

from __future__ import annotations

import hmac
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import String, and_, bindparam, case, cast, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from cowin_kit import plugins
from cowin_kit.core import metrics, signals
from cowin_kit.audit import services as audit
from cowin_kit.audit.models import AuditEvent
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.ratelimit import RateLimited
from cowin_kit.identity import access
from cowin_kit.identity.rules import vaccinator_name
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration import services as registration
from cowin_kit.registration import tally
from cowin_kit.registration.models import BOOKED_SERIES, Beneficiary, CitizenAccount, Dose
from cowin_kit.registration.rules import age_on
from cowin_kit.scheduling.models import Appointment, VaccinationSession
from cowin_kit.geography.models import Facility
from cowin_kit.scheduling.rules import BookingRefused, GivenDose
from cowin_kit.stock import services as stock
from cowin_kit.programme import catalogue
from cowin_kit.core.security import keyring
from cowin_kit.vaccination import rules
from cowin_kit.vaccination.models import CertificateDue
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule
from cowin_kit.registration.rules import is_reference_id


def staff_facility(session: Session, user: StaffUser, facility_code: str | None,
                   action: str = "dose.record") -> Facility:
    """The facility the staff member works at for this action (named, or their only one)."""
    if facility_code:
        facility = session.scalars(select(Facility).where(Facility.code == facility_code)).first()
        if facility is None:
            raise NotFound(_("No facility with code %(code)s.", code=facility_code),
                           code="facility_not_found")
    else:
        ids = {g.facility_id for g in user.grants if g.facility_id is not None}
        if len(ids) != 1:
            raise InvalidInput(_("Name the facility."), code="facility_required")
        facility = session.get(Facility, ids.pop())
    access.check_access(user, action, access.scope_for_facility(session, facility.id),
                        message=_("You may not do this at this facility."))
    return facility


def todays_sessions(session: Session, pack: ActivePack, facility: Facility) -> list[VaccinationSession]:
    today = datetime.now(zoneinfo.ZoneInfo(pack.document["timezone"])).date()
    return list(session.scalars(select(VaccinationSession).where(
        VaccinationSession.facility_id == facility.id, VaccinationSession.session_date == today)
        .order_by(VaccinationSession.id)))


def _build_statements() -> dict[str, Any]:
    """Recording's statements, built once (on first use, when every table is known) on the
    tables rather than the ORM classes: as Core statements with bound values they cost a
    fraction of the CPU of the ORM's per-call construction and unit-of-work flush."""
    people, booked, given = (Beneficiary.__table__, Appointment.__table__, Dose.__table__)
    doses, dues, events = Dose.__table__, CertificateDue.__table__, AuditEvent.__table__

    def bound(table, prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
        return {name: bindparam(prefix + name, type_=table.c[name].type) for name in names}

    new_dose = (insert(doses).values(**bound(doses, "", _DOSE_COLUMNS))
                .returning(doses.c.id).cte("new_dose"))
    due_values = bound(dues, "due_", _DUE_COLUMNS)
    event_values = bound(events, "event_", _EVENT_COLUMNS)
    event_values["object_id"] = cast(new_dose.c.id, String)
    return {
        # the person, their live appointments and their doses: a row per appointment and
        # dose (a handful), only the columns recording needs
        "person": (
            select(people.c.id, people.c.birth_year, people.c.birth_date,
                   people.c.secret_code_encrypted, booked.c.id, booked.c.dose_number,
                   given.c.dose_number, given.c.product_id, given.c.administered_at,
                   people.c.secret_code_failures, people.c.secret_code_paused_until,
                   people.c.gender_id)
            .select_from(people
                         .outerjoin(booked, and_(booked.c.beneficiary_id == people.c.id,
                                                 booked.c.status == "booked"))
                         .outerjoin(given, and_(given.c.beneficiary_id == people.c.id,
                                                given.c.series == BOOKED_SERIES)))
            .where(people.c.reference_id == bindparam("reference_id"))),
        "complete_appointment": (
            update(booked).where(booked.c.id == bindparam("appointment_id"))
            .values(status="completed", updated_at=bindparam("updated_at",
                                                          type_=booked.c.updated_at.type))),
        # PostgreSQL: the dose, its outbox row and its audit event in one statement (one
        # round trip; data-modifying CTEs all run, and commit or roll back together)
        "record_cte": (
            select(new_dose.c.id)
            .add_cte(insert(dues).from_select(
                ["dose_id", *_DUE_COLUMNS], select(new_dose.c.id, *due_values.values()))
                .cte("new_due"))
            .add_cte(insert(events).from_select(
                list(_EVENT_COLUMNS) + ["object_id"], select(*event_values.values()))
                .cte("new_event"))),
        # elsewhere: the same rows, one statement each
        "insert_dose": insert(doses),
        "insert_due": insert(dues),
        "insert_event": insert(events),
    }


_DOSE_COLUMNS = ("beneficiary_id", "series", "dose_number", "product_id", "administered_at",
                 "lot", "facility_id", "vaccinator", "recorded_at", "idempotency_key", "source")
_DUE_COLUMNS = ("reason", "status", "attempts", "next_attempt_at", "created_at")
_EVENT_COLUMNS = ("occurred_at", "actor_type", "actor_id", "action", "object_type",
                  "request_id", "source_ip", "location_id", "facility_id", "details")
_STATEMENTS: dict[str, Any] = {}


def _statement(name: str) -> Any:
    if not _STATEMENTS:
        _STATEMENTS.update(_build_statements())
    return _STATEMENTS[name]


@dataclass
class _Person:
    id: int
    birth_year: int
    birth_date: date | None
    secret_code_encrypted: str
    appointment_id: int | None  # the live appointment (the lowest dose's), if booked
    appointment_dose: int | None
    secret_code_failures: int = 0
    secret_code_paused_until: datetime | None = None
    gender_id: int = 0


def _person_for_dose(session: Session, pack: ActivePack, reference_id: str
                     ) -> tuple[_Person, list[GivenDose]]:
    """The person, their live appointment (the lowest dose's) and the doses they were
    given, in one query."""
    rows = []
    if is_reference_id(str(reference_id)):
        if session.autoflush:  # what the caller staged is visible, as to an ORM query
            session.flush()
        rows = session.connection().execute(_statement("person"),
                                            {"reference_id": str(reference_id)}).all()
    if not rows:
        raise NotFound(_("No one is registered with this reference ID."),
                       code="beneficiary_not_found")
    appointment = min(((row[4], row[5]) for row in rows if row[4] is not None),
                      key=lambda a: a[1], default=(None, None))
    given = sorted({(row[6], row[7], row[8]) for row in rows if row[6] is not None})
    first = rows[0]
    return _Person(first[0], first[1], first[2], first[3], *appointment, first[9],
                   first[10], first[11]), [
        GivenDose(number, vaccine_product(session, pack, product_id=product_id).code,
                  pack.day_of(at))
        for number, product_id, at in given]


def vaccine_product(session: Session, pack: ActivePack | None, *, code: str | None = None,
                    product_id: int | None = None) -> VaccineProduct | None:
    """The vaccine product with this code (or id): pack-installed rows, read once per
    snapshot of the pack (copies outside every session); one installed since is read
    from the database."""
    if pack is not None:
        # codes (str) and ids (int) of the pack's products, indexed once per snapshot
        index = pack.memo(("vaccination", "product_index"), lambda: {
            key: product
            for product in catalogue.products(session, pack)
            for key in (product.code, product.id)} or None)
        found = index and index.get(code if code is not None else product_id)
        if found is not None:
            return found
    return session.scalars(select(VaccineProduct).where(
        (VaccineProduct.code == code) if code is not None
        else (VaccineProduct.id == product_id))).first()


def vaccine_schedules(session: Session, pack: ActivePack | None) -> list[VaccineSchedule]:
    """Every vaccine schedule, read once per snapshot of the pack (copies)."""
    return list(catalogue.schedules(session, pack))


class RecordedDose:
    """What ``record_dose`` did: ``dose`` (the recorded Dose; ``created`` if it is new).
    A new dose's object is built on first use, detached (its row is committed), since most
    callers only need the codes the service already knows (``reference_id``, ``vaccine``,
    ``facility``)."""

    def __init__(self, dose: Dose | dict[str, Any], created: bool, *,
                 reference_id: str | None = None, vaccine: str | None = None,
                 facility: str | None = None,
                 warnings: list[stock.StockWarning] | None = None) -> None:
        self._dose = dose
        self.created = created
        self.reference_id, self.vaccine, self.facility = reference_id, vaccine, facility
        # what the stock draw noticed (a lot the facility holds none of...): the dose is
        # recorded all the same
        self.warnings = warnings or []

    @property
    def dose(self) -> Dose:
        if isinstance(self._dose, dict):
            dose = Dose(**self._dose)
            make_transient_to_detached(dose)  # a row of the database, in no session
            self._dose = dose
        return self._dose


def record_dose(session: Session, pack: ActivePack, vaccinator: StaffUser, *,
                facility: Facility, reference_id: str, product_code: str, lot: str,
                secret_code: str | None = None, administered_at: datetime | None = None,
                dose_number: int | None = None,
                idempotency_key: str | None = None) -> RecordedDose:
    if idempotency_key:
        existing = session.scalars(select(Dose).where(Dose.idempotency_key == idempotency_key)).first()
        if existing is not None:
            if session.get(Beneficiary, existing.beneficiary_id).reference_id != str(reference_id):
                raise Conflict(_("This Idempotency-Key was used for another dose."),
                               code="idempotency_key_reused")
            return RecordedDose(existing, False)
    person, given = _person_for_dose(session, pack, reference_id)
    if person.appointment_id is not None:
        # Booked online: the person proves it is them with the code only they were given.
        _check_secret_code(session, vaccinator, person, secret_code, str(reference_id),
                           audit.at_facility(facility))
    product = vaccine_product(session, pack, code=str(product_code))
    if product is None:
        raise NotFound(_("No vaccine with code %(code)s.", code=product_code),
                       code="vaccine_not_found")
    lot = " ".join(str(lot).split())
    if not 1 <= len(lot) <= 64:
        raise InvalidInput(_("Give the lot (batch) number."), code="invalid_lot",
                           fields={"lot": [_("Give the lot (batch) number.")]})
    now = datetime.now(timezone.utc)
    moment = administered_at or now
    if moment.tzinfo is None:
        raise InvalidInput(_("Give the time with its UTC offset."), code="invalid_time")
    if moment > now:
        raise InvalidInput(_("A dose cannot be given in the future."), code="invalid_time")
    day = moment.astimezone(zoneinfo.ZoneInfo(pack.document["timezone"])).date()
    if dose_number is not None and any(d.number == dose_number for d in given):
        same = session.scalars(select(Dose).where(Dose.beneficiary_id == person.id,
                                                  Dose.series == BOOKED_SERIES,
                                                  Dose.dose_number == dose_number)).one()
        if same.product_id == product.id and same.lot == lot:
            return RecordedDose(same, False)  # the same dose sent again: nothing new
    try:
        number = rules.check_dose(given=given, product_code=product.code, day=day,
                                  age=age_on(day, person.birth_year, person.birth_date),
                                  schedules=vaccine_schedules(session, pack),
                                  dose_number=dose_number)
    except BookingRefused as exc:
        raise RuleViolation(str(exc), code=exc.code) from None
    # an expired or recalled lot is refused before anything is written
    registered_lot = stock.check_lot(session, product_id=product.id, product_code=product.code,
                                     number=lot, day=day)
    dose = {"beneficiary_id": person.id, "series": BOOKED_SERIES, "dose_number": number,
            "product_id": product.id, "administered_at": moment, "lot": lot,
            "facility_id": facility.id,
            "vaccinator": vaccinator_name(vaccinator), "recorded_at": now,
            "idempotency_key": idempotency_key, "source": "recorded"}
    try:
        dose["id"] = _insert_dose(session, dose, now, audit.values(  # object_id: the new id
            "dose.record", "dose", "", place=audit.at_facility(facility),
            beneficiary=str(reference_id), dose=number,
            vaccine=product.code, lot=lot, facility=facility.code))
    except IntegrityError:  # the same dose recorded at the same moment by another request
        session.rollback()
        raise Conflict(_("This dose was just recorded."), code="dose_already_recorded") from None
    # written without the ORM, so the tally's flush listener does not see it: counted here
    tally.apply(session, Counter({tally.key_of(
        administered_at=moment, zone=zoneinfo.ZoneInfo(pack.document["timezone"]),
        location_id=facility.location_id, product_id=product.id, series=BOOKED_SERIES,
        dose_number=number, gender_id=person.gender_id, birth_year=person.birth_year,
        birth_date=person.birth_date): 1}))
    warnings = stock.draw(session, pack, lot=registered_lot, product_id=product.id,
                          product_code=product.code, facility_id=facility.id, moment=moment,
                          dose_id=dose["id"], actor=vaccinator.username)
    if person.appointment_id is not None and person.appointment_dose == number:
        session.connection().execute(_statement("complete_appointment"),
                                     {"appointment_id": person.appointment_id,
                                      "updated_at": now})
    plugins.queue_hook(session, "dose_recorded", dose_id=dose["id"],
                       reference_id=str(reference_id), dose_number=number,
                       vaccine=product.code, lot=lot, administered_at=moment,
                       facility_code=facility.code)
    signals.due_facts_changed.send(session, pack=pack, person_ids=[person.id],
                                   products=[product.code])
    session.commit()
    metrics.DOSES_RECORDED.inc()
    return RecordedDose(dose, True, reference_id=str(reference_id), vaccine=product.code,
                        facility=facility.code, warnings=warnings)


def _check_secret_code(session: Session, vaccinator: StaffUser, person: _Person,
                       secret_code: str | None, reference_id: str,
                       place: audit.Place) -> None:
    """The secret code check, with its attempt limits: wrong codes in a row are counted for
    the person and for the staff member (committed, as the refusal rolls the caller back),
    and past either limit no code is checked until the pause ends. A right code clears both
    counts in the recording's transaction."""
    now = datetime.now(timezone.utc)
    if rules.paused(person.secret_code_paused_until, now):
        raise _attempts_refusal(_("Too many wrong secret codes were given for this person: "
                                  "their booked dose can be recorded again after %(until)s "
                                  "UTC.", until=_minute(person.secret_code_paused_until)))
    if rules.paused(vaccinator.secret_code_paused_until, now):
        raise _attempts_refusal(_("You gave too many wrong secret codes: you can record booked "
                                  "doses again after %(until)s UTC.",
                                  until=_minute(vaccinator.secret_code_paused_until)))
    expected = keyring().decrypt(person.secret_code_encrypted)
    if secret_code is not None and hmac.compare_digest(str(secret_code), expected):
        if person.secret_code_failures:
            session.execute(update(Beneficiary).where(Beneficiary.id == person.id)
                            .values(secret_code_failures=0))
        if vaccinator.secret_code_failures:
            vaccinator.secret_code_failures = 0
        return
    person_paused = _count_wrong_code(session, Beneficiary, person.id,
                                      rules.SECRET_CODE_FAILURES_PER_PERSON, now)
    staff_paused = _count_wrong_code(session, StaffUser, vaccinator.id,
                                     rules.SECRET_CODE_FAILURES_PER_STAFF, now)
    audit.record(session, "dose.secret_code_wrong", "beneficiary", reference_id,
                 place=place, person_paused=person_paused, staff_paused=staff_paused)
    session.commit()
    raise RuleViolation(_("The 4-digit secret code is not correct."),
                        code="secret_code_invalid")


def _count_wrong_code(session: Session, model: Any, row_id: int, limit: int,
                      now: datetime) -> bool:
    """Count one wrong code in a single UPDATE (parallel attempts all count); the one that
    reaches ``limit`` starts a pause and the count again. Whether it did."""
    reached = model.secret_code_failures + 1 >= limit
    pause_ends = now + rules.SECRET_CODE_PAUSE
    until = session.execute(
        update(model).where(model.id == row_id).values(
            secret_code_failures=case((reached, 0), else_=model.secret_code_failures + 1),
            secret_code_paused_until=case((reached, pause_ends),
                                          else_=model.secret_code_paused_until))
        .returning(model.secret_code_paused_until)
        .execution_options(synchronize_session=False)).scalar_one()
    return rules.paused(until, now)


def _minute(moment: datetime | None) -> str:
    if moment is None:
        return ""
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment
    return utc.strftime("%Y-%m-%d %H:%M")


def _attempts_refusal(message: str) -> RateLimited:
    return RateLimited(message, code="secret_code_attempts")


def _insert_dose(session: Session, dose: dict[str, Any], now: datetime,
                 event: dict[str, Any]) -> int:
    """Insert the dose, its "certificate due" outbox row and its audit event (whose
    object_id is the new dose's id) in the session's transaction; the dose's id."""
    due = {"reason": "dose", "status": "pending", "attempts": 0, "next_attempt_at": now,
           "created_at": now}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        values = dict(dose)
        values.update({"due_" + name: value for name, value in due.items()})
        values.update({"event_" + name: event[name] for name in _EVENT_COLUMNS})
        return connection.execute(_statement("record_cte"), values).scalar_one()
    dose_id = connection.execute(_statement("insert_dose"), dose).inserted_primary_key[0]
    connection.execute(_statement("insert_due"), dict(due, dose_id=dose_id))
    connection.execute(_statement("insert_event"), dict(event, object_id=str(dose_id)))
    return dose_id


def register_walk_in(session: Session, pack: ActivePack, staff: StaffUser, *, mobile: str,
                     facility: Facility | None = None, holder_code: str | None = None,
                     **member) -> registration.BeneficiaryView:
    """On-site registration by staff, who check the photo ID in person (no OTP); the
    registering ``facility`` becomes the person's home facility.

    A mobile number that already has an account takes the walk-in only with the secret
    code of one of its members (``holder_code``, from their slip or SMS: the holder's
    consent; the phone number alone proves nothing). Without it, Conflict
    ``mobile_has_account`` (register with a number of the person's own); a wrong code,
    RuleViolation ``holder_code_invalid``, counted against the staff member and the
    account's first member as wrong codes at dose recording are (RateLimited
    ``secret_code_attempts`` past the limits)."""
    number = registration.parse_mobile(mobile, pack)
    account = session.scalars(select(CitizenAccount).where(CitizenAccount.mobile == number)).first()
    place = audit.at_facility(facility) if facility is not None else audit.NATIONAL
    if account is None:
        account = CitizenAccount(mobile=number, locale=pack.default_locale)
        session.add(account)
        session.flush()
        audit.record(session, "account.create", "citizen_account", account.id,
                     place=audit.NATIONAL, walk_in=True, by=staff.username)
    else:
        _check_holder_code(session, staff, account, holder_code, place)
    return registration.add_beneficiary(session, pack, account, **member,
                                        facility_id=facility.id if facility else None)


def _check_holder_code(session: Session, staff: StaffUser, account: CitizenAccount,
                       holder_code: str | None, place: audit.Place) -> None:
    now = datetime.now(timezone.utc)
    members = list(session.scalars(select(Beneficiary).where(
        Beneficiary.account_id == account.id, Beneficiary.merged_into_id.is_(None))
        .order_by(Beneficiary.id)))
    if not members:
        return  # an account without anyone in it: nobody's data to attach to
    if not holder_code:
        message = _("This mobile number already has an account. Ask for the secret code of "
                    "someone registered with it (on their slip or SMS), or register the "
                    "person with a mobile number of their own.")
        raise Conflict(message, code="mobile_has_account", fields={"holder_code": [message]})
    holder = members[0]
    for paused_until in (staff.secret_code_paused_until, holder.secret_code_paused_until):
        if rules.paused(paused_until, now):
            raise _attempts_refusal(_("Too many wrong secret codes: try again after "
                                      "%(until)s UTC.", until=_minute(paused_until)))
    ring = keyring()
    if any(hmac.compare_digest(str(holder_code), ring.decrypt(m.secret_code_encrypted))
           for m in members):
        return
    holder_paused = _count_wrong_code(session, Beneficiary, holder.id,
                                      rules.SECRET_CODE_FAILURES_PER_PERSON, now)
    staff_paused = _count_wrong_code(session, StaffUser, staff.id,
                                     rules.SECRET_CODE_FAILURES_PER_STAFF, now)
    audit.record(session, "walk_in.holder_code_wrong", "citizen_account", account.id,
                 place=place, holder_paused=holder_paused, staff_paused=staff_paused)
    session.commit()
    message = _("This is not the secret code of anyone registered with this mobile number.")
    raise RuleViolation(message, code="holder_code_invalid", fields={"holder_code": [message]})
