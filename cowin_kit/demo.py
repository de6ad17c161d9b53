"""Demo data: facilities, sessions for the coming days and staff accounts, created through
the same services an administrator uses. Running it again reuses what exists."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.geography.models import Location, PostalCode
from cowin_kit.identity import services as identity
from cowin_kit.scheduling import services as scheduling
from cowin_kit.vaccination.models import VaccineSchedule

DEMO_DAYS = 14
FACILITIES_PER_DISTRICT = 2
MAX_DISTRICTS = 12
SLOTS = "09:00-11:00;11:00-13:00;14:00-17:00"


@dataclass
class DemoReport:
    facilities: int = 0
    sessions: int = 0
    new_accounts: list[tuple[str, str, str]] = field(default_factory=list)  # user, role, password
    existing_accounts: list[str] = field(default_factory=list)


def seed_demo(session: Session, pack: ActivePack, days: int = DEMO_DAYS) -> DemoReport:
    report = DemoReport()
    leaf_level = len(pack.document["hierarchy"])
    districts = session.scalars(
        select(Location).where(Location.level == leaf_level).order_by(Location.code)
        .limit(MAX_DISTRICTS)
    ).all()
    schedules = session.scalars(select(VaccineSchedule).order_by(VaccineSchedule.code)).all()
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
            facility = scheduling.upsert_facility(
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
            scheduling.publish_session(
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
    return report
