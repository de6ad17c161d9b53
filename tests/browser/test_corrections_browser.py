"""The grievance and corrections pages in Chromium on a 360 px phone: a citizen files a
grievance and follows it, an administrator answers it from the queue; every page is
axe-clean and fits the phone's width."""

from __future__ import annotations


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, page.url


def _citizen_sign_in(page, live, mobile: str) -> None:
    page.goto(live.url + "/sign-in")
    page.get_by_label("Mobile number").fill(mobile)
    page.get_by_role("button", name="Send the OTP").click()
    page.get_by_label("One-time password").fill(live.last_otp(mobile[-10:]))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My family").wait_for()


def _staff_sign_in(page, live, username: str) -> None:
    page.goto(live.url + "/staff/sign-in")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(live.staff_passwords[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff")


def test_a_grievance_is_filed_answered_and_read_on_a_phone(live_server, new_page,
                                                          check_accessibility):
    citizen = new_page()
    _citizen_sign_in(citizen, live_server, "9811100077")
    citizen.get_by_role("link", name="Grievances").click()
    citizen.get_by_role("heading", name="My grievances").wait_for()
    check_accessibility(citizen)
    _fits(citizen)
    citizen.get_by_role("link", name="File a grievance").click()
    citizen.get_by_role("heading", name="File a grievance").wait_for()
    check_accessibility(citizen)
    _fits(citizen)
    citizen.get_by_label("What is wrong").select_option("certificate")
    citizen.get_by_label("Describe the problem").fill(
        "The certificate shows the wrong year of birth.")
    citizen.get_by_role("button", name="Send").click()
    citizen.get_by_text("Your grievance is received.").wait_for()
    assert "Received" in citizen.content()

    admin = new_page()
    _staff_sign_in(admin, live_server, "demo.admin")
    admin.get_by_role("link", name="Citizens' grievances").click()
    admin.get_by_role("heading", name="Citizens' grievances").wait_for()
    check_accessibility(admin)
    _fits(admin)
    admin.get_by_role("row").filter(has_text="A problem with the certificate").last \
        .get_by_role("link").click()
    admin.get_by_role("heading", name="Answer").wait_for()
    check_accessibility(admin)
    _fits(admin)
    admin.get_by_label("New status").select_option("resolved")
    admin.get_by_label("Answer to the citizen").fill("The year of birth is corrected.")
    admin.get_by_role("button", name="Save").click()
    admin.get_by_text("The grievance is updated.").wait_for()

    citizen.goto(live_server.url + "/grievances")
    citizen.get_by_text("The year of birth is corrected.").wait_for()
    assert "Resolved" in citizen.content()

    admin.goto(live_server.url + "/admin/corrections")
    admin.get_by_role("heading", name="Corrections to approve").wait_for()
    check_accessibility(admin)
    _fits(admin)
    admin.goto(live_server.url + "/admin/staff")
    check_accessibility(admin)
