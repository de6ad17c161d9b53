"""Bulk CSV import of people from an existing register (paper registers typed in, DHIS2
exports): `cowin-kit people import FILE`, on the reading, checking and bulk-writing
machinery of the other imports (cowin_kit/csvimport.py).

Columns: ``external_id, name, birth_date, sex, location_code, guardian_name,
guardian_relation, mobile`` (all in the header) and optionally ``id_type, id_number,
facility_code``. ``external_id`` is the register's number of the person (unique in the
file and in the kit); ``birth_date`` YYYY-MM-DD, not in the future; ``sex`` one of the
pack's gender codes or their labels in any of its languages (case-insensitive: ``F``,
``female``, ``Female``); ``location_code`` the area the person lives in; ``mobile`` the
account (the guardian's), found or opened. Below the pack's ``routine.id_exempt_below``
age the ID document may be left empty, and the guardian's name and relation are then
required; from that age an ID document is required. Each account holds at most the pack's
household limit of people (those already registered included).

The file is all-or-nothing: every bad row is reported as ``FILE:LINE: column: message``
and nothing is written if there is any. Re-running a file is idempotent: a row whose
``external_id`` is registered with the same details is counted as unchanged; any
difference is an error naming the line (a registered person's details change through a
correction, which keeps the old value, not through an import).

Performance: the lookups (locations, facilities, genders, ID types, the file's external
IDs, mobiles and ID numbers already registered) are read once per file, in chunks, and
the writes are bulk: COPY on PostgreSQL, executemany in chunks elsewhere (accounts, then
people, then one audit event per person ``person.import`` and one for the file
``people.import``). Nothing is queried per row (bench/people_import.py).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cowin_kit.core import signals
from cowin_kit.core.durations import parse as parse_duration
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.core.security import keyring
from cowin_kit.csvimport import (
    too_long,
    DATE_PATTERN, IN_CHUNK, Bulk, ImportInvalid, ImportReport, Problems, Progress, Row,
    Source, by_code, chunks, commit_import, decode, file_fingerprint, no_progress,
    pack_document, read_bytes, read_table, tick,
)
from cowin_kit.audit.services import Place
from cowin_kit.geography.models import Facility, Location
from cowin_kit.geography.places import facility_places
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.idnumbers import InvalidIdNumber, normalize_id_number
from cowin_kit.registration import rules
from cowin_kit.registration.models import Beneficiary, CitizenAccount

__all__ = ["ImportInvalid", "ImportReport", "import_people", "COLUMNS", "OPTIONAL"]

COLUMNS = ("external_id", "name", "birth_date", "sex", "location_code", "guardian_name",
           "guardian_relation", "mobile")
OPTIONAL = ("id_type", "id_number", "facility_code")
REGISTERED_BY = "import"
CONSENT = "import"

ACCOUNT_COLUMNS = ("mobile", "locale", "created_at", "token_epoch")
PERSON_COLUMNS = (
    "reference_id", "account_id", "name", "birth_year", "birth_date", "gender_id",
    "id_type_id", "id_number_hash", "id_number_encrypted", "id_number_last4", "comorbidity",
    "consent_version", "secret_code_encrypted", "secret_code_failures", "created_at",
    "updated_at", "guardian_name", "guardian_relation", "external_id", "location_id",
    "facility_id", "registered_by")


@dataclass(slots=True)
class _Person:
    line: int
    external_id: str
    name: str
    birth_date: date
    gender_id: int
    location_id: int
    facility_id: int | None
    guardian_name: str | None
    guardian_relation: str | None
    mobile: str
    id_type_id: int | None
    id_number: str | None
    id_hash: str | None


def _genders(session: Session) -> dict[str, int]:
    """Every spelling of a gender a register may use, folded: its code and its labels."""
    names: dict[str, int] = {}
    for row in session.execute(select(Gender.id, Gender.code, Gender.labels)):
        for label in (row.labels or {}).values():
            names.setdefault(str(label).casefold(), row.id)
    for row in session.execute(select(Gender.id, Gender.code)):
        names[row.code.casefold()] = row.id  # a code wins over another gender's label
    return names


def import_people(session: Session, path_or_stream: Source, *, file_name: str,
                  progress: Progress | None = None, dry_run: bool = False) -> ImportReport:
    """Register the people of a CSV file (a path, its bytes or a stream); commits on
    success, raises ``ImportInvalid`` with every problem and writes nothing otherwise.
    ``dry_run`` checks and counts but writes nothing."""
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
    routine = document.get("routine") or {}
    exempt_from = parse_duration(routine.get("id_exempt_below", "5y")).before(today)
    limit = int(routine.get("household_limit")
                or document.get("max_beneficiaries_per_account", 4))
    region = document["phone_region"]
    table = read_table(text, problems, COLUMNS, set(COLUMNS + OPTIONAL).__contains__)
    if table is None:
        problems.raise_if_any()
    records = list(table.records)
    del text
    report = ImportReport("people", file_name, rows=len(records), dry_run=dry_run)

    # Lookups, once per file.
    genders = _genders(session)
    id_types = {row.code: row for row in session.execute(select(
        IdDocumentType.id, IdDocumentType.code, IdDocumentType.validator,
        IdDocumentType.min_age, IdDocumentType.registration))}
    locations = {code: row.id for code, row in by_code(
        session, (Location.id, Location.code), Location.code,
        (v.get("location_code", "") for _l, v in records)).items()}
    facilities = {code: row.id for code, row in by_code(
        session, (Facility.id, Facility.code), Facility.code,
        (v.get("facility_code", "") for _l, v in records if v.get("facility_code"))).items()}
    registered = _registered(session, {v.get("external_id", "") for _l, v in records})

    ring = keyring()
    mobiles: dict[str, str | None] = {}   # raw -> E.164 (None: refused), parsed once each
    parsed: list[_Person] = []
    first_line: dict[str, int] = {}
    document_line: dict[tuple[int, str], int] = {}
    for index, (line, values) in enumerate(records, 1):
        tick(progress, "checking", index, len(records))
        row = Row(line, values, problems)
        person = _check_row(row, today, exempt_from, region, genders, id_types, locations,
                            facilities, mobiles, ring)
        if person is None:
            continue
        earlier = first_line.setdefault(person.external_id, line)
        if earlier != line:
            row.bad("external_id", _("%(id)s is given twice (first on line %(line)d)",
                                     id=person.external_id, line=earlier))
            continue
        if person.id_hash is not None:
            key = (person.id_type_id, person.id_hash)
            earlier = document_line.setdefault(key, line)
            if earlier != line:
                row.bad("id_number", _("this ID document is given twice (first on line "
                                       "%(line)d)", line=earlier))
                continue
        parsed.append(person)
    progress("checking", len(records), len(records))
    del records

    # Against what is registered: the same person again, or new.
    new: list[_Person] = []
    for person in parsed:
        known = registered.get(person.external_id)
        if known is None:
            new.append(person)
            continue
        differs = [column for column, same in (
            ("name", known.name == person.name),
            ("birth_date", known.birth_date == person.birth_date),
            ("sex", known.gender_id == person.gender_id),
            ("location_code", known.location_id == person.location_id),
            ("facility_code", known.facility_id == person.facility_id),
            ("guardian_name", (known.guardian_name or None) == person.guardian_name),
            ("guardian_relation", (known.guardian_relation or None) == person.guardian_relation),
            ("mobile", known.mobile == person.mobile),
            ("id_number", known.id_type_id == person.id_type_id
             and known.id_number_hash == person.id_hash)) if not same]
        if differs:
            problems.add(person.line, differs[0], _(
                "%(id)s is already registered with a different %(columns)s; a registered "
                "person is changed by a correction, not an import",
                id=person.external_id, columns=", ".join(differs)))
        else:
            report.unchanged += 1
    _check_documents_free(session, new, problems)
    accounts = _check_households(session, new, limit, problems)
    problems.raise_if_any()
    report.added = len(new)

    def write(bulk: Bulk) -> None:
        now = datetime.now(timezone.utc)
        locale = document["default_locale"]
        opened = sorted({p.mobile for p in new} - set(accounts))
        bulk.expect(len(opened) + len(new))
        bulk.insert(CitizenAccount, ACCOUNT_COLUMNS, ((m, locale, now, 0) for m in opened))
        for chunk in chunks(opened, IN_CHUNK):
            accounts.update(session.execute(select(CitizenAccount.mobile, CitizenAccount.id)
                                            .where(CitizenAccount.mobile.in_(chunk))).all())
        references = _reference_ids(session, len(new))
        bulk.insert(Beneficiary, PERSON_COLUMNS, (
            (reference, accounts[p.mobile], p.name, p.birth_date.year, p.birth_date,
             p.gender_id, p.id_type_id, p.id_hash,
             ring.encrypt(p.id_number) if p.id_number else None,
             p.id_number[-4:] if p.id_number else None, False, CONSENT,
             ring.encrypt(rules.new_secret_code()), 0, now, now, p.guardian_name,
             p.guardian_relation, p.external_id, p.location_id, p.facility_id, REGISTERED_BY)
            for reference, p in zip(references, new)))
        place = facility_places(session, [p.facility_id for p in new
                                          if p.location_id is None])
        bulk.audit("person.import", "beneficiary", (
            (reference, {"external_id": p.external_id, "no_id": p.id_type_id is None},
             Place(p.location_id, p.facility_id) if p.location_id is not None
             else place(p.facility_id))
            for reference, p in zip(references, new)))
        added: list[int] = []
        for chunk in chunks(references, IN_CHUNK):
            added += session.scalars(select(Beneficiary.id)
                                     .where(Beneficiary.reference_id.in_(chunk)))
        signals.due_facts_changed.send(session, pack=None, person_ids=added)

    return commit_import(session, report, "people.import", fingerprint, progress, write)


def _check_row(row: Row, today: date, exempt_from: date, region: str,
               genders: dict[str, int], id_types: dict[str, Any],
               locations: dict[str, int], facilities: dict[str, int],
               mobiles: dict[str, str | None], ring: Any) -> _Person | None:
    values = row.values
    external_id = row.text("external_id", 64, required=True)
    name = " ".join(values.get("name", "").split())
    if not name:
        row.bad("name", _("must not be empty"))
    elif len(name) > 200:
        row.bad("name", too_long(200))
    birth_date = None
    text = values.get("birth_date", "")
    try:
        birth_date = date.fromisoformat(text) if DATE_PATTERN.match(text) else None
    except ValueError:
        birth_date = None
    if birth_date is None:
        row.bad("birth_date", _("must be a date like 2030-01-31"))
    else:
        problem = rules.birth_date_problem(birth_date, today)
        if problem:
            row.bad("birth_date", problem)
            birth_date = None
    gender_id = genders.get(values.get("sex", "").casefold())
    if gender_id is None:
        row.bad("sex", _("no sex (gender) %(value)s in the country pack",
                         value=values.get("sex", "")))
    location_code = values.get("location_code", "")
    location_id = locations.get(location_code)
    if not location_code:
        row.bad("location_code", _("must not be empty"))
    elif location_id is None:
        row.bad("location_code", _("no location with code %(code)s", code=location_code))
    facility_code = values.get("facility_code", "")
    facility_id = facilities.get(facility_code) if facility_code else None
    if facility_code and facility_id is None:
        row.bad("facility_code", _("no facility with code %(code)s", code=facility_code))
    raw_mobile = values.get("mobile", "")
    if raw_mobile not in mobiles:
        try:
            mobiles[raw_mobile] = rules.normalize_mobile(raw_mobile, region)
        except rules.InvalidMobile as exc:
            mobiles[raw_mobile] = None
            row.bad("mobile", str(exc))
    elif mobiles[raw_mobile] is None:
        row.bad("mobile", _("This is not a valid phone number."))
    mobile = mobiles[raw_mobile]

    type_code, raw_number = values.get("id_type", ""), values.get("id_number", "")
    id_type = number = id_hash = None
    if type_code or raw_number:
        id_type = id_types.get(type_code)
        if not type_code:
            row.bad("id_type", _("must not be empty when id_number is given"))
        elif id_type is None or not id_type.registration:
            row.bad("id_type", _("no ID document type %(code)s for registration",
                                 code=type_code))
            id_type = None
        elif not raw_number:
            row.bad("id_number", _("must not be empty when id_type is given"))
            id_type = None
        else:
            if birth_date is not None and \
                    rules.age_on(today, birth_date.year, birth_date) < id_type.min_age:
                row.bad("id_type", _("is only accepted from the age of %(age)d",
                                     age=id_type.min_age))
            try:
                number = normalize_id_number(id_type.validator, raw_number)
                id_hash = ring.lookup_hash("id:" + id_type.code, number)
            except InvalidIdNumber as exc:
                row.bad("id_number", _("not a valid %(document)s number: %(reason)s",
                                       document=id_type.code, reason=str(exc)))
    elif birth_date is not None and rules.id_document_needed(birth_date, exempt_from):
        row.bad("id_number", _("an ID document is needed at this age"))
    guardian = " ".join(values.get("guardian_name", "").split()) or None
    relation = " ".join(values.get("guardian_relation", "").split()).lower() or None
    without_document = not (type_code or raw_number)
    if guardian is None and without_document:
        row.bad("guardian_name", _("must not be empty for a person without an ID document"))
    elif guardian is not None and len(guardian) > 200:
        row.bad("guardian_name", too_long(200))
    if relation is None and (guardian is not None or without_document):
        row.bad("guardian_relation", _("must not be empty when there is a guardian"))
    elif relation is not None and len(relation) > 32:
        row.bad("guardian_relation", too_long(32))
    elif relation is not None and guardian is None:
        row.bad("guardian_name", _("must not be empty when there is a relation"))
    if not row.ok:
        return None
    return _Person(row.line, external_id, name, birth_date, gender_id, location_id,
                   facility_id, guardian, relation, mobile,
                   id_type.id if id_type else None, number, id_hash)


def _registered(session: Session, external_ids: set[str]) -> dict[str, Any]:
    """The people already registered with these external IDs, with their account's
    mobile, by external ID."""
    found: dict[str, Any] = {}
    for chunk in chunks(sorted(external_ids - {""}), IN_CHUNK):
        for row in session.execute(
                select(Beneficiary.external_id, Beneficiary.name, Beneficiary.birth_date,
                       Beneficiary.gender_id, Beneficiary.location_id, Beneficiary.facility_id,
                       Beneficiary.guardian_name, Beneficiary.guardian_relation,
                       Beneficiary.id_type_id, Beneficiary.id_number_hash,
                       CitizenAccount.mobile)
                .join(CitizenAccount, CitizenAccount.id == Beneficiary.account_id)
                .where(Beneficiary.external_id.in_(chunk))):
            found[row.external_id] = row
    return found


def _check_documents_free(session: Session, new: list[_Person], problems: Problems) -> None:
    """Each new ID document must not be registered already (to anyone)."""
    wanted = {p.id_hash: p for p in new if p.id_hash is not None}
    for chunk in chunks(sorted(wanted), IN_CHUNK):
        for type_id, id_hash in session.execute(
                select(Beneficiary.id_type_id, Beneficiary.id_number_hash)
                .where(Beneficiary.id_number_hash.in_(chunk))):
            person = wanted[id_hash]
            if person.id_type_id == type_id:
                problems.add(person.line, "id_number",
                             _("this ID document is already registered"))


def _check_households(session: Session, new: list[_Person], limit: int,
                      problems: Problems) -> dict[str, int]:
    """The accounts of the new people's mobiles that exist (mobile -> id), after checking
    that no account passes the household limit (its people and the file's new ones)."""
    accounts: dict[str, int] = {}
    members: dict[int, int] = {}
    for chunk in chunks(sorted({p.mobile for p in new}), IN_CHUNK):
        for mobile, account_id, count in session.execute(
                select(CitizenAccount.mobile, CitizenAccount.id, func.count(Beneficiary.id))
                .outerjoin(Beneficiary, Beneficiary.account_id == CitizenAccount.id)
                .where(CitizenAccount.mobile.in_(chunk))
                .group_by(CitizenAccount.mobile, CitizenAccount.id)):
            accounts[mobile] = account_id
            members[account_id] = count
    used: dict[str, int] = {}
    for person in new:
        used[person.mobile] = used.get(person.mobile, members.get(
            accounts.get(person.mobile, -1), 0)) + 1
        if used[person.mobile] > limit:
            problems.add(person.line, "mobile", ngettext(
                "the account of this mobile would hold more than %(num)d person",
                "the account of this mobile would hold more than %(num)d people", limit))
    return accounts


def _reference_ids(session: Session, n: int) -> list[str]:
    """n new reference IDs, none in use."""
    found: set[str] = set()
    while len(found) < n:
        drawn = {rules.new_reference_id() for _i in range(n - len(found))} - found
        for chunk in chunks(sorted(drawn), IN_CHUNK):
            drawn -= set(session.scalars(select(Beneficiary.reference_id)
                                         .where(Beneficiary.reference_id.in_(chunk))))
        found |= drawn
    return list(found)
