"""The immunization record pages in real Chromium on a 360 px phone: a guardian opens
their child's record from the start page (doses, next doses with their status, the
downloads) and a vaccinator looks the child up by reference ID; nothing is wider than the
screen (in Hindi too) and axe-core finds no serious problem."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select

from cowin_kit.geography.models import Facility, Location
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.testing import demo_facility, auth, staff_token, today

MOBILE = "9812345688"
DOSES = (("bcg", "BCG", 0, "BCG-7"), ("opv", "BOPV", 0, "OPV-7"),
         ("opv", "BOPV", 43, "OPV-8"), ("dtp", "PENTA", 43, "PENTA-7"))


def _child(live) -> tuple[str, str]:
    """A 15-week-old registered by a vaccinator of the first demo facility, with birth and
    6-week doses; (reference id, the vaccinator's user name)."""
    with live.session() as session:
        facility = demo_facility(session)
        area = session.get(Location, facility.location_id).code
        facility_id, facility_code = facility.id, facility.code
    client = live.app.test_client()
    worker = staff_token(live.app, client, "anm.record", "vaccinator",
                         facility_code=facility_code)
    born = today() - timedelta(days=105)
    response = client.post("/api/v1/staff/people", headers=auth(worker), json={
        "name": "Baby of Lakshmi", "birth_date": born.isoformat(), "gender": "M",
        "mobile": MOBILE, "location": area, "facility": facility_code,
        "guardian_name": "Lakshmi Menon", "guardian_relation": "mother"})
    assert response.status_code == 201, response.get_json()
    ref = response.get_json()["reference_id"]
    with live.session() as session:
        person = session.scalars(select(Beneficiary).where(Beneficiary.reference_id == ref)).one()
        numbers: dict[str, int] = {}
        for series, product, days, lot in DOSES:
            numbers[series] = numbers.get(series, 0) + 1
            session.add(Dose(
                beneficiary_id=person.id, series=series, dose_number=numbers[series],
                product_id=session.scalars(select(VaccineProduct.id).where(
                    VaccineProduct.code == product)).one(),
                lot=lot, facility_id=facility_id, vaccinator="anm.record",
                administered_at=datetime.combine(born + timedelta(days=days), time(6),
                                                 timezone.utc)))
        session.commit()
    return ref, "anm.record"


def _narrow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} is {width} px wide at 360 px"


def test_the_record_on_a_phone_for_the_guardian_and_the_vaccinator(
        live_server, new_page, check_accessibility, artifacts_dir):
    live = live_server
    ref, vaccinator = _child(live)
    page = new_page()
    page.goto(live.url + "/")
    page.get_by_role("link", name="Sign in with your mobile number").click()
    page.get_by_label("Mobile number").fill(MOBILE)
    page.get_by_role("button", name="Send the OTP").click()
    page.get_by_label("One-time password").fill(live.last_otp(MOBILE))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My family").wait_for()
    page.get_by_role("link", name="Immunization record").click()
    page.get_by_role("heading", name="Immunization record of Baby of Lakshmi").wait_for()
    body = page.content()
    for lot in ("BCG-7", "OPV-8", "PENTA-7"):
        assert lot in body
    assert page.locator(".record-next .badge").count() >= 3
    assert page.locator(".record-next .status-overdue").count() >= 1
    _narrow(page)
    check_accessibility(page)
    page.screenshot(path=str(artifacts_dir / "record-citizen-360.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Record card (PDF)").click()
    assert download.value.suggested_filename == f"immunization-record-{ref}.pdf"

    hindi = new_page(locale="hi")  # the page in Hindi is as narrow
    hindi.context.add_cookies(page.context.cookies())
    hindi.goto(live.url + f"/members/{ref}/record?lang=hi")
    hindi.get_by_text("Baby of Lakshmi").first.wait_for()
    assert hindi.locator("html").get_attribute("lang") == "hi"
    _narrow(hindi)

    staff = new_page()
    _staff_sign_in(staff, live, vaccinator)
    staff.goto(live.url + "/staff")
    staff.get_by_role("link", name="Immunization records").click()
    staff.get_by_label("Reference ID").fill(ref)
    staff.get_by_role("button", name="Show the record").click()
    staff.get_by_role("heading", name="Immunization record of Baby of Lakshmi").wait_for()
    _narrow(staff)
    check_accessibility(staff)


def _staff_sign_in(page, live, username: str) -> None:
    from cowin_kit.testing.api import STAFF_PASSWORD

    page.goto(live.url + "/staff/sign-in")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live.url + "/staff")
