"""Due lists of an area or facility on a day: who needs which dose of the routine schedules,
the zero-dose children, and the defaulters; and one person's doses with their status.

The lists of due and overdue doses from today on are read from the kept due state
(cowin_kit.immunization.duestate: one indexed select over the pending doses, then their
people), identical to the live evaluation described below, which the other lists (other
statuses, past days) and one person's doses still use.

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

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Forbidden, InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Facility, Location
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme import due as rules
from cowin_kit.immunization import duestate
from cowin_kit.immunization.models import PendingDose
from cowin_kit.immunization.evaluation import (
    Evaluator, PersonFacts, Progress, RoutineRules, count_people, load_people,
    people_condition, routine_rules, today_in,
)
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose

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

# --- due lists --------------------------------------------------------------------------

class DueRow(NamedTuple):
    """One dose of one person on a list (a named tuple: lists hold hundreds of
    thousands)."""

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
             progress: Progress | None = None, live: bool = False) -> DueList:
    """The due list (``kind``: due, zero-dose, defaulters) of an area or facility on
    ``on``, limited to ``statuses`` (the list's defaults when None or empty). Read from
    the kept due state when it can answer (statuses due/overdue, a day from today on, a
    whole-country refresh with the current rules: cowin_kit.immunization.duestate), else
    (or with ``live``) by evaluating every person of the area."""
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
    location_id = location.id if location else None
    facility_id = facility.id if facility else None
    if not live and duestate.usable(session, pack, on, wanted):
        return _from_table(session, routine, on=on, kind=kind, chosen=chosen, wanted=wanted,
                           location=location, facility=facility, progress=progress)
    evaluator = Evaluator(routine, on, wanted)
    condition = people_condition(
        session, on=on, child_since=evaluator.child_since,
        location_id=location_id, facility_id=facility_id, ids=None)
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


def _from_table(session: Session, routine: RoutineRules, *, on: date, kind: str,
                chosen: tuple[str, ...], wanted: set[str], location: Location | None,
                facility: Facility | None, progress: Progress | None) -> DueList:
    """The list read from the kept due state (cowin_kit.immunization.duestate): the same
    rows, in the same order, as the live evaluation above."""
    condition = None
    if kind == LIST_ZERO_DOSE:  # nothing given at all
        condition = ~exists().where(Dose.beneficiary_id == Beneficiary.id)
    query = duestate.listed_query(session, on=on, statuses=wanted,
                                  location_id=location.id if location else None,
                                  facility_id=facility.id if facility else None,
                                  condition=condition, people=False)
    # the doses, then their people: each person's columns read once, not once per dose
    upcoming, due_, overdue = rules.UPCOMING, rules.DUE, rules.OVERDUE
    by_person: dict[int, list[tuple[Any, ...]]] = {}
    for pid, schedule, dose, earliest, due, latest, booster, _preg, overdue_from \
            in session.execute(query).all():
        status = upcoming if on < earliest else due_ if on < overdue_from else overdue
        if status not in wanted:
            continue
        row = (status, schedule, dose, earliest, due, latest, booster)
        mine = by_person.get(pid)
        if mine is None:
            by_person[pid] = [row]
        else:
            mine.append(row)
    if progress is not None:
        progress("people", 1, 1)
    child_since = routine.child_horizon.before(on)
    rank = {status: position for position, status in enumerate(rules.URGENCY)}
    order = routine.order
    chosen_set = set(chosen)
    kept_people: list[tuple[tuple[str, str], Any, list[tuple[Any, ...]]]] = []
    b = Beneficiary.__table__
    if by_person:
        # the people of those rows: the same conditions as a semi-join (no list of ids)
        rows_people = session.execute(
            select(b.c.id, b.c.reference_id, b.c.external_id, b.c.name, b.c.birth_date)
            .where(b.c.id.in_(query.with_only_columns(PendingDose.beneficiary_id)))
        ).all()
    else:
        rows_people = []
    for pid, reference_id, external_id, name, birth_date in rows_people:
        mine = by_person.get(pid)
        if mine is None:
            continue
        if kind == LIST_ZERO_DOSE and not (
                birth_date >= child_since and rules.is_zero_dose(
                    (), birth_date, on, routine.zero_dose_age)):
            continue
        if kind == LIST_DEFAULTERS and not any(r[0] == overdue for r in mine):
            continue
        kept = [r for r in mine if r[0] in chosen_set]
        if not kept:
            continue
        kept.sort(key=lambda r: (rank[r[0]], r[4], order.get(r[1], 0), r[2]))
        kept_people.append(((name.casefold(), reference_id),
                            (reference_id, external_id or "", name, birth_date), kept))
    kept_people.sort(key=lambda p: p[0])
    rows = [DueRow(person[0], person[1], person[2], person[3], r[1], r[2], r[3], r[4], r[5],
                   r[0], bool(r[6]))
            for _key, person, kept in kept_people for r in kept]
    return DueList(on=on, kind=kind, statuses=chosen, location=location, facility=facility,
                   rows=rows, people=len(kept_people), evaluated=len(by_person),
                   routine=routine)


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
    condition = people_condition(session, on=on, child_since=evaluator.child_since,
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


__all__ = [
    "ACTION", "COLUMNS", "DEFAULT_STATUSES", "DueList", "DueRow", "Evaluator", "LISTS",
    "LIST_DEFAULTERS", "LIST_DUE", "LIST_ZERO_DOSE", "PersonDue", "PersonFacts",
    "RoutineRules", "check_area_access", "check_kind", "check_statuses", "count_people",
    "default_place", "due_list", "due_list_csv", "load_people", "person_due",
    "routine_rules", "status_label", "today_in",
]
