"""The staff and public pages in real Chromium, on the demo instance: a vaccinator checks a
booked person in and records the dose; the citizen downloads the certificate; an
administrator uploads a sessions CSV with one bad row and sees the problem; the dashboard
draws its plots; the verification page accepts a QR picture; axe-core finds no serious or
critical problem on these pages."""

from __future__ import annotations

import io
import zoneinfo
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import segno
from sqlalchemy import select

from cowin_kit.testing import demo_facility
from stdnum import verhoeff

from cowin_kit.geography.models import Facility
from cowin_kit.scheduling.models import SessionSlot, VaccinationSession

IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def _aadhaar(start: int) -> str:
    body = start
    while True:
        body += 7919
        candidate = str(body)[:11]
        number = candidate + verhoeff.calc_check_digit(candidate)
        if number[0] not in "01":
            return number


def _today() -> date:
    return datetime.now(IST).date()


def _booked_for_today(live, mobile: str, name: str, id_start: int) -> tuple[str, str, str]:
    """A citizen with one member booked at today's session of the vaccinator's facility:
    (reference id, secret code, vaccine code)."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.registration import services as registration
    from cowin_kit.registration.models import CitizenAccount
    from cowin_kit.scheduling import booking as bookings
    from cowin_kit.core.security import keyring
    from cowin_kit.programme.models import VaccineProduct

    with live.app.test_request_context(), live.session() as session:
        pack = active_pack()
        number = registration.parse_mobile(mobile, pack)
        account = session.scalars(select(CitizenAccount)
                                  .where(CitizenAccount.mobile == number)).first()
        if account is None:
            account = CitizenAccount(mobile=number, locale="en")
            session.add(account)
            session.flush()
        view = registration.add_beneficiary(
            session, pack, account, name=name, birth_year=1975, gender="F", id_type="aadhaar",
            id_number=_aadhaar(id_start), consent_version="browser-test")
        facility = demo_facility(session)
        vaccination_session = session.scalars(select(VaccinationSession).where(
            VaccinationSession.facility_id == facility.id,
            VaccinationSession.session_date == _today())).first()
        slot = session.scalars(select(SessionSlot).where(
            SessionSlot.session_id == vaccination_session.id)
            .order_by(SessionSlot.starts_at)).first()
        morning = datetime.combine(_today(), datetime.min.time(), IST).replace(hour=7)
        bookings.book(session, pack, account, session_id=vaccination_session.id,
                        slot=slot.label, reference_ids=[view.beneficiary.reference_id],
                        now=morning.astimezone(timezone.utc))
        code = keyring().decrypt(view.beneficiary.secret_code_encrypted)
        vaccine = session.get(VaccineProduct, vaccination_session.product_id).code
        return view.beneficiary.reference_id, code, vaccine


def _issue_certificates(live) -> None:
    """What the worker does: every due certificate (the demo's past doses included)."""
    from cowin_kit.worker import Worker

    worker = Worker(live.app)
    while worker.run_round().certificates_issued:
        pass


def _staff_sign_in(page, live, username: str) -> None:
    page.goto(live.url + "/staff/sign-in")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(live.staff_passwords[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff")


def _citizen_sign_in(page, live, mobile: str) -> None:
    page.goto(live.url + "/sign-in")
    page.get_by_label("Mobile number").fill(mobile)
    page.get_by_role("button", name="Send the OTP").click()
    page.get_by_label("One-time password").fill(live.last_otp(mobile[-10:]))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My family").wait_for()


def _record_dose(page, live, reference_id: str, code: str) -> None:
    _staff_sign_in(page, live, "demo.vaccinator")
    page.get_by_role("link", name="Vaccination: today's sessions").click()
    page.get_by_role("heading", name="Today's sessions").wait_for()
    page.get_by_label("Reference ID").fill(reference_id)
    page.get_by_role("button", name="Check in").click()
    page.get_by_label("Secret code").fill(code)
    page.get_by_label("Lot (batch) number").fill("4121Z005")
    page.get_by_role("button", name="Record dose").click()
    page.get_by_role("heading", name="Dose recorded").wait_for()


def test_a_vaccinator_records_a_dose_and_the_citizen_downloads_the_certificate(
        live_server, new_page):
    mobile = "9811100001"
    reference_id, code, _vaccine = _booked_for_today(live_server, mobile, "Meera Nair",
                                                     700000000000)
    staff = new_page()
    _record_dose(staff, live_server, reference_id, code)
    assert "4121Z005" in staff.content()
    staff.get_by_role("link", name="Today's queue").click()
    assert "Vaccinated" in staff.content()
    staff.get_by_role("link", name="End of session").click()
    assert "4121Z005" in staff.content()

    _issue_certificates(live_server)
    citizen = new_page()
    _citizen_sign_in(citizen, live_server, mobile)
    citizen.get_by_role("link", name="Certificate").click()
    with citizen.expect_download() as download_info:
        citizen.get_by_role("link", name="Download the certificate (PDF)").click()
    assert Path(download_info.value.path()).read_bytes().startswith(b"%PDF")


def test_an_admin_uploads_a_sessions_csv_with_a_bad_row(live_server, new_page, tmp_path):
    page = new_page()
    _staff_sign_in(page, live_server, "demo.admin")
    with live_server.session() as session:
        facility = demo_facility(session).code
    day = (_today() + timedelta(days=20)).isoformat()
    csv_file = tmp_path / "sessions.csv"
    csv_file.write_text("facility_code,date,vaccine,slots,capacity_dose1\n"
                        f"{facility},{day},COVISHIELD,09:00-11:00,10\n"
                        f"{facility},{day},COVAXIN,25:00-26:00,10\n", encoding="utf-8")
    page.goto(live_server.url + "/admin/sessions")
    page.get_by_label("CSV file").first.set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload").first.click()
    page.get_by_role("heading", name="Problems in the file").wait_for()
    row = page.locator("table.problems tbody tr")
    assert row.count() == 1
    assert row.first.locator("td").first.inner_text() == "3"
    assert row.first.locator("td").nth(1).inner_text() == "slots"
    with live_server.session() as session:
        assert session.scalars(select(VaccinationSession).where(
            VaccinationSession.session_date == date.fromisoformat(day))).first() is None


def test_the_dashboard_draws_its_plots(live_server, new_page, check_accessibility,
                                       artifacts_dir):
    page = new_page(viewport={"width": 1024, "height": 900})
    _staff_sign_in(page, live_server, "demo.admin")
    page.get_by_role("link", name="Dashboard").click()
    charts = page.locator("svg[role=img]")
    charts.first.wait_for()
    assert charts.count() == 5  # and registrations and bookings by channel
    for index in range(4):
        chart = charts.nth(index)
        assert chart.locator("title").first.text_content()
        assert chart.bounding_box()["width"] > 200
    assert page.locator("svg[role=img] rect").count() > 4
    page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)
    check_accessibility(page)


def test_the_verification_page_accepts_a_qr_picture(live_server, new_page, tmp_path,
                                                    check_accessibility):
    from cowin_kit.certificates import services
    from cowin_kit.registration.models import Beneficiary

    reference_id, code, _vaccine = _booked_for_today(live_server, "9811100002", "Ravi Kumar",
                                                     710000000000)
    _record_dose(new_page(), live_server, reference_id, code)
    _issue_certificates(live_server)
    with live_server.session() as session:
        beneficiary = session.scalars(select(Beneficiary).where(
            Beneficiary.reference_id == reference_id)).one()
        dcc = services.describe(services.current_certificate(session, beneficiary))["formats"]["dcc"]
    picture = tmp_path / "certificate-qr.png"
    buffer = io.BytesIO()
    segno.make(dcc, error="q").save(buffer, kind="png", scale=4, border=4)
    picture.write_bytes(buffer.getvalue())

    page = new_page()
    page.goto(live_server.url + "/verify")
    check_accessibility(page)
    page.get_by_label("Picture of the QR code").set_input_files(str(picture))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("heading", name="Valid certificate").wait_for()
    assert "Ravi" in page.content()
    check_accessibility(page)


def test_staff_pages_have_no_serious_accessibility_problems(live_server, new_page,
                                                            check_accessibility):
    reference_id, _code, _vaccine = _booked_for_today(live_server, "9811100003", "Anu Thomas",
                                                      720000000000)
    vaccinator = new_page()
    _staff_sign_in(vaccinator, live_server, "demo.vaccinator")
    for path in ("/vaccinator", f"/vaccinator/check-in?reference_id={reference_id}",
                 "/vaccinator/walk-in", "/vaccinator/summary"):
        vaccinator.goto(live_server.url + path)
        check_accessibility(vaccinator)
    admin = new_page()
    _staff_sign_in(admin, live_server, "demo.admin")
    for path in ("/admin/facilities", "/admin/sessions", "/admin/staff", "/admin/partner-keys",
                 "/admin/audit"):
        admin.goto(live_server.url + path)
        check_accessibility(admin)
