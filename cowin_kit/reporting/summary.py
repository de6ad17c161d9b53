"""The person summary: what each person counts for in the administrators' reports that count
people rather than doses, kept up to date as doses and people are written, and the counts
the reports read from it (cowin_kit.reporting.aggregated), so that they never scan the dose
table. The dose counts (doses per day, coverage) come from the dose tally
(cowin_kit.registration.tally); this module adds:

- ``report_person``: one row a person with a birth date or a booked first dose: their birth
  date and area, the routine measures they count for at each indicator age
  (rules.child_measures of their routine doses, days in the pack's time zone) and whether
  they had any routine dose; their booked first dose (when, where, which product) and
  whether they have a booked second dose;
- ``report_cohort``: children per birth date and area, with a routine dose, and per
  measure and age (e.g. ``dtp3_12m``: had DTP3 before 12 months; ``zero_dose_12m``);
- ``report_dropout_day`` / ``report_dropout_total``: booked first doses per UTC day (and
  in all) of the first dose, place (the facility's location), product and whether the
  person has a second dose.

How it stays right: a person's summary is computed again from their doses whenever
anything it depends on may have changed, and the difference between the stored row and
the new one is added to the counts, in the same transaction:

- every dose or person written through the ORM (visits, field sync, corrections, merges):
  a flush listener notes the people of new, deleted or changed doses (both owners when a
  dose moves to another person) and people whose birth date or area changed, and they are
  summarized once, just before the transaction commits;
- writes without the ORM (recording a booked dose, the bulk imports of doses and people)
  by the ``due_facts_changed`` signal their senders already send, whose people join the
  ones noted for the commit;
- :func:`rebuild_summary` computes everything again from the doses (``cowin-kit reports
  aggregates --rebuild``). A database upgraded with people already in it is marked stale
  by the migration, and the reports are computed live until the rebuild has run.

Computing a person again is idempotent, so a person counted twice in one transaction
costs time but never a wrong figure. On PostgreSQL the people's rows are locked (in id
order) before their summary is read, so two transactions never add the same difference
twice. A facility moved to another place or a product's antigens changed in the pack are
not followed: run the rebuild after such a change."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable, Optional, Sequence

from sqlalchemy import (
    Boolean, Column, Date, Integer, String, Table, and_, delete, event, func, inspect, or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from cowin_kit.core import bulk, durations, signals
from cowin_kit.core.db import Base, BigId
from cowin_kit.geography.models import Facility
from cowin_kit.immunization.models import CAMPAIGN_SERIES_PREFIX
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import BOOKED_SERIES, Beneficiary, Dose
from cowin_kit.reporting import rules

NO_PLACE = 0
STALE = "report_person"  # the report_stale row the migration writes until a rebuild


def measure_column(age: str, measure: str) -> str:
    """The report_cohort column of a measure at an indicator age: dtp1_12m, zero_dose_24m."""
    return f"{measure.lower()}_{age}"


MEASURES = tuple(name for name, _a, _n in rules.STANDARD_INDICATORS) + (rules.ZERO_DOSE,)
MEASURE_COLUMNS = tuple(measure_column(age, m) for age in rules.INDICATOR_AGES
                        for m in MEASURES)


class ReportPerson(Base):
    """What one person counts for (see module)."""

    __tablename__ = "report_person"

    beneficiary_id: Mapped[int] = mapped_column(BigId, primary_key=True,
                                                autoincrement=False)
    birth_date: Mapped[Optional[date]] = mapped_column(Date)
    location_id: Mapped[int] = mapped_column(Integer, default=NO_PLACE)
    measures: Mapped[str] = mapped_column(String(400), default="")  # MEASURE_COLUMNS, by ","
    any_dose: Mapped[bool] = mapped_column(Boolean, default=False)
    dose1_at: Mapped[Optional[datetime]] = mapped_column(index=True)
    dose1_location_id: Mapped[int] = mapped_column(Integer, default=NO_PLACE)
    dose1_product_id: Mapped[int] = mapped_column(Integer, default=0)
    dose2: Mapped[bool] = mapped_column(Boolean, default=False)


report_cohort = Table(
    "report_cohort", Base.metadata,
    Column("birth_date", Date, primary_key=True),
    Column("location_id", Integer, primary_key=True),
    Column("children", Integer, nullable=False, default=0),
    Column("any_dose", Integer, nullable=False, default=0),
    *(Column(name, Integer, nullable=False, default=0) for name in MEASURE_COLUMNS))
COHORT_COUNTS = ("children", "any_dose", *MEASURE_COLUMNS)

report_dropout_day = Table(
    "report_dropout_day", Base.metadata,
    Column("day", Date, primary_key=True),
    Column("location_id", Integer, primary_key=True),
    Column("product_id", Integer, primary_key=True),
    Column("dose2", Boolean, primary_key=True),
    Column("count", Integer, nullable=False, default=0))

report_dropout_total = Table(
    "report_dropout_total", Base.metadata,
    Column("location_id", Integer, primary_key=True),
    Column("product_id", Integer, primary_key=True),
    Column("dose2", Boolean, primary_key=True),
    Column("count", Integer, nullable=False, default=0))

report_stale = Table(
    "report_stale", Base.metadata,
    Column("name", String(64), primary_key=True))


@dataclass(frozen=True)
class PersonRow:
    """A person's summary (pure data, as stored)."""

    beneficiary_id: int
    birth_date: Optional[date]
    location_id: int
    measures: str
    any_dose: bool
    dose1_at: Optional[datetime]
    dose1_location_id: int
    dose1_product_id: int
    dose2: bool

    def cohort_key(self) -> Optional[tuple[date, int]]:
        return (self.birth_date, self.location_id) if self.birth_date is not None else None

    def cohort_counts(self) -> dict[str, int]:
        counts = {"children": 1, "any_dose": int(self.any_dose)}
        for name in filter(None, self.measures.split(",")):
            counts[name] = 1
        return counts

    def dropout_key(self) -> Optional[tuple[date, int, int, bool]]:
        if self.dose1_at is None:
            return None
        return (self.dose1_at.astimezone(timezone.utc).date(), self.dose1_location_id,
                self.dose1_product_id, self.dose2)


def person_row(beneficiary_id: int, birth_date: Optional[date], location_id: Optional[int],
               doses: Iterable[Any], antigens: dict[int, tuple[str, ...]],
               zone: Callable[[], zoneinfo.ZoneInfo]) -> Optional[PersonRow]:
    """A person's summary from their doses (rows with series, dose_number, administered_at,
    product_id, location_id: the facility's place, None without one), or None when they
    count in no report here (no birth date and no booked first dose); ``zone()``: the
    pack's time zone (asked for only when there are routine doses)."""
    dose1: Any = None
    dose2 = False
    routine: list[tuple[date, Sequence[str]]] = []
    for dose in doses:
        if dose.series == BOOKED_SERIES:
            if dose.dose_number == 1:
                dose1 = dose
            elif dose.dose_number == 2:
                dose2 = True
        elif not dose.series.startswith(CAMPAIGN_SERIES_PREFIX):
            routine.append((dose.administered_at.astimezone(zone()).date(),
                            antigens.get(dose.product_id, ())))
    if birth_date is None and dose1 is None:
        return None
    measures, any_dose = "", False
    if birth_date is not None:
        child = rules.child_history(birth_date, routine)
        any_dose = child.any_dose
        measures = ",".join(measure_column(text, m) for text, age in _AGES
                            for m in sorted(rules.child_measures(child, age)))
    return PersonRow(beneficiary_id, birth_date, location_id or NO_PLACE, measures, any_dose,
                     dose1.administered_at if dose1 is not None else None,
                     (dose1.location_id or NO_PLACE) if dose1 is not None else NO_PLACE,
                     dose1.product_id if dose1 is not None else 0, dose2)


_AGES = tuple((text, durations.parse(text)) for text in rules.INDICATOR_AGES)


class Counts:
    """Differences (or totals) of the three count tables."""

    def __init__(self) -> None:
        self.cohort: dict[tuple[date, int], Counter[str]] = {}
        self.day: Counter[tuple[date, int, int, bool]] = Counter()
        self.total: Counter[tuple[int, int, bool]] = Counter()

    def add(self, row: Optional[PersonRow], sign: int = 1) -> None:
        if row is None:
            return
        key = row.cohort_key()
        if key is not None:
            cell = self.cohort.setdefault(key, Counter())
            for name, n in row.cohort_counts().items():
                cell[name] += sign * n
        dropout = row.dropout_key()
        if dropout is not None:
            self.day[dropout] += sign
            self.total[dropout[1:]] += sign

    def cleaned(self) -> "Counts":
        out = Counts()
        out.cohort = {k: +c for k, c in self.cohort.items() if any(c.values())}
        out.day, out.total = +self.day, +self.total
        return out


def pack_zone() -> zoneinfo.ZoneInfo:
    from cowin_kit.config.runtime import active_pack

    return zoneinfo.ZoneInfo(active_pack().document["timezone"])


class _Zone:
    """The pack's time zone, read on first use."""

    def __init__(self, zone: zoneinfo.ZoneInfo | None = None) -> None:
        self.zone = zone

    def __call__(self) -> zoneinfo.ZoneInfo:
        if self.zone is None:
            self.zone = pack_zone()
        return self.zone


def _antigens(session: Session) -> dict[int, tuple[str, ...]]:
    return {pid: rules.product_antigens(code, antigens) for pid, code, antigens in
            session.connection().execute(select(VaccineProduct.id, VaccineProduct.code,
                                   VaccineProduct.antigens))}


def _counted_dose() -> Any:
    """SQL: the doses a summary reads: booked first and second doses, routine doses."""
    return or_(and_(Dose.series == BOOKED_SERIES, Dose.dose_number.in_((1, 2))),
               and_(Dose.series != BOOKED_SERIES,
                    ~Dose.series.startswith(CAMPAIGN_SERIES_PREFIX, autoescape=True)))


def compute(session: Session, person_ids: Sequence[int],
            zone: Callable[[], zoneinfo.ZoneInfo], antigens: dict[int, tuple[str, ...]]
            ) -> dict[int, Optional[PersonRow]]:
    """The summaries of the given people, from the database as it is now."""
    connection = session.connection()
    people = connection.execute(select(Beneficiary.id, Beneficiary.birth_date,
                                    Beneficiary.location_id)
                             .where(Beneficiary.id.in_(person_ids))).all()
    doses: dict[int, list[Any]] = {}
    for dose in connection.execute(
            select(Dose.beneficiary_id, Dose.series, Dose.dose_number, Dose.administered_at,
                   Dose.product_id, Facility.location_id)
            .outerjoin(Facility, Facility.id == Dose.facility_id)
            .where(Dose.beneficiary_id.in_(person_ids), _counted_dose())):
        doses.setdefault(dose.beneficiary_id, []).append(dose)
    out: dict[int, Optional[PersonRow]] = dict.fromkeys(person_ids)
    for person_id, birth_date, location_id in people:
        out[person_id] = person_row(person_id, birth_date, location_id,
                                    doses.get(person_id, ()), antigens, zone)
    return out


def _stored(session: Session, person_ids: Sequence[int]) -> dict[int, PersonRow]:
    table = ReportPerson.__table__
    rows = session.connection().execute(select(table)
                                        .where(table.c.beneficiary_id.in_(person_ids)))
    return {r.beneficiary_id: PersonRow(**r._mapping) for r in rows}


def refresh(session: Session, person_ids: Iterable[int]) -> None:
    """Compute the people's summaries again and add the differences to the counts (in the
    session's transaction; the caller commits)."""
    ids = sorted(set(i for i in person_ids if i is not None))
    if not ids:
        return
    zone, antigens = _Zone(), _antigens(session)
    connection, table = session.connection(), ReportPerson.__table__
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        if connection.dialect.name == "postgresql":
            # one refresher of a person at a time (the people in id order)
            list(connection.execute(select(Beneficiary.id).where(Beneficiary.id.in_(chunk))
                                    .order_by(Beneficiary.id).with_for_update(key_share=True)))
        old = _stored(session, chunk)
        new = compute(session, chunk, zone, antigens)
        changed = [i for i in chunk if old.get(i) != new.get(i)]
        if not changed:
            continue
        diff = Counts()
        for person_id in changed:
            diff.add(old.get(person_id), -1)
            diff.add(new.get(person_id), +1)
        connection.execute(delete(table).where(table.c.beneficiary_id.in_(changed)))
        rows = [vars(new[i]) for i in changed if new.get(i) is not None]
        if rows:
            connection.execute(table.insert(), rows)
        _apply(session, diff)


def _upsert(connection: Any, table: Table, key: dict[str, Any], counts: dict[str, int]) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**key, **counts)
    connection.execute(statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: table.c[name] + statement.excluded[name] for name in counts}))


def _apply(session: Session, diff: Counts) -> None:
    """Add the differences, each table's rows in key order (every transaction locks them in
    one order); zero differences write nothing."""
    connection = session.connection()
    for (birth_date, location_id), cell in sorted(diff.cohort.items()):
        counts = {name: n for name, n in cell.items() if n}
        if counts:
            _upsert(connection, report_cohort,
                    {"birth_date": birth_date, "location_id": location_id}, counts)
    for (day, location_id, product_id, dose2), n in sorted(diff.day.items()):
        if n:
            _upsert(connection, report_dropout_day, {"day": day, "location_id": location_id,
                                                     "product_id": product_id, "dose2": dose2},
                    {"count": n})
    for (location_id, product_id, dose2), n in sorted(diff.total.items()):
        if n:
            _upsert(connection, report_dropout_total, {"location_id": location_id,
                                                       "product_id": product_id,
                                                       "dose2": dose2}, {"count": n})


# --- keeping it as people and doses are written ---------------------------------------------

PERSON_KEYED = ("birth_date", "location_id")


def _changed(obj: Any, names: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _owners(dose: Dose) -> set[int]:
    history = inspect(dose).attrs["beneficiary_id"].history
    return {i for i in (*history.deleted, *history.unchanged, *history.added,
                        dose.beneficiary_id) if i is not None}


PENDING = "reporting.summary.people"  # session.info: people flushed, summarized at commit


@event.listens_for(Session, "after_flush")
def _summarize_flushed(session: Session, _context: Any) -> None:
    """Note the people whose summary a flush may have changed; they are summarized once
    per transaction, just before it commits (a visit flushes several times)."""
    people: set[int] = session.info.setdefault(PENDING, set())
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, Dose):
            people |= _owners(obj)
        elif isinstance(obj, Beneficiary) and obj.id is not None:
            people.add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, Dose) and session.is_modified(obj, include_collections=False):
            people |= _owners(obj)
        elif isinstance(obj, Beneficiary) and _changed(obj, PERSON_KEYED):
            people.add(obj.id)


@event.listens_for(Session, "before_commit")
def _summarize_before_commit(session: Session) -> None:
    session.flush()  # what is still pending joins the people noted (nothing: no SQL)
    people = session.info.pop(PENDING, set())
    if people:
        with session.no_autoflush:
            refresh(session, people)


@event.listens_for(Session, "after_transaction_end")
def _forget_noted(session: Session, transaction: Any) -> None:
    """A transaction that ended without committing (rolled back, or its session closed)
    leaves no people to summarize; a savepoint's are kept for its transaction (summarizing
    a person again costs time, never a wrong count)."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


@signals.due_facts_changed.connect
def _summarize_written(session: Session, *, person_ids: Iterable[int], **_: Any) -> None:
    """People written without the ORM (a booked dose recorded, the bulk imports): their
    summaries again, in the sender's transaction, with the people its flushes noted."""
    session.info.setdefault(PENDING, set()).update(i for i in person_ids if i is not None)


# --- computing it all again -----------------------------------------------------------------


def is_stale(session: Session) -> bool:
    """Whether the summary still waits for its first rebuild (see module)."""
    return session.scalar(select(report_stale.c.name).where(report_stale.c.name == STALE)) \
        is not None


def _all(session: Session, zone: Callable[[], zoneinfo.ZoneInfo], batch: int,
         progress: Callable[[str, int, int], None] | None,
         each: Callable[[list[PersonRow]], None] | None = None) -> Counts:
    antigens = _antigens(session)
    total = session.scalar(select(func.count()).select_from(Beneficiary)) or 0
    counts, last, done = Counts(), 0, 0
    while True:
        ids = list(session.scalars(select(Beneficiary.id).where(Beneficiary.id > last)
                                   .order_by(Beneficiary.id).limit(batch)))
        if not ids:
            return counts
        rows = [row for row in compute(session, ids, zone, antigens).values() if row]
        for row in rows:
            counts.add(row)
        if each is not None:
            each(rows)
        last, done = ids[-1], done + len(ids)
        if progress is not None:
            progress("people", done, max(total, done))


def stored_counts(session: Session) -> Counts:
    out = Counts()
    for row in session.execute(select(report_cohort)).mappings():
        out.cohort[(row["birth_date"], row["location_id"])] = Counter(
            {name: row[name] for name in COHORT_COUNTS})
    for row in session.execute(select(report_dropout_day)):
        out.day[(row.day, row.location_id, row.product_id, bool(row.dose2))] = row.count
    for row in session.execute(select(report_dropout_total)):
        out.total[(row.location_id, row.product_id, bool(row.dose2))] = row.count
    return out.cleaned()


def differences(session: Session, zone: zoneinfo.ZoneInfo | None = None,
                progress: Callable[[str, int, int], None] | None = None,
                batch: int = 5000) -> int:
    """How many count rows differ between the stored counts and ones computed from the
    doses (0: the summary is right)."""
    mine = _all(session, _Zone(zone), batch, progress).cleaned()
    kept = stored_counts(session)
    return sum(len(set(a) ^ set(b)) + sum(1 for k in set(a) & set(b) if a[k] != b[k])
               for a, b in ((mine.cohort, kept.cohort), (mine.day, kept.day),
                            (mine.total, kept.total)))


def rebuild_summary(session: Session, zone: zoneinfo.ZoneInfo | None = None,
                    progress: Callable[[str, int, int], None] | None = None,
            batch: int = 5000) -> int:
    """Replace the summary and its counts with ones computed from the people and doses;
    returns the number of people summarized. The caller commits."""
    for table in (ReportPerson.__table__, report_cohort, report_dropout_day,
                  report_dropout_total):
        session.execute(delete(table))
    people = 0

    connection = session.connection()
    person_columns = tuple(field.name for field in fields(PersonRow))

    def write(rows: list[PersonRow]) -> None:
        nonlocal people
        people += len(rows)
        bulk.insert_rows(connection, ReportPerson.__table__, person_columns,
                         (tuple(getattr(r, name) for name in person_columns) for r in rows))

    counts = _all(session, _Zone(zone), batch, progress, write).cleaned()
    bulk.insert_rows(connection, report_cohort, ("birth_date", "location_id", *COHORT_COUNTS),
                     ((b, loc, *(cell.get(n, 0) for n in COHORT_COUNTS))
                      for (b, loc), cell in sorted(counts.cohort.items())))
    bulk.insert_rows(connection, report_dropout_day,
                     ("day", "location_id", "product_id", "dose2", "count"),
                     ((*key, n) for key, n in sorted(counts.day.items())))
    bulk.insert_rows(connection, report_dropout_total,
                     ("location_id", "product_id", "dose2", "count"),
                     ((*key, n) for key, n in sorted(counts.total.items())))
    session.execute(delete(report_stale).where(report_stale.c.name == STALE))
    return people


@dataclass(frozen=True)
class SummaryCheck:
    stale: bool               # waiting for its first rebuild (before this one)
    differences: int | None   # count rows that differed; None when rebuilt without checking
    people: int | None        # people summarized by the rebuild


def check(session: Session, *, rebuild: bool = False,
          progress: Callable[[str, int, int], None] | None = None) -> SummaryCheck:
    """Compare the stored counts with ones computed from the doses, or with ``rebuild``
    replace them (audited, committed): for a database upgraded or restored from elsewhere,
    a facility moved, a product's antigens changed, or a check that every path that writes
    doses keeps them."""
    from cowin_kit.audit import services as audit

    stale = is_stale(session)
    if not rebuild:
        return SummaryCheck(stale, differences(session, progress=progress), None)
    people = rebuild_summary(session, progress=progress)
    audit.record(session, "report_summary.rebuild", "report_person", None,
                 place=audit.NATIONAL, people=people, was_stale=stale)
    session.commit()
    return SummaryCheck(stale, None, people)
