"""The routine schedules of the installed pack as rules built once (:class:`RoutineRules`),
the people of an area loaded with what the rules read of them (:func:`load_people`: three
Core selects ordered by person, merged in one pass, no ORM objects) and their evaluation
(:class:`Evaluator`, around :func:`cowin_kit.programme.due.evaluate`). Shared by the due
lists (cowin_kit.immunization.duelists), the kept due state
(cowin_kit.immunization.duestate) and the reminders."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.durations import Duration
from cowin_kit.geography.models import Location
from cowin_kit.geography.tree import place_paths
from cowin_kit.programme import due as rules
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule
from cowin_kit.registration.duefacts import gender_codes
from cowin_kit.registration.models import Beneficiary, Dose, Pregnancy

Progress = Callable[[str, int, int], None]

# How many people a select reads at a time (server-side cursors on PostgreSQL).
BATCH = 5000


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
    location_id: int | None = None
    facility_id: int | None = None


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

def subtree_ids(session: Session, location_id: int) -> list[int]:
    anchor = select(Location.id).where(Location.id == location_id).cte("due_area",
                                                                       recursive=True)
    child = aliased(Location)
    tree = anchor.union_all(select(child.id).join(anchor, child.parent_id == anchor.c.id))
    return list(session.scalars(select(tree.c.id)))


def people_condition(session: Session, *, on: date, child_since: date,
                      location_id: int | None, facility_id: int | None,
                      ids: Sequence[int] | None) -> Any:
    parts: list[Any] = [Beneficiary.birth_date.is_not(None)]
    if ids is not None:
        parts.append(Beneficiary.id.in_(list(ids)))
    if location_id is not None:
        parts.append(Beneficiary.location_id.in_(subtree_ids(session, location_id)))
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
                     Beneficiary.gender_id, Beneficiary.location_id, Beneficiary.facility_id)
              .where(condition).order_by(Beneficiary.id)
              .execution_options(yield_per=BATCH))
    chosen = select(Beneficiary.id).where(condition)
    doses = (select(Dose.beneficiary_id, VaccineProduct.code, Dose.administered_at, Dose.id)
             .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
             .where(Dose.beneficiary_id.in_(chosen))
             .order_by(Dose.beneficiary_id, Dose.administered_at, Dose.id)
             .execution_options(yield_per=BATCH * 8))
    pregnancies = (select(Pregnancy.beneficiary_id, Pregnancy.registered_on,
                          Pregnancy.outcome_date, Pregnancy.id)
                   .where(Pregnancy.beneficiary_id.in_(chosen))
                   .order_by(Pregnancy.beneficiary_id, Pregnancy.registered_on)
                   .execution_options(yield_per=BATCH))
    dose_rows = iter(session.execute(doses))
    pregnancy_rows = iter(session.execute(pregnancies))
    next_dose = next(dose_rows, None)
    next_pregnancy = next(pregnancy_rows, None)
    done = 0
    for pid, reference_id, external_id, name, birth_date, account_id, gender_id, \
            location_id, facility_id in session.execute(people):
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
                          places.get(location_id, ()) if location_id is not None else (),
                          location_id, facility_id)
        done += 1
        if progress is not None and total and (done % BATCH == 0 or done == total):
            progress("people", done, total)


def today_in(pack: ActivePack) -> date:
    """Today in the pack's timezone (the default day of a list)."""
    return datetime.now(ZoneInfo(pack.document.get("timezone") or "UTC")).date()


__all__ = [
    "BATCH", "Evaluator", "PersonFacts", "Progress", "RoutineRules", "count_people",
    "load_people", "people_condition", "routine_rules", "subtree_ids", "today_in",
]
