"""Routine immunization in real Chromium (issue 14), on a 360 px phone: a health worker
registers a newborn, records the birth doses (BCG, OPV-0, HepB birth dose of the India
pack's UIP schedule) in one visit, and at the 6-week visit the page shows exactly OPV-1,
Pentavalent-1, Rotavirus-1, fIPV-1 and PCV-1 as due."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from cowin_kit.registration.models import Beneficiary, Dose

IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def _today() -> date:
    return datetime.now(IST).date()


def _staff_sign_in(page, live, username: str) -> None:
    page.goto(live.url + "/staff/sign-in")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(live.staff_passwords[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff")


def _register_newborn(page, name: str, born: date, mobile: str) -> str:
    page.get_by_role("link", name="Register a newborn").first.click()
    page.get_by_role("heading", name="Register a newborn").wait_for()
    page.get_by_label("Child's name").fill(name)
    page.get_by_label("Date of birth").fill(born.isoformat())
    page.get_by_label("Gender").select_option("F")
    page.get_by_label("Guardian's name").fill("Meena Kumari")
    page.get_by_label("Relation to the child").fill("mother")
    page.get_by_label("Guardian's mobile number").fill(mobile)
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Due today").wait_for()
    return page.locator("dl.facts dd").first.inner_text().strip()


def _due(page) -> list[tuple[str, str]]:
    rows = page.locator("li.due-dose")
    return sorted((rows.nth(i).get_attribute("data-schedule"),
                   rows.nth(i).get_attribute("data-dose")) for i in range(rows.count()))


def _fill_lots(page, prefix: str) -> None:
    rows = page.locator("li.due-dose")
    for i in range(rows.count()):
        schedule = rows.nth(i).get_attribute("data-schedule")
        rows.nth(i).get_by_label("Lot (batch) number").fill(f"{prefix}-{schedule.upper()}")


def test_newborn_birth_doses_and_the_six_week_visit(live_server, new_page,
                                                    check_accessibility, artifacts_dir):
    live = live_server
    page = new_page()
    _staff_sign_in(page, live, "demo.vaccinator")
    page.get_by_role("link", name="Vaccination: today's sessions").click()
    page.get_by_role("heading", name="Today's sessions").wait_for()

    # A newborn: the birth doses are due, recorded in one visit, each with its lot.
    reference_id = _register_newborn(page, "Baby of Meena", _today(), "9811100071")
    assert _due(page) == [("bcg", "1"), ("hepb-birth", "1"), ("opv", "1")]
    check_accessibility(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    _fill_lots(page, "B")
    page.get_by_role("button", name="Record the visit").click()
    page.get_by_text("3 doses recorded").wait_for()
    assert page.locator("#nothing-due").is_visible()
    given = page.locator("#given li")
    assert given.count() == 3 and "B-BCG" in page.locator("#given").inner_text()
    with live.session() as session:
        person = session.scalars(select(Beneficiary)
                                 .where(Beneficiary.reference_id == reference_id)).one()
        assert sorted(session.scalars(select(Dose.series).where(
            Dose.beneficiary_id == person.id))) == ["bcg", "hepb-birth", "opv"]

    # A child born six weeks ago whose birth doses were recorded on the day of birth.
    born = _today() - timedelta(weeks=6)
    older = _register_newborn(page, "Baby of Lata", born, "9811100072")
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.identity.models import StaffUser
    from cowin_kit.vaccination import visits

    with live.app.test_request_context(), live.session() as session:
        worker = session.scalars(select(StaffUser)
                                 .where(StaffUser.username == "demo.vaccinator")).one()
        visits.record_visit(session, active_pack(), worker, reference_id=older, doses=[
            {"product": "BCG", "lot": "B1"}, {"product": "BOPV", "lot": "O1"},
            {"product": "HEPB", "lot": "H1"}],
            administered_at=datetime.combine(born, time(10), IST))
    page.reload()
    assert _due(page) == [("dtp", "1"), ("fipv", "1"), ("opv", "2"), ("pcv", "1"),
                          ("rotavirus", "1")]
    page.screenshot(path=str(artifacts_dir / "routine-visit-6-weeks.png"), full_page=True)
    _fill_lots(page, "W6")
    page.get_by_role("button", name="Record the visit").click()
    page.get_by_text("5 doses recorded").wait_for()
    assert page.locator("#given li").count() == 8
