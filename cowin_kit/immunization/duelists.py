"""Due lists of an area or facility on a day: who needs which dose of the routine schedules,
the zero-dose children, and the defaulters; and one person's doses with their status.

People of an area are those whose ``Beneficiary.location_id`` is in the location's subtree
(a facility's: whose home ``facility_id`` is it); among them the children (born less
than the routine schedules' horizon before the day: the largest age any birth-timed dose
names, plus one year) and the women pregnant on the day. Their doses and pregnancies are
loaded in three Core selects ordered by person (no ORM objects) and merged in one pass;
each person is evaluated by :func:`cowin_kit.programme.due.evaluate` against the pack's
routine schedules, built once per list (:class:`RoutineRules`).

Lists (``kind``): ``due`` (default statuses due and overdue), ``defaulters`` (people with
a dose overdue, i.e. past its due date by the pack's ``routine.overdue_after``; default
status overdue) and ``zero-dose`` (children registered, aged at least the pack's
``routine.zero_dose_age`` and given no dose at all; their doses due or overdue). Rows are
grouped by person (by name, then reference ID), each person's doses in the order a
worker reads them (:func:`cowin_kit.programme.due.urgent_first`).

Access: the staff action ``due_list.read`` on the area (a location grant reaches its
subtree, a facility grant its own facility's list only; a district officer sees their
district). A citizen reads the due doses of the people of their own account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.durations import Duration
from cowin_kit.core.errors import Forbidden, InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Facility, Location
from cowin_kit.geography.tree import place_paths
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme import due as rules
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule
from cowin_kit.registration.duefacts import gender_codes
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose, Pregnancy

ACTION = "due_list.read"

COLUMNS = ("reference_id", "external_id", "name", "birth_date", "schedule", "dose",
           "earliest", "due", "latest", "status")

LIST_DUE = "due"
LIST_ZERO_DOSE = "zero-dose"
LIST_DEFAULTERS = "defaulters"
LISTS = (LIST_DUE, LIST_ZERO_DOSE, LIST_DEFAULTERS)

DEFAULT_STATUSES: dict[str, tuple[str, ...]] = {
    LIST_DUE: (rules.DUE, rules.OVERDUE),
    LIST_ZERO_DOSE: (rules.DUE, rules.OVERDUE),
    LIST_DEFAULTERS: (rules.OVERDUE,),
}

Progress = Callable[[str, int, int], None]

# How many people a select reads at a time (server-side cursors on PostgreSQL).
_BATCH = 5000


# --- the pack's routine schedules, built once -------------------------------------------

@dataclass(frozen=True)
class RoutineRules:
    """The routine schedules of the installed pack as rules, with what a list needs."""

    birth: tuple[rules.ScheduleRule, ...]
    pregnancy: tuple[rules.ScheduleRule, ...]
    names: dict[str, dict[str, str]]          # schedule code -> disease names by locale
    order: dict[str, int]                     # schedule code -> position in the pack
    overdue_after: Duration
    grace: Duration
    zero_dose_age: Duration
    child_horizon: Duration                   # older people are not children
    # per birth rule: (first possible earliest age, last allowed age or None)
    bounds: tuple[tuple[Duration | None, Duration | None], ...] = ()
    accepted: tuple[frozenset[str], ...] = ()

    def schedule_name(self, code: str, locale: str) -> str:
        names = self.names.get(code) or {}
        return (names.get(locale) or names.get(locale.split("_")[0]) or names.get("en")
                or next(iter(names.values()), code))


def _longest(durations: Iterable[Duration]) -> Duration | None:
    found = [d for d in durations if d is not None]
    return max(found, key=lambda d: d.approx_days()) if found else None


def _bounds(rule: rules.ScheduleRule) -> tuple[Duration | None, Duration | None]:
    """(the youngest age any dose of ``rule`` can become givable at — before it every
    dose is upcoming; the oldest age any dose may still be given at — after it nothing
    is due or overdue; None when a dose has no upper limit)."""
    firsts = [d.min_age or d.age or Duration(0, "d") for d in rule.doses]
    first = min(firsts, key=lambda d: d.approx_days()) if firsts else None
    lasts = [d.max_age for d in rule.doses]
    last = None if (not lasts or any(x is None for x in lasts)) else _longest(lasts)
    return first, last


def routine_rules(session: Session, pack: ActivePack) -> RoutineRules:
    """The installed routine schedules as rules (remembered with the pack snapshot)."""
    return pack.memo(("immunization.routine_rules",), lambda: _routine_rules(session, pack))


def _routine_rules(session: Session, pack: ActivePack) -> RoutineRules:
    rows = list(session.scalars(select(VaccineSchedule).where(VaccineSchedule.routine.is_(True))
                                .order_by(VaccineSchedule.id)))
    built = [rules.schedule_rule(row) for row in rows]
    birth = tuple(r for r in built if r.timed_from != rules.PREGNANCY)
    pregnancy = tuple(r for r in built if r.timed_from == rules.PREGNANCY)
    ages: list[Duration] = []
    for rule in birth:
        for dose in rule.doses:
            ages += [d for d in (dose.age, dose.min_age, dose.max_age) if d is not None]
    longest = _longest(ages) or Duration(0, "d")
    settings = pack.routine
    return RoutineRules(
        birth=birth, pregnancy=pregnancy,
        names={row.code: dict(row.disease or {}) for row in rows},
        order={row.code: position for position, row in enumerate(rows)},
        overdue_after=settings.overdue_after, grace=settings.grace,
        zero_dose_age=settings.zero_dose_age,
        child_horizon=Duration(longest.approx_days() + 366, "d"),
        bounds=tuple(_bounds(rule) for rule in birth),
        accepted=tuple(frozenset(rule.products) | frozenset(
            p for dose in rule.doses for p in dose.products) for rule in birth),
    )


# --- one person -----------------------------------------------------------------------

@dataclass(frozen=True)
class PersonFacts:
    """What the rules read of a person (loaded without ORM objects)."""

    id: int
    reference_id: str
    external_id: str | None
    name: str
    birth_date: date
    account_id: int
    history: tuple[rules.Given, ...] = ()
    pregnancies: tuple[rules.Pregnancy, ...] = ()
    sex: str | None = None                   # the gender code (schedules for one sex)
    area_codes: tuple[str, ...] = ()         # their place's code and those above it


class Evaluator:
    """Evaluates people against the rules, skipping the schedules that cannot give a
    wanted status on the day (every dose upcoming, or past every dose's last age) and
    reusing the result of a schedule for an identical birth date and history."""

    def __init__(self, routine: RoutineRules, on: date, wanted: Iterable[str] | None = None):
        self.routine = routine
        self.on = on
        self.wanted = frozenset(wanted) if wanted is not None else frozenset(rules.STATUSES)
        self.child_since = routine.child_horizon.before(on)
        # before a schedule's first possible age every dose is upcoming, or missed or not
        # counted; after its last allowed age none is due, overdue or upcoming
        self._skip_upcoming = self.wanted <= {rules.DUE, rules.OVERDUE}
        self._skip_closed = not (self.wanted & {rules.DONE, rules.MISSED, rules.NOT_COUNTED,
                                                rules.NOT_NEEDED})
        self._limits: dict[date, list[tuple[bool, bool]]] = {}
        self._memo: dict[tuple[Any, ...], list[rules.DoseStatus]] = {}

    def is_child(self, person: PersonFacts) -> bool:
        return person.birth_date >= self.child_since

    def _skips(self, birth: date) -> list[tuple[bool, bool]]:
        known = self._limits.get(birth)
        if known is None:
            known = []
            for first, last in self.routine.bounds:
                too_young = first is not None and self.on < first.after(birth)
                too_old = last is not None and self.on > last.after(birth)
                known.append((too_young, too_old))
            if len(self._limits) > 20000:
                self._limits.clear()
            self._limits[birth] = known
        return known

    def statuses(self, person: PersonFacts) -> list[rules.DoseStatus]:
        routine, on = self.routine, self.on
        out: list[rules.DoseStatus] = []
        history = [g for g in person.history if g.day <= on]
        if self.is_child(person):
            skips = self._skips(person.birth_date)
            areas = frozenset(person.area_codes)
            for index, rule in enumerate(routine.birth):
                if not rule.applies_to(person.sex, areas):
                    continue
                too_young, too_old = skips[index]
                if (too_young and self._skip_upcoming) or (too_old and self._skip_closed):
                    continue
                accepted = routine.accepted[index]
                mine = tuple((g.product, g.day) for g in history if g.product in accepted)
                key = (index, person.birth_date, mine)
                found = self._memo.get(key)
                if found is None:
                    found = rules.evaluate(
                        [rule], birth_date=person.birth_date,
                        history=[rules.Given(p, d) for p, d in mine], on=on,
                        overdue_after=routine.overdue_after, default_grace=routine.grace)
                    if len(self._memo) > 200000:
                        self._memo.clear()
                    self._memo[key] = found
                out += found
        if person.pregnancies and routine.pregnancy:
            out += rules.evaluate(routine.pregnancy, birth_date=person.birth_date,
                                  history=history, on=on, pregnancies=person.pregnancies,
                                  overdue_after=routine.overdue_after,
                                  default_grace=routine.grace, sex=person.sex,
                                  area_codes=person.area_codes)
        return out

    def full(self, person: PersonFacts) -> list[rules.DoseStatus]:
        """Every dose with its given record (no memo: records carry their refs)."""
        routine, on = self.routine, self.on
        schedules: list[rules.ScheduleRule] = []
        if self.is_child(person):
            schedules += routine.birth
        schedules += routine.pregnancy
        return rules.evaluate(schedules, birth_date=person.birth_date, history=person.history,
                              on=on, pregnancies=person.pregnancies,
                              overdue_after=routine.overdue_after, default_grace=routine.grace,
                              sex=person.sex, area_codes=person.area_codes)

    def zero_dose(self, person: PersonFacts) -> bool:
        return self.is_child(person) and rules.is_zero_dose(
            person.history, person.birth_date, self.on, self.routine.zero_dose_age)


# --- loading people --------------------------------------------------------------------

def _subtree_ids(session: Session, location_id: int) -> list[int]:
    anchor = select(Location.id).where(Location.id == location_id).cte("due_area",
                                                                       recursive=True)
    child = aliased(Location)
    tree = anchor.union_all(select(child.id).join(anchor, child.parent_id == anchor.c.id))
    return list(session.scalars(select(tree.c.id)))


def _people_condition(session: Session, *, on: date, child_since: date,
                      location_id: int | None, facility_id: int | None,
                      ids: Sequence[int] | None) -> Any:
    parts: list[Any] = [Beneficiary.birth_date.is_not(None)]
    if ids is not None:
        parts.append(Beneficiary.id.in_(list(ids)))
    if location_id is not None:
        parts.append(Beneficiary.location_id.in_(_subtree_ids(session, location_id)))
    if facility_id is not None:
        parts.append(Beneficiary.facility_id == facility_id)
    pregnant = exists().where(
        Pregnancy.beneficiary_id == Beneficiary.id, Pregnancy.registered_on <= on,
        or_(Pregnancy.outcome_date.is_(None), Pregnancy.outcome_date >= on))
    if ids is None:
        parts.append(or_(Beneficiary.birth_date >= child_since, pregnant))
    return and_(*parts)


def _utc_offset(pack: ActivePack, on: date) -> timedelta:
    zone = ZoneInfo(pack.document.get("timezone") or "UTC")
    return datetime(on.year, on.month, on.day, 12, tzinfo=zone).utcoffset() or timedelta(0)


def count_people(session: Session, condition: Any) -> int:
    return session.scalar(select(func.count()).select_from(Beneficiary).where(condition)) or 0


def load_people(session: Session, pack: ActivePack, condition: Any, on: date, *,
                progress: Progress | None = None, total: int | None = None
                ) -> Iterator[PersonFacts]:
    """The people matching ``condition`` with their doses and pregnancies: three selects
    ordered by person, read in batches and merged in one pass."""
    offset = _utc_offset(pack, on)
    sexes = gender_codes(session, pack)
    places = place_paths(session, pack)
    people = (select(Beneficiary.id, Beneficiary.reference_id, Beneficiary.external_id,
                     Beneficiary.name, Beneficiary.birth_date, Beneficiary.account_id,
                     Beneficiary.gender_id, Beneficiary.location_id)
              .where(condition).order_by(Beneficiary.id)
              .execution_options(yield_per=_BATCH))
    chosen = select(Beneficiary.id).where(condition)
    doses = (select(Dose.beneficiary_id, VaccineProduct.code, Dose.administered_at, Dose.id)
             .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
             .where(Dose.beneficiary_id.in_(chosen))
             .order_by(Dose.beneficiary_id, Dose.administered_at, Dose.id)
             .execution_options(yield_per=_BATCH * 8))
    pregnancies = (select(Pregnancy.beneficiary_id, Pregnancy.registered_on,
                          Pregnancy.outcome_date, Pregnancy.id)
                   .where(Pregnancy.beneficiary_id.in_(chosen))
                   .order_by(Pregnancy.beneficiary_id, Pregnancy.registered_on)
                   .execution_options(yield_per=_BATCH))
    dose_rows = iter(session.execute(doses))
    pregnancy_rows = iter(session.execute(pregnancies))
    next_dose = next(dose_rows, None)
    next_pregnancy = next(pregnancy_rows, None)
    done = 0
    for pid, reference_id, external_id, name, birth_date, account_id, gender_id, \
            location_id in session.execute(people):
        history: list[rules.Given] = []
        while next_dose is not None and next_dose[0] <= pid:
            if next_dose[0] == pid:
                history.append(rules.Given(next_dose[1], (next_dose[2] + offset).date(),
                                           next_dose[3]))
            next_dose = next(dose_rows, None)
        carried: list[rules.Pregnancy] = []
        while next_pregnancy is not None and next_pregnancy[0] <= pid:
            if next_pregnancy[0] == pid:
                carried.append(rules.Pregnancy(next_pregnancy[1], next_pregnancy[2],
                                               next_pregnancy[3]))
            next_pregnancy = next(pregnancy_rows, None)
        yield PersonFacts(pid, reference_id, external_id, name, birth_date, account_id,
                          tuple(history), tuple(carried), sexes.get(gender_id),
                          places.get(location_id, ()) if location_id is not None else ())
        done += 1
        if progress is not None and total and (done % _BATCH == 0 or done == total):
            progress("people", done, total)


# --- due lists --------------------------------------------------------------------------

@dataclass(frozen=True)
class DueRow:
    reference_id: str
    external_id: str
    name: str
    birth_date: date
    schedule: str
    dose: int
    earliest: date | None
    due: date | None
    latest: date | None
    status: str
    booster: bool = False

    def values(self) -> list[str]:
        """The row as the CSV columns (COLUMNS) spell it."""
        return [self.reference_id, self.external_id, self.name, self.birth_date.isoformat(),
                self.schedule, str(self.dose), _iso(self.earliest), _iso(self.due),
                _iso(self.latest), self.status]


def _iso(day: date | None) -> str:
    return day.isoformat() if day is not None else ""


@dataclass
class DueList:
    on: date
    kind: str
    statuses: tuple[str, ...]
    location: Location | None
    facility: Facility | None
    rows: list[DueRow]
    people: int = 0                     # people with at least one row
    evaluated: int = 0                  # people read
    routine: RoutineRules | None = field(default=None, repr=False)

    def groups(self) -> list[list[DueRow]]:
        """The rows grouped by person, in list order."""
        out: list[list[DueRow]] = []
        for row in self.rows:
            if out and out[-1][0].reference_id == row.reference_id:
                out[-1].append(row)
            else:
                out.append([row])
        return out


def check_statuses(values: Iterable[str]) -> tuple[str, ...]:
    """The statuses asked for, checked (InvalidInput naming the known ones)."""
    chosen = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    unknown = [v for v in chosen if v not in rules.STATUSES]
    if unknown:
        raise InvalidInput(_("Unknown status %(status)s; use %(known)s.",
                             status=", ".join(unknown), known=", ".join(rules.STATUSES)),
                           code="invalid_status")
    return chosen


def check_kind(kind: str | None) -> str:
    kind = kind or LIST_DUE
    if kind not in LISTS:
        raise InvalidInput(_("Unknown list %(list)s; use %(known)s.", list=kind,
                             known=", ".join(LISTS)), code="invalid_list")
    return kind


def _place(session: Session, location_code: str | None, facility_code: str | None
           ) -> tuple[Location | None, Facility | None]:
    location = facility = None
    if location_code:
        location = session.scalars(select(Location).where(Location.code == location_code)).first()
        if location is None:
            raise NotFound(_("No location with code %(code)s.", code=location_code),
                           code="location_not_found")
    if facility_code:
        facility = session.scalars(select(Facility).where(Facility.code == facility_code)).first()
        if facility is None:
            raise NotFound(_("No facility with code %(code)s.", code=facility_code),
                           code="facility_not_found")
    return location, facility


def default_place(session: Session, actor: StaffUser) -> tuple[str | None, str | None]:
    """(location code, facility code) of the actor's first grant carrying the action: the
    list a health worker sees first."""
    grants = sorted(access.grants_carrying(actor, ACTION), key=lambda g: (
        g.facility_id is None, g.location_id is None, getattr(g, "id", 0) or 0))
    for grant in grants:
        if grant.facility_id is not None:
            facility = session.get(Facility, grant.facility_id)
            return None, facility.code if facility else None
        if grant.location_id is not None:
            location = session.get(Location, grant.location_id)
            return (location.code if location else None), None
    return None, None


def check_area_access(session: Session, actor: StaffUser | None,
                      location: Location | None, facility: Facility | None) -> None:
    """Forbidden unless ``actor`` (None: the command line, trusted) may read the due list
    of the area: the facility's scope when a facility is named, else the location's."""
    if actor is None:
        return
    message = _("You may not read the due list of this area or facility.")
    if facility is not None:
        target = access.scope_for_facility(session, facility.id)
    elif location is not None:
        target = access.scope_for_location(session, location.id)
    else:
        target = access.COUNTRY
    access.check_access(actor, ACTION, target, message=message)


def due_list(session: Session, pack: ActivePack, actor: StaffUser | None, *, on: date,
             location_code: str | None = None, facility_code: str | None = None,
             statuses: Iterable[str] | None = None, kind: str | None = None,
             progress: Progress | None = None) -> DueList:
    """The due list (``kind``: due, zero-dose, defaulters) of an area or facility on
    ``on``, limited to ``statuses`` (the list's defaults when None or empty)."""
    kind = check_kind(kind)
    chosen = check_statuses(statuses or ()) or DEFAULT_STATUSES[kind]
    if not location_code and not facility_code:
        raise InvalidInput(_("Name an area (location code) or a facility."),
                           code="area_required")
    location, facility = _place(session, location_code, facility_code)
    check_area_access(session, actor, location, facility)
    routine = routine_rules(session, pack)
    wanted = set(chosen)
    if kind == LIST_DEFAULTERS:
        wanted.add(rules.OVERDUE)
    evaluator = Evaluator(routine, on, wanted)
    condition = _people_condition(
        session, on=on, child_since=evaluator.child_since,
        location_id=location.id if location else None,
        facility_id=facility.id if facility else None, ids=None)
    if kind == LIST_ZERO_DOSE:  # nothing given at all: only children without a dose
        condition = and_(condition, ~exists().where(Dose.beneficiary_id == Beneficiary.id))
    total = count_people(session, condition) if progress is not None else None
    rows: list[DueRow] = []
    evaluated = 0
    people = 0
    rank = {status: position for position, status in enumerate(rules.URGENCY)}
    for person in load_people(session, pack, condition, on, progress=progress, total=total):
        evaluated += 1
        if kind == LIST_ZERO_DOSE and not evaluator.zero_dose(person):
            continue
        statuses_now = evaluator.statuses(person)
        if kind == LIST_DEFAULTERS and not any(s.status == rules.OVERDUE for s in statuses_now):
            continue
        mine = [s for s in statuses_now if s.status in chosen]
        if not mine:
            continue
        mine.sort(key=lambda s: (rank[s.status], s.due is None, s.due or date.min,
                                 routine.order.get(s.schedule, 0), s.dose))
        people += 1
        external = person.external_id or ""
        rows += [DueRow(person.reference_id, external, person.name, person.birth_date,
                        s.schedule, s.dose, s.earliest, s.due, s.latest, s.status, s.booster)
                 for s in mine]
    rows.sort(key=lambda r: (r.name.casefold(), r.reference_id))  # stable: doses keep order
    return DueList(on=on, kind=kind, statuses=chosen, location=location, facility=facility,
                   rows=rows, people=people, evaluated=evaluated, routine=routine)


# --- one person's doses -----------------------------------------------------------------

@dataclass(frozen=True)
class PersonDue:
    person: PersonFacts
    on: date
    doses: list[rules.DoseStatus]
    routine: RoutineRules
    products: dict[object, str] = field(default_factory=dict)


def _person_row(session: Session, reference_id: str) -> Any:
    row = session.execute(select(Beneficiary.id, Beneficiary.account_id,
                                 Beneficiary.location_id, Beneficiary.facility_id,
                                 Beneficiary.birth_date)
                          .where(Beneficiary.reference_id == reference_id)).first()
    if row is None:
        raise NotFound(_("No person with reference ID %(reference_id)s.",
                         reference_id=reference_id), code="beneficiary_not_found")
    return row


def person_due(session: Session, pack: ActivePack, reference_id: str, on: date, *,
               staff: StaffUser | None = None, account: CitizenAccount | None = None
               ) -> PersonDue:
    """Every routine dose of one person on ``on`` (urgent first). Read by a staff member
    with ``due_list.read`` on the person's area or facility, or by the citizen whose
    account holds the person (anyone else: NotFound, as if the person did not exist)."""
    row = _person_row(session, reference_id)
    if account is not None:
        if row.account_id != account.id:
            raise NotFound(_("No person with reference ID %(reference_id)s.",
                             reference_id=reference_id), code="beneficiary_not_found")
    elif staff is not None:
        message = _("You may not read the doses of people of this area or facility.")
        if row.location_id is None and row.facility_id is None:
            # registered by themselves, no area: any health worker may look them up
            access.check_access(staff, ACTION, message=message)
        elif row.location_id is None:
            access.check_access(staff, ACTION, access.scope_for_facility(session,
                                                                         row.facility_id),
                                message=message)
        else:
            access.check_access(staff, ACTION, access.scope_for_location(
                session, row.location_id, row.facility_id), message=message)
    else:
        raise Forbidden(_("You may not do this there."), code="forbidden")
    if row.birth_date is None:
        raise InvalidInput(_("The person's date of birth is not known: routine doses are "
                             "timed from it."), code="birth_date_unknown")
    routine = routine_rules(session, pack)
    evaluator = Evaluator(routine, on)
    condition = _people_condition(session, on=on, child_since=evaluator.child_since,
                                  location_id=None, facility_id=None, ids=[row.id])
    person = next(load_people(session, pack, condition, on))
    doses = rules.urgent_first(evaluator.full(person))
    products = {g.ref: g.product for g in person.history}
    return PersonDue(person=person, on=on, doses=doses, routine=routine, products=products)




def status_label(status: str) -> str:
    """A dose status in the current language."""
    labels = {
        rules.DONE: _("done"), rules.UPCOMING: _("upcoming"), rules.DUE: _("due"),
        rules.OVERDUE: _("overdue"), rules.MISSED: _("missed"),
        rules.NOT_COUNTED: _("not counted"), rules.NOT_NEEDED: _("not needed"),
    }
    return labels.get(status, status)


def due_list_csv(result: DueList) -> str:
    """The list as CSV: the header COLUMNS, one row per dose."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in result.rows:
        writer.writerow(row.values())
    return out.getvalue()


def today_in(pack: ActivePack) -> date:
    """Today in the pack's timezone (the default day of a list)."""
    return datetime.now(ZoneInfo(pack.document.get("timezone") or "UTC")).date()


__all__ = [
    "ACTION", "COLUMNS", "DEFAULT_STATUSES", "DueList", "DueRow", "Evaluator", "LISTS",
    "LIST_DEFAULTERS", "LIST_DUE", "LIST_ZERO_DOSE", "PersonDue", "PersonFacts",
    "RoutineRules", "check_area_access", "check_kind", "check_statuses", "count_people",
    "default_place", "due_list", "due_list_csv", "load_people", "person_due",
    "routine_rules", "status_label", "today_in",
]
