"""The bundle a field device downloads while online ("prepare for the field"): what the
staff member's grants cover for the coming days. Mobile numbers never leave in clear
(last four digits and a salted HMAC), ID numbers not at all."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.certificates import services as certificates
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Forbidden
from cowin_kit.core.i18n import gettext as _
from cowin_kit.fieldsync import rules
from cowin_kit.geography.models import Facility, Location
from cowin_kit.identity import access
from cowin_kit.identity.models import Gender, IdDocumentType, StaffUser
from cowin_kit.identity.services import staff_place
from cowin_kit.programme import catalogue, due
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose, Pregnancy
from cowin_kit.scheduling.models import Appointment, SessionSlot, VaccinationSession

# Actions that make a staff member a field worker: recording doses, registering people.
FIELD_ACTIONS = ("dose.record", "people.register")
LOTS_SINCE_DAYS = 90


def wipe_after_days(pack: ActivePack) -> int:
    """pack.yaml ``field: {wipe_after_days: N}``: days without a sync after which the app
    erases its local data."""
    section = pack.document.get("field") or {}
    return int(section.get("wipe_after_days") or rules.DEFAULT_WIPE_AFTER_DAYS)


def _label(labels: dict[str, str] | None, locale: str) -> str:
    labels = labels or {}
    return labels.get(locale) or next(iter(labels.values()), "")


def _subtree(session: Session, roots: Iterable[int]) -> set[int]:
    found = set(roots)
    frontier = set(found)
    while frontier:
        children = set(session.scalars(select(Location.id)
                                       .where(Location.parent_id.in_(frontier))))
        frontier = children - found
        found |= frontier
    return found


def _ancestors(session: Session, ids: set[int]) -> set[int]:
    found = set(ids)
    frontier = set(ids)
    while frontier:
        parents = {p for p in session.scalars(select(Location.parent_id)
                                              .where(Location.id.in_(frontier))) if p}
        frontier = parents - found
        found |= frontier
    return found


def prepare(session: Session, pack: ActivePack, actor: StaffUser, *, days: int = 3,
            facility_code: str | None = None, locale: str | None = None) -> dict[str, Any]:
    """The bundle (see docs/field-app.md, "Sync API")."""
    locale = locale or pack.default_locale
    grants = [g for g in actor.grants
              if any(access.grants_allow([g], action) for action in FIELD_ACTIONS)]
    if not grants:
        raise Forbidden(_("Only staff who record doses or register people prepare for "
                          "the field."), code="forbidden")
    facility_ids: set[int] = set()
    location_roots: set[int] = set()
    national = False
    for grant in grants:
        if grant.facility_id is not None:
            facility_ids.add(grant.facility_id)
        elif grant.location_id is not None:
            location_roots.add(grant.location_id)
        else:
            national = True
    if national and facility_code is None:
        raise Forbidden(_("A national grant covers too much for one device: name the "
                          "facility to prepare for."), code="facility_required")
    area = _subtree(session, location_roots) if location_roots else set()
    facilities = list(session.scalars(select(Facility).where(or_(
        Facility.id.in_(facility_ids), Facility.location_id.in_(area),
        Facility.code == facility_code if national else False))
        .order_by(Facility.code)))
    if facility_code is not None:
        facilities = [f for f in facilities if f.code == facility_code]
        if not facilities:
            raise Forbidden(_("You may not work at this facility."), code="forbidden")
        facility_ids, area = {facilities[0].id}, set()
    chosen_facilities = {f.id for f in facilities}

    zone = zoneinfo.ZoneInfo(pack.document["timezone"])
    now = datetime.now(timezone.utc)
    today = now.astimezone(zone).date()
    sessions = list(session.scalars(select(VaccinationSession).where(
        VaccinationSession.facility_id.in_(chosen_facilities),
        VaccinationSession.session_date >= today,
        VaccinationSession.session_date <= today + timedelta(days=days),
        VaccinationSession.status == "published").order_by(VaccinationSession.session_date)))
    products = {p.id: p for p in catalogue.products(session, pack)}
    facility_code_of = {f.id: f.code for f in facilities}

    appointments = list(session.execute(
        select(Appointment.session_id, Appointment.dose_number, Appointment.beneficiary_id,
               SessionSlot.starts_at, SessionSlot.ends_at)
        .join(SessionSlot, SessionSlot.id == Appointment.slot_id)
        .where(Appointment.session_id.in_([s.id for s in sessions]),
               Appointment.status == "booked")))
    booked_people = {row.beneficiary_id for row in appointments}
    people_query = select(Beneficiary, CitizenAccount.mobile).join(
        CitizenAccount, CitizenAccount.id == Beneficiary.account_id).where(or_(
            Beneficiary.facility_id.in_(facility_ids | (chosen_facilities if area else set())),
            Beneficiary.location_id.in_(area), Beneficiary.id.in_(booked_people)))
    rows = session.execute(people_query.order_by(Beneficiary.id)
                           .limit(rules.MAX_PEOPLE)).all()
    salt = rules.new_salt()
    person_ids = [person.id for person, _mobile in rows]
    doses_of: dict[int, list[Dose]] = defaultdict(list)
    pregnancies_of: dict[int, list[Pregnancy]] = defaultdict(list)
    for start in range(0, len(person_ids), 1000):
        chunk = person_ids[start:start + 1000]
        for dose in session.scalars(select(Dose).where(Dose.beneficiary_id.in_(chunk))
                                    .order_by(Dose.administered_at)):
            doses_of[dose.beneficiary_id].append(dose)
        for pregnancy in session.scalars(select(Pregnancy)
                                         .where(Pregnancy.beneficiary_id.in_(chunk))):
            pregnancies_of[pregnancy.beneficiary_id].append(pregnancy)
    routine = [s for s in catalogue.schedules(session, pack) if s.routine]
    settings = pack.routine
    location_ids = {person.location_id for person, _m in rows if person.location_id}
    lineage = {loc.id: (loc.code, loc.parent_id) for loc in session.scalars(
        select(Location).where(Location.id.in_(_ancestors(session, location_ids))))}
    locations = {i: lineage[i][0] for i in location_ids if i in lineage}
    areas_of: dict[int | None, frozenset[str] | None] = {None: None}
    genders = {g.id: g.code for g in session.scalars(select(Gender))}
    reference_of = {person.id: person.reference_id for person, _m in rows}

    people_out = []
    for person, mobile in rows:
        history = [due.Given(products[d.product_id].code if d.product_id in products
                             else str(d.product_id),
                             d.administered_at.astimezone(zone).date())
                   for d in doses_of[person.id]]
        statuses: list[due.DoseStatus] = []
        if person.location_id not in areas_of:
            areas_of[person.location_id] = _area_codes(lineage, person.location_id)
        if person.birth_date is not None and routine:
            statuses = due.evaluate(
                routine, birth_date=person.birth_date, history=history, on=today,
                overdue_after=settings.overdue_after, default_grace=settings.grace,
                sex=genders.get(person.gender_id), area_codes=areas_of[person.location_id],
                pregnancies=[due.Pregnancy(p.registered_on, p.outcome_date)
                             for p in pregnancies_of[person.id]])
        people_out.append({
            "reference_id": person.reference_id, "external_id": person.external_id,
            "name": person.name, "birth_date": person.birth_date,
            "birth_year": person.birth_year, "gender": genders.get(person.gender_id, ""),
            "mobile_last4": rules.mobile_last4(mobile),
            "mobile_hash": rules.mobile_hash(salt, mobile),
            "guardian_name": person.guardian_name,
            "location_code": locations.get(person.location_id),
            "facility_code": facility_code_of.get(person.facility_id),
            "doses": [{"product": g.product, "date": g.day.isoformat(),
                       "series": d.series, "dose_number": d.dose_number}
                      for g, d in zip(history, doses_of[person.id])],
            "due": [{"schedule": s.schedule, "dose": s.dose, "status": s.status,
                     "earliest": _day(s.earliest), "due": _day(s.due),
                     "latest": _day(s.latest)}
                    for s in statuses if s.status not in (due.DONE, due.NOT_NEEDED)],
        })

    place_ids = _ancestors(session, area | {f.location_id for f in facilities})
    lots = session.execute(select(Dose.product_id, Dose.lot).where(
        Dose.facility_id.in_(chosen_facilities),
        Dose.administered_at >= now - timedelta(days=LOTS_SINCE_DAYS)).distinct())
    audit.record(session, "field.prepare", "staff_user", actor.username,
                 place=staff_place(session, actor), people=len(people_out), facilities=len(facilities), days=days)
    session.commit()
    return {
        "server_time": now,
        "staff": {"username": actor.username, "display_name": actor.display_name,
                  "roles": sorted({g.role for g in actor.grants}),
                  "facilities": [f.code for f in facilities]},
        "pack": _pack(session, pack, locale, place_ids),
        "facilities": [{"code": f.code, "name": _label(f.names, locale) or f.name}
                       for f in facilities],
        "sessions": [{"id": s.id, "facility_code": facility_code_of[s.facility_id],
                      "date": s.session_date.isoformat(),
                      "products": [products[s.product_id].code]
                      if s.product_id in products else []} for s in sessions],
        "people": people_out,
        "mobile_salt": salt,
        "appointments": [{"reference_id": reference_of.get(a.beneficiary_id),
                          "session_id": a.session_id, "dose": a.dose_number,
                          "slot": f"{a.starts_at:%H:%M}-{a.ends_at:%H:%M}"}
                         for a in appointments if a.beneficiary_id in reference_of],
        "lots": sorted(({"product": products[p].code, "lot": lot}
                        for p, lot in lots if p in products),
                       key=lambda x: (x["product"], x["lot"])),
        "trust": _trust(session),
        "cursor": rules.encode_cursor(now, 0),
    }


def _area_codes(lineage: dict[int, tuple[str, int | None]],
               location_id: int) -> frozenset[str]:
    """The codes of a location and its ancestors."""
    codes: list[str] = []
    current: int | None = location_id
    while current is not None and current in lineage and len(codes) < 32:
        code, current = lineage[current]
        codes.append(code)
    return frozenset(codes)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _pack(session: Session, pack: ActivePack, locale: str, place_ids: set[int]) -> dict:
    document = pack.document
    routine = pack.routine
    places = list(session.scalars(select(Location).where(Location.id.in_(place_ids))
                                  .order_by(Location.level, Location.code)))
    codes = {loc.id: loc.code for loc in places}
    return {
        "code": pack.code, "version": pack.version, "locales": pack.locales,
        "default_locale": pack.default_locale, "timezone": document["timezone"],
        "phone_region": document.get("phone_region"),
        "id_types": [{"code": t.code, "label": t.labels, "min_age": t.min_age,
                      "registration": t.registration}
                     for t in session.scalars(select(IdDocumentType)
                                              .order_by(IdDocumentType.position))],
        "genders": [{"code": g.code, "label": g.labels}
                    for g in session.scalars(select(Gender).order_by(Gender.position))],
        "products": [{"code": p.code, "name": p.names, "antigens": list(p.antigens or [])}
                     for p in catalogue.products(session, pack)],
        "schedules": [{"code": s.code, "disease": s.disease, "routine": s.routine,
                       "timed_from": s.timed_from, "products": list(s.products),
                       "doses": list(s.doses), "options": dict(s.options or {})}
                      for s in catalogue.schedules(session, pack)],
        "places": [{"code": loc.code, "name": _label(loc.names, locale) or loc.name,
                    "level": loc.level, "parent_code": codes.get(loc.parent_id)}
                   for loc in places],
        "routine": {name: str(getattr(routine, name)) for name in (
            "overdue_after", "zero_dose_age", "id_exempt_below", "grace")}
        | {"household_limit": routine.household_limit},
        "wipe_after_days": wipe_after_days(pack),
    }


def _trust(session: Session) -> dict[str, Any]:
    """The certificate verification material of this instance, for the app's offline
    verifier (see ``certificates.offline_trust``)."""
    return certificates.offline_trust(session)
