"""Routine immunization visits (issue 14, "Visits: several vaccines at once"): what a person
is due today, and one visit recording several routine doses at once, each with its lot.

Walk-ins are the norm: a visit needs no appointment. The due rules are
:mod:`cowin_kit.programme.due` over the pack's routine schedules; the history is every dose
the person was given (of every series: one product may count in several schedules), and
the pregnancies registered for them.

A routine dose is recorded under one schedule: ``Dose.series`` is that schedule's code and
``dose_number`` its order in (person, series), 1 + the doses already recorded there (the
unique constraint on (person, series, dose_number) stops two parallel visits from taking
the same number: the second gets a Conflict and writes nothing). For each product of the
visit the schedule is the one whose pending dose takes it, unless the vaccinator names it.
A product is refused (RuleViolation, nothing of the visit written) when it is in no
routine schedule, its series is complete, its dose was missed (past its latest date, or
the series not started before its catch-up limit), or the due rules would not count it
today (a dose given too early: within the grace it counts). Routine doses get no
certificate outbox row (certificates are for the booked series).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit import plugins
from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core import metrics, signals
from cowin_kit.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.geography.models import Facility
from cowin_kit.identity import access
from cowin_kit.identity.rules import vaccinator_name
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme import due
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule
from cowin_kit.registration import reads
from cowin_kit.registration.duefacts import DueFacts, birth_anchor, due_facts
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.registration.rules import is_reference_id
from cowin_kit.stock import services as stock
from cowin_kit.vaccination.services import staff_facility, vaccine_product, vaccine_schedules

PENDING = (due.UPCOMING, due.DUE, due.OVERDUE)
MAX_DOSES_PER_VISIT = 20
MAX_KEY = 90  # the client's key; each dose stores "<key>#<n>" (Dose.idempotency_key: 100)


@dataclass(frozen=True)
class DueDose:
    """A dose due (or overdue) today: its schedule row, its status (dates, dose number)
    and the products that may be given for it (codes)."""
    schedule: VaccineSchedule
    status: due.DoseStatus
    products: tuple[str, ...]


@dataclass(frozen=True)
class DueToday:
    person: Beneficiary
    on: date
    birth_date: date
    statuses: list[due.DoseStatus]      # every dose of every routine schedule
    due: list[DueDose]                  # what to give today: due and overdue doses


@dataclass(frozen=True)
class VisitDose:
    dose: Dose
    product: VaccineProduct
    schedule: VaccineSchedule


@dataclass
class Visit:
    """What ``record_visit`` did: the person, the doses (new or, for a repeated
    Idempotency-Key, the ones recorded the first time) and whether they are new."""
    person: Beneficiary
    facility: Facility | None
    doses: list[VisitDose] = field(default_factory=list)
    created: bool = True
    # what the stock draws noticed (a lot the facility holds none of...); the doses are
    # recorded all the same
    warnings: list[stock.StockWarning] = field(default_factory=list)


def routine_schedules(session: Session, pack: ActivePack) -> list[VaccineSchedule]:
    return [row for row in vaccine_schedules(session, pack) if row.routine]


def local_day(pack: ActivePack, moment: datetime | None = None) -> date:
    return pack.day_of(moment or datetime.now(timezone.utc))


def birth_date_of(person: Beneficiary) -> date:
    """The birth date the rules count from (1 January of the birth year for people
    registered with a year only)."""
    return birth_anchor(person)


def _person(session: Session, reference_id: str) -> Beneficiary:
    found = None
    if is_reference_id(str(reference_id)):
        query = select(Beneficiary).where(Beneficiary.reference_id == str(reference_id))
        found = session.scalars(query).first()
    if found is None:
        raise NotFound(_("No one is registered with this reference ID."),
                       code="beneficiary_not_found")
    return found


def _history(session: Session, pack: ActivePack, person: Beneficiary
             ) -> tuple[list[due.Given], dict[str, int]]:
    """The person's doses as the due rules read them, and the highest dose number of
    each series, from ONE query (one snapshot: the numbers a visit writes are those of the
    history it judged, so a parallel visit's commit in between meets the unique index)."""
    rows = session.execute(select(Dose.id, Dose.product_id, Dose.administered_at, Dose.series,
                                  Dose.dose_number)
                           .where(Dose.beneficiary_id == person.id)
                           .order_by(Dose.administered_at, Dose.id)).all()
    out, numbers = [], {}
    for dose_id, product_id, at, series, number in rows:
        product = vaccine_product(session, pack, product_id=product_id)
        out.append(due.Given(product.code, local_day(pack, _aware(at)), dose_id))
        numbers[series] = max(numbers.get(series, 0), number)
    return out, numbers


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _evaluate(pack: ActivePack, schedules: Sequence[VaccineSchedule], person: Beneficiary,
              history: Sequence[due.Given], facts: DueFacts,
              on: date) -> list[due.DoseStatus]:
    settings = pack.routine
    return due.evaluate(schedules, history=history, on=on,
                        overdue_after=settings.overdue_after, default_grace=settings.grace,
                        **facts.evaluate_kwargs())


def dose_products(schedule: VaccineSchedule, number: int) -> tuple[str, ...]:
    """The products that may be given for dose ``number`` of ``schedule``."""
    return _accepted(schedule, number)


def _accepted(schedule: VaccineSchedule, number: int) -> tuple[str, ...]:
    for dose in schedule.doses:
        if int(dose["number"]) == number:
            return tuple(dose.get("products") or schedule.products)
    return tuple(schedule.products)


def _gives(schedule: VaccineSchedule, product: str) -> bool:
    return product in schedule.products or any(
        product in (dose.get("products") or ()) for dose in schedule.doses)


def due_today(session: Session, pack: ActivePack, actor: StaffUser, reference_id: str,
              on: date | None = None, *, reason: str | None = None) -> DueToday:
    """The person and the status of every dose of the routine schedules on ``on`` (today
    in the pack's timezone), with the doses due or overdue that day. Forbidden without
    ``beneficiary.verify``; NotFound ``beneficiary_not_found``. The read is audited: a
    person outside the vaccinator's area takes a ``reason`` (registration.reads)."""
    access.check_access(actor, "beneficiary.verify", message=_("You may not check people in."))
    person = _person(session, reference_id)
    reads.record_staff_read(session, actor, person, actions=("beneficiary.verify",),
                            view="due_today", reason=reason)
    on = on or local_day(pack)
    schedules = routine_schedules(session, pack)
    statuses = _evaluate(pack, schedules, person, _history(session, pack, person)[0],
                         due_facts(session, pack, person), on)
    by_code = {row.code: row for row in schedules}
    todo = [DueDose(by_code[s.schedule], s, _accepted(by_code[s.schedule], s.dose))
            for s in statuses if s.status in (due.DUE, due.OVERDUE)]
    return DueToday(person, on, birth_date_of(person), statuses, todo)


# --- recording a visit -------------------------------------------------------------------

_MARK = object()


def _refusal(code: str, message: Any, index: int) -> RuleViolation:
    return RuleViolation(message, code=code, fields={f"doses.{index}": [message]})


def _choose(pack: ActivePack, schedules: Sequence[VaccineSchedule], person: Beneficiary,
            history: list[due.Given], facts: DueFacts, day: date,
            product: str, index: int) -> tuple[VaccineSchedule, int]:
    """The schedule (and its dose number as the rules count it) ``product`` is given under
    on ``day``, or the RuleViolation saying why it may not be given."""
    first: RuleViolation | None = None
    for schedule in schedules:
        try:
            return schedule, _check(pack, schedule, person, history, facts, day,
                                    product, index)
        except RuleViolation as exc:
            first = first or exc
    assert first is not None
    raise first


def _check(pack: ActivePack, schedule: VaccineSchedule, person: Beneficiary,
           history: list[due.Given], facts: DueFacts, day: date,
           product: str, index: int) -> int:
    statuses = _evaluate(pack, [schedule], person, history, facts, day)
    if schedule.timed_from == "pregnancy" and statuses:
        last = statuses[-1].pregnancy  # the latest pregnancy's instance
        statuses = [s for s in statuses if s.pregnancy == last]
    pending = next((s for s in statuses if s.status in PENDING), None)
    if pending is None:
        if any(s.status == due.MISSED for s in statuses):
            started = any(s.status == due.DONE for s in statuses)
            if not started and (schedule.options or {}).get("start_max_age"):
                raise _refusal("catch_up_limit_passed", _(
                    "%(vaccine)s: this series can no longer be started at this age.",
                    vaccine=product), index)
            raise _refusal("dose_missed", _(
                "%(vaccine)s: the time for this dose has passed.", vaccine=product), index)
        raise _refusal("series_complete", _(
            "%(vaccine)s: every dose of this schedule is already given.", vaccine=product),
            index)
    if product not in _accepted(schedule, pending.dose):
        raise _refusal("vaccine_not_for_dose", _(
            "%(vaccine)s is not given for the dose due now.", vaccine=product), index)
    trial = _evaluate(pack, [schedule], person,
                      [*history, due.Given(product, day, _MARK)], facts, day)
    counted = next((s for s in trial if s.given is not None and s.given.ref is _MARK), None)
    if counted is None or counted.status != due.DONE:
        if pending.status == due.UPCOMING and pending.earliest is not None:
            raise _refusal("dose_too_early", _(
                "%(vaccine)s is not due yet: the next dose can be given from %(date)s.",
                vaccine=product, date=pending.earliest.isoformat()), index)
        raise _refusal("dose_not_counted", _(
            "%(vaccine)s would not count as a dose today.", vaccine=product), index)
    return counted.dose


def _clean_lot(lot: Any, index: int) -> str:
    text = " ".join(str(lot or "").split())
    if not 1 <= len(text) <= 64:
        message = _("Give the lot (batch) number.")
        raise InvalidInput(message, code="invalid_lot", fields={f"doses.{index}.lot": [message]})
    return text


def _replay(session: Session, pack: ActivePack, key: str, reference_id: str) -> Visit | None:
    """The visit recorded before with this Idempotency-Key, or None."""
    rows = list(session.scalars(select(Dose).where(
        Dose.idempotency_key.in_([f"{key}#{n}" for n in range(1, MAX_DOSES_PER_VISIT + 1)]))
        .order_by(Dose.id)))
    if not rows:
        return None
    person = session.get(Beneficiary, rows[0].beneficiary_id)
    if person.reference_id != str(reference_id):
        raise Conflict(_("This Idempotency-Key was used for another visit."),
                       code="idempotency_key_reused")
    by_code = {row.code: row for row in vaccine_schedules(session, pack)}
    facility = session.get(Facility, rows[0].facility_id) if rows[0].facility_id else None
    return Visit(person, facility, [
        VisitDose(row, vaccine_product(session, pack, product_id=row.product_id),
                  by_code[row.series]) for row in rows], created=False)


def record_visit(session: Session, pack: ActivePack, vaccinator: StaffUser, *,
                 reference_id: str, doses: Iterable[dict[str, Any]],
                 administered_at: datetime | None = None, facility_code: str | None = None,
                 idempotency_key: str | None = None) -> Visit:
    """Record one visit's routine doses at once: ``doses`` = [{"product": code, "lot": ...,
    "schedule": code (optional)}]. All or none: the first refusal writes nothing. The
    vaccinator records at ``facility_code`` (or their only facility) with ``dose.record``
    there. ``idempotency_key``: the same key gives the same visit again, nothing new
    (Conflict ``idempotency_key_reused`` for another person). Commits."""
    key = str(idempotency_key)[:MAX_KEY] if idempotency_key else None
    if key:
        replayed = _replay(session, pack, key, reference_id)
        if replayed is not None:
            return replayed
    facility = staff_facility(session, vaccinator, facility_code)
    person = _person(session, reference_id)
    wanted = list(doses)
    if not wanted:
        message = _("Choose at least one vaccine.")
        raise InvalidInput(message, code="visit_empty", fields={"doses": [message]})
    if len(wanted) > MAX_DOSES_PER_VISIT:
        message = ngettext("A visit records at most %(num)d dose.",
                           "A visit records at most %(num)d doses.", MAX_DOSES_PER_VISIT)
        raise InvalidInput(message, code="visit_too_large", fields={"doses": [message]})
    now = datetime.now(timezone.utc)
    moment = administered_at or now
    if moment.tzinfo is None:
        raise InvalidInput(_("Give the time with its UTC offset."), code="invalid_time")
    if moment > now:
        raise InvalidInput(_("A dose cannot be given in the future."), code="invalid_time")
    day = local_day(pack, moment)
    routine = routine_schedules(session, pack)
    history, numbers = _history(session, pack, person)
    facts = due_facts(session, pack, person)
    chosen: list[tuple[VaccineProduct, VaccineSchedule, str]] = []
    lots: dict[str, Any] = {}  # product code -> its registered lot (None: not registered)
    seen_products: set[str] = set()
    for index, item in enumerate(wanted):
        code = str(item.get("product") or "")
        product = vaccine_product(session, pack, code=code) if code else None
        if product is None:
            message = _("No vaccine with code %(code)s.", code=code)
            raise NotFound(message, code="vaccine_not_found",
                           fields={f"doses.{index}.product": [message]})
        lot = _clean_lot(item.get("lot"), index)
        if product.code in seen_products:
            raise _refusal("vaccine_twice", _(
                "%(vaccine)s appears twice in this visit.", vaccine=product.code), index)
        seen_products.add(product.code)
        candidates = [s for s in routine if _gives(s, product.code)]
        named = item.get("schedule")
        if named:
            candidates = [s for s in candidates if s.code == named]
            if not candidates:
                raise _refusal("schedule_not_found", _(
                    "No routine schedule %(schedule)s gives %(vaccine)s.",
                    schedule=named, vaccine=product.code), index)
        if not candidates:
            raise _refusal("vaccine_not_routine", _(
                "%(vaccine)s is not in a routine schedule.", vaccine=product.code), index)
        candidates = [s for s in candidates
                      if due.schedule_rule(s).applies_to(facts.sex, facts.area_codes)]
        if not candidates:
            raise _refusal("vaccine_not_for_person", _(
                "%(vaccine)s is not given to this person: its schedule is for another sex "
                "or other areas.", vaccine=product.code), index)
        schedule, _number = _choose(pack, candidates, person, history, facts, day,
                                    product.code, index)
        if any(s.code == schedule.code for _p, s, _l in chosen):
            raise _refusal("series_twice", _(
                "Two vaccines of one schedule cannot be given in one visit."), index)
        # an expired or recalled lot is refused before anything is written
        lots[product.code] = stock.check_lot(session, product_id=product.id,
                                             product_code=product.code, number=lot, day=day,
                                             field=f"doses.{index}.lot")
        chosen.append((product, schedule, lot))
        # the next products are judged with this one given (a combination counts twice)
        history.append(due.Given(product.code, day, None))
    visit = Visit(person, facility)
    try:
        # in the order of the series, so that two visits of one person never wait on
        # each other's rows in opposite orders (a deadlock) but meet on the first one
        for n, (product, schedule, lot) in enumerate(
                sorted(chosen, key=lambda c: c[1].code), start=1):
            dose = Dose(beneficiary_id=person.id, series=schedule.code,
                        dose_number=numbers.get(schedule.code, 0) + 1, product_id=product.id,
                        administered_at=moment, lot=lot, facility_id=facility.id,
                        vaccinator=vaccinator_name(vaccinator), recorded_at=now,
                        idempotency_key=f"{key}#{n}" if key else None, source="recorded")
            session.add(dose)
            session.flush()
            audit.record(session, "dose.record", "dose", dose.id,
                         place=audit.at_facility(facility),
                         beneficiary=str(person.reference_id), series=schedule.code,
                         dose=dose.dose_number, vaccine=product.code, lot=lot,
                         facility=facility.code, visit=True)
            visit.doses.append(VisitDose(dose, product, schedule))
    except IntegrityError:  # the same series recorded at the same moment by another visit
        session.rollback()
        if key and _replay(session, pack, key, reference_id) is not None:
            return _replay(session, pack, key, reference_id)  # type: ignore[return-value]
        raise Conflict(_("These doses were just recorded by another visit."),
                       code="dose_already_recorded") from None
    # the stock draws, in the order of the lots' ids: two visits drawing the same lots
    # lock their balance rows in one order (never a deadlock)
    for item in sorted(visit.doses, key=lambda d: (getattr(lots[d.product.code], "id", 0),
                                                   d.dose.id)):
        visit.warnings += stock.draw(session, pack, lot=lots[item.product.code],
                                     product_id=item.product.id, product_code=item.product.code,
                                     facility_id=facility.id, moment=moment,
                                     dose_id=item.dose.id, actor=vaccinator.username)
    for item in visit.doses:
        plugins.queue_hook(session, "dose_recorded", dose_id=item.dose.id,
                           reference_id=str(person.reference_id),
                           dose_number=item.dose.dose_number, vaccine=item.product.code,
                           lot=item.dose.lot, administered_at=moment,
                           facility_code=facility.code)
    # the due lists' kept state of the person, in this transaction
    signals.due_facts_changed.send(session, pack=pack, person_ids=[person.id],
                                   products=[item.product.code for item in visit.doses])
    session.commit()
    metrics.DOSES_RECORDED.inc(len(visit.doses))
    return visit


def routine_doses(session: Session, pack: ActivePack, person: Beneficiary) -> list[VisitDose]:
    """The person's routine doses (every series but the booked one), oldest first."""
    by_code = {row.code: row for row in vaccine_schedules(session, pack)}
    rows = session.scalars(select(Dose).where(Dose.beneficiary_id == person.id,
                                              Dose.series != "")
                           .order_by(Dose.administered_at, Dose.series, Dose.id))
    return [VisitDose(row, vaccine_product(session, pack, product_id=row.product_id),
                      by_code[row.series]) for row in rows if row.series in by_code]
