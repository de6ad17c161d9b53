"""Due rules of the routine schedules: for a person and a day, every dose of every schedule
with its status and its earliest, due and latest dates.

Pure: no I/O, no database, no settings, no clock (the day is an argument). Imports only
the standard library and :mod:`cowin_kit.core.durations`. The names and the core
semantics are fixed by the routine immunization design (issue 14, "Due rules"); this
docstring records the details that design leaves open. The logic follows the usual
immunization-registry conventions (minimum age and interval, catch-up limits, a grace
period of a few days for early doses as in ACIP's general best-practice guidance, WHO
SMART Immunizations' per-dose decision tables) but is written from those rules, not
copied from any implementation.

Dates of a dose (``anchor`` = birth date, or the pregnancy's start for pregnancy schedules;
``previous`` = the previous dose of the series that counted):

- earliest = max(anchor + min_age, previous + min_interval); a dose with no ``min_age``
  uses its ``age``, and a schedule-level ``min_age`` when it has neither.
- due = max(anchor + age, previous + min_interval), never before earliest; a dose with
  no ``age`` is due at its earliest date.
- latest = min(anchor + max_age, previous + max_interval) (inclusive; None = no limit).
  The dose that would start a series with ``start_max_age`` also ends the day before
  anchor + start_max_age (projected doses after it do not: only the start is limited).
  A pregnancy's doses end with the pregnancy (``end``).
- Two doses of one series are never on the same day: without ``min_interval`` the next
  dose is at least one day after the previous one, and a second record of the series on
  the day of a counted dose is ``not_counted`` (a duplicate), grace or not.

Status on the day ``on`` of a dose not given: ``upcoming`` (on < earliest), ``due``
(earliest <= on < due + overdue_after), ``overdue`` (later, up to latest), ``missed``
(after latest, or the window is empty: earliest > latest, or the series was not started
before ``start_max_age``). ``not_needed``: see boosters and ``not_needed_if_started_after``
below; such doses carry no dates.

How recorded doses (``Given``) are matched:

- A record applies to every schedule whose products (the schedule's own list or any of
  its doses' lists) include its product, so one pentavalent dose counts in the DTP, HepB
  and Hib series. The products of a routine schedule are interchangeable; a dose's own
  ``products`` list narrows what counts for that dose (e.g. a booster given with another
  product than the primary doses).
- Records after ``on`` are ignored (the evaluation is as of ``on``). Records are taken in
  date order and matched to the doses in the schedule's order (dose number).
- A record given before earliest - grace (grace: the dose's, else the schedule's, else
  ``default_grace``, else none) is ``not_counted``: it gets its own DoseStatus carrying
  ``given`` (placed before the dose it was taken for) and that dose stays pending, its
  minimum interval still counted from the previous COUNTED dose (the design's rule; ACIP
  would count the interval of the repeat from the invalid dose for some vaccines).
- A record whose product the pending dose does not accept closes that dose as ``missed``
  when the record is past the dose's latest date or the first later dose accepting the
  product would count it (the series moved on: HepB birth dose never given, then
  pentavalent at 6 weeks); otherwise it is ``not_counted`` (DTP booster product at 6
  weeks: not a pentavalent dose, and too early for the booster).
- A record given after the dose's last allowed AGE (``max_age``) is taken by a later
  dose instead when that dose accepts it and it is not too early for it (OPV-0 not
  given in the first 15 days: the OPV at 6 weeks is OPV-1, and OPV-0 is ``missed``).
  Otherwise a late record still counts: the dose is ``done`` (a late dose is a dose).
- The first counted record of a series with ``start_max_age`` must be given before
  anchor + start_max_age: a record at or after it is ``not_counted`` and, when the series
  was not started by then, every dose of it is ``missed`` (rotavirus not started by its
  catch-up limit).
- Records left over after the last dose of a series are ignored (extra doses).

Projection: a dose that is ``missed`` is skipped (the next dose counts its interval from
the last counted dose). After the first pending dose (upcoming, due or overdue) the
following doses are projected as if it were given on its due date, or on ``on`` when that
date has passed (a worker cannot give a dose before the pending one: the contract's "from
the pending one's due date", moved to today for late children so that a catch-up dose
never looks due on the same visit as the dose before it).

``not_needed_if_started_after``: the dose is ``not_needed`` when the series started (its
first counted dose) at or after anchor + that age; when the series has not started, the
start is projected as max(the first pending dose's earliest date, on).

Boosters (``booster: true``) are ordinary doses of birth-timed schedules, flagged in the
result (reports count primary series without them). In a pregnancy schedule with
``prior_series_within``: when at least as many records of the schedule's products as it
has primary (non-booster) doses are dated within that duration before the pregnancy's
start, only the booster is needed (the primary doses are ``not_needed``, the booster's
interval is counted from the last of those records); otherwise the primary doses are
needed and the boosters are ``not_needed``.

Pregnancy schedules (``timed_from: pregnancy``) give one instance per pregnancy started
on or before ``on``, anchored at ``Pregnancy.start`` (its registration date), in order of
start. A record counts for the pregnancy it falls in: [start, end], where a pregnancy
without an end lasts until the day before the next one starts (or has no end). Records
outside every pregnancy count only as a prior series. No pregnancy: no instance.

Whom a schedule is for (``sex`` and ``areas`` in its options, from the pack): a schedule
with ``sex`` (gender codes, e.g. ``[F]`` for HPV) applies only to a person whose ``sex``
is one of them; a schedule with ``areas`` (location codes, e.g. JE's endemic districts)
applies only to a person whose ``area_codes`` (their location's code and the codes of
all its ancestors: the caller walks the location tree, this module has no database)
include one of them, i.e. who lives within one of those subtrees. A schedule that does
not apply is left out of the result entirely, records of its products included (they
still count in the other schedules that accept them). ``sex=None`` or
``area_codes=None`` (the default) means "not given": that filter is not applied and
every schedule is evaluated as before; ``area_codes=()`` (a person with no location)
excludes every schedule limited to areas. Schedules without ``sex``/``areas`` apply to
everyone.

Result order: schedules in the order given; within a schedule its pregnancies by start;
within those the doses by number, each dose's ``not_counted`` records (by date) before its
own status.

Legacy schedules (the COVID-19 packs: no ``timed_from``/``options``, ``min_interval_days``,
whole-year ``min_age``/``max_age`` columns) are read by :func:`schedule_rule`: the
schedule's min_age (years) is the default minimum age of its doses, and for a schedule
that is not routine its max_age (whole years, so 17 means "until the 18th birthday")
becomes the catch-up limit ``start_max_age`` = max_age + 1 years. For routine schedules
the whole-year columns are floors of the pack's durations and only ``options`` (keys
``min_age``/``max_age`` when present) are used for schedule-level age limits.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cowin_kit.core.durations import Duration, parse_optional

DONE = "done"
UPCOMING = "upcoming"
DUE = "due"
OVERDUE = "overdue"
MISSED = "missed"
NOT_COUNTED = "not_counted"
NOT_NEEDED = "not_needed"
STATUSES = (DONE, UPCOMING, DUE, OVERDUE, MISSED, NOT_COUNTED, NOT_NEEDED)
# The order a worker reads a person's doses in: what to give now first.
URGENCY = (OVERDUE, DUE, UPCOMING, NOT_COUNTED, MISSED, DONE, NOT_NEEDED)

BIRTH = "birth"
PREGNANCY = "pregnancy"

_ONE_DAY = timedelta(days=1)
_NO_GRACE = Duration(0, "d")


@dataclass(frozen=True)
class DoseRule:
    number: int
    age: Duration | None = None
    min_age: Duration | None = None
    max_age: Duration | None = None
    min_interval: Duration | None = None
    max_interval: Duration | None = None
    grace: Duration | None = None
    products: tuple[str, ...] = ()
    booster: bool = False
    not_needed_if_started_after: Duration | None = None


@dataclass(frozen=True)
class ScheduleRule:
    code: str
    products: tuple[str, ...]
    timed_from: str = BIRTH
    start_max_age: Duration | None = None
    grace: Duration | None = None
    prior_series_within: Duration | None = None
    doses: tuple[DoseRule, ...] = ()
    sex: tuple[str, ...] = ()              # gender codes it is limited to; () = everyone
    areas: tuple[str, ...] = ()            # location codes (subtrees); () = everywhere

    def accepts(self, product: str) -> bool:
        """Whether a dose of ``product`` belongs to this series (any of its doses)."""
        return product in self.products or any(product in d.products for d in self.doses)

    def applies_to(self, sex: str | None = None,
                   area_codes: Collection[str] | None = None) -> bool:
        """Whether the schedule is for a person of ``sex`` living in ``area_codes`` (their
        location and its ancestors); None: not known, not filtered (see the module doc)."""
        if self.sex and sex is not None and sex not in self.sex:
            return False
        if self.areas and area_codes is not None \
                and not any(code in area_codes for code in self.areas):
            return False
        return True


@dataclass(frozen=True)
class Given:
    """A recorded dose: its product, the day it was given, and the caller's id for it."""
    product: str
    day: date
    ref: object = None


@dataclass(frozen=True)
class Pregnancy:
    start: date            # registration of the pregnancy: day 0 of its schedules
    end: date | None = None
    ref: object = None


@dataclass(frozen=True)
class DoseStatus:
    schedule: str
    dose: int
    status: str
    earliest: date | None
    due: date | None
    latest: date | None
    given: Given | None = None
    booster: bool = False
    pregnancy: Pregnancy | None = None


# --- reading a schedule row -------------------------------------------------------------

def _field(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        value = row.get(name, default)
    else:
        value = getattr(row, name, default)
    return default if value is None else value


def _days(value: Any) -> Duration | None:
    return None if value is None else Duration(int(value), "d")


def _dose_rule(raw: Mapping[str, Any], index: int, schedule_min_age: Duration | None,
               schedule_max_age: Duration | None) -> DoseRule:
    age = parse_optional(raw.get("age"))
    min_age = parse_optional(raw.get("min_age"))
    if min_age is None and age is None:
        min_age = schedule_min_age
    max_age = parse_optional(raw.get("max_age"))
    if max_age is None:
        max_age = schedule_max_age
    min_interval = parse_optional(raw.get("min_interval"))
    if min_interval is None:
        min_interval = _days(raw.get("min_interval_days"))
    max_interval = parse_optional(raw.get("max_interval"))
    if max_interval is None:
        max_interval = _days(raw.get("max_interval_days"))
    return DoseRule(
        number=int(raw.get("number") or index + 1),
        age=age, min_age=min_age, max_age=max_age,
        min_interval=min_interval, max_interval=max_interval,
        grace=parse_optional(raw.get("grace")),
        products=tuple(raw.get("products") or ()),
        booster=bool(raw.get("booster", False)),
        not_needed_if_started_after=parse_optional(raw.get("not_needed_if_started_after")),
    )


def schedule_rule(row: Any) -> ScheduleRule:
    """The rule of a schedule row (a VaccineSchedule, or anything with ``code``,
    ``products``, ``doses`` and optionally ``timed_from``, ``options``, ``routine``,
    ``min_age``, ``max_age``; a mapping works too). Missing attributes take defaults, so
    the COVID-19 schedules of older packs read as they are."""
    options = dict(_field(row, "options", {}) or {})
    routine = bool(_field(row, "routine", False))
    schedule_min_age = parse_optional(options.get("min_age"))
    schedule_max_age = parse_optional(options.get("max_age"))
    start_max_age = parse_optional(options.get("start_max_age"))
    if schedule_min_age is None:
        legacy_min = _field(row, "min_age", 0)
        if isinstance(legacy_min, int) and not isinstance(legacy_min, bool) and legacy_min > 0:
            schedule_min_age = Duration(legacy_min, "y")
    if not routine and schedule_max_age is None and start_max_age is None:
        legacy_max = _field(row, "max_age", None)
        if isinstance(legacy_max, int) and not isinstance(legacy_max, bool):
            start_max_age = Duration(legacy_max + 1, "y")
    doses = [_dose_rule(raw, index, schedule_min_age, schedule_max_age)
             for index, raw in enumerate(_field(row, "doses", ()) or ())]
    doses.sort(key=lambda d: d.number)
    timed_from = str(_field(row, "timed_from", BIRTH) or BIRTH)
    return ScheduleRule(
        code=str(_field(row, "code", "")),
        products=tuple(_field(row, "products", ()) or ()),
        timed_from=timed_from,
        start_max_age=start_max_age,
        grace=parse_optional(options.get("grace")),
        prior_series_within=parse_optional(options.get("prior_series_within")),
        doses=tuple(doses),
        sex=tuple(str(code) for code in options.get("sex") or ()),
        areas=tuple(str(code) for code in options.get("areas") or ()),
    )


# --- evaluation -------------------------------------------------------------------------

@dataclass
class _Series:
    """One instance of a schedule being walked: a child's, or one pregnancy's."""
    rule: ScheduleRule
    anchor: date
    on: date
    overdue_after: Duration
    default_grace: Duration | None
    pregnancy: Pregnancy | None = None
    end: date | None = None                   # last day a dose counts (pregnancy)
    booster_only: bool | None = None          # None: no prior-series rule
    previous: date | None = None              # last counted dose
    started: date | None = None               # first counted dose
    pending_earliest: date | None = None      # projection base (first pending dose on)
    pending_due: date | None = None
    first_pending_earliest: date | None = None

    def grace(self, dose: DoseRule) -> Duration:
        return dose.grace or self.rule.grace or self.default_grace or _NO_GRACE

    def start_limit(self) -> date | None:
        if self.rule.start_max_age is None:
            return None
        return self.rule.start_max_age.after(self.anchor)

    def window(self, dose: DoseRule, previous: date | None = None,
               projecting: bool | None = None) -> tuple[date, date, date | None]:
        """(earliest, due, latest) of ``dose`` after the counted ``previous`` dose, or
        projected after the pending one."""
        if projecting is None:
            projecting = self.pending_due is not None
        min_age = dose.min_age or dose.age
        earliest = min_age.after(self.anchor) if min_age else self.anchor
        due = dose.age.after(self.anchor) if dose.age else earliest
        latest = dose.max_age.after(self.anchor) if dose.max_age else None
        if projecting:
            assert self.pending_earliest is not None and self.pending_due is not None
            base_earliest = max(self.pending_earliest, self.on)
            base_due = max(self.pending_due, self.on)
        else:
            base_earliest = base_due = previous if previous is not None else self.previous
        if base_earliest is not None and base_due is not None:
            if dose.min_interval is not None:
                earliest = max(earliest, dose.min_interval.after(base_earliest))
                due = max(due, dose.min_interval.after(base_due))
            else:
                earliest = max(earliest, base_earliest + _ONE_DAY)
                due = max(due, base_due + _ONE_DAY)
            if dose.max_interval is not None:
                limit = dose.max_interval.after(base_due)
                latest = limit if latest is None else min(latest, limit)
        due = max(due, earliest)
        start_limit = self.start_limit()
        if self.started is None and start_limit is not None and not projecting:
            limit = start_limit - _ONE_DAY
            latest = limit if latest is None else min(latest, limit)
        if self.end is not None:
            latest = self.end if latest is None else min(latest, self.end)
        return earliest, due, latest

    def status_of(self, earliest: date, due: date, latest: date | None) -> str:
        on = self.on
        start_limit = self.start_limit()
        if self.started is None and start_limit is not None and on >= start_limit:
            return MISSED
        if latest is not None and (on > latest or earliest > latest):
            return MISSED
        if on < earliest:
            return UPCOMING
        if on < self.overdue_after.after(due):
            return DUE
        return OVERDUE

    def status(self, dose: DoseRule, status: str, dates: tuple[Any, Any, Any] = (None,) * 3,
               given: Given | None = None) -> DoseStatus:
        return DoseStatus(self.rule.code, dose.number, status, dates[0], dates[1], dates[2],
                          given, dose.booster, self.pregnancy)

    def not_needed(self, dose: DoseRule) -> bool:
        if self.booster_only is not None and self.rule.prior_series_within is not None:
            return dose.booster != self.booster_only
        if dose.not_needed_if_started_after is None:
            return False
        start = self.started
        if start is None and self.first_pending_earliest is not None:
            start = max(self.first_pending_earliest, self.on)
        return start is not None and start >= dose.not_needed_if_started_after.after(self.anchor)

    def moves_on(self, index: int, given: Given) -> bool:
        """Whether a later dose would count ``given`` if the doses before it were skipped:
        the first later dose accepting its product, when the record is not too early for
        it (the series moved on past the dose at ``index``)."""
        for following in self.rule.doses[index + 1:]:
            if given.product in (following.products or self.rule.products):
                earliest, _due, _latest = self.window(following, projecting=False)
                return given.day >= self.grace(following).before(earliest)
        return False

    def walk(self, givens: Sequence[Given]) -> list[DoseStatus]:
        out: list[DoseStatus] = []
        queue = deque(givens)
        start_limit = self.start_limit()
        for index, dose in enumerate(self.rule.doses):
            if self.not_needed(dose):
                out.append(self.status(dose, NOT_NEEDED))
                continue
            accepted = dose.products or self.rule.products
            result: DoseStatus | None = None
            while queue and result is None and self.pending_due is None:
                dates = self.window(dose)
                earliest, _due, latest = dates
                given = queue[0]
                if self.started is None and start_limit is not None and given.day >= start_limit:
                    out.append(self.status(dose, NOT_COUNTED, dates, queue.popleft()))
                    continue
                if given.product not in accepted:
                    if ((latest is not None and given.day > latest)
                            or self.moves_on(index, given)):
                        result = self.status(dose, MISSED, dates)
                        break
                    out.append(self.status(dose, NOT_COUNTED, dates, queue.popleft()))
                    continue
                too_early = given.day < self.grace(dose).before(earliest)
                duplicate = self.previous is not None and given.day <= self.previous
                if too_early or duplicate:
                    out.append(self.status(dose, NOT_COUNTED, dates, queue.popleft()))
                    continue
                if (dose.max_age is not None and given.day > dose.max_age.after(self.anchor)
                        and self.moves_on(index, given)):
                    result = self.status(dose, MISSED, dates)
                    break
                queue.popleft()
                result = self.status(dose, DONE, dates, given)
                self.previous = given.day
                if self.started is None:
                    self.started = given.day
            if result is None:
                dates = self.window(dose)
                status = self.status_of(*dates)
                result = self.status(dose, status, dates)
                if status != MISSED:
                    if self.first_pending_earliest is None:
                        self.first_pending_earliest = dates[0]
                    self.pending_earliest, self.pending_due = dates[0], dates[1]
            out.append(result)
        return out


def _prior_series(rule: ScheduleRule, givens: Sequence[Given],
                  start: date) -> tuple[bool, date | None]:
    """(booster only?, the last prior record) for a pregnancy starting on ``start``."""
    assert rule.prior_series_within is not None
    since = rule.prior_series_within.before(start)
    prior = [g.day for g in givens if since <= g.day < start]
    primaries = sum(1 for d in rule.doses if not d.booster)
    if primaries and len(prior) >= primaries:
        return True, max(prior)
    return False, None


def evaluate(schedules: Iterable[ScheduleRule | Any], *, birth_date: date,
             history: Iterable[Given], on: date, overdue_after: Duration,
             pregnancies: Iterable[Pregnancy] = (),
             default_grace: Duration | None = None, sex: str | None = None,
             area_codes: Collection[str] | None = None) -> list[DoseStatus]:
    """Every dose of ``schedules`` (ScheduleRule, or rows :func:`schedule_rule` reads) for
    a person born on ``birth_date`` with the recorded doses ``history``, as of ``on``.
    ``sex`` (a gender code) and ``area_codes`` (the person's location code and its
    ancestors' codes) leave out the schedules limited to other sexes or areas; None (the
    default) does not filter."""
    records = sorted((g for g in history if g.day <= on), key=lambda g: g.day)
    known = sorted((p for p in pregnancies if p.start <= on), key=lambda p: p.start)
    areas = None if area_codes is None else frozenset(area_codes)
    out: list[DoseStatus] = []
    for item in schedules:
        rule = item if isinstance(item, ScheduleRule) else schedule_rule(item)
        if not rule.applies_to(sex, areas):
            continue
        mine = [g for g in records if rule.accepts(g.product)]
        if rule.timed_from != PREGNANCY:
            series = _Series(rule, birth_date, on, overdue_after, default_grace)
            out += series.walk(mine)
            continue
        for position, pregnancy in enumerate(known):
            end = pregnancy.end
            if end is None and position + 1 < len(known):
                end = known[position + 1].start - _ONE_DAY
            series = _Series(rule, pregnancy.start, on, overdue_after, default_grace,
                             pregnancy=pregnancy, end=end)
            if rule.prior_series_within is not None:
                series.booster_only, series.previous = _prior_series(rule, mine,
                                                                     pregnancy.start)
            inside = [g for g in mine
                      if g.day >= pregnancy.start and (end is None or g.day <= end)]
            out += series.walk(inside)
    return out


# --- helpers for due lists and visits ---------------------------------------------------

def next_due(statuses: Iterable[DoseStatus]) -> list[DoseStatus]:
    """The doses a worker can give on the evaluated day: those due or overdue."""
    return [s for s in statuses if s.status in (DUE, OVERDUE)]


def is_zero_dose(records: Iterable[Given | DoseStatus], birth_date: date, on: date,
                 zero_dose_age: Duration) -> bool:
    """A zero-dose child: aged at least ``zero_dose_age`` on ``on`` with no dose at all
    given on or before ``on`` (records: the history, or the statuses of :func:`evaluate`,
    whose records count whether they counted for a series or not)."""
    if on < zero_dose_age.after(birth_date):
        return False
    for record in records:
        given = record.given if isinstance(record, DoseStatus) else record
        if given is not None and given.day <= on:
            return False
    return True


def urgent_first(statuses: Iterable[DoseStatus]) -> list[DoseStatus]:
    """The statuses in the order a worker reads them: overdue, due, upcoming, not counted,
    missed, done, not needed; then by due date (undated last), schedule and dose."""
    rank = {status: position for position, status in enumerate(URGENCY)}
    return sorted(statuses, key=lambda s: (rank[s.status], s.due is None, s.due or date.min,
                                           s.schedule, s.dose))


def summary(statuses: Iterable[DoseStatus]) -> dict[str, int]:
    """How many doses have each status, every status present, in STATUSES order."""
    counts = Counter(s.status for s in statuses)
    return {status: counts.get(status, 0) for status in STATUSES}


__all__ = [
    "BIRTH", "DONE", "DUE", "DoseRule", "DoseStatus", "Given", "MISSED", "NOT_COUNTED",
    "NOT_NEEDED", "OVERDUE", "PREGNANCY", "Pregnancy", "STATUSES", "ScheduleRule",
    "UPCOMING", "URGENCY", "evaluate", "is_zero_dose", "next_due", "schedule_rule",
    "summary", "urgent_first",
]
