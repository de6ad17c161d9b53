"""The dose tally: counts of doses kept up to date as doses are written, for the public
dashboard and open data (cowin_kit.reporting.public), which never scan the dose table.

``dose_tally``: one row counts the doses of one local day (in the pack's time zone) at
one place (the location of the dose's facility; 0 for an imported dose without a
facility), of one product, series and dose number, given to people of one sex (gender
id) and one age group at the dose (:func:`age_at`). ``dose_total`` is the same without
the day (what the all-time figures read); ``dose_day`` without the product, sex and age
(what the administrators' doses per day read). The dashboards sum them up the hierarchy.

How it stays right:

- every dose written through the ORM (recording, visits, field sync, corrections, merges)
  is counted by a flush listener in the same transaction: +1 for a new dose, -1 for a
  deleted one, -1/+1 when a dose or its person changes in what the tally keys on (a
  corrected date, product or dose number; a corrected sex or birth date);
- the bulk import (cowin_kit.vaccination.imports) writes doses without the ORM and calls
  :func:`count_doses` for them;
- :func:`rebuild` computes both tables again from the doses (``cowin-kit reports tally
  --rebuild``), for a database restored from elsewhere or a check.

Counts go up and down by an upsert (``INSERT ... ON CONFLICT DO UPDATE``) on SQLite and
PostgreSQL alike; a transaction touches its rows in key order, so two transactions never
wait for each other in a circle."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Optional

from sqlalchemy import Date, Index, Integer, String, delete, event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from cowin_kit.core import bulk
from cowin_kit.core.db import Base
from cowin_kit.geography.models import Facility
from cowin_kit.registration.models import Beneficiary, Dose

MAX_AGE = 120
AGE_GROUPS = tuple(range(20)) + tuple(range(20, 90, 5))  # see age_at
NO_PLACE = 0


class DoseTally(Base):
    """Doses of one day, place, product, series, dose number, sex and age (see module)."""

    __tablename__ = "dose_tally"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    location_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no facility
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series: Mapped[str] = mapped_column(String(64), primary_key=True)
    dose_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    gender_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    age: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_dose_tally_location_day", "location_id", "day"),)


class DoseTotal(Base):
    """The tally without its day: doses since the start by place, product, series, dose
    number, sex and age group (what the all-time figures read; a few thousand rows)."""

    __tablename__ = "dose_total"

    location_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series: Mapped[str] = mapped_column(String(64), primary_key=True)
    dose_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    gender_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    age: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


TOTAL_KEY = ("location_id", "product_id", "series", "dose_number", "gender_id", "age")


class DoseDay(Base):
    """The tally without its product, sex and age: doses of one day, place, series and
    dose number (what the administrators' doses per day read: a few hundred rows a day
    for a country, where the tally has a row for nearly every dose)."""

    __tablename__ = "dose_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    location_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series: Mapped[str] = mapped_column(String(64), primary_key=True)
    dose_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


DAY_KEY = ("day", "location_id", "series", "dose_number")


def day_key(key: "TallyKey") -> tuple[Any, ...]:
    """The dose_day row a tally row sums into."""
    return (key.day, key.location_id, key.series, key.dose_number)


class TallyKey(NamedTuple):
    day: date
    location_id: int
    product_id: int
    series: str
    dose_number: int
    gender_id: int
    age: int


def age_at(day: date, birth_year: int, birth_date: Optional[date]) -> int:
    """The age group at ``day`` the tally keeps: whole years below 20 (children's and
    adolescents' doses), then the lower bound of a five-year group (20, 25, ... 85 for
    85 and over), so any age band whose limits are whole years below 20 or multiples of
    5 above (18-44, 45-59, 60+, 15-49...) is a sum of groups. From the birth date when
    known, else from the year (as the campaign reports count)."""
    if birth_date is not None:
        years = day.year - birth_date.year - ((day.month, day.day) < (birth_date.month,
                                                                      birth_date.day))
    else:
        years = day.year - birth_year
    years = max(0, min(MAX_AGE, years))
    return years if years < 20 else min(85, years - years % 5)


def key_of(*, administered_at: datetime, zone: zoneinfo.ZoneInfo, location_id: Optional[int],
           product_id: int, series: str, dose_number: int, gender_id: int, birth_year: int,
           birth_date: Optional[date]) -> TallyKey:
    """The tally row a dose counts in (pure)."""
    moment = administered_at if administered_at.tzinfo else administered_at.replace(
        tzinfo=timezone.utc)
    day = moment.astimezone(zone).date()
    return TallyKey(day, location_id or NO_PLACE, product_id, series or "", dose_number,
                    gender_id, age_at(day, birth_year, birth_date))


def apply(session: Session, deltas: Counter[TallyKey]) -> None:
    """Add ``deltas`` to the tally, the day sums and the totals: the tally rows in key
    order, then the day sums', then the totals' (every transaction locks rows in this one
    order); zero deltas write nothing."""
    rows = [(key, n) for key, n in sorted(deltas.items()) if n]
    if not rows:
        return
    totals: Counter[tuple[Any, ...]] = Counter()
    days: Counter[tuple[Any, ...]] = Counter()
    for key, n in rows:
        totals[key[1:]] += n
        days[day_key(key)] += n
    connection = session.connection()
    for table, columns, items in (
            (DoseTally.__table__, TallyKey._fields, [(tuple(k), n) for k, n in rows]),
            (DoseDay.__table__, DAY_KEY, sorted(days.items())),
            (DoseTotal.__table__, TOTAL_KEY, sorted(totals.items()))):
        statement = _upsert(connection.dialect.name, table, columns)
        for key, n in items:
            if n:
                connection.execute(statement, {**dict(zip(columns, key)), "count": n})


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(dialect_name: str, table: Any, columns: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE adding to ``count``, built once per dialect and
    table with bound values (built per call, the statement cost more CPU than running it)."""
    key = (dialect_name, table.name)
    if key not in _UPSERTS:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        statement = dialect.insert(table)
        _UPSERTS[key] = statement.on_conflict_do_update(
            index_elements=list(columns),
            set_={"count": table.c.count + statement.excluded.count})
    return _UPSERTS[key]


def _zone() -> zoneinfo.ZoneInfo:
    from cowin_kit.config.runtime import active_pack

    return zoneinfo.ZoneInfo(active_pack().document["timezone"])


class _Places:
    """Facility id -> location id, read once per flush."""

    def __init__(self, session: Session) -> None:
        self.session, self.known = session, {}

    def __call__(self, facility_id: Optional[int]) -> Optional[int]:
        if facility_id is None:
            return None
        if facility_id not in self.known:
            self.known[facility_id] = self.session.scalar(
                select(Facility.location_id).where(Facility.id == facility_id))
        return self.known[facility_id]


def _old(obj: Any, name: str) -> Any:
    """The value of ``name`` before this flush."""
    history = inspect(obj).attrs[name].history
    if history.deleted:
        return history.deleted[0]
    if history.unchanged:
        return history.unchanged[0]
    return getattr(obj, name)


DOSE_KEYED = ("administered_at", "facility_id", "product_id", "series", "dose_number",
              "beneficiary_id")
PERSON_KEYED = ("gender_id", "birth_year", "birth_date")


def _changed(obj: Any, names: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "after_flush")
def _count_flushed(session: Session, _context: Any) -> None:
    doses_new = [o for o in session.new if isinstance(o, Dose)]
    doses_gone = [o for o in session.deleted if isinstance(o, Dose)]
    doses_moved = [o for o in session.dirty if isinstance(o, Dose) and _changed(o, DOSE_KEYED)]
    people = [o for o in session.dirty
              if isinstance(o, Beneficiary) and _changed(o, PERSON_KEYED)]
    if not (doses_new or doses_gone or doses_moved or people):
        return
    zone = _zone()
    place = _Places(session)
    deltas: Counter[TallyKey] = Counter()
    changed_people = {p.id: p for p in people}

    def person(beneficiary_id: int, old: bool = False) -> tuple[int, int, Optional[date]]:
        found = changed_people.get(beneficiary_id)
        if found is None:
            found = session.get(Beneficiary, beneficiary_id)
        if found is None:
            raise LookupError(f"dose of an unknown person {beneficiary_id}")
        if old and found.id in changed_people:
            return (_old(found, "gender_id"), _old(found, "birth_year"),
                    _old(found, "birth_date"))
        return found.gender_id, found.birth_year, found.birth_date

    def key(values: Callable[[str], Any], old_person: bool) -> TallyKey:
        gender_id, birth_year, birth_date = person(values("beneficiary_id"), old_person)
        return key_of(administered_at=values("administered_at"), zone=zone,
                      location_id=place(values("facility_id")),
                      product_id=values("product_id"), series=values("series"),
                      dose_number=values("dose_number"), gender_id=gender_id,
                      birth_year=birth_year, birth_date=birth_date)

    with session.no_autoflush:
        handled: set[int] = set()
        for dose in doses_new:
            deltas[key(lambda n, d=dose: getattr(d, n), False)] += 1
            handled.add(id(dose))
        for dose in doses_gone:
            deltas[key(lambda n, d=dose: _old(d, n), True)] -= 1
            handled.add(id(dose))
        for dose in doses_moved:
            deltas[key(lambda n, d=dose: _old(d, n), True)] -= 1
            deltas[key(lambda n, d=dose: getattr(d, n), False)] += 1
            handled.add(id(dose))
        for changed in people:
            for dose in session.scalars(select(Dose).where(Dose.beneficiary_id == changed.id)):
                if id(dose) in handled:
                    continue
                deltas[key(lambda n, d=dose: _old(d, n), True)] -= 1
                deltas[key(lambda n, d=dose: getattr(d, n), False)] += 1
    apply(session, deltas)


def count_doses(session: Session, dose_ids: Iterable[int], sign: int = 1) -> None:
    """Count (or with ``sign=-1`` uncount) doses written without the ORM, by id."""
    zone = _zone()
    ids = sorted(set(dose_ids))
    deltas: Counter[TallyKey] = Counter()
    for start in range(0, len(ids), 1000):
        for row in _dose_rows(session, Dose.id.in_(ids[start:start + 1000])):
            deltas[_row_key(row, zone)] += sign
    apply(session, deltas)


def _dose_rows(session: Session, *where: Any, limit: int | None = None) -> Iterator[Any]:
    query = (select(Dose.id, Dose.administered_at, Facility.location_id, Dose.product_id,
                    Dose.series, Dose.dose_number, Beneficiary.gender_id,
                    Beneficiary.birth_year, Beneficiary.birth_date)
             .join(Beneficiary, Beneficiary.id == Dose.beneficiary_id)
             .outerjoin(Facility, Facility.id == Dose.facility_id)
             .where(*where).order_by(Dose.id).limit(limit))
    yield from session.execute(query)


def _row_key(row: Any, zone: zoneinfo.ZoneInfo) -> TallyKey:
    return key_of(administered_at=row.administered_at, zone=zone,
                  location_id=row.location_id, product_id=row.product_id, series=row.series,
                  dose_number=row.dose_number, gender_id=row.gender_id,
                  birth_year=row.birth_year, birth_date=row.birth_date)


def tally_from_doses(session: Session, zone: zoneinfo.ZoneInfo,
                     progress: Callable[[str, int, int], None] | None = None,
                     batch: int = 20_000) -> Counter[TallyKey]:
    """The tally computed from the dose table (read in id order, ``batch`` at a time);
    ``progress("doses", done, total)`` after each batch."""
    from sqlalchemy import func

    total = session.scalar(select(func.count()).select_from(Dose)) or 0
    counts: Counter[TallyKey] = Counter()
    last = done = 0
    while True:
        rows = list(_dose_rows(session, Dose.id > last, limit=batch))
        if not rows:
            return counts
        for row in rows:
            counts[_row_key(row, zone)] += 1
        last, done = rows[-1].id, done + len(rows)
        if progress is not None:
            progress("doses", done, max(total, done))


def stored_totals(session: Session) -> Counter[tuple[Any, ...]]:
    """The totals as stored (rows with a zero count left out)."""
    return Counter({(r.location_id, r.product_id, r.series, r.dose_number, r.gender_id,
                     r.age): r.count
                    for r in session.scalars(select(DoseTotal)) if r.count})


def totals_of(counts: Counter[TallyKey]) -> Counter[tuple[Any, ...]]:
    """The totals a tally makes (its rows summed over the days)."""
    out: Counter[tuple[Any, ...]] = Counter()
    for key, n in counts.items():
        out[key[1:]] += n
    return +out


def stored_days(session: Session) -> Counter[tuple[Any, ...]]:
    """The day sums as stored (rows with a zero count left out)."""
    return Counter({(r.day, r.location_id, r.series, r.dose_number): r.count
                    for r in session.scalars(select(DoseDay)) if r.count})


def days_of(counts: Counter[TallyKey]) -> Counter[tuple[Any, ...]]:
    """The day sums a tally makes."""
    out: Counter[tuple[Any, ...]] = Counter()
    for key, n in counts.items():
        out[day_key(key)] += n
    return +out


def stored(session: Session) -> Counter[TallyKey]:
    """The tally as stored (rows with a zero count left out)."""
    return Counter({TallyKey(r.day, r.location_id, r.product_id, r.series, r.dose_number,
                             r.gender_id, r.age): r.count
                    for r in session.scalars(select(DoseTally)) if r.count})


def rebuild(session: Session, zone: zoneinfo.ZoneInfo | None = None,
            progress: Callable[[str, int, int], None] | None = None,
            counts: Counter[TallyKey] | None = None) -> int:
    """Replace the tally with one computed from the doses (or with ``counts``, one the
    caller has just computed); returns the number of doses counted. The caller commits."""
    if counts is None:
        counts = tally_from_doses(session, zone or _zone(), progress)
    session.execute(delete(DoseTally))
    session.execute(delete(DoseDay))
    session.execute(delete(DoseTotal))
    connection = session.connection()
    for model, names, table_counts in ((DoseTally, TallyKey._fields, counts),
                                       (DoseDay, DAY_KEY, days_of(counts)),
                                       (DoseTotal, TOTAL_KEY, totals_of(counts))):
        bulk.insert_rows(connection, model.__table__, (*names, "count"),
                         ((*key, n) for key, n in sorted(table_counts.items())))
    return sum(counts.values())
