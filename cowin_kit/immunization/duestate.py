"""The kept due state: each person's pending doses in the ``pending_dose`` table, as the
pure rules (:func:`cowin_kit.programme.due.evaluate`) compute them, so that a due list is
one indexed query comparing stored dates with the day instead of evaluating every child
of an area (0.2 ms each) at request time.

What is stored. For each schedule instance of a person (a birth-timed schedule, or a
pregnancy schedule for one pregnancy) evaluated on ``as_of`` (the refresh day): its first
pending dose (upcoming, due or overdue) with its earliest, due and latest dates. The dates
of a first pending dose depend only on the records and the anchor (birth or pregnancy
start): earliest = max(anchor + min_age, previous counted dose + min_interval) and so on,
never on the day. Only its status does, and when the day passes ``latest`` the dose is
missed and the next dose takes over, with dates again independent of the day. So the
rows of an instance are that chain: the first pending dose, then the dose found pending
the day after its ``latest`` (evaluating the rules again on that day), and so on until a
dose with no last day. Each row carries ``active_from`` (None for the first: already
pending on ``as_of``; else the day after the previous row's ``latest``) and ``until``
(``latest``, capped for birth-timed schedules by the last day the person is a child, as
the lists count children). On ANY day D >= as_of, with no new record, the status the rules
give that dose is a pure function of the stored dates::

    listed:   (active_from is None or active_from <= D) and (until is None or D <= until)
    upcoming: D < earliest
    due:      earliest <= D < overdue_from        (overdue_from = due + overdue_after)
    overdue:  overdue_from <= D

and no other dose of the instance is due or overdue on D: the doses after the first
pending one are projected from it (given at the earliest on its due date, or on D when
that has passed) and so are at least a day after D: upcoming, never due or overdue.

What the table answers, identical to a live evaluation: the due/overdue rows of the due,
zero-dose and defaulter lists and the reminders' scan, for days on or after ``as_of``. What
it does not hold: the doses after a pending one (projections, and whether
``not_needed_if_started_after`` drops them: both depend on the day), done, not counted and
missed doses. Lists asking for those statuses (``upcoming``, ``missed``...) or for a day
before today evaluate live (:mod:`cowin_kit.immunization.duelists`), as does one
person's record. Reminders use the first pending dose only; a projected dose could
only call for a reminder if it were due within ``remind_before`` of the pending one's due
date (no pack schedule has doses that close).

When it is refreshed: :func:`refresh_people` in the transaction of every change of what
the rules read of a person (signal ``due_facts_changed``, received by
cowin_kit.immunization.receivers; campaign doses call it directly), and a full refresh
(:func:`refresh_all`: ``cowin-kit due-list refresh``, and the worker once a day). What may
be stale between refreshes: rows written by anything that bypasses the services (SQL,
restores; the full refresh fixes them within a day), a pregnancy or a dose dated after the
day of the refresh (the services refuse future dates), and, after a pack install changed
the routine schedules or the routine settings, every row: the lists then notice that the
last full refresh used other rules (its ``fingerprint``) and evaluate live until the next
full refresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, delete, exists, insert, or_, select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.immunization.evaluation import (
    PersonFacts, RoutineRules, load_people, routine_rules, subtree_ids, today_in,
)
from cowin_kit.immunization.models import DueRefresh, PendingDose
from cowin_kit.programme import due as rules
from cowin_kit.programme.models import VaccineSchedule
from cowin_kit.registration.models import Beneficiary, Pregnancy

PENDING = frozenset({rules.UPCOMING, rules.DUE, rules.OVERDUE})
# The statuses a list may ask for and still be read from the table.
TABLE_STATUSES = frozenset({rules.DUE, rules.OVERDUE})

Progress = Callable[[str, int, int], None]

_TABLE = PendingDose.__table__
_BATCH = 1000
_ONE_DAY = timedelta(days=1)


def status_on(earliest: date, overdue_from: date, on: date) -> str:
    """The status of a listed row on ``on`` (see the module docstring)."""
    if on < earliest:
        return rules.UPCOMING
    if on < overdue_from:
        return rules.DUE
    return rules.OVERDUE


# --- the rules' fingerprint -------------------------------------------------------------

def fingerprint(session: Session, pack: ActivePack) -> str:
    """A digest of everything the stored rows depend on besides the people: the routine
    schedules as installed, the routine settings used and the pack's timezone."""
    def compute() -> str:
        rows = session.scalars(select(VaccineSchedule).where(VaccineSchedule.routine.is_(True))
                               .order_by(VaccineSchedule.id))
        routine = routine_rules(session, pack)
        document = {
            "schedules": [[r.code, list(r.products or []), list(r.doses or []), r.timed_from,
                           dict(r.options or {})] for r in rows],
            "overdue_after": str(routine.overdue_after), "grace": str(routine.grace),
            "child_horizon": routine.child_horizon.approx_days(),
            "timezone": pack.document.get("timezone") or "UTC",
        }
        text = json.dumps(document, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    return pack.memo(("immunization.due_state_fingerprint",), compute)


def table_ready(session: Session, pack: ActivePack) -> bool:
    """Whether the last finished whole-country refresh used the current rules."""
    last = session.scalar(select(DueRefresh.fingerprint)
                          .where(DueRefresh.finished_at.is_not(None),
                                 DueRefresh.location_code.is_(None))
                          .order_by(DueRefresh.id.desc()).limit(1))
    return last is not None and last == fingerprint(session, pack)


def usable(session: Session, pack: ActivePack, on: date, statuses: Iterable[str]) -> bool:
    """Whether a list of ``statuses`` on ``on`` can be read from the table."""
    return (set(statuses) <= TABLE_STATUSES and on >= today_in(pack)
            and table_ready(session, pack))


# --- computing a person's rows (pure, given the loaded facts) ----------------------------

class Chains:
    """Computes the rows of people evaluated on ``on``; remembers the evaluation of a
    birth-timed schedule for an identical (birth date, history, day)."""

    def __init__(self, routine: RoutineRules, on: date):
        self.routine = routine
        self.on = on
        self.child_since = routine.child_horizon.before(on)
        self._memo: dict[tuple[Any, ...], list[rules.DoseStatus]] = {}

    def _birth_statuses(self, index: int, person: PersonFacts,
                        mine: tuple[tuple[str, date], ...], day: date) -> list[rules.DoseStatus]:
        key = (index, person.birth_date, mine, day)
        found = self._memo.get(key)
        if found is None:
            routine = self.routine
            found = rules.evaluate([routine.birth[index]], birth_date=person.birth_date,
                                   history=[rules.Given(p, d) for p, d in mine], on=day,
                                   overdue_after=routine.overdue_after,
                                   default_grace=routine.grace)
            if len(self._memo) > 200000:
                self._memo.clear()
            self._memo[key] = found
        return found

    def rows(self, person: PersonFacts) -> list[dict[str, Any]]:
        """The person's pending_dose rows (dicts of column values, without timestamps)."""
        routine, on = self.routine, self.on
        out: list[dict[str, Any]] = []
        history = [g for g in person.history if g.day <= on]
        if person.birth_date >= self.child_since:
            # the last day the person is a child (the lists' "born after child_since")
            child_end = person.birth_date + timedelta(days=routine.child_horizon.approx_days())
            areas = frozenset(person.area_codes)
            for index, rule in enumerate(routine.birth):
                if not rule.applies_to(person.sex, areas):
                    continue
                accepted = routine.accepted[index]
                mine = tuple((g.product, g.day) for g in history if g.product in accepted)
                self._chain(out, person, lambda day, i=index, m=mine:
                            self._birth_statuses(i, person, m, day), None, child_end)
        pregnancies = tuple(p for p in person.pregnancies if p.start <= on)
        if pregnancies and routine.pregnancy:
            for rule in routine.pregnancy:
                def at(day: date, rule: rules.ScheduleRule = rule) -> list[rules.DoseStatus]:
                    return rules.evaluate([rule], birth_date=person.birth_date, history=history,
                                          on=day, pregnancies=pregnancies,
                                          overdue_after=routine.overdue_after,
                                          default_grace=routine.grace, sex=person.sex,
                                          area_codes=person.area_codes)
                first = at(on)
                for ref in dict.fromkeys(s.pregnancy.ref for s in first
                                         if s.pregnancy is not None):
                    self._chain(out, person, at, ref, None, first=first)
        return out

    def _chain(self, out: list[dict[str, Any]], person: PersonFacts,
               at: Callable[[date], list[rules.DoseStatus]], pregnancy_ref: Any,
               cap: date | None, first: list[rules.DoseStatus] | None = None) -> None:
        day, active_from = self.on, None
        statuses = first if first is not None else at(day)
        while True:
            pending = next((s for s in statuses if s.status in PENDING and (
                pregnancy_ref is None or (s.pregnancy is not None
                                          and s.pregnancy.ref == pregnancy_ref))), None)
            if pending is None or pending.earliest is None or pending.due is None:
                return
            latest = pending.latest
            until = latest if cap is None else (cap if latest is None else min(latest, cap))
            out.append({
                "beneficiary_id": person.id, "location_id": person.location_id,
                "facility_id": person.facility_id, "schedule": pending.schedule,
                "dose": pending.dose, "pregnancy_id": pregnancy_ref, "booster": pending.booster,
                "earliest": pending.earliest, "due": pending.due, "latest": latest,
                "overdue_from": self.routine.overdue_after.after(pending.due),
                "active_from": active_from, "until": until, "as_of": self.on})
            if latest is None or (cap is not None and latest >= cap):
                return
            day = active_from = latest + _ONE_DAY
            statuses = at(day)


# --- writing rows ------------------------------------------------------------------------

def _candidates(routine: RoutineRules, on: date) -> Any:
    """The people who may have pending doses: children on ``on`` and anyone with a
    registered pregnancy."""
    pregnant = exists().where(Pregnancy.beneficiary_id == Beneficiary.id)
    return and_(Beneficiary.birth_date.is_not(None),
                or_(Beneficiary.birth_date >= routine.child_horizon.before(on), pregnant))


def _lock(session: Session, ids: Sequence[int]) -> None:
    """Row locks on the people (PostgreSQL: FOR NO KEY UPDATE, which does not block dose
    inserts), so that two refreshes of a person (a visit's and the nightly one) run one
    after the other, the second reading what the first committed."""
    if session.get_bind().dialect.name == "sqlite":
        return  # SQLite writers are serialized by the database lock
    list(session.scalars(select(Beneficiary.id).where(Beneficiary.id.in_(list(ids)))
                         .order_by(Beneficiary.id).with_for_update(key_share=True)))


def _write(session: Session, chains: Chains, pack: ActivePack, ids: Sequence[int],
           condition: Any) -> tuple[int, int]:
    """Replace the rows of ``ids`` (deleting also those matching ``condition`` when it
    is not None) by the rows of the candidates among them; (people, rows) written."""
    now = datetime.now(timezone.utc)
    session.execute(delete(_TABLE).where(
        _TABLE.c.beneficiary_id.in_(list(ids)) if condition is None else condition))
    people = 0
    values: list[dict[str, Any]] = []
    if ids:
        chosen = and_(Beneficiary.id.in_(list(ids)), _candidates(chains.routine, chains.on))
        for person in load_people(session, pack, chosen, chains.on):
            people += 1
            for row in chains.rows(person):
                row["refreshed_at"] = now
                values.append(row)
    if values:
        session.execute(insert(_TABLE), values)
    return people, len(values)


def refresh_people(session: Session, pack: ActivePack, person_ids: Iterable[int], *,
                   on: date | None = None) -> int:
    """Compute again the pending doses of ``person_ids`` in the caller's transaction (no
    commit); how many rows they have now."""
    ids = sorted(set(person_ids))
    if not ids:
        return 0
    session.flush()
    chains = Chains(routine_rules(session, pack), on or today_in(pack))
    written = 0
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start:start + _BATCH]
        if len(chunk) == 1 and session.scalar(select(Beneficiary.id).where(
                Beneficiary.id == chunk[0], _candidates(chains.routine, chains.on))) is None:
            # an adult with no pregnancy (the COVID-19 flows): nothing to keep
            session.execute(delete(_TABLE).where(_TABLE.c.beneficiary_id == chunk[0]))
            continue
        _lock(session, chunk)
        written += _write(session, chains, pack, chunk, None)[1]
    return written


@dataclass
class RefreshReport:
    people: int = 0
    rows: int = 0
    seconds: float = 0.0
    as_of: date | None = None


def refresh_all(session: Session, pack: ActivePack, *, location_code: str | None = None,
                on: date | None = None, progress: Progress | None = None) -> RefreshReport:
    """Compute again every candidate's pending doses (of one area: ``location_code``),
    a batch of people per transaction (commits). Idempotent; the rows of people who are
    no longer candidates (grown up) go. Records the refresh (``due_refresh``) with the
    rules' fingerprint: a whole-country one lets the lists read the table."""
    import time

    from cowin_kit.core.errors import NotFound
    from cowin_kit.core.i18n import gettext as _
    from cowin_kit.geography.models import Location

    started = time.perf_counter()
    today = today_in(pack)
    # never as of a later day than today: the rows of the days between would be missing
    day = min(on, today) if on is not None else today
    routine = routine_rules(session, pack)
    area: list[int] | None = None
    if location_code:
        location_id = session.scalar(select(Location.id).where(Location.code == location_code))
        if location_id is None:
            raise NotFound(_("No location with code %(code)s.", code=location_code),
                           code="location_not_found")
        area = subtree_ids(session, location_id)
    record = DueRefresh(fingerprint=fingerprint(session, pack), location_code=location_code,
                        as_of=day)
    session.add(record)
    session.commit()
    record_id = record.id
    condition = _candidates(routine, day)
    if area is not None:
        condition = and_(condition, Beneficiary.location_id.in_(area))
    ids = list(session.scalars(select(Beneficiary.id).where(condition).order_by(Beneficiary.id)))
    session.commit()
    chains = Chains(routine, day)
    report = RefreshReport(as_of=day)
    low = 0
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start:start + _BATCH]
        last = start + _BATCH >= len(ids)
        high = chunk[-1]
        # every row of the id range goes (people who are no longer candidates included)
        in_range = _TABLE.c.beneficiary_id > low
        if not last:
            in_range = and_(in_range, _TABLE.c.beneficiary_id <= high)
        if area is not None:
            in_range = and_(in_range, _TABLE.c.location_id.in_(area))
        _lock(session, chunk)
        people, rows = _write(session, chains, pack, chunk, or_(
            in_range, _TABLE.c.beneficiary_id.in_(chunk)))
        session.commit()
        report.people += people
        report.rows += rows
        low = high
        if progress is not None:
            progress("people", min(start + _BATCH, len(ids)), len(ids))
    if not ids:
        stale = _TABLE.c.beneficiary_id.is_not(None)
        if area is not None:
            stale = _TABLE.c.location_id.in_(area)
        session.execute(delete(_TABLE).where(stale))
    finished = session.get(DueRefresh, record_id)
    assert finished is not None
    finished.finished_at = datetime.now(timezone.utc)
    finished.people, finished.rows = report.people, report.rows
    session.commit()
    report.seconds = time.perf_counter() - started
    return report


def refreshed_today(session: Session, pack: ActivePack, on: date | None = None) -> bool:
    """Whether a whole-country refresh with the current rules finished for ``on``."""
    day = on or today_in(pack)
    return session.scalar(select(DueRefresh.id).where(
        DueRefresh.finished_at.is_not(None), DueRefresh.location_code.is_(None),
        DueRefresh.as_of >= day, DueRefresh.fingerprint == fingerprint(session, pack))
        .limit(1)) is not None


# --- reading rows --------------------------------------------------------------------------

@dataclass(frozen=True)
class StateRow:
    """A listed row on a day, with the person's columns the lists show."""

    beneficiary_id: int
    reference_id: str
    external_id: str | None
    name: str
    birth_date: date
    account_id: int
    schedule: str
    dose: int
    earliest: date
    due: date
    latest: date | None
    status: str
    booster: bool
    pregnancy_id: int | None


def listed_query(session: Session, *, on: date, statuses: Iterable[str],
                 location_id: int | None = None, facility_id: int | None = None,
                 condition: Any = None, due_between: tuple[date, date] | None = None,
                 people: bool = True) -> Any:
    """The select of the rows listed on ``on`` that may have one of ``statuses`` (of
    upcoming, due, overdue), of the people of an area (its subtree) and/or a home
    facility, matching ``condition`` (on Beneficiary), with a due date in ``due_between``
    (inclusive). Columns: beneficiary id, schedule, dose, earliest, due, latest, booster,
    pregnancy_id, overdue_from, and with ``people`` the person's reference_id,
    external_id, name, birth_date, account_id (the caller computes the status:
    :func:`status_on`)."""
    wanted = set(statuses)
    t = _TABLE
    b = Beneficiary.__table__
    parts: list[Any] = [or_(t.c.active_from.is_(None), t.c.active_from <= on),
                        or_(t.c.until.is_(None), t.c.until >= on)]
    if rules.UPCOMING not in wanted:
        parts.append(t.c.earliest <= on)
        if rules.DUE not in wanted:
            parts.append(t.c.overdue_from <= on)
        elif rules.OVERDUE not in wanted:
            parts.append(t.c.overdue_from > on)
    if location_id is not None:
        parts.append(t.c.location_id.in_(subtree_ids(session, location_id)))
    if facility_id is not None:
        parts.append(t.c.facility_id == facility_id)
    if due_between is not None:
        parts.append(t.c.due.between(*due_between))
    columns = [t.c.beneficiary_id, t.c.schedule, t.c.dose, t.c.earliest, t.c.due, t.c.latest,
               t.c.booster, t.c.pregnancy_id, t.c.overdue_from]
    if people:
        columns += [b.c.reference_id, b.c.external_id, b.c.name, b.c.birth_date,
                    b.c.account_id]
    query = select(*columns)
    if people or condition is not None:
        query = query.join(b, b.c.id == t.c.beneficiary_id)
    if condition is not None:
        parts.append(condition)
    return query.where(and_(*parts))


def listed_rows(session: Session, *, on: date, statuses: Iterable[str],
                **query: Any) -> list[tuple[Any, ...]]:
    """The rows of :func:`listed_query` with one of ``statuses`` on ``on``, as tuples
    (beneficiary id, reference_id, external_id, name, birth_date, account_id, schedule,
    dose, earliest, due, latest, booster, pregnancy_id, status)."""
    wanted = set(statuses)
    upcoming, due_, overdue = rules.UPCOMING, rules.DUE, rules.OVERDUE
    out: list[tuple[Any, ...]] = []
    for (pid, schedule, dose, earliest, due, latest, booster, pregnancy_id, overdue_from,
         reference_id, external_id, name, birth_date, account_id) in session.execute(
            listed_query(session, on=on, statuses=wanted, **query)):
        status = upcoming if on < earliest else due_ if on < overdue_from else overdue
        if status in wanted:
            out.append((pid, reference_id, external_id, name, birth_date, account_id,
                        schedule, dose, earliest, due, latest, booster, pregnancy_id, status))
    return out


def listed(session: Session, **query: Any) -> Iterator[StateRow]:
    """:func:`listed_rows` (same arguments) as StateRow objects."""
    for (pid, reference_id, external_id, name, birth_date, account_id, schedule, dose,
         earliest, due, latest, booster, pregnancy_id, status) in listed_rows(session, **query):
        yield StateRow(pid, reference_id, external_id, name, birth_date, account_id,
                       schedule, dose, earliest, due, latest, status, bool(booster),
                       pregnancy_id)


__all__ = [
    "Chains", "PENDING", "RefreshReport", "StateRow", "TABLE_STATUSES", "fingerprint",
    "listed", "listed_query", "listed_rows", "refresh_all", "refresh_people", "refreshed_today", "status_on", "table_ready",
    "usable",
]
