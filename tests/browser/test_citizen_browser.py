"""The citizen portal in real Chromium: sign in, add two members, book, reschedule,
cancel, download the slip (with JavaScript switched off: the core flow needs none);
an Arabic page is right-to-left (screenshot kept); axe-core finds no serious or
critical problem on the main pages."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from cowin_kit.geography.models import Facility
from cowin_kit.scheduling.models import VaccinationSession
from cowin_kit.testing import demo_facility, valid_aadhaar as _aadhaar_numbers


def _demo_sessions(live, days: tuple[int, ...]) -> tuple[str, str, list[str]]:
    """(state code, district code, [session ids on today+days]) at the first demo facility."""
    from cowin_kit.geography.models import Location

    with live.session() as session:
        facility = demo_facility(session)
        district = session.get(Location, facility.location_id)
        state = session.get(Location, district.parent_id)
        today = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date()
        ids = []
        for offset in days:
            ids.append(session.scalars(select(VaccinationSession.id).where(
                VaccinationSession.facility_id == facility.id,
                VaccinationSession.session_date == today + timedelta(days=offset))).one())
        return state.code, district.code, ids


def _sign_in(page, live, mobile: str) -> None:
    page.goto(live.url + "/")
    page.get_by_role("link", name="Sign in with your mobile number").click()
    page.get_by_label("Mobile number").fill(mobile)
    page.get_by_role("button", name="Send the OTP").click()
    page.get_by_label("One-time password").fill(live.last_otp(mobile[-10:]))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My family").wait_for()


def _add_member(page, name: str, year: str, number: str) -> None:
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Full name, as on the ID document").fill(name)
    page.get_by_label("Year of birth").fill(year)
    page.get_by_label("Gender").select_option("F")
    page.get_by_label("ID document", exact=True).select_option("aadhaar")
    page.get_by_label("ID document number").fill(number)
    page.get_by_label("I agree").check()
    page.get_by_role("button", name="Register").click()
    page.get_by_text(f"{name} is registered").wait_for()


def _search_place(page, state: str, district: str) -> None:
    page.get_by_label("State").select_option(state)
    page.get_by_role("button", name="Search").click()
    page.get_by_label("District").select_option(district)
    page.get_by_role("button", name="Search").click()


def test_citizen_books_reschedules_cancels_and_downloads_the_slip(live_server, new_page):
    live = live_server
    state, district, (first, second) = _demo_sessions(live, (1, 2))
    page = new_page(java_script_enabled=False)  # the core flow needs no JavaScript
    _sign_in(page, live, "9812345670")
    numbers = _aadhaar_numbers(2, 300000000000)
    _add_member(page, "Meera Nair", "1975", numbers[0])
    _add_member(page, "Arjun Nair", "1972", numbers[1])
    body = page.content()
    assert "Meera Nair" in body and "Arjun Nair" in body
    assert numbers[0] not in body and numbers[1] not in body  # masked

    # Find a session by place and book it for both.
    page.get_by_role("link", name="Find a session", exact=True).click()
    _search_place(page, state, district)
    page.locator(f'a[href^="/sessions/{first}/book"]').click()
    page.get_by_label(re.compile("09:00-11:00")).check()
    page.get_by_label("Meera Nair").check()
    page.get_by_label("Arjun Nair").check()
    page.get_by_role("button", name="Book", exact=True).click()
    page.get_by_text("Your appointment is booked.").wait_for()
    assert page.get_by_role("heading", name="Vaccination appointment slip").is_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the slip (PDF)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("appointment-slip-")
    assert Path(download.path()).read_bytes().startswith(b"%PDF")

    # Reschedule to the next day.
    page.get_by_role("link", name="Back").click()
    page.get_by_role("link", name="Reschedule").click()
    _search_place(page, state, district)
    page.locator(f'a[href^="/sessions/{second}/book"]').click()
    page.get_by_label(re.compile("11:00-13:00")).check()
    page.get_by_role("button", name="Confirm the new time").click()
    page.get_by_text("Your appointment is moved.").wait_for()

    # Cancel.
    page.get_by_role("link", name="Back").click()
    page.get_by_role("link", name="Cancel…").click()
    page.get_by_role("button", name="Cancel the appointment").click()
    page.get_by_text("The appointment is cancelled.").wait_for()
    assert page.get_by_role("heading", name="Appointments").count() == 0


def test_an_arabic_page_is_right_to_left(live_instance, new_page, artifacts_dir,
                                         check_accessibility):
    live = live_instance("AE")
    page = new_page()
    page.goto(live.url + "/sessions")
    assert page.locator("html").get_attribute("dir") == "ltr"
    # Switch with the language form of the page.
    page.locator("#lang-select").select_option("ar")
    page.locator("form.lang button").click()
    page.wait_for_url(re.compile(r"/sessions$"))
    html = page.locator("html")
    assert html.get_attribute("dir") == "rtl" and html.get_attribute("lang") == "ar"
    assert "الإمارة" in page.content()
    # The layout follows: the heading starts at the right edge.
    heading = page.locator("h1").bounding_box()
    assert heading["x"] + heading["width"] > 360 / 2
    shot = artifacts_dir / "citizen-sessions-ar.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000
    print(f"Arabic screenshot: {shot}")
    check_accessibility(page)


def test_main_citizen_pages_have_no_serious_accessibility_problems(live_server, new_page,
                                                                    check_accessibility,
                                                                    artifacts_dir):
    """axe-core; readable at 360 px (nothing wider than the phone's screen); and no
    console error, such as a resource the Content-Security-Policy blocked."""
    live = live_server
    seen = check_accessibility
    errors: list[str] = []

    def check_accessibility(page):  # noqa: F811  (all checks on every page)
        seen(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{page.url} is {width} px wide at 360 px"
        assert not errors, errors

    state, district, (first,) = _demo_sessions(live, (3,))
    page = new_page()
    page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
            if message.type == "error" and "status of 4" not in message.text else None)
    page.goto(live.url + "/")
    check_accessibility(page)
    page.goto(live.url + "/sign-in")
    page.get_by_role("button", name="Send the OTP").click()  # an error shown by the field
    check_accessibility(page)
    _sign_in(page, live, "9812345671")
    page.get_by_role("link", name="Add a person").click()
    page.get_by_role("button", name="Register").click()  # errors by the fields
    check_accessibility(page)
    page.goto(live.url + "/")
    _add_member(page, "Lakshmi Iyer", "1980", _aadhaar_numbers(1, 400000000000)[0])
    check_accessibility(page)  # the family page
    page.goto(live.url + f"/sessions?search=1&place1={state}&place2={district}")
    check_accessibility(page)
    page.goto(live.url + f"/sessions/{first}/book")
    check_accessibility(page)
    page.get_by_label(re.compile("09:00-11:00")).check()
    page.get_by_label("Lakshmi Iyer").check()
    page.get_by_role("button", name="Book", exact=True).click()
    page.get_by_text("Your appointment is booked.").wait_for()
    check_accessibility(page)  # the slip
    page.goto(live.url + "/")
    page.screenshot(path=str(artifacts_dir / "citizen-family-en.png"), full_page=True)
    check_accessibility(page)  # the family page with an appointment
    page.get_by_role("link", name="Cancel…").click()
    check_accessibility(page)  # the cancellation page
    for path in ("/alerts", "/account/mobile", "/staff/sign-in"):
        page.goto(live.url + path)
        check_accessibility(page)
