"""Every page fits a 360 px phone: nothing scrolls sideways (the document's scrollWidth
is the viewport's width), in English and in Arabic (right to left); the main pages are
photographed at phone and desktop size into test-artifacts/screens/ (docs/design.md).
Also: the dashboard uses a wide screen (two columns at 1366 px) and the official header
shows the ministry's mark."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

from sqlalchemy import select

from cowin_kit.testing import demo_facility

from cowin_kit.geography.models import Facility, Location
from cowin_kit.scheduling.models import VaccinationSession

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 900}

PUBLIC = ["/", "/sign-in", "/sessions", "/sessions?search=1&place1={state}",
          "/sessions?search=1&place1={state}&place2={district}", "/verify",
          "/staff/sign-in", "/about/help", "/about/faq", "/about/privacy",
          "/about/accessibility", "/api/v1/docs", "/nowhere"]
CITIZEN = ["/", "/members/new", "/sessions/{session_id}/book", "/alerts", "/account/mobile"]
VACCINATOR = ["/staff", "/vaccinator", "/vaccinator/walk-in", "/vaccinator/summary",
              "/staff/records", "/health-worker/due"]
ADMIN = ["/staff", "/admin/dashboard", "/admin/facilities", "/admin/sessions", "/admin/staff",
         "/admin/audit", "/admin/immunization", "/admin/stock", "/admin/safety",
         "/admin/partner-keys"]
# photographed at both sizes
MAIN = {"/", "/sessions?search=1&place1={state}&place2={district}", "/verify",
        "/admin/dashboard", "/vaccinator", "/members/new", "/about/privacy"}

OVERFLOW = """() => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > doc.clientWidth + 1
                 || e.getBoundingClientRect().left < -1)
    .filter(e => !e.closest('.table-scroll, .skip'))
    .slice(0, 5).map(e => e.tagName + (e.className ? '.' + e.className : ''));
  return {scroll: doc.scrollWidth, client: doc.clientWidth, wide};
}"""


def _context(live) -> dict[str, str]:
    with live.session() as session:
        facility = demo_facility(session)
        district = session.get(Location, facility.location_id)
        state = session.get(Location, district.parent_id)
        today = datetime.now(zoneinfo.ZoneInfo(live.app.config["COWIN_KIT"]["PACK"] == "AE"
                                               and "Asia/Dubai" or "Asia/Kolkata")).date()
        session_id = session.scalars(select(VaccinationSession.id).where(
            VaccinationSession.facility_id == facility.id,
            VaccinationSession.session_date > today)
            .order_by(VaccinationSession.session_date)).first()
    return {"state": state.code, "district": district.code, "session_id": session_id}


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "start"


def _visit(page, live, paths, who, context, artifacts, lang="en") -> list[str]:
    problems = []
    folder = artifacts / "screens"
    folder.mkdir(exist_ok=True)
    for template in paths:
        path = template.format(**context)
        joiner = "&" if "?" in path else "?"
        page.goto(f"{live.url}{path}{joiner}lang={lang}")
        found = page.evaluate(OVERFLOW)
        if found["scroll"] > found["client"]:
            problems.append(f"{who} {path}: {found['scroll']} px wide on a "
                            f"{found['client']} px screen: {found['wide']}")
        if template in MAIN:
            page.screenshot(path=str(folder / f"phone-{lang}-{who}-{_name(template)}.png"),
                            full_page=True)
    return problems


def _staff_sign_in(page, live, username: str) -> None:
    page.goto(live.url + "/staff/sign-in?lang=en")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(live.staff_passwords[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff")


def _citizen_sign_in(page, live, mobile: str) -> None:
    page.goto(live.url + "/sign-in?lang=en")
    page.get_by_label("Mobile number").fill(mobile)
    page.get_by_role("button", name="Send the OTP").click()
    page.get_by_label("One-time password").fill(live.last_otp(mobile[-10:]))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My family").wait_for()


def test_no_page_scrolls_sideways_on_a_360_px_phone(live_server, new_page, artifacts_dir):
    live = live_server
    context = _context(live)
    problems = []
    public = new_page(viewport=PHONE)
    problems += _visit(public, live, PUBLIC, "public", context, artifacts_dir)
    problems += _visit(public, live, ["/", "/sessions?search=1&place1={state}&place2={district}",
                                      "/verify"], "public", context, artifacts_dir, lang="hi")
    citizen = new_page(viewport=PHONE)
    _citizen_sign_in(citizen, live, "9812300360")
    problems += _visit(citizen, live, CITIZEN, "citizen", context, artifacts_dir)
    vaccinator = new_page(viewport=PHONE)
    _staff_sign_in(vaccinator, live, "demo.vaccinator")
    problems += _visit(vaccinator, live, VACCINATOR, "vaccinator", context, artifacts_dir)
    admin = new_page(viewport=PHONE)
    _staff_sign_in(admin, live, "demo.admin")
    problems += _visit(admin, live, ADMIN, "admin", context, artifacts_dir)
    assert not problems, "\n".join(problems)


def test_arabic_pages_fit_a_phone_and_mirror(live_instance, new_page, artifacts_dir):
    live = live_instance("AE")
    context = _context(live)
    page = new_page(viewport=PHONE, locale="ar")
    problems = _visit(page, live, PUBLIC[:6], "public", context, artifacts_dir, lang="ar")
    admin = new_page(viewport=PHONE, locale="ar")
    _staff_sign_in(admin, live, "demo.admin")
    problems += _visit(admin, live, ["/admin/dashboard", "/admin/facilities"], "admin",
                       context, artifacts_dir, lang="ar")
    assert not problems, "\n".join(problems)
    # the header's mark is at the right edge in Arabic
    admin.goto(live.url + "/?lang=ar")
    mark = admin.locator(".mark").bounding_box()
    assert mark["x"] > PHONE["width"] / 2


def test_desktop_pages_use_the_width(live_server, new_page, artifacts_dir):
    live = live_server
    context = _context(live)
    folder = artifacts_dir / "screens"
    folder.mkdir(exist_ok=True)
    page = new_page(viewport=DESKTOP)
    for template in ["/", "/sessions?search=1&place1={state}&place2={district}", "/verify",
                     "/about/privacy"]:
        page.goto(live.url + template.format(**context))
        page.screenshot(path=str(folder / f"desktop-en-public-{_name(template)}.png"),
                        full_page=True)
    _staff_sign_in(page, live, "demo.admin")
    page.goto(live.url + "/admin/dashboard")
    page.screenshot(path=str(folder / "desktop-en-admin-admin-dashboard.png"), full_page=True)
    cards = page.locator(".dash-grid > .card")
    first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    # two columns side by side, together using most of the screen
    assert abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"] + first["width"]
    assert second["x"] + second["width"] - first["x"] > 0.75 * DESKTOP["width"]
    assert page.locator(".mark").is_visible()
    page.goto(live.url + "/vaccinator")
    page.screenshot(path=str(folder / "desktop-en-vaccinator-vaccinator.png"), full_page=True)
