"""Bulk CSV import of doses given elsewhere or before the kit (`cowin-kit vaccinations
import FILE`), in the style of the facility and session imports
(cowin_kit/scheduling/imports.py), on the same reading, checking and bulk-writing
machinery (cowin_kit/csvimport.py).

Columns (all required in the header): ``beneficiary_reference_id, vaccine, dose, date,
lot, facility_code, vaccinator``; ``external_id`` (the person's number in the register they
were imported from, `cowin-kit people import`) may stand in place of
``beneficiary_reference_id``. ``date`` is YYYY-MM-DD (the day in the pack's time zone,
not in the future; stored as local midnight of that day); ``lot`` must not be empty;
``facility_code`` may be empty (a dose given abroad or outside the kit's facilities);
``vaccinator`` may be empty. An optional ``schedule`` column names the routine schedule
(its code in the pack) a routine dose belongs to.

Routine immunization history (a child's register migrated from paper or a DHIS2 export):
a dose of a product that only routine schedules give (or one whose ``schedule`` column
names a routine schedule) is a routine dose: its series is that schedule (the first
routine schedule of the pack giving the product when none is named) and ``dose`` its
number in that series as the register wrote it. Routine history is recorded as it was
given, early or late: whether each dose counts is for the due rules to judge
(``programme.due``), as for every routine dose. It may not be dated before the person's
birth. No certificate is due for it (the life-long record is signed on request).

The file is all-or-nothing: every bad row is reported as ``FILE:LINE: column: message``
and nothing is written if there is any. Re-running a file is idempotent: a row whose
person and dose number are already recorded with the same vaccine, date, lot, facility and
vaccinator is counted as unchanged; any difference is an error naming the line (a recorded
dose is never changed by an import; corrections go through the correction process, which
revokes and reissues the certificate).

Dose order: for each person, the file's doses together with the doses already recorded
must form the schedule's sequence 1, 2, 3, ... (no gaps, dose numbers used once), each of
a product the schedule allows after the earlier ones, at an age the schedule covers:
``vaccination.rules.check_dose``. **Relaxed for history**: the schedule's minimum interval
between doses is not enforced on imported doses (doses given abroad or before the kit
followed the schedules of their time and place, and refusing them would leave a real dose
without a certificate); a dose may still not be dated before the dose it follows.

On PostgreSQL the monthly partitions of the doses' months are created first where missing
(history of years before the install included: docs/partitioning.md), each in a short
transaction of its own, before the write transaction.

Each imported dose is written with ``source = "imported"``, gets its "certificate due"
outbox row (in the same transaction, so the worker issues its certificate) and one audit
event ``dose.import``; the whole file is also audited as ``vaccination.import``.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.csvimport import (
    too_long,
    DATE_PATTERN, IN_CHUNK, INT_PATTERN, Bulk, ImportInvalid, ImportReport, Problems,
    Progress, Row, Source, by_code, chunks, commit_import, decode, file_fingerprint,
    no_progress, pack_document, read_bytes, read_table, tick,
)
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core import signals
from cowin_kit.core.i18n import gettext as _
from cowin_kit.registration import tally
from cowin_kit.registration.models import BOOKED_SERIES, Beneficiary, Dose
from cowin_kit.registration.rules import age_on
from cowin_kit.geography.models import Facility
from cowin_kit.geography.places import facility_places
from cowin_kit.scheduling.rules import BookingRefused, GivenDose
from cowin_kit.stock import rules as stock_rules, services as stock
from cowin_kit.vaccination import rules
from cowin_kit.vaccination.models import CertificateDue
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule

__all__ = ["ImportInvalid", "ImportReport", "import_vaccinations", "COLUMNS"]

COLUMNS = ("beneficiary_reference_id", "vaccine", "dose", "date", "lot", "facility_code",
           "vaccinator")
PERSON_KEYS = ("beneficiary_reference_id", "external_id")  # one of them names the person
MAX_DOSE = 20

OPTIONAL = ("schedule",)
DOSE_COLUMNS = ("beneficiary_id", "series", "dose_number", "product_id", "administered_at", "lot",
                "facility_id", "vaccinator", "recorded_at", "idempotency_key", "source")
DUE_COLUMNS = ("dose_id", "reason", "status", "attempts", "next_attempt_at", "last_error",
               "created_at")


@dataclass(slots=True)
class _DoseRow:
    line: int
    person_key: str      # the file's reference ID or external ID of the person
    reference_id: str
    beneficiary_id: int
    number: int
    series: str          # BOOKED_SERIES, or the routine schedule's code
    vaccine: str
    product_id: int
    day: date
    lot: str
    facility_code: str
    facility_id: int | None
    vaccinator: str


@dataclass(slots=True)
class _Recorded:
    product_code: str
    day: date            # in the pack's time zone
    lot: str
    facility_id: int | None
    vaccinator: str


@dataclass(frozen=True)
class _RelaxedSchedule:
    """A schedule as check_dose reads it, without minimum intervals (imported history)."""

    code: str
    products: list[str]
    interchangeable: bool
    min_age: int
    max_age: int | None
    doses: list[Any]


def _relaxed(schedule: VaccineSchedule) -> _RelaxedSchedule:
    return _RelaxedSchedule(schedule.code, list(schedule.products), schedule.interchangeable,
                            schedule.min_age, schedule.max_age,
                            [{k: v for k, v in dose.items() if k != "min_interval_days"}
                             for dose in schedule.doses])


def import_vaccinations(session: Session, path_or_stream: Source, *, file_name: str,
                        progress: Progress | None = None,
                        dry_run: bool = False) -> ImportReport:
    """Record the doses of a CSV file (a path, its bytes or a stream); commits on success,
    raises ``ImportInvalid`` with every problem and writes nothing otherwise. ``dry_run``
    checks and counts but writes nothing."""
    progress = progress or no_progress
    problems = Problems(file_name)
    data = read_bytes(path_or_stream)
    fingerprint = file_fingerprint(data)
    text = decode(data, problems)
    del data
    problems.raise_if_any()
    document = pack_document(session)
    zone = zoneinfo.ZoneInfo(document["timezone"])
    today = datetime.now(zone).date()
    table = read_table(text, problems, COLUMNS[1:],
                       set(COLUMNS + PERSON_KEYS + OPTIONAL).__contains__)
    if table is None:
        problems.raise_if_any()
    keys = [column for column in PERSON_KEYS if column in table.header]
    if len(keys) != 1:
        problems.add(1, PERSON_KEYS[0], _("give either beneficiary_reference_id or "
                                          "external_id (one of them)"))
        problems.raise_if_any()
    key_column = keys[0]
    records = list(table.records)
    report = ImportReport("vaccinations", file_name, rows=len(records), dry_run=dry_run)

    # Lookups, once per file.
    products = dict(session.execute(select(VaccineProduct.code, VaccineProduct.id)).all())
    codes_by_id = {product_id: code for code, product_id in products.items()}
    all_schedules = list(session.scalars(select(VaccineSchedule).order_by(VaccineSchedule.id)))
    schedules = [_relaxed(s) for s in all_schedules if not s.routine]
    series_of = _routine_series(all_schedules)
    facilities = {code: row.id for code, row in by_code(
        session, (Facility.id, Facility.code), Facility.code,
        (v.get("facility_code", "") for _l, v in records if v.get("facility_code"))).items()}
    key_attribute = Beneficiary.reference_id if key_column == "beneficiary_reference_id" \
        else Beneficiary.external_id
    people = by_code(session, (Beneficiary.id, key_attribute.label("code"),
                               Beneficiary.reference_id, Beneficiary.birth_year,
                               Beneficiary.birth_date),
                     key_attribute, (v.get(key_column, "") for _l, v in records))
    # what each person already has, per series: {person: {(series, number): dose}}
    recorded: dict[int, dict[tuple[str, int], _Recorded]] = {}
    for chunk in chunks(sorted({p.id for p in people.values()}), IN_CHUNK):
        for beneficiary_id, series, number, product_id, at, lot, facility_id, vaccinator in \
                session.execute(select(Dose.beneficiary_id, Dose.series, Dose.dose_number,
                                       Dose.product_id, Dose.administered_at, Dose.lot,
                                       Dose.facility_id, Dose.vaccinator)
                                .where(Dose.beneficiary_id.in_(chunk))):
            recorded.setdefault(beneficiary_id, {})[(series, number)] = _Recorded(
                codes_by_id.get(product_id, ""), at.astimezone(zone).date(), lot, facility_id,
                vaccinator or "")

    # Each row on its own.
    parsed: list[_DoseRow] = []
    first_line: dict[tuple[int, int], int] = {}
    for index, (line, values) in enumerate(records, 1):
        tick(progress, "checking", index, len(records))
        row = Row(line, values, problems)
        item = _check_row(row, people, products, facilities, today, key_column, series_of)
        if item is None:
            continue
        key = (item.beneficiary_id, item.series, item.number)
        if key in first_line:
            row.bad("dose", _("dose %(n)d of %(ref)s is given twice (first on line %(line)d)",
                              n=item.number, ref=item.reference_id, line=first_line[key]))
            continue
        first_line[key] = line
        parsed.append(item)
    progress("checking", len(records), len(records))

    # Each person's doses in order: what is recorded, then the file's.
    by_person: dict[int, list[_DoseRow]] = {}
    for item in parsed:
        by_person.setdefault(item.beneficiary_id, []).append(item)
    new: list[_DoseRow] = []
    for beneficiary_id, items in by_person.items():
        existing = recorded.get(beneficiary_id, {})
        person = people[items[0].person_key]
        given = [GivenDose(n, r.product_code, r.day) for (series, n), r in existing.items()
                 if series == BOOKED_SERIES]
        for item in sorted(items, key=lambda i: (i.series, i.number)):
            current = existing.get((item.series, item.number))
            if current is not None:
                differs = [column for column, same in (
                    ("vaccine", current.product_code == item.vaccine),
                    ("date", current.day == item.day), ("lot", current.lot == item.lot),
                    ("facility_code", current.facility_id == item.facility_id),
                    ("vaccinator", current.vaccinator == item.vaccinator)) if not same]
                if differs:
                    problems.add(item.line, differs[0], _(
                        "dose %(n)d of %(ref)s is already recorded with a different "
                        "%(columns)s; a recorded dose is changed by a correction, not an import",
                        n=item.number, ref=item.reference_id, columns=", ".join(differs)))
                else:
                    report.unchanged += 1
                continue
            if item.series != BOOKED_SERIES:  # routine history: recorded as it was given
                birth = person.birth_date or date(person.birth_year, 1, 1)
                if item.day < birth:
                    problems.add(item.line, "date", _("is before the person's birth"))
                else:
                    new.append(item)
                continue
            if any(d.number == item.number - 1 and item.day < d.day for d in given):
                problems.add(item.line, "date", _(
                    "is before the date of dose %(n)d", n=item.number - 1))
                given.append(GivenDose(item.number, item.vaccine, item.day))
                continue
            try:
                rules.check_dose(given=given, product_code=item.vaccine, day=item.day,
                                 age=age_on(item.day, person.birth_year, person.birth_date),
                                 schedules=schedules, dose_number=item.number)
            except BookingRefused as exc:
                column = {"product_mismatch": "vaccine", "no_schedule": "vaccine",
                          "age_not_eligible": "date"}.get(exc.code, "dose")
                problems.add(item.line, column, str(exc))
            # Later rows are checked against this one as the file gives it, so that one
            # mistake is reported once, on its own line.
            given.append(GivenDose(item.number, item.vaccine, item.day))
            new.append(item)
    # doses of registered lots: not from a lot already expired that day; drawn at their
    # facility's store when written
    lots = stock.registered_lots(session, ((i.product_id, i.lot) for i in new))
    drawn: list[tuple[int, int, date]] = []
    for item in new:
        lot = lots.get((item.product_id, stock_rules.lot_key(item.lot)))
        if lot is None:
            continue
        refused = stock.imported_lot_problem(lot, item.day)
        if refused:
            problems.add(item.line, "lot", refused)
        elif item.facility_id is not None:
            drawn.append((item.facility_id, lot.id, item.day))
    problems.raise_if_any()
    report.added = len(new)
    new.sort(key=lambda i: (i.beneficiary_id, i.series, i.number))  # certificates in dose order
    booked = [i for i in new if i.series == BOOKED_SERIES]

    def given_at(item: _DoseRow) -> datetime:
        return datetime.combine(item.day, time(0), zone).astimezone(timezone.utc)

    def write(bulk: Bulk) -> None:
        now = datetime.now(timezone.utc)
        bulk.expect(len(new) + len(booked))
        bulk.insert(Dose, DOSE_COLUMNS, [
            (i.beneficiary_id, i.series, i.number, i.product_id, given_at(i), i.lot,
             i.facility_id, i.vaccinator, now, None, "imported") for i in new])
        ids: dict[tuple[int, str, int], int] = {}
        for chunk in chunks(sorted({i.beneficiary_id for i in new}), IN_CHUNK):
            for dose_id, beneficiary_id, series, number in session.execute(
                    select(Dose.id, Dose.beneficiary_id, Dose.series, Dose.dose_number)
                    .where(Dose.beneficiary_id.in_(chunk))):
                ids[(beneficiary_id, series, number)] = dose_id
        # written without the ORM: counted for the public figures here
        tally.count_doses(session, [ids[(i.beneficiary_id, i.series, i.number)] for i in new])
        bulk.insert(CertificateDue, DUE_COLUMNS, [
            (ids[(i.beneficiary_id, i.series, i.number)], "dose", "pending", 0, now, None, now)
            for i in booked])
        stock.draw_imported(session, ActivePack(document["code"], document["version"], "",
                                                document), drawn, actor="import")
        place = facility_places(session, [i.facility_id for i in new])
        bulk.audit("dose.import", "dose", (
            (ids[(i.beneficiary_id, i.series, i.number)],
             {"beneficiary": i.reference_id, "dose": i.number, "vaccine": i.vaccine,
              "lot": i.lot, "date": i.day.isoformat(), "facility": i.facility_code or None,
              **({"schedule": i.series} if i.series != BOOKED_SERIES else {})},
             place(i.facility_id))
            for i in new))
        signals.due_facts_changed.send(session, pack=None,
                                       person_ids=sorted({i.beneficiary_id for i in new}),
                                       products=sorted({i.vaccine for i in new}))

    # history (doses of past years) lands in its own months' partitions, made before the
    # write transaction (csvimport.make_months says why not inside it)
    return commit_import(session, report, "vaccination.import", fingerprint, progress, write,
                         months={Dose.__tablename__: {given_at(i) for i in new}})


def _routine_series(schedules: list[VaccineSchedule]) -> dict[str, Any]:
    """How a product's dose finds its series: ``products`` (product code -> the first
    routine schedule giving it, for products no appointment-booked schedule gives),
    ``named`` (routine schedule code -> the products it gives)."""
    def gives(schedule: VaccineSchedule) -> set[str]:
        return set(schedule.products) | {p for d in schedule.doses for p in d.get("products") or ()}
    booked = set().union(*(gives(s) for s in schedules if not s.routine))
    products: dict[str, str] = {}
    named: dict[str, set[str]] = {}
    for schedule in schedules:
        if schedule.routine:
            named[schedule.code] = gives(schedule)
            for product in sorted(gives(schedule) - booked):
                products.setdefault(product, schedule.code)
    return {"products": products, "named": named}


def _check_row(row: Row, people: dict[str, Any], products: dict[str, int],
               facilities: dict[str, int], today: date,
               key_column: str = "beneficiary_reference_id",
               series_of: dict[str, Any] | None = None) -> _DoseRow | None:
    values = row.values
    person_key = row.text(key_column, 14 if key_column == "beneficiary_reference_id" else 64,
                          required=True)
    person = None
    if person_key:
        person = people.get(person_key)
        if person is None and key_column == "external_id":
            row.bad(key_column, _("no one is registered with external ID %(id)s",
                                  id=person_key))
        elif person is None:
            row.bad(key_column,
                    _("no one is registered with reference ID %(ref)s", ref=person_key))
    vaccine = row.text("vaccine", 64, required=True)
    if vaccine and vaccine not in products:
        row.bad("vaccine", _("no vaccine with code %(code)s", code=vaccine))
    number = None
    if not values.get("dose"):
        row.bad("dose", _("must not be empty"))
    elif not INT_PATTERN.match(values["dose"]) or not 1 <= int(values["dose"]) <= MAX_DOSE:
        row.bad("dose", _("must be a whole number from %(low)d to %(high)d", low=1,
                          high=MAX_DOSE))
    else:
        number = int(values["dose"])
    day = None
    text = values.get("date", "")
    try:
        day = date.fromisoformat(text) if DATE_PATTERN.match(text) else None
    except ValueError:
        day = None
    if day is None:
        row.bad("date", _("must be a date like 2030-01-31"))
    elif day > today:
        row.bad("date", _("must not be in the future"))
    lot = " ".join(values.get("lot", "").split())
    if not lot:
        row.bad("lot", _("must not be empty"))
    elif len(lot) > 64:
        row.bad("lot", too_long(64))
    facility_code = row.text("facility_code", 64) or ""
    facility_id = None
    if facility_code:
        facility_id = facilities.get(facility_code)
        if facility_id is None:
            row.bad("facility_code", _("no facility with code %(code)s", code=facility_code))
    vaccinator = row.text("vaccinator", 150) or ""
    series = BOOKED_SERIES
    series_of = series_of or {"products": {}, "named": {}}
    named = row.text("schedule", 64) or ""
    if named:
        if named not in series_of["named"]:
            row.bad("schedule", _("no routine schedule with code %(code)s", code=named))
        elif vaccine and vaccine not in series_of["named"][named]:
            row.bad("schedule", _("schedule %(schedule)s does not give %(vaccine)s",
                                  schedule=named, vaccine=vaccine))
        series = named
    elif vaccine in series_of["products"]:
        series = series_of["products"][vaccine]
    if not row.ok:
        return None
    return _DoseRow(row.line, person_key, person.reference_id, person.id, number, series,
                    vaccine, products[vaccine], day,
                    lot, facility_code, facility_id, vaccinator)
