"""Driving an app with the India pack through its HTTP API and services, as the tests of
the kit (and of country plugins) do: sign in citizens and staff, publish sessions, add
members, record doses, issue certificates."""

from __future__ import annotations

import json
import zoneinfo
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from cowin_kit.testing.databases import empty_tables, kept_places

__all__ = [
    "IST", "STAFF_PASSWORD", "accounts_with_members", "add_members", "auth", "booked_counts",
    "close_reg_app", "count_rows", "create_staff", "demo_facility", "iso_day", "last_otp", "make_reg_app",
    "member", "national_admin_token", "publish", "record_dose", "record_first_dose",
    "run_worker", "secret_code", "seed_report_doses", "sign_in", "staff_token", "today",
    "valid_aadhaar",
]

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
STAFF_PASSWORD = "correct horse battery"


def today() -> date:
    """Today in India (the India pack's timezone)."""
    return datetime.now(IST).date()


def iso_day(n: int) -> str:
    """The date n days from today in India, as CSV files and queries spell it."""
    return (today() + timedelta(days=n)).isoformat()


def valid_aadhaar(n: int, start: int = 200000000000) -> list[str]:
    """n distinct Aadhaar numbers that pass the Verhoeff check (the same for the same
    ``start``)."""
    from stdnum import verhoeff

    found, body = [], start
    while len(found) < n:
        body += 7919
        candidate = str(body)[:11]
        number = candidate + verhoeff.calc_check_digit(candidate)
        if number[0] not in "01":
            found.append(number)
    return found


def demo_facility(session):
    """The demo's own facility (``cowin-kit demo``): the one its vaccinator and facility
    admin are granted, which has the published sessions. The demo also makes facilities
    for its dose history elsewhere in the country, without sessions."""
    from cowin_kit.identity.models import RoleGrant, StaffUser
    from cowin_kit.geography.models import Facility

    return session.scalars(select(Facility).join(RoleGrant, RoleGrant.facility_id == Facility.id)
                           .join(StaffUser, StaffUser.id == RoleGrant.user_id)
                           .where(StaffUser.username == "demo.vaccinator")).one()


def count_rows(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def make_reg_app(database_url, tmp_path, pack, **settings):
    """An app with ``pack`` installed, OTPs written to a file (``app.outbox``) and limits
    high enough for a test's traffic; ``settings`` add to or replace those (a plugin's
    test passes ``PLUGINS=["name"]`` and the plugin's settings; a test may pass
    ``BOOKING_CUTOFF_TIME="00:00"``)."""
    from cowin_kit import create_app
    from cowin_kit.core.db import get_database
    from cowin_kit.provision.installer import install_pack

    outbox = tmp_path / "messages.jsonl"
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": database_url, "NOTIFIER": f"file:{outbox}",
                      "OTP_RESEND_COOLDOWN_SECONDS": 0,
                      "OTP_LIMITS_PER_NUMBER": "1000/hour", "OTP_LIMITS_PER_IP": "1000/hour",
                      "BOOKING_LIMITS_PER_ACCOUNT": "1000/hour",
                      "SEARCH_LIMITS_PER_IP": "10000/hour", **settings})
    app.outbox = outbox
    engine = get_database(app).engine
    if kept_places(engine) not in (None, pack.content_hash):
        empty_tables(engine)  # another pack's places were left there
    with app.app_context(), get_database(app).session() as session:
        install_pack(session, pack)
    return app


def close_reg_app(app) -> None:
    """Empty the app's (shared) database, but for the places of its pack (the next test
    app of the same pack finds them installed: see testing.databases), and close its
    connections."""
    from cowin_kit.config.models import InstalledPack
    from cowin_kit.core.db import get_database

    engine = get_database(app).engine
    with engine.connect() as connection:
        installed = connection.scalar(select(InstalledPack.content_hash).limit(1))
    empty_tables(engine, keep_places_of=installed)
    get_database(app).dispose()


def last_otp(app, mobile_suffix: str) -> str:
    lines = [json.loads(l) for l in app.outbox.read_text(encoding="utf-8").splitlines()]
    message = [m for m in lines if m["to"].endswith(mobile_suffix)][-1]
    return message["text"].split()[0]


def sign_in(app, client, mobile="9876543210") -> str:
    """A citizen's API token, through the OTP sign-in."""
    txn = client.post("/api/v1/auth/otp", json={"mobile": mobile}).get_json()["txn_id"]
    response = client.post("/api/v1/auth/otp/confirm",
                           json={"txn_id": txn, "otp": last_otp(app, mobile)})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def member(id_number: str, **extra) -> dict:
    """The JSON of a new beneficiary (an adult with an Aadhaar number)."""
    return {"name": "Asha Devi", "birth_year": 1980, "gender": "F", "id_type": "aadhaar",
            "id_number": id_number, "consent_version": "v1", **extra}


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def publish(app, *, days_ahead=3, product="COVISHIELD", capacity=None, code="F-TVM-1",
            min_age=18, slots="09:00-11:00;11:00-13:00", postal="695001"):
    """A session at facility ``code`` in Thiruvananthapuram (created if new); its id."""
    from cowin_kit.core.db import get_database
    from cowin_kit.geography.models import Location
    from cowin_kit.scheduling import sessions as scheduling

    with app.app_context(), get_database(app).session() as session:
        district = session.scalars(select(Location).where(Location.code == "IN-KL-TVM")).one()
        facility = scheduling.upsert_facility(
            session, code=code, name="Medical College PHC", location_code=district.code,
            postal_code=postal, latitude=8.5241, longitude=76.9366, fee_type="Free")
        vaccination_session = scheduling.publish_session(
            session, facility=facility, session_date=today() + timedelta(days=days_ahead),
            product_code=product, slots=slots, capacity_by_dose=capacity or {1: 10, 2: 10},
            min_age=min_age)
        session.commit()
        return vaccination_session.id


def add_members(app, client, token, n, **extra):
    """n new members of the signed-in account (``skip``: how many numbers to pass over);
    their reference ids."""
    refs = []
    for number in valid_aadhaar(n + len(extra.get("skip", [])))[:n]:
        response = client.post("/api/v1/beneficiaries", json=member(number, **{
            k: v for k, v in extra.items() if k != "skip"}), headers=auth(token))
        assert response.status_code == 201, response.get_json()
        refs.append(response.get_json()["reference_id"])
    return refs


def record_dose(app, reference_id, number, product, days_ago):
    """A dose written straight into the database (given elsewhere, ``days_ago``)."""
    from cowin_kit.core.db import get_database
    from cowin_kit.programme.models import VaccineProduct
    from cowin_kit.registration.models import Beneficiary, Dose

    with app.app_context(), get_database(app).session() as session:
        beneficiary = session.scalars(select(Beneficiary)
                                      .where(Beneficiary.reference_id == reference_id)).one()
        product_id = session.scalars(select(VaccineProduct.id)
                                     .where(VaccineProduct.code == product)).one()
        session.add(Dose(beneficiary_id=beneficiary.id, dose_number=number, product_id=product_id,
                         administered_at=datetime.now(timezone.utc) - timedelta(days=days_ago),
                         lot="LOT1"))
        session.commit()


def booked_counts(app, session_id):
    """(booked per dose, booked over the slots, live appointment rows) of a session."""
    from cowin_kit.core.db import get_database
    from cowin_kit.scheduling.models import Appointment, SessionDoseCapacity, SessionSlot

    with app.app_context(), get_database(app).session() as session:
        capacity = {c.dose_number: c.booked for c in session.scalars(
            select(SessionDoseCapacity).where(SessionDoseCapacity.session_id == session_id))}
        slots = sum(s.booked for s in session.scalars(
            select(SessionSlot).where(SessionSlot.session_id == session_id)))
        rows = session.scalar(select(func.count()).select_from(Appointment).where(
            Appointment.session_id == session_id, Appointment.status == "booked"))
        return capacity, slots, rows


def accounts_with_members(app, n):
    """n accounts of one member each, created through the services (fast): (their tokens,
    the members' reference ids)."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.registration import services as registration
    from cowin_kit.registration.models import CitizenAccount

    tokens, refs = [], []
    numbers = valid_aadhaar(n)
    with app.test_request_context(), get_database(app).session() as session:
        pack = active_pack()
        for index in range(n):
            account = CitizenAccount(mobile=f"+9198{index:08d}")
            session.add(account)
            session.commit()
            view = registration.add_beneficiary(
                session, pack, account, name=f"Person {index}", birth_year=1980, gender="F",
                id_type="aadhaar", id_number=numbers[index], consent_version="v1")
            tokens.append(registration.issue_citizen_token(account))
            refs.append(view.beneficiary.reference_id)
    return tokens, refs


def create_staff(app, username, role, **scope) -> None:
    """A staff user with password STAFF_PASSWORD and one role (scope: facility_code=...,
    location_code=...)."""
    from cowin_kit.core.db import get_database
    from cowin_kit.identity import services as identity

    with app.app_context(), get_database(app).session() as session:
        identity.add_staff_user(session, username, STAFF_PASSWORD, role=role, **scope)


def staff_token(app, client, username, role, **scope) -> str:
    """A new staff user's API token."""
    create_staff(app, username, role, **scope)
    response = client.post("/api/v1/staff/sign-in",
                           json={"username": username, "password": STAFF_PASSWORD})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def national_admin_token(app, client) -> str:
    return staff_token(app, client, "nat.admin", "national_admin")


def secret_code(client, citizen, reference_id):
    """The member's secret code, as the citizen's listing shows it."""
    members = client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()
    return next(m["secret_code"] for m in members["beneficiaries"]
                if m["reference_id"] == reference_id)


VACCINATOR_NAME = "Sister Mary Thomas"


def record_first_dose(app, client, *, vaccinator="vax.cert", lot="4121Z005"):
    """A citizen with one member given a Covishield dose at F-TVM-1, recorded through the
    API by a new vaccinator named VACCINATOR_NAME: (citizen token, reference id, the
    recording's response)."""
    publish(app, code="F-TVM-1")
    token = staff_token(app, client, vaccinator, "vaccinator", facility_code="F-TVM-1",
                        display_name=VACCINATOR_NAME)
    citizen = sign_in(app, client)
    (ref,) = add_members(app, client, citizen, 1)
    recorded = client.post("/api/v1/vaccinator/doses", headers=auth(token), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": lot})
    assert recorded.status_code == 201, recorded.get_json()
    return citizen, ref, recorded


def run_worker(app, **options) -> int:
    """One pass of the certificate worker over the outbox; how many it issued."""
    from cowin_kit.certificates import services
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database

    with app.app_context():
        return services.process_outbox(get_database(app).session_factory, active_pack(),
                                       services.keystore().current(), **options)


def seed_report_doses(app, client) -> dict[str, str]:
    """Five people: A complete (TVM), B due for dose 2 and without it (TVM), C not yet due
    (TVM), D Covaxin due and without dose 2 (Ernakulam), E dose 1 today (Delhi); and F,
    an imported dose without a facility. Their reference ids by letter."""
    from cowin_kit.core.db import get_database
    from cowin_kit.geography.models import Facility
    from cowin_kit.programme.models import VaccineProduct
    from cowin_kit.registration.models import Beneficiary, Dose
    from cowin_kit.scheduling import sessions as scheduling

    now = datetime.now(timezone.utc)
    with app.app_context(), get_database(app).session() as session:
        for code, district in (("F-TVM-1", "IN-KL-TVM"), ("F-EKM-1", "IN-KL-EKM"),
                               ("F-DL-1", "IN-DL-CD")):
            scheduling.upsert_facility(session, code=code, name=f"PHC {code}",
                                       location_code=district, fee_type="Free")
        session.commit()
    numbers = valid_aadhaar(6)
    people = [("A", 1950, "F"), ("B", 1990, "M"), ("C", 1970, "F"), ("D", 1985, "F"),
              ("E", 2000, "M"), ("F", 1940, "M")]
    refs = {}
    for index, (name, year, gender) in enumerate(people):
        if index % 4 == 0:
            token = sign_in(app, client, mobile=f"98765432{10 + index}")
        response = client.post("/api/v1/beneficiaries", headers=auth(token), json=member(
            numbers[index], name=f"Person {name}", birth_year=year, gender=gender))
        assert response.status_code == 201, response.get_json()
        refs[name] = response.get_json()["reference_id"]
    doses = [("A", 1, "COVISHIELD", 100, "F-TVM-1"), ("A", 2, "COVISHIELD", 10, "F-TVM-1"),
             ("B", 1, "COVISHIELD", 90, "F-TVM-1"), ("C", 1, "COVISHIELD", 10, "F-TVM-1"),
             ("D", 1, "COVAXIN", 30, "F-EKM-1"), ("E", 1, "COVISHIELD", 0, "F-DL-1"),
             ("F", 1, "COVAXIN", 5, None)]
    with app.app_context(), get_database(app).session() as session:
        products = {c: i for c, i in session.execute(
            select(VaccineProduct.code, VaccineProduct.id))}
        facilities = {c: i for c, i in session.execute(select(Facility.code, Facility.id))}
        for name, number, product, days_ago, facility in doses:
            beneficiary_id = session.scalar(select(Beneficiary.id).where(
                Beneficiary.reference_id == refs[name]))
            session.add(Dose(beneficiary_id=beneficiary_id, dose_number=number,
                             product_id=products[product], lot=f"LOT-{product[:3]}",
                             administered_at=now - timedelta(days=days_ago, minutes=1),
                             facility_id=facilities.get(facility)))
        session.commit()
    return refs
