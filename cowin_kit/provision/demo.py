"""Demo data: facilities, sessions for the coming days and staff accounts, created through
the same services an administrator uses. Running it again reuses what exists."""

from __future__ import annotations

import random
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flask_babel import force_locale

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Facility, Location, PopulationFigure, PostalCode
from cowin_kit.identity import services as identity
from cowin_kit.idnumbers import InvalidIdNumber, normalize_id_number
from cowin_kit.core.errors import Conflict, RuleViolation
from cowin_kit.registration import people
from cowin_kit.scheduling import sessions
from cowin_kit.vaccination import services as vaccination
from cowin_kit.vaccination import visits
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.programme import due
from cowin_kit.programme.models import VaccineSchedule

DEMO_DAYS = 14
FACILITIES_PER_DISTRICT = 2
MAX_DISTRICTS = 12
SLOTS = "09:00-11:00;11:00-13:00;14:00-17:00"
HISTORY_PEOPLE = 240
HISTORY_DISTRICTS = 8                 # in as many states as the pack has
HISTORY_DAYS = 120
ROUTINE_CHILDREN_PER_FACILITY = 6
ROUTINE_OLDEST_DAYS = 5 * 365 - 30    # children under five (registered without an ID)
ROUTINE_DROP_OUT = 0.06               # a family stops coming after a visit
# Sex of the people of the COVID-19 history: about as CoWIN's dashboard reported doses
# (men slightly more than women, "others" a few in ten thousand).
SEX_WEIGHTS = (0.51, 0.4895, 0.0005)
GUARDIANS = ("Meena", "Sunita", "Lakshmi", "Fatima", "Priya", "Anita", "Kavita", "Rekha")


def facility_names(pack: ActivePack, place_names: dict[str, str], fallback: str, *,
                   hospital: bool, number: int) -> tuple[str, dict[str, str]]:
    """A demo facility's name in each language of the pack, each wholly in that language
    ("Thiruvananthapuram Health Centre 1", "तिरुवनंतपुरम स्वास्थ्य केंद्र 1"): the place's own
    name and the kind of facility in the kit's words for the language."""
    names = {}
    for locale in pack.locales:
        place = place_names.get(locale) or fallback
        with force_locale(locale):
            names[locale] = (_("%(place)s Hospital %(number)d", place=place, number=number)
                             if hospital else
                             _("%(place)s Health Centre %(number)d", place=place, number=number))
    default = names.get(pack.default_locale) or next(iter(names.values()))
    return default, names


def _sexes(pack: ActivePack, count: int, rng: random.Random) -> list[str]:
    """``count`` gender codes of the pack in SEX_WEIGHTS' proportions (the first two codes
    are the pack's men and women, as every example pack lists them)."""
    codes = [g["code"] for g in pack.document["genders"]]
    weights = list(SEX_WEIGHTS[:len(codes)]) + [SEX_WEIGHTS[-1]] * (len(codes) - len(SEX_WEIGHTS))
    return rng.choices(codes, weights=weights, k=count)


def _spread_places(session: Session, pack: ActivePack, count: int) -> list[Location]:
    """``count`` districts spread evenly over the states (top-level places), those with
    population figures first (coverage needs a denominator), then those with coordinates."""
    leaf_level = len(pack.document["hierarchy"])
    populated = set(session.scalars(select(PopulationFigure.location_id).distinct()))
    leaves = session.scalars(select(Location).where(Location.level == leaf_level)
                             .order_by(Location.code)).all()
    by_id = {loc.id: loc for loc in session.scalars(select(Location))}

    def top(place: Location) -> int:
        while place.parent_id is not None and place.parent_id in by_id:
            place = by_id[place.parent_id]
        return place.id

    by_state: dict[int, list[Location]] = {}
    for place in sorted(leaves, key=lambda loc: (loc.id not in populated, loc.latitude is None,
                                                 loc.code)):
        by_state.setdefault(top(place), []).append(place)
    chosen: list[Location] = []
    # round robin over the states (those with population figures first): each state's
    # first district, then each one's second, ...
    queues = sorted(by_state.values(), key=lambda places: places[0].id not in populated)
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


@dataclass
class DemoReport:
    facilities: int = 0
    sessions: int = 0
    new_accounts: list[tuple[str, str, str]] = field(default_factory=list)  # user, role, password
    existing_accounts: list[str] = field(default_factory=list)
    doses: int = 0
    children: int = 0
    routine_doses: int = 0
    pregnancies: int = 0


def seed_demo(session: Session, pack: ActivePack, days: int = DEMO_DAYS) -> DemoReport:
    report = DemoReport()
    leaf_level = len(pack.document["hierarchy"])
    # Places with coordinates first: the demo's centres take their place's, for "near me".
    districts = session.scalars(
        select(Location).where(Location.level == leaf_level)
        .order_by(Location.latitude.is_(None), Location.code).limit(MAX_DISTRICTS)
    ).all()
    # The demo's sessions and history are of the appointment-booked (non-routine) drives.
    schedules = session.scalars(select(VaccineSchedule).where(VaccineSchedule.routine.is_(False))
                                .order_by(VaccineSchedule.code)).all()
    products = [s.products[0] for s in schedules] or []
    if not districts or not products:
        return report
    today = datetime.now(zoneinfo.ZoneInfo(pack.document["timezone"])).date()
    min_age_by_product = {s.products[0]: s.min_age for s in schedules}
    dose_count = {s.products[0]: len(s.doses) for s in schedules}

    facilities = []
    for d_index, district in enumerate(districts):
        postal = session.scalar(select(PostalCode.code).where(PostalCode.location_id == district.id)
                                .order_by(PostalCode.code).limit(1))
        for n in range(1, FACILITIES_PER_DISTRICT + 1):
            paid = n == 2 and d_index % 3 == 0
            name, names = facility_names(pack, district.names, district.name, hospital=paid,
                                         number=n)
            facility = sessions.upsert_facility(
                session, code=f"DEMO-{district.code}-{n}", name=name, names=names,
                location_code=district.code, address=f"{n} Main Road, {district.name}",
                postal_code=postal, latitude=district.latitude, longitude=district.longitude,
                facility_type="private" if paid else "public",
                fee_type="Paid" if paid else "Free", opens_at=time(9), closes_at=time(17),
            )
            facilities.append((facility, paid))
    report.facilities = len(facilities)

    for f_index, (facility, paid) in enumerate(facilities):
        product = products[f_index % len(products)]
        for offset in range(days):
            capacity = {1: 50, 2: 50}
            if dose_count.get(product, 2) >= 3:
                capacity[3] = 20
            sessions.publish_session(
                session, facility=facility, session_date=today + timedelta(days=offset),
                product_code=product, slots=SLOTS, capacity_by_dose=capacity,
                min_age=max(min_age_by_product.get(product, 18), 18 if offset % 2 else 12),
                fee=780 if paid else 0,
            )
            report.sessions += 1

    first_facility = facilities[0][0]
    accounts = [
        ("demo.admin", "national_admin", {}),
        ("demo.district", "district_admin", {"location_code": districts[0].code}),
        ("demo.facility", "facility_admin", {"facility_code": first_facility.code}),
        ("demo.vaccinator", "vaccinator", {"facility_code": first_facility.code}),
        ("demo.verifier", "verifier", {}),
    ]
    for username, role, scope in accounts:
        if identity.find_staff_user(session, username) is not None:
            report.existing_accounts.append(username)
            continue
        password = identity.generate_password()
        user = identity.create_staff_user(session, username, password,
                                          display_name=f"Demo {role.replace('_', ' ')}")
        identity.grant_role(session, user, role, **scope)
        report.new_accounts.append((username, role, password))
    session.commit()
    if not session.scalar(select(func.count()).select_from(Dose)):
        report.doses = seed_vaccination_history(session, pack, schedules)
    if not session.scalar(select(func.count()).select_from(Beneficiary)
                          .where(Beneficiary.registered_by != "")):
        seed_routine_history(session, pack, [f for f, _paid in facilities], report)
    return report


def _demo_id_numbers(pack: ActivePack, count: int, rng: random.Random) -> tuple[str, list[str]]:
    """An ID type of the pack and ``count`` numbers its validator accepts, found by trying
    random digits (check digits included), so that any pack's demo has people. Numbers
    start with 2-9 first (as Aadhaar does); a type checked by a regular expression that
    takes none is tried again with any leading digit (Vietnam's ID numbers start with a
    province code such as 001)."""
    for id_type in pack.document["id_types"]:
        if not id_type.get("registration", True):
            continue
        passes = [(2, count * 40)]
        if id_type["validator"].startswith("regex:"):
            passes.append((0, count * 80))
        for first, attempts in passes:
            numbers: list[str] = []
            for length in (12, 9, 10, 11, 8, 13, 14, 15, 16):
                numbers = []
                for _attempt in range(attempts):
                    candidate = str(rng.randint(first, 9)) + "".join(
                        str(rng.randint(0, 9)) for _ in range(length - 1))
                    try:
                        numbers.append(normalize_id_number(id_type["validator"], candidate))
                    except InvalidIdNumber:
                        continue
                    if len(numbers) == count:
                        return id_type["code"], numbers
                if numbers:
                    break  # this length works, but not often enough: try the next type
            if numbers:
                break
    return "", []


def _demo_mobiles(pack: ActivePack, count: int) -> list[str]:
    """Valid mobile numbers of the pack's country: its example number, last digits varied
    (four people share one account, as families do)."""
    region = pack.document["phone_region"]
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    national = str(example.national_number)
    found = []
    for n in range(count * 20):
        candidate = national[:-4] + f"{(int(national[-4:]) + n) % 10000:04d}"
        parsed = phonenumbers.parse(candidate, region)
        if phonenumbers.is_valid_number(parsed):
            found.append(phonenumbers.format_number(parsed, PhoneNumberFormat.E164))
            if len(found) == count:
                break
    return found


def _birth_date_for(schedule: VaccineSchedule, today: date, rng: random.Random) -> date:
    """A birthday that makes the person eligible for ``schedule`` for the whole history
    (one year inside the schedule's ages at both ends)."""
    youngest = max(schedule.min_age, 18 if schedule.max_age is None else schedule.min_age) + 1
    oldest = (schedule.max_age - 1) if schedule.max_age is not None else 85
    age = rng.randint(youngest, max(youngest, oldest))
    return date(today.year - age - 1, rng.randint(1, 12), rng.randint(1, 28))


def seed_vaccination_history(session: Session, pack: ActivePack,
                             schedules: list[VaccineSchedule]) -> int:
    """Doses given over the last weeks at a few facilities, so that the dashboards, the
    certificates and the vaccinator's lots have something to show. Places with population
    figures come first, so that coverage has a denominator."""
    rng = random.Random(2021)  # the same people on every machine
    places = _spread_places(session, pack, HISTORY_DISTRICTS)
    # Series whose second dose can fall inside the history (a single-dose product with a
    # booster months later, as Convidecia in Mexico's pack, has no place in it).
    two_dose = [s for s in schedules if len(s.doses) >= 2
                and (s.doses[1].get("min_interval_days") or 0) < HISTORY_DAYS - 1]
    if not places or not two_dose:
        return 0
    id_type, numbers = _demo_id_numbers(pack, HISTORY_PEOPLE, rng)
    if not numbers:
        return 0
    mobiles = _demo_mobiles(pack, len(numbers) // 4 + 1)
    numbers = numbers[:len(mobiles) * 4]
    vaccinator = identity.find_staff_user(session, "demo.vaccinator")
    sexes = _sexes(pack, len(numbers), rng)
    zone = zoneinfo.ZoneInfo(pack.document["timezone"])
    now = datetime.now(zone)
    facilities = []
    for place in places:
        name, names = facility_names(pack, place.names, place.name, hospital=False, number=1)
        facilities.append(sessions.upsert_facility(
            session, code=f"DEMO-{place.code}-1", name=name, names=names,
            location_code=place.code, address=f"1 Main Road, {place.name}",
            latitude=place.latitude, longitude=place.longitude, facility_type="public",
            fee_type="Free", opens_at=time(9), closes_at=time(17)))
    session.commit()
    given = 0
    holder_codes: dict[int, str | None] = {}
    for index, number in enumerate(numbers):
        schedule = two_dose[index % len(two_dose)]
        product = schedule.products[0]
        facility = facilities[index % len(facilities)]
        first_day = now - timedelta(days=rng.randint(schedule.doses[1]["min_interval_days"] + 1,
                                                     HISTORY_DAYS))
        person = vaccination.register_walk_in(
            session, pack, vaccinator, mobile=mobiles[index // 4], facility=facility,
            # four people a mobile: the later ones with the first one's secret code
            holder_code=holder_codes.get(index // 4),
            name=f"Demo Person {index + 1}",
            birth_date=_birth_date_for(schedule, now.date(), rng),
            gender=sexes[index], id_type=id_type, id_number=number,
            consent_version="demo")
        holder_codes.setdefault(index // 4, person.secret_code)
        reference_id = person.beneficiary.reference_id
        vaccination.record_dose(session, pack, vaccinator, facility=facility,
                                reference_id=reference_id, product_code=product,
                                lot=f"DEMO{first_day:%m}A", administered_at=first_day)
        given += 1
        if rng.random() < 0.7:  # the rest are the dose-2 drop-out the dashboard shows
            second = first_day + timedelta(days=schedule.doses[1]["min_interval_days"]
                                           + rng.randint(0, 6))
            if second < now:
                vaccination.record_dose(session, pack, vaccinator, facility=facility,
                                        reference_id=reference_id, product_code=product,
                                        lot=f"DEMO{second:%m}B", administered_at=second)
                given += 1
    return given


def seed_routine_history(session: Session, pack: ActivePack, facilities: list[Facility],
                         report: DemoReport) -> None:
    """Children of every age up to five at each facility, registered by a health worker
    and brought to visits as families do (most on time, some late, a few stopping), each
    visit recording what the pack's routine schedules say is due that day; and a pregnant
    woman per facility with her first Td dose. Through the same services the vaccinator's
    pages use, so that each facility has a due list to show."""
    if not visits.routine_schedules(session, pack):
        return
    admin = identity.find_staff_user(session, "demo.admin")
    if admin is None:
        return
    rng = random.Random(2024)  # the same children on every machine
    zone = zoneinfo.ZoneInfo(pack.document["timezone"])
    today = datetime.now(zone).date()
    covid_accounts = HISTORY_PEOPLE // 4 + 1
    wanted = len(facilities) * (ROUTINE_CHILDREN_PER_FACILITY // 2 + 1)
    mobiles = _demo_mobiles(pack, covid_accounts + wanted)[covid_accounts:]
    genders = [g["code"] for g in pack.document["genders"]][:2]
    id_type, numbers = _demo_id_numbers(pack, len(facilities), random.Random(1857))
    locations = dict(session.execute(select(Location.id, Location.code)).all())
    households = iter(mobiles)
    for f_index, facility in enumerate(facilities):
        location = locations.get(facility.location_id)
        if location is None:
            continue
        mobile = next(households, None)
        for c_index in range(ROUTINE_CHILDREN_PER_FACILITY):
            if c_index % 2 == 0 and c_index:
                mobile = next(households, None)  # two children to a household
            if mobile is None:
                return
            # ages spread over the first five years, the youngest a few days old
            age = int((c_index + rng.random()) * ROUTINE_OLDEST_DAYS
                      / ROUTINE_CHILDREN_PER_FACILITY)
            guardian = GUARDIANS[(f_index + c_index) % len(GUARDIANS)]
            person = people.register_person(
                session, pack, admin, name=f"Baby of {guardian} {f_index + 1}.{c_index + 1}",
                birth_date=today - timedelta(days=age), gender=genders[c_index % len(genders)],
                mobile=mobile, location=location, facility=facility.code,
                guardian_name=f"{guardian} Devi", guardian_relation="mother")
            report.children += 1
            report.routine_doses += _bring_to_visits(session, pack, admin, facility,
                                                     person.beneficiary.reference_id, today,
                                                     zone, rng)
        if id_type and f_index < len(numbers):
            report.pregnancies += _pregnant_woman(session, pack, admin, facility, location,
                                                  id_type, numbers[f_index], today, zone, rng,
                                                  next(households, None))


def _bring_to_visits(session: Session, pack: ActivePack, actor: Any, facility: Facility,
                     reference_id: str, today: date, zone: zoneinfo.ZoneInfo,
                     rng: random.Random) -> int:
    """Visits from birth to today: at each, every dose due that day (the first product the
    pack allows), then the next visit when the next dose opens, sometimes weeks late."""
    given = 0
    punctual = rng.random() < 0.6
    day = visits.due_today(session, pack, actor, reference_id,
                           on=today).birth_date
    while day <= today:
        plan = visits.due_today(session, pack, actor, reference_id, on=day)
        doses = [{"product": item.products[0], "schedule": item.schedule.code,
                  "lot": f"{item.products[0][:4]}-{day:%y%m}"} for item in plan.due]
        if doses:
            try:
                # 10:00 on the day, or now when today's visit is still before 10:00 there
                at = min(datetime.combine(day, time(10), zone), datetime.now(zone))
                visits.record_visit(session, pack, actor, reference_id=reference_id,
                                    doses=doses, facility_code=facility.code,
                                    administered_at=at)
                given += len(doses)
            except (RuleViolation, Conflict):
                session.rollback()
            if rng.random() < ROUTINE_DROP_OUT:
                break  # the family stops coming: a defaulter on the due list
        upcoming = [s.earliest for s in plan.statuses
                    if s.status == due.UPCOMING and s.earliest is not None and s.earliest > day]
        if not upcoming:
            break
        day = min(upcoming) + timedelta(days=0 if punctual else rng.randint(3, 40))
    return given


def _pregnant_woman(session: Session, pack: ActivePack, actor: Any, facility: Facility,
                    location: str, id_type: str, number: str, today: date,
                    zone: zoneinfo.ZoneInfo, rng: random.Random, mobile: str | None) -> int:
    if mobile is None:
        return 0
    registered = today - timedelta(days=rng.randint(10, 60))
    try:
        person = people.register_person(
            session, pack, actor, name=f"Demo Mother {facility.code[-6:]}",
            birth_date=date(today.year - rng.randint(20, 34), rng.randint(1, 12),
                            rng.randint(1, 28)),
            gender="F", mobile=mobile, location=location, facility=facility.code,
            id_type=id_type, id_number=number,
            pregnancy=people.PregnancyFacts(registered_on=registered, lmp=None, edd=None))
    except (RuleViolation, Conflict):
        session.rollback()
        return 0
    plan = visits.due_today(session, pack, actor, person.beneficiary.reference_id,
                              on=registered)
    doses = [{"product": item.products[0], "schedule": item.schedule.code,
              "lot": f"TD-{registered:%y%m}"} for item in plan.due]
    if doses:
        try:
            visits.record_visit(session, pack, actor,
                                reference_id=person.beneficiary.reference_id,
                                doses=doses, facility_code=facility.code,
                                administered_at=datetime.combine(registered, time(11), zone))
        except (RuleViolation, Conflict):
            session.rollback()
    return 1
