"""Demo data: facilities, sessions for the coming days and staff accounts, created through
the same services an administrator uses. Running it again reuses what exists."""

from __future__ import annotations

import random
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.geography.models import Location, PopulationFigure, PostalCode
from cowin_kit.identity import services as identity
from cowin_kit.idnumbers import InvalidIdNumber, normalize_id_number
from cowin_kit.scheduling import sessions
from cowin_kit.vaccination import services as vaccination
from cowin_kit.registration.models import Dose
from cowin_kit.programme.models import VaccineSchedule

DEMO_DAYS = 14
FACILITIES_PER_DISTRICT = 2
MAX_DISTRICTS = 12
SLOTS = "09:00-11:00;11:00-13:00;14:00-17:00"
HISTORY_PEOPLE = 240
HISTORY_DISTRICTS = 4
HISTORY_DAYS = 120


@dataclass
class DemoReport:
    facilities: int = 0
    sessions: int = 0
    new_accounts: list[tuple[str, str, str]] = field(default_factory=list)  # user, role, password
    existing_accounts: list[str] = field(default_factory=list)
    doses: int = 0


def seed_demo(session: Session, pack: ActivePack, days: int = DEMO_DAYS) -> DemoReport:
    report = DemoReport()
    leaf_level = len(pack.document["hierarchy"])
    districts = session.scalars(
        select(Location).where(Location.level == leaf_level).order_by(Location.code)
        .limit(MAX_DISTRICTS)
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
            kind = "Hospital" if paid else "Health Centre"
            facility = sessions.upsert_facility(
                session, code=f"DEMO-{district.code}-{n}",
                name=f"{district.name} {kind} {n}",
                names={loc: f"{name} {kind} {n}" for loc, name in district.names.items()},
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
    return report


def _demo_id_numbers(pack: ActivePack, count: int, rng: random.Random) -> tuple[str, list[str]]:
    """An ID type of the pack and ``count`` numbers its validator accepts, found by trying
    random digits (check digits included), so that any pack's demo has people."""
    for id_type in pack.document["id_types"]:
        if not id_type.get("registration", True):
            continue
        for length in (12, 9, 10, 11, 8, 13, 14, 15, 16):
            numbers: list[str] = []
            for _attempt in range(count * 40):
                candidate = str(rng.randint(2, 9)) + "".join(
                    str(rng.randint(0, 9)) for _ in range(length - 1))
                try:
                    numbers.append(normalize_id_number(id_type["validator"], candidate))
                except InvalidIdNumber:
                    continue
                if len(numbers) == count:
                    return id_type["code"], numbers
            if numbers:
                break  # this length works, but not often enough: try the next type
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
    populated = session.scalars(
        select(Location).join(PopulationFigure, PopulationFigure.location_id == Location.id)
        .distinct().order_by(Location.code).limit(HISTORY_DISTRICTS)).all()
    leaf_level = len(pack.document["hierarchy"])
    places = list(populated) or list(session.scalars(
        select(Location).where(Location.level == leaf_level).order_by(Location.code)
        .limit(HISTORY_DISTRICTS)))
    two_dose = [s for s in schedules if len(s.doses) >= 2]
    if not places or not two_dose:
        return 0
    id_type, numbers = _demo_id_numbers(pack, HISTORY_PEOPLE, rng)
    if not numbers:
        return 0
    mobiles = _demo_mobiles(pack, len(numbers) // 4 + 1)
    numbers = numbers[:len(mobiles) * 4]
    vaccinator = identity.find_staff_user(session, "demo.vaccinator")
    genders = [g["code"] for g in pack.document["genders"]]
    zone = zoneinfo.ZoneInfo(pack.document["timezone"])
    now = datetime.now(zone)
    facilities = []
    for place in places:
        facilities.append(sessions.upsert_facility(
            session, code=f"DEMO-{place.code}-1", name=f"{place.name} Health Centre 1",
            names={loc: f"{name} Health Centre 1" for loc, name in place.names.items()},
            location_code=place.code, address=f"1 Main Road, {place.name}",
            latitude=place.latitude, longitude=place.longitude, facility_type="public",
            fee_type="Free", opens_at=time(9), closes_at=time(17)))
    session.commit()
    given = 0
    for index, number in enumerate(numbers):
        schedule = two_dose[index % len(two_dose)]
        product = schedule.products[0]
        facility = facilities[index % len(facilities)]
        first_day = now - timedelta(days=rng.randint(schedule.doses[1]["min_interval_days"] + 1,
                                                     HISTORY_DAYS))
        person = vaccination.register_walk_in(
            session, pack, vaccinator, mobile=mobiles[index // 4],
            name=f"Demo Person {index + 1}",
            birth_date=_birth_date_for(schedule, now.date(), rng),
            gender=genders[index % len(genders)], id_type=id_type, id_number=number,
            consent_version="demo")
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
