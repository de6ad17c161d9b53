"""Bulk CSV imports of facilities and vaccination sessions (how ministries load thousands
of centres at once).

Each file is all-or-nothing: every row is checked first and every bad row is reported as a
``Problem`` (``FILE:LINE: column: message``, as pack validation reports); if there is any,
``ImportInvalid`` is raised and nothing is written. Re-running a file is idempotent:
facilities are matched by ``code`` and sessions by facility, date and vaccine, and updated
in place (rows that would change nothing are counted as unchanged and not written). The
reading, checking and bulk-writing machinery is cowin_kit/csvimport.py; this module holds
the facility and session rules.

Performance: the lookups (locations, facilities, vaccines, existing sessions with their
seats and slots) are loaded once per file, a few queries per thousand facilities, and the
writes are bulk: COPY on PostgreSQL (updates through a scratch table and one UPDATE ... FROM),
executemany in chunks elsewhere. Nothing is queried per row (bench/imports.py).

Facilities columns: ``code,name,location_code`` (required) and ``address, postal_code,
lat, long, fee_type (Free|Paid), facility_type (public|private), open, close (HH:MM)``
and ``name_<locale>`` for the pack's other locales. A column missing from the file leaves
that attribute of an existing facility as it is (new facilities get the default).

Sessions columns: ``facility_code, date (YYYY-MM-DD), vaccine, slots`` (required, slots like
``09:00-11:00;11:00-13:00``), one ``capacity_doseN`` per dose number offered (absent or
empty = 0), and ``min_age`` (default 18), ``max_age`` (empty: no limit), ``fee`` (default 0),
``other_vaccines`` (the other products the session offers besides ``vaccine``, its main
product, separated by ``;``), ``kind`` (``fixed``, the default, or ``outreach``) and ``site``
(the outreach site, required for outreach). Without the ``other_vaccines``, ``kind`` or
``site`` column an existing session keeps what it has.
Seats of an existing session may change but never below what is already booked; a slot
with booked seats cannot be removed. A cancelled session stays cancelled.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cowin_kit.config.packs import Problem
from cowin_kit.csvimport import (
    DATE_PATTERN, IN_CHUNK, Bulk, ImportInvalid, ImportReport, Problems, Progress, Row,
    Source, by_code, chunks, commit_import, decode, file_fingerprint, no_progress,
    pack_document, read_bytes, read_table, tick,
)
from cowin_kit.core.db import new_uuid, utcnow
from cowin_kit.geography.models import Facility, Location
from cowin_kit.geography.places import facility_places
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.scheduling import rules
from cowin_kit.scheduling.models import (
    SESSION_KINDS, Appointment, SessionDoseCapacity, SessionProduct, SessionSlot,
    VaccinationSession,
)
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule

__all__ = ["ImportInvalid", "ImportReport", "Problem", "import_facilities", "import_sessions"]

MAX_AGE = 150
MAX_SEATS = 100_000   # per dose of one session
MAX_DOSE_COLUMN = 20
MAX_FEE = Decimal("99999999.99")  # Numeric(10, 2)

FACILITY_REQUIRED = ("code", "name", "location_code")
FACILITY_OPTIONAL = ("address", "postal_code", "lat", "long", "fee_type", "facility_type",
                     "open", "close")
SESSION_REQUIRED = ("facility_code", "date", "vaccine", "slots")
SESSION_OPTIONAL = ("min_age", "max_age", "fee", "other_vaccines", "kind", "site")

_CAPACITY_COLUMN = re.compile(r"^capacity_dose(\d+)$")



class _Scopes:
    """Where each location sits (its path from level 1), from one query, and the answers
    of ``access.can`` remembered per target: no query per row."""

    def __init__(self, session: Session, actor: StaffUser | None, action: str):
        self.actor, self.action = actor, action
        self.parents: dict[int, int | None] = {} if actor is None else dict(
            session.execute(select(Location.id, Location.parent_id)).all())
        self._paths: dict[int, tuple[int, ...]] = {}
        self._answers: dict[tuple[int, int | None], bool] = {}
        if actor is not None:
            access.check_access(actor, action,
                                message=_("Your roles do not allow this import."))

    def _path(self, location_id: int) -> tuple[int, ...]:
        path = self._paths.get(location_id)
        if path is None:
            chain, current = [], location_id
            while current is not None and len(chain) < 32:
                chain.append(current)
                current = self.parents.get(current)
            path = self._paths[location_id] = tuple(reversed(chain))
        return path

    def allows(self, location_id: int, facility_id: int | None = None) -> bool:
        if self.actor is None:
            return True
        key = (location_id, facility_id)
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = access.can(
                self.actor, self.action, access.Scope(self._path(location_id), facility_id))
        return answer


# --- facilities --------------------------------------------------------------------------

@dataclass(slots=True)
class _FacilityRow:
    line: int
    code: str
    values: dict[str, Any]        # attribute -> value, only for the file's columns
    name_values: dict[str, str]   # locale -> name ("" removes it)


FACILITY_DEFAULTS = {"names": {}, "address": "", "postal_code": None, "latitude": None,
                     "longitude": None, "facility_type": "public", "fee_type": "Free",
                     "opens_at": None, "closes_at": None}


def import_facilities(session: Session, path_or_stream: Source, *, file_name: str,
                      actor: StaffUser | None = None, progress: Progress | None = None,
                      dry_run: bool = False) -> ImportReport:
    """Add or update the facilities of a CSV file (a path, its bytes or a stream), matched
    by ``code``; commits on success, raises ``ImportInvalid`` with every problem and writes
    nothing otherwise. With an ``actor``, every row must be within their
    ``facility.manage`` scope. ``dry_run`` checks and counts but writes nothing."""
    progress = progress or no_progress
    scopes = _Scopes(session, actor, "facility.manage")
    problems = Problems(file_name)
    data = read_bytes(path_or_stream)
    fingerprint = file_fingerprint(data)
    text = decode(data, problems)
    del data
    problems.raise_if_any()
    document = pack_document(session)
    other_locales = [loc for loc in document["locales"] if loc != document["default_locale"]]
    name_columns = {f"name_{loc}": loc for loc in other_locales}
    known = set(FACILITY_REQUIRED) | set(FACILITY_OPTIONAL) | set(name_columns)
    table = read_table(text, problems, FACILITY_REQUIRED, known.__contains__)
    if table is None:
        problems.raise_if_any()
    header = set(table.header)
    for a, b in (("lat", "long"), ("open", "close")):
        if (a in header) != (b in header):
            problems.add(1, b if a in header else a, _("give both %(a)s and %(b)s columns, "
                                                       "or neither", a=a, b=b))
    postal = document.get("postal_code") or {}
    postal_re = re.compile(postal["pattern"]) if postal.get("pattern") else None
    records = list(table.records)  # facilities are few: read them all to look them up at once

    locations = dict(session.execute(select(Location.code, Location.id)).all())
    existing = by_code(session, (Facility.id, Facility.code, Facility.name, Facility.names,
                                 Facility.location_id, Facility.address, Facility.postal_code,
                                 Facility.latitude, Facility.longitude, Facility.facility_type,
                                 Facility.fee_type, Facility.opens_at, Facility.closes_at),
                       Facility.code, (values.get("code", "") for _l, values in records))

    report = ImportReport("facilities", file_name, rows=len(records), dry_run=dry_run)
    parsed: list[_FacilityRow] = []
    first_line: dict[str, int] = {}
    for index, (line, values) in enumerate(records, 1):
        tick(progress, "checking", index, len(records))
        row = Row(line, values, problems)
        item = _check_facility(row, header, name_columns, locations, postal_re)
        if item is None:
            continue
        if item.code in first_line:
            row.bad("code", _("%(value)s is used twice (first on line %(line)d)",
                              value=item.code, line=first_line[item.code]))
            continue
        first_line[item.code] = line
        current = existing.get(item.code)
        new_location = item.values["location_id"]
        if current is None:
            allowed = scopes.allows(new_location)
        else:  # moving a facility needs the right where it is and where it goes
            allowed = scopes.allows(current.location_id, current.id) and (
                new_location == current.location_id or scopes.allows(new_location))
        if not allowed:
            row.bad("location_code", _("is outside the area where you may manage facilities"))
            continue
        parsed.append(item)
    progress("checking", len(records), len(records))
    problems.raise_if_any()

    # Every row of the file has the same columns, so one column list serves each statement.
    insert_columns = ("code", "created_at", *FACILITY_DEFAULTS,
                      *(c for c in parsed[0].values if c not in FACILITY_DEFAULTS)) \
        if parsed else ()
    update_columns = ("id", *(parsed[0].values if parsed else ()),
                      *(("names",) if name_columns.keys() & header else ()))
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    now = utcnow()
    for item in parsed:
        current = existing.get(item.code)
        if current is None:
            values = {**FACILITY_DEFAULTS, **item.values, "code": item.code, "created_at": now,
                      "names": {loc: name for loc, name in item.name_values.items() if name}}
            inserts.append(tuple(values[c] for c in insert_columns))
            continue
        changed = any(getattr(current, key) != value for key, value in item.values.items())
        values = dict(item.values)
        if item.name_values:  # only the locales the file has columns for
            names = dict(current.names or {})
            for loc, name in item.name_values.items():
                if name:
                    names[loc] = name
                else:
                    names.pop(loc, None)
            changed = changed or names != (current.names or {})
            values["names"] = names
        if changed:
            updates.append((current.id, *(values[c] for c in update_columns[1:])))
        else:
            report.unchanged += 1
    report.added, report.updated = len(inserts), len(updates)

    def write(bulk: Bulk) -> None:
        bulk.expect(len(inserts) + len(updates))
        bulk.insert(Facility, insert_columns, inserts)
        bulk.update(Facility, update_columns, updates)
        new_codes = [row[0] for row in inserts]
        added = by_code(session, (Facility.id, Facility.code), Facility.code, new_codes)
        codes = {row.id: code for code, row in existing.items()}
        place = facility_places(session, [*(added[code].id for code in new_codes),
                                           *(row[0] for row in updates)])
        bulk.audit("facility.create", "facility",
                   ((added[code].id, {"code": code}, place(added[code].id))
                    for code in new_codes))
        bulk.audit("facility.update", "facility",
                   ((row[0], {"code": codes[row[0]]}, place(row[0])) for row in updates))

    return commit_import(session, report, "facility.import", fingerprint, progress, write)


def _check_facility(row: Row, header: set[str], name_columns: dict[str, str],
                    locations: dict[str, int], postal_re: re.Pattern[str] | None
                    ) -> _FacilityRow | None:
    code = row.text("code", 64, required=True)
    name = row.text("name", 200, required=True)
    values: dict[str, Any] = {"name": name}
    location_code = row.text("location_code", 64, required=True)
    if location_code:
        location_id = locations.get(location_code)
        if location_id is None:
            row.bad("location_code", _("no location with code %(code)s", code=location_code))
        values["location_id"] = location_id
    if "address" in header:
        values["address"] = row.text("address", 500)
    if "postal_code" in header:
        postal_code = row.text("postal_code", 16) or None
        if postal_code and postal_re is not None and not postal_re.match(postal_code):
            row.bad("postal_code", _("%(value)s is not a valid postal code", value=postal_code))
        values["postal_code"] = postal_code
    if "lat" in header and "long" in header:
        lat_text, long_text = row.values.get("lat", ""), row.values.get("long", "")
        if lat_text or long_text:
            if not lat_text or not long_text:
                row.bad("long" if lat_text else "lat", _("give both lat and long, or neither"))
            else:
                values["latitude"] = row.number("lat", -90, 90)
                values["longitude"] = row.number("long", -180, 180)
        else:
            values["latitude"] = values["longitude"] = None
    if "fee_type" in header:
        fee_type = row.values.get("fee_type") or "Free"
        if fee_type not in rules.FEE_TYPES:
            row.bad("fee_type", _("must be Free or Paid"))
        values["fee_type"] = fee_type
    if "facility_type" in header:
        facility_type = row.values.get("facility_type") or "public"
        if facility_type not in rules.FACILITY_TYPES:
            row.bad("facility_type", _("must be public or private"))
        values["facility_type"] = facility_type
    if "open" in header and "close" in header:
        open_text, close_text = row.values.get("open", ""), row.values.get("close", "")
        if open_text or close_text:
            if not open_text or not close_text:
                row.bad("close" if open_text else "open",
                        _("give both open and close, or neither"))
            else:
                opens, closes = row.clock("open"), row.clock("close")
                if opens is not None and closes is not None and closes <= opens:
                    row.bad("close", _("must be later than open"))
                values["opens_at"], values["closes_at"] = opens, closes
        else:
            values["opens_at"] = values["closes_at"] = None
    name_values = {}
    for column, loc in name_columns.items():
        if column in header:
            name_values[loc] = row.text(column, 200) or ""
    if not row.ok:
        return None
    return _FacilityRow(row.line, code, values, name_values)


# --- sessions ----------------------------------------------------------------------------

@dataclass(slots=True)
class _SessionRow:
    line: int
    facility_code: str
    vaccine: str
    facility_id: int
    day: date
    product_id: int
    min_age: int
    max_age: int | None
    fee: Decimal
    capacities: dict[int, int]          # every capacity column of the file (absent: 0)
    slots: list[tuple[time, time]]
    others: tuple[int, ...] | None      # other products' ids (None: column absent)
    kind: str | None                    # None: column absent
    site: str | None


@dataclass(slots=True)
class _Existing:
    id: str
    min_age: int
    max_age: int | None
    fee: Decimal
    capacities: dict[int, tuple[int, int]]                       # dose -> (capacity, booked)
    slots: dict[tuple[time, time], tuple[int, int, int]]         # (start, end) -> (id, cap, booked)
    kind: str = "fixed"
    site: str = ""
    others: tuple[int, ...] = ()


def _doses_by_product(session: Session) -> dict[str, set[int]]:
    """Dose numbers each product may be given as, by the pack's schedules."""
    found: dict[str, set[int]] = {}
    for schedule in session.scalars(select(VaccineSchedule)):
        for dose in schedule.doses:
            for code in dose.get("products") or schedule.products:
                found.setdefault(code, set()).add(int(dose["number"]))
    return found


def import_sessions(session: Session, path_or_stream: Source, *, file_name: str,
                    actor: StaffUser | None = None, progress: Progress | None = None,
                    dry_run: bool = False, today: date | None = None) -> ImportReport:
    """Publish or update the sessions of a CSV file (a path, its bytes or a stream),
    matched by facility, date and vaccine; commits on success, raises ``ImportInvalid``
    with every problem and writes nothing otherwise. With an ``actor``, every row's
    facility must be within their ``session.publish`` scope. ``dry_run`` checks and counts
    but writes nothing; ``today`` defaults to the date in the pack's timezone."""
    progress = progress or no_progress
    scopes = _Scopes(session, actor, "session.publish")
    problems = Problems(file_name)
    data = read_bytes(path_or_stream)
    fingerprint = file_fingerprint(data)
    text = decode(data, problems)
    del data
    problems.raise_if_any()
    document = pack_document(session)
    known = set(SESSION_REQUIRED) | set(SESSION_OPTIONAL)

    def allowed(column: str) -> bool:
        match = _CAPACITY_COLUMN.match(column)
        if match:
            return 1 <= int(match.group(1)) <= MAX_DOSE_COLUMN
        return column in known

    table = read_table(text, problems, SESSION_REQUIRED, allowed)
    if table is None:
        problems.raise_if_any()
    dose_columns = sorted((int(m.group(1)), column) for column in table.header
                          if (m := _CAPACITY_COLUMN.match(column)))
    if not dose_columns:
        problems.add(1, "capacity_dose1", _("at least one capacity_doseN column is needed"))
        problems.raise_if_any()
    today = today or datetime.now(timezone.utc).astimezone(
        zoneinfo.ZoneInfo(document["timezone"])).date()
    # Every facility (a few small columns each): the rows are read once, as they stream.
    facilities = {row.code: row for row in session.execute(
        select(Facility.id, Facility.code, Facility.location_id, Facility.fee_type))}
    products = dict(session.execute(select(VaccineProduct.code, VaccineProduct.id)).all())
    doses_allowed = _doses_by_product(session)
    slot_memo: dict[str, list[tuple[time, time]] | str] = {}

    report = ImportReport("sessions", file_name, dry_run=dry_run)
    parsed: list[_SessionRow] = []
    first_line: dict[tuple[int, date, int], int] = {}
    for line, values in table.records:
        report.rows += 1
        tick(progress, "checking", min(line, table.lines), table.lines)
        row = Row(line, values, problems)
        item = _check_session(row, facilities, products, doses_allowed, dose_columns,
                              slot_memo, today)
        if item is None:
            continue
        key = (item.facility_id, item.day, item.product_id)
        if key in first_line:
            row.bad("facility_code", _("this facility, date and vaccine are already on line "
                                       "%(line)d", line=first_line[key]))
            continue
        first_line[key] = line
        facility = facilities[item.facility_code]
        if not scopes.allows(facility.location_id, facility.id):
            row.bad("facility_code", _("is outside the area where you may publish sessions"))
            continue
        parsed.append(item)
    progress("checking", table.lines, table.lines)
    del first_line, facilities

    existing = _existing_sessions(session, parsed)
    writes = _Writes()
    plans: list[tuple[_SessionRow, _Existing, _Plan]] = []
    for item in parsed:
        current = existing.get((item.facility_id, item.day, item.product_id))
        if current is None:
            if not problems.items:
                writes.add_new(item)
            continue
        plan = _plan_session(item, current, problems)
        if plan is not None:
            plans.append((item, current, plan))
    problems.raise_if_any()
    _keep_referenced_slots(session, [plan for _item, _current, plan in plans])
    for item, current, plan in plans:
        if plan:
            writes.add_changes(item, current, plan)
            report.updated += 1
        else:
            report.unchanged += 1
    report.added = len(writes.sessions)
    return commit_import(session, report, "session.import", fingerprint, progress, writes.run)


def _check_session(row: Row, facilities: dict[str, Any], products: dict[str, int],
                   doses_allowed: dict[str, set[int]], dose_columns: list[tuple[int, str]],
                   slot_memo: dict[str, Any], today: date) -> _SessionRow | None:
    values = row.values
    facility = None
    facility_code = row.text("facility_code", 64, required=True)
    if facility_code:
        facility = facilities.get(facility_code)
        if facility is None:
            row.bad("facility_code", _("no facility with code %(code)s", code=facility_code))
    day = None
    day_text = values.get("date", "")
    if not day_text:
        row.bad("date", _("must not be empty"))
    else:
        try:
            day = date.fromisoformat(day_text) if DATE_PATTERN.match(day_text) else None
        except ValueError:
            day = None
        if day is None:
            row.bad("date", _("must be a date like 2030-01-31"))
        elif day < today:
            row.bad("date", _("is in the past"))
    vaccine = row.text("vaccine", 64, required=True)
    product_id = None
    if vaccine:
        product_id = products.get(vaccine)
        if product_id is None:
            row.bad("vaccine", _("no vaccine with code %(code)s", code=vaccine))
    min_age = row.integer("min_age", 0, MAX_AGE, 18)
    max_age = row.integer("max_age", 0, MAX_AGE, None)
    if min_age is not None and max_age is not None and max_age < min_age:
        row.bad("max_age", _("must not be below min_age"))
    slots_text = values.get("slots", "")
    slots = slot_memo.get(slots_text)
    if slots is None:
        try:
            slots = rules.parse_slots(slots_text)
        except ValueError as exc:
            slots = str(exc)
        slot_memo[slots_text] = slots
    if isinstance(slots, str):
        row.bad("slots", slots)
    capacities: dict[int, int] = {}
    for number, column in dose_columns:
        seats = row.integer(column, 0, MAX_SEATS, 0)
        if seats is None:
            continue
        if seats and vaccine in products and number not in doses_allowed.get(vaccine, ()):
            row.bad(column, _("vaccine %(code)s has no dose %(n)d", code=vaccine, n=number))
        capacities[number] = seats
    if len(capacities) == len(dose_columns) and not any(capacities.values()):
        row.bad(dose_columns[0][1], _("at least one dose needs seats (a capacity_doseN "
                                      "above 0)"))
    fee = Decimal(0)
    fee_text = values.get("fee", "")
    if fee_text:
        try:
            fee = Decimal(fee_text)
            valid = fee.is_finite() and Decimal(0) <= fee <= MAX_FEE \
                and fee.as_tuple().exponent >= -2
        except InvalidOperation:
            valid = False
        if not valid:
            row.bad("fee", _("must be an amount like 250 or 250.50"))
        elif fee and facility is not None and facility.fee_type == "Free":
            row.bad("fee", _("must be 0: the facility is free of charge"))
    others: tuple[int, ...] | None = None
    if "other_vaccines" in values:
        found: list[int] = []
        for code in dict.fromkeys(c.strip() for c in values["other_vaccines"].split(";")):
            if not code:
                continue
            if code not in products:
                row.bad("other_vaccines", _("no vaccine with code %(code)s", code=code))
            elif products[code] != product_id:
                found.append(products[code])
        others = tuple(sorted(found))
    kind = None
    if "kind" in values:
        kind = values["kind"].strip() or "fixed"
        if kind not in SESSION_KINDS:
            row.bad("kind", _("must be fixed or outreach"))
    site = row.text("site", 200) if "site" in values else None
    if kind == "outreach" and not site:
        row.bad("site", _("name the outreach site"))
    if not row.ok:
        return None
    return _SessionRow(row.line, facility_code, vaccine, facility.id, day, product_id,
                       min_age, max_age, fee, capacities, slots, others, kind,
                       None if site is None else " ".join(site.split()))


def _existing_sessions(session: Session, rows: list[_SessionRow]
                       ) -> dict[tuple[int, date, int], _Existing]:
    """The file's sessions that already exist, with their seats and slots: a few queries
    per thousand facilities, whatever the number of rows."""
    if not rows:
        return {}
    wanted = {(r.facility_id, r.day, r.product_id) for r in rows}
    first, last = min(r.day for r in rows), max(r.day for r in rows)
    found: dict[tuple[int, date, int], _Existing] = {}
    by_id: dict[str, _Existing] = {}
    facility_ids = sorted({r.facility_id for r in rows})
    VS = VaccinationSession
    connection = session.connection()  # plain rows: no ORM bookkeeping for 100,000s
    for chunk in chunks(facility_ids, IN_CHUNK):
        where = (VS.facility_id.in_(chunk), VS.session_date >= first, VS.session_date <= last)
        for session_id, facility_id, day, product_id, min_age, max_age, fee, kind, site in \
                connection.execute(select(VS.id, VS.facility_id, VS.session_date, VS.product_id,
                                          VS.min_age, VS.max_age, VS.fee, VS.kind,
                                          VS.site).where(*where)):
            key = (facility_id, day, product_id)
            if key in wanted and key not in found:
                found[key] = by_id[session_id] = _Existing(session_id, min_age, max_age,
                                                           Decimal(fee), {}, {}, kind, site)
        if not found:
            continue
        others: dict[str, list[int]] = {}
        for session_id, product_id in connection.execute(
                select(SessionProduct.session_id, SessionProduct.product_id)
                .join(VS, VS.id == SessionProduct.session_id).where(*where)):
            others.setdefault(session_id, []).append(product_id)
        for session_id, ids in others.items():
            if session_id in by_id:
                by_id[session_id].others = tuple(sorted(ids))
        for session_id, number, capacity, booked in connection.execute(
                select(SessionDoseCapacity.session_id, SessionDoseCapacity.dose_number,
                       SessionDoseCapacity.capacity, SessionDoseCapacity.booked)
                .join(VS, VS.id == SessionDoseCapacity.session_id).where(*where)):
            target = by_id.get(session_id)
            if target is not None:
                target.capacities[number] = (capacity, booked)
        for session_id, slot_id, starts, ends, capacity, booked in connection.execute(
                select(SessionSlot.session_id, SessionSlot.id, SessionSlot.starts_at,
                       SessionSlot.ends_at, SessionSlot.capacity, SessionSlot.booked)
                .join(VS, VS.id == SessionSlot.session_id).where(*where)):
            target = by_id.get(session_id)
            if target is not None:
                target.slots[(starts, ends)] = (slot_id, capacity, booked)
    return found


@dataclass(slots=True)
class _Plan:
    """What changes in one existing session (rows as in ``_Writes``)."""

    session: tuple[Any, ...] | None            # (id, min_age, max_age, fee, kind, site)
    others: tuple[int, ...] | None             # the new other products (None: unchanged)
    capacity_updates: list[tuple[Any, ...]]    # (session_id, dose_number, capacity)
    capacity_inserts: list[tuple[Any, ...]]    # (session_id, dose_number, capacity, booked)
    slot_updates: list[tuple[Any, ...]]        # (id, capacity)
    slot_inserts: list[tuple[Any, ...]]        # (session_id, starts_at, ends_at, capacity, booked)
    slot_removals: list[tuple[int, int]]       # (slot id, its capacity)

    def __bool__(self) -> bool:
        return bool(self.session or self.capacity_updates or self.capacity_inserts
                    or self.slot_updates or self.slot_inserts or self.slot_removals
                    or self.others is not None)


def _plan_session(item: _SessionRow, current: _Existing, problems: Problems) -> _Plan | None:
    """The changes a row makes to its existing session, or None after recording why it
    cannot make them (seats below what is booked, a booked slot removed)."""
    ok = True
    for number, (_capacity, booked) in sorted(current.capacities.items()):
        if item.capacities.get(number, 0) < booked:
            problems.add(item.line, f"capacity_dose{number}", ngettext(
                "%(num)d seat is already booked; the capacity cannot go below that",
                "%(num)d seats are already booked; the capacity cannot go below that",
                booked))
            ok = False
    wanted_slots = set(item.slots)
    for (start, end), (_id, _capacity, booked) in sorted(current.slots.items()):
        if (start, end) not in wanted_slots and booked > 0:
            label = start.strftime("%H:%M") + "-" + end.strftime("%H:%M")
            problems.add(item.line, "slots", _(
                "slot %(slot)s has booked seats and cannot be removed", slot=label))
            ok = False
    if not ok:
        return None
    session_row = None
    kind = current.kind if item.kind is None else item.kind
    site = current.site if item.site is None else item.site
    if kind == "outreach" and not site:
        problems.add(item.line, "site", _("name the outreach site"))
        return None
    if (current.min_age, current.max_age, current.fee, current.kind, current.site) != (
            item.min_age, item.max_age, item.fee, kind, site):
        session_row = (current.id, item.min_age, item.max_age, item.fee, kind, site)
    others = None if item.others is None or item.others == current.others else item.others
    capacity_updates, capacity_inserts = [], []
    for number in sorted(current.capacities.keys() | item.capacities.keys()):
        wanted = item.capacities.get(number, 0)
        if number in current.capacities:
            if current.capacities[number][0] != wanted:
                capacity_updates.append((current.id, number, wanted))
        elif wanted:
            capacity_inserts.append((current.id, number, wanted, 0))
    # The slots share the session's seats, never below what each has booked (as
    # services.change_capacity does).
    total = sum(item.capacities.values())
    slot_updates, slot_inserts = [], []
    for (start, end), share in zip(item.slots, rules.split_capacity(total, len(item.slots))):
        kept = current.slots.get((start, end))
        if kept is None:
            slot_inserts.append((current.id, start, end, share, 0))
        elif kept[1] != max(share, kept[2]):
            slot_updates.append((kept[0], max(share, kept[2])))
    removals = [(slot_id, capacity) for key, (slot_id, capacity, _b) in current.slots.items()
                if key not in wanted_slots]
    return _Plan(session_row, others, capacity_updates, capacity_inserts, slot_updates,
                 slot_inserts, removals)


def _keep_referenced_slots(session: Session, plans: list[_Plan]) -> None:
    """Slots no longer in the file are deleted, unless an old (cancelled or completed)
    appointment still names one: that slot stays, with no seats."""
    candidates = [slot_id for plan in plans for slot_id, _capacity in plan.slot_removals]
    referenced: set[int] = set()
    for chunk in chunks(candidates, IN_CHUNK):
        referenced.update(session.scalars(select(Appointment.slot_id).distinct()
                                          .where(Appointment.slot_id.in_(chunk))))
    if not referenced:
        return
    for plan in plans:
        kept = []
        for slot_id, capacity in plan.slot_removals:
            if slot_id not in referenced:
                kept.append((slot_id, capacity))
            elif capacity:
                plan.slot_updates.append((slot_id, 0))
        plan.slot_removals = kept


def _audit_details(item: _SessionRow) -> dict[str, Any]:
    return {"facility": item.facility_code, "date": item.day.isoformat(),
            "vaccine": item.vaccine, "other_vaccines": len(item.others or ()),
            "capacity": {str(n): seats for n, seats in item.capacities.items() if seats}}


SESSION_COLUMNS = ("id", "facility_id", "session_date", "product_id", "min_age", "max_age",
                   "fee", "status", "created_at", "kind", "site")
SESSION_UPDATE_COLUMNS = ("id", "min_age", "max_age", "fee", "kind", "site")
SESSION_PRODUCT_COLUMNS = ("session_id", "product_id")
CAPACITY_COLUMNS = ("session_id", "dose_number", "capacity", "booked")
CAPACITY_UPDATE_COLUMNS = ("session_id", "dose_number", "capacity")
SLOT_COLUMNS = ("session_id", "starts_at", "ends_at", "capacity", "booked")
SLOT_UPDATE_COLUMNS = ("id", "capacity")


class _Writes:
    """Everything a sessions import writes, gathered as tuples (small, for 100,000s of
    rows) and then sent as bulk statements."""

    def __init__(self) -> None:
        self.now = utcnow()
        self.sessions: list[tuple[Any, ...]] = []
        self.session_updates: list[tuple[Any, ...]] = []
        self.capacities: list[tuple[Any, ...]] = []
        self.capacity_updates: list[tuple[Any, ...]] = []
        self.slots: list[tuple[Any, ...]] = []
        self.slot_updates: list[tuple[Any, ...]] = []
        self.slot_removals: list[int] = []
        self.others: list[tuple[Any, ...]] = []                # (session_id, product_id)
        self.others_replaced: list[str] = []                   # session ids
        self.published: list[tuple[str, _SessionRow]] = []   # for the audit trail
        self.changed: list[tuple[str, _SessionRow]] = []

    def add_new(self, item: _SessionRow) -> None:
        session_id = new_uuid()
        self.sessions.append((session_id, item.facility_id, item.day, item.product_id,
                              item.min_age, item.max_age, item.fee, "published", self.now,
                              item.kind or "fixed", item.site or ""))
        self.others += [(session_id, product_id) for product_id in item.others or ()]
        self.capacities += [(session_id, number, seats, 0)
                            for number, seats in sorted(item.capacities.items()) if seats]
        total = sum(item.capacities.values())
        self.slots += [(session_id, start, end, share, 0) for (start, end), share in zip(
            item.slots, rules.split_capacity(total, len(item.slots)))]
        self.published.append((session_id, item))

    def add_changes(self, item: _SessionRow, current: _Existing, plan: _Plan) -> None:
        self.changed.append((current.id, item))
        if plan.session:
            self.session_updates.append(plan.session)
        if plan.others is not None:
            self.others_replaced.append(current.id)
            self.others += [(current.id, product_id) for product_id in plan.others]
        self.capacity_updates += plan.capacity_updates
        self.capacities += plan.capacity_inserts
        self.slot_updates += plan.slot_updates
        self.slots += plan.slot_inserts
        self.slot_removals += [slot_id for slot_id, _capacity in plan.slot_removals]

    def run(self, bulk: Bulk) -> None:
        bulk.expect(len(self.sessions) + len(self.session_updates) + len(self.capacities)
                    + len(self.capacity_updates) + len(self.slots) + len(self.slot_updates)
                    + len(self.slot_removals) + len(self.others))
        bulk.delete(SessionSlot, self.slot_removals)
        for chunk in chunks(self.others_replaced, IN_CHUNK):
            bulk.session.execute(delete(SessionProduct)
                                 .where(SessionProduct.session_id.in_(chunk))
                                 .execution_options(synchronize_session=False))
        bulk.insert(VaccinationSession, SESSION_COLUMNS, self.sessions)
        bulk.insert(SessionProduct, SESSION_PRODUCT_COLUMNS, self.others)
        bulk.update(VaccinationSession, SESSION_UPDATE_COLUMNS, self.session_updates)
        bulk.insert(SessionDoseCapacity, CAPACITY_COLUMNS, self.capacities)
        bulk.update(SessionDoseCapacity, CAPACITY_UPDATE_COLUMNS, self.capacity_updates)
        bulk.update(SessionSlot, SLOT_UPDATE_COLUMNS, self.slot_updates)
        bulk.insert(SessionSlot, SLOT_COLUMNS, self.slots)
        bulk.next_version(VaccinationSession, [session_id for session_id, _item in self.changed])
        place = facility_places(bulk.session, [item.facility_id for _id, item in
                                          [*self.published, *self.changed]])
        bulk.audit("session.publish", "vaccination_session",
                   ((session_id, _audit_details(item), place(item.facility_id))
                    for session_id, item in self.published))
        bulk.audit("session.update", "vaccination_session",
                   ((session_id, _audit_details(item), place(item.facility_id))
                    for session_id, item in self.changed))
