"""The citizen pages through Flask's test client: CSRF, security headers, lang/dir, each
flow (sign-in, members, search, book, reschedule, cancel, slip, certificate, alerts,
change of mobile, language) and how errors are shown next to the fields."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from cowin_kit.core.db import get_database
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.scheduling.models import Appointment, SlotAlertSubscription
from cowin_kit.testing import (
    close_reg_app, field_error, form_post, last_otp, make_reg_app, publish, record_dose, text,
    token_of,
)
from cowin_kit.testing import valid_aadhaar as _valid_aadhaar


def web_sign_in(app, client, mobile="9876543210"):
    response = form_post(client, "/sign-in", mobile=mobile)
    assert response.status_code == 303 and "/sign-in/otp" in response.headers["Location"]
    response = form_post(client, "/sign-in/otp", otp=last_otp(app, mobile))
    assert response.status_code == 303, text(response)
    return response


def add_member(client, id_number: str, name="Asha Devi", birth_year="1980", **extra):
    return form_post(client, "/members/new", name=name, birth_year=birth_year, gender="F",
                     id_type="aadhaar", id_number=id_number, consent="y", **extra)


def _outbox_lines(app) -> list[dict]:
    if not app.outbox.exists():
        return []
    return [json.loads(line) for line in app.outbox.read_text(encoding="utf-8").splitlines()]


# --- foundation ---------------------------------------------------------------------------

def test_pages_send_strict_security_headers_and_lang_dir(reg_app):
    client = reg_app.test_client()
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    for part in ("default-src 'self'", "frame-ancestors 'none'", "form-action 'self'",
                 "img-src 'self' data:", "script-src 'self'", "style-src 'self'"):
        assert part in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "camera=" in response.headers["Permissions-Policy"]
    assert "no-store" in response.headers["Cache-Control"]
    page = text(response)
    assert '<html lang="en" dir="ltr">' in page
    assert "<script>" not in page and " style=" not in page and "<style" not in page
    # The stylesheet is served from the site itself, with the same headers.
    with client.get("/web-static/site.css") as css:
        assert css.status_code == 200 and css.headers["X-Content-Type-Options"] == "nosniff"
        assert "http" not in css.get_data(as_text=True)  # no remote fonts or images


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_and_does_nothing(reg_app):
    client = reg_app.test_client()
    client.get("/sign-in")
    missing = client.post("/sign-in", data={"mobile": "9876543210"})
    wrong = client.post("/sign-in", data={"mobile": "9876543210", "csrf_token": "x" * 43})
    for response in (missing, wrong):
        assert response.status_code == 400
        assert "This form has expired" in text(response)
    assert _outbox_lines(reg_app) == []  # no OTP was sent
    # A token from another browser session is no good either.
    other = reg_app.test_client()
    foreign = token_of(text(other.get("/sign-in")))
    assert client.post("/sign-in", data={"mobile": "9876543210",
                                         "csrf_token": foreign}).status_code == 400
    assert form_post(client, "/sign-in", mobile="9876543210").status_code == 303


def test_pages_that_need_sign_in_redirect_to_it_and_come_back(reg_app):
    client = reg_app.test_client()
    response = client.get("/members/new")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/members/new")
    form_post(client, "/sign-in?next=/members/new", mobile="9876543210")
    otp = last_otp(reg_app, "9876543210")
    page = client.get("/sign-in/otp?next=/members/new")
    done = client.post("/sign-in/otp?next=/members/new",
                       data={"csrf_token": token_of(text(page)), "otp": otp})
    assert done.status_code == 303 and done.headers["Location"] == "/members/new"
    # Never sent to another site.
    other = reg_app.test_client()
    form_post(other, "/sign-in?next=//evil.example/", mobile="9876543211")
    page = other.get("/sign-in/otp?next=//evil.example/")
    done = other.post("/sign-in/otp?next=//evil.example/",
                      data={"csrf_token": token_of(text(page)),
                            "otp": last_otp(reg_app, "9876543211")})
    assert done.status_code == 303 and done.headers["Location"] == "/"


# --- sign-in --------------------------------------------------------------------------------

def test_citizen_sign_in_with_mobile_and_otp_and_errors_by_the_field(reg_app):
    client = reg_app.test_client()
    bad = form_post(client, "/sign-in", mobile="12")
    assert bad.status_code == 422
    assert field_error(text(bad), "mobile")
    form_post(client, "/sign-in", mobile="9876543210")
    otp = last_otp(reg_app, "9876543210")
    wrong = form_post(client, "/sign-in/otp", otp="000000" if otp != "000000" else "111111")
    assert wrong.status_code == 401
    assert "The OTP is not correct." in field_error(text(wrong), "otp") or \
        "The OTP is not correct." in text(wrong)
    right = form_post(client, "/sign-in/otp", otp=otp)
    assert right.status_code == 303
    home = text(client.get("/"))
    assert "My family" in home and "3210" in home and "9876543210" not in home
    signed_out = form_post(client, "/", action="/sign-out")
    assert signed_out.status_code == 303
    assert "Sign in with your mobile number" in text(client.get("/"))


# --- members -----------------------------------------------------------------------------

def test_family_members_are_validated_masked_and_limited(reg_app):
    client = reg_app.test_client()
    web_sign_in(reg_app, client)
    page = text(client.get("/members/new"))
    assert "Aadhaar Card" in page and "Voter ID (EPIC)" in page  # the pack's ID types
    bad = add_member(client, "123412341234")
    assert bad.status_code == 422
    assert "not a valid" in field_error(text(bad), "id_number")
    assert 'value="Asha Devi"' in text(bad)  # what was typed is kept
    no_consent = form_post(client, "/members/new", name="X", birth_year="1980", gender="F",
                           id_type="aadhaar", id_number=_valid_aadhaar(1)[0])
    assert no_consent.status_code == 422 and field_error(text(no_consent), "consent")
    no_name = form_post(client, "/members/new", birth_year="1980", gender="F",
                        id_type="aadhaar", id_number=_valid_aadhaar(1)[0], consent="y")
    assert no_name.status_code == 422 and field_error(text(no_name), "name")
    numbers = _valid_aadhaar(5)
    for n, number in enumerate(numbers[:4]):
        response = add_member(client, number, name=f"Person {n}")
        assert response.status_code == 303, text(response)
    home = text(client.get("/"))
    for number in numbers[:4]:
        assert number not in home and number[-4:] in home
    assert "Add a person" not in home  # the limit is reached
    fifth = add_member(client, numbers[4], name="Fifth")
    assert fifth.status_code == 422
    assert "at most 4 people" in text(fifth)
    # The same document cannot be registered twice (another account).
    other = reg_app.test_client()
    web_sign_in(reg_app, other, "9876543211")
    again = add_member(other, numbers[0])
    assert again.status_code == 409 and "already registered" in text(again)


def test_a_member_is_removed_before_any_dose(reg_app):
    client = reg_app.test_client()
    web_sign_in(reg_app, client)
    add_member(client, _valid_aadhaar(1)[0])
    home = text(client.get("/"))
    ref = re.search(r'/members/(\d{14})/delete', home).group(1)
    response = client.post(f"/members/{ref}/delete", data={"csrf_token": token_of(home)})
    assert response.status_code == 303
    assert ref not in text(client.get("/"))


# --- finding, booking, rescheduling, cancelling ------------------------------------------------

def _refs(client) -> list[str]:
    """The reference IDs shown on the family page."""
    return re.findall(r'class="code">(\d{14})<', text(client.get("/")))


def test_find_sessions_by_place_or_postal_code_with_filters(reg_app):
    first = publish(reg_app, days_ahead=1, code="F-TVM-1", postal="695001")
    covaxin = publish(reg_app, days_ahead=2, code="F-TVM-2", product="COVAXIN", postal="695002")
    client = reg_app.test_client()  # searching needs no sign-in
    form = text(client.get("/sessions"))
    assert "Kerala" in form and "State" in form and "PIN code" in form
    level2 = text(client.get("/sessions?place1=IN-KL"))
    assert "District" in level2 and "Thiruvananthapuram" in level2
    found = text(client.get("/sessions?search=1&place1=IN-KL&place2=IN-KL-TVM"))
    assert "Medical College PHC" in found and first in found and covaxin in found
    only = text(client.get("/sessions?search=1&place1=IN-KL&vaccine=COVISHIELD"))
    assert first in only and covaxin not in only
    # a PIN stands for its district (India Post's directory): the centre at the PIN first
    by_pin = text(client.get("/sessions?search=1&postal_code=695002"))
    assert covaxin in by_pin and first in by_pin and by_pin.index(covaxin) < by_pin.index(first)
    assert "Postal code 695002 is in Thiruvananthapuram" in by_pin
    other_district = text(client.get("/sessions?search=1&postal_code=682011"))
    assert first not in other_district and "Postal code 682011 is in Ernakulam" in other_district
    unknown = text(client.get("/sessions?search=1&postal_code=999999"))
    assert first not in unknown and "999999 is not in the postal code directory" in unknown
    assert "not in the postal code directory" not in by_pin
    paid = text(client.get("/sessions?search=1&place1=IN-KL&fee_type=Paid"))
    assert "No session with free seats" in paid
    nowhere = client.get("/sessions?search=1")
    assert nowhere.status_code == 422 and field_error(text(nowhere), "place1")
    bad_age = client.get("/sessions?search=1&place1=IN-KL&age=abc")
    assert bad_age.status_code == 422 and field_error(text(bad_age), "age")


def test_book_reschedule_cancel_and_the_slip(reg_app):
    first = publish(reg_app, days_ahead=2, code="F-TVM-1")
    second = publish(reg_app, days_ahead=3, code="F-TVM-1")
    client = reg_app.test_client()
    web_sign_in(reg_app, client)
    add_member(client, _valid_aadhaar(2)[0], name="Asha Devi")
    add_member(client, _valid_aadhaar(2)[1], name="Ravi Kumar")
    refs = _refs(client)
    assert len(refs) == 2
    page = client.get(f"/sessions/{first}/book")
    assert page.status_code == 200 and "09:00-11:00" in text(page)
    nobody = client.post(f"/sessions/{first}/book", data={
        "csrf_token": token_of(text(page)), "slot": "09:00-11:00"})
    assert nobody.status_code == 422 and field_error(text(nobody), "beneficiaries")
    booked = client.post(f"/sessions/{first}/book", data={
        "csrf_token": token_of(text(page)), "slot": "09:00-11:00", "beneficiaries": refs})
    assert booked.status_code == 303, text(booked)
    slip = client.get(booked.headers["Location"])
    slip_page = text(slip)
    assert slip.status_code == 200 and "Vaccination appointment slip" in slip_page
    assert all(ref in slip_page for ref in refs)
    booking_id = re.search(r"/appointments/([0-9a-f-]{36})/slip\.pdf", slip_page).group(1)
    pdf = client.get(f"/appointments/{booking_id}/slip.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    # The same dose again: the rule in plain words.
    again = form_post(client, f"/sessions/{first}/book", slot="11:00-13:00",
                      beneficiaries=refs[:1])
    assert again.status_code == 409 and "already has an appointment for dose 1" in text(again)
    # Reschedule to the next day.
    home = text(client.get("/"))
    assert f"/sessions?booking={booking_id}" in home
    choose = text(client.get(f"/sessions?search=1&place1=IN-KL&booking={booking_id}"))
    assert f"/sessions/{second}/book?booking={booking_id}" in choose
    moved = form_post(client, f"/sessions/{second}/book?booking={booking_id}",
                      slot="11:00-13:00", booking=booking_id)
    assert moved.status_code == 303, text(moved)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        rows = session.scalars(select(Appointment).where(Appointment.booking_id == booking_id)).all()
        assert {row.session_id for row in rows} == {second}
        assert {row.reschedule_count for row in rows} == {1}
    # Cancel one of the two, then the other (after a confirmation page).
    confirm = text(client.get(f"/appointments/{booking_id}/cancel"))
    assert "Asha Devi" in confirm and "Ravi Kumar" in confirm
    one = form_post(client, f"/appointments/{booking_id}/cancel", beneficiaries=[refs[0]])
    assert one.status_code == 303
    home = text(client.get("/"))
    assert "Ravi Kumar (dose 1)" in home and "Asha Devi (dose 1)" not in home
    cancelled = form_post(client, f"/appointments/{booking_id}/cancel")
    assert cancelled.status_code == 303
    assert "Appointments" not in text(client.get("/"))
    gone = client.get(f"/appointments/{booking_id}/slip")
    assert gone.status_code == 404 and "No such appointment." in text(gone)


def test_booking_rule_errors_are_explained(reg_app):
    adults = publish(reg_app, days_ahead=2, code="F-TVM-1", min_age=45)
    client = reg_app.test_client()
    web_sign_in(reg_app, client)
    add_member(client, _valid_aadhaar(1)[0], birth_year="2000")
    (ref,) = _refs(client)
    refused = form_post(client, f"/sessions/{adults}/book", slot="09:00-11:00",
                        beneficiaries=[ref])
    assert refused.status_code == 422
    assert re.search(r'class="flash flash-error" role="alert">This session is not for people '
                     r'of this age.</p>', text(refused))
    assert "Age 45 and over" in text(refused)  # the page says which ages it is for
    # Someone else's booking is simply not found.
    other = reg_app.test_client()
    web_sign_in(reg_app, other, "9876543211")
    assert other.get(f"/sessions/{adults}/book").status_code == 200
    assert other.get("/appointments/00000000-0000-0000-0000-000000000000/slip").status_code == 404


# --- certificates, alerts, mobile, language ------------------------------------------------------

def test_certificate_pages_pdf_qr_and_smart_health_card(reg_app):
    from cowin_kit.certificates.signing import keystore as keystore_module
    from cowin_kit.certificates import services
    from cowin_kit.config.runtime import active_pack

    with reg_app.app_context():
        keystore_module.generate(services.keystore().keys_dir, "IN", "MoHFW")
    client = reg_app.test_client()
    web_sign_in(reg_app, client)
    add_member(client, _valid_aadhaar(1)[0])
    (ref,) = _refs(client)
    assert client.get(f"/members/{ref}/certificate").status_code == 404
    record_dose(reg_app, ref, 1, "COVISHIELD", days_ago=1)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        from cowin_kit.vaccination.models import CertificateDue
        from cowin_kit.registration.models import Dose

        dose = session.scalars(select(Dose)).one()
        session.add(CertificateDue(dose_id=dose.id, reason="dose"))
        session.commit()
        services.process_outbox(get_database(reg_app).session_factory, active_pack(),
                                services.keystore().current())
    page = client.get(f"/members/{ref}/certificate")
    assert page.status_code == 200
    body = text(page)
    for kind in ("dcc", "shc", "vc"):  # the India pack issues all three
        assert f"/members/{ref}/certificate-{kind}.png" in body
    pdf = client.get(f"/members/{ref}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    png = client.get(f"/members/{ref}/certificate-dcc.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    from cowin_kit.certificates.formats.qr import read_texts

    assert read_texts(png.data)[0].startswith("HC1:")
    card = client.get(f"/members/{ref}/certificate.smart-health-card")
    assert card.status_code == 200 and card.mimetype == "application/smart-health-card"
    assert json.loads(card.data)["verifiableCredential"]
    assert read_texts(client.get(f"/members/{ref}/certificate-shc.png").data)[0] \
        .startswith("shc:/")
    assert client.get(f"/members/{ref}/certificate-nope.png").status_code == 404
    other = reg_app.test_client()
    web_sign_in(reg_app, other, "9876543211")
    assert other.get(f"/members/{ref}/certificate.pdf").status_code == 404


def test_seat_alerts_subscribe_from_a_search_and_stop(reg_app):
    client = reg_app.test_client()
    web_sign_in(reg_app, client)
    results = text(client.get("/sessions?search=1&place1=IN-KL&vaccine=COVISHIELD"))
    assert "Send me an SMS alert" in results
    no_age = client.post("/alerts", data={"csrf_token": token_of(results),
                                          "location": "IN-KL", "vaccine": "COVISHIELD"})
    assert no_age.status_code == 422 and "age" in no_age.get_data(as_text=True).lower()
    made = client.post("/alerts", data={"csrf_token": token_of(results), "location": "IN-KL",
                                        "vaccine": "COVISHIELD", "age": "40"})
    assert made.status_code == 303
    listing = text(client.get("/alerts"))
    assert "Kerala" in listing and "Covishield" in listing
    again = client.post("/alerts", data={"csrf_token": token_of(listing), "location": "IN-KL",
                                         "vaccine": "COVISHIELD", "age": "40"})
    assert again.status_code == 303
    listing = text(client.get("/alerts"))
    assert "You already have this alert." in listing
    assert len(re.findall(r"/alerts/(\d+)/delete", listing)) == 1
    alert_id = re.search(r"/alerts/(\d+)/delete", listing).group(1)
    stopped = client.post(f"/alerts/{alert_id}/delete", data={"csrf_token": token_of(listing)})
    assert stopped.status_code == 303
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalars(select(SlotAlertSubscription)).one().active is False
    assert "You have no alerts." in text(client.get("/alerts"))


def test_change_of_mobile_number(reg_app):
    client = reg_app.test_client()
    web_sign_in(reg_app, client)
    taken = reg_app.test_client()
    web_sign_in(reg_app, taken, "9876543212")
    form_post(client, "/account/mobile", mobile="9876543212")
    clash = form_post(client, "/account/mobile/confirm", otp=last_otp(reg_app, "9876543212"))
    assert clash.status_code == 409 and "already holds an account" in text(clash)
    asked = form_post(client, "/account/mobile", mobile="9876543219")
    assert asked.status_code == 303
    moved = form_post(client, "/account/mobile/confirm", otp=last_otp(reg_app, "9876543219"))
    assert moved.status_code == 303
    assert "3219" in text(client.get("/"))
    with reg_app.app_context(), get_database(reg_app).session() as session:
        mobiles = set(session.scalars(select(CitizenAccount.mobile)))
        assert "+919876543219" in mobiles and "+919876543210" not in mobiles


def test_language_switch_is_remembered_in_a_cookie_and_the_account(reg_app):
    client = reg_app.test_client()
    page = text(client.get("/"))
    assert 'value="hi"' in page and "हिन्दी" in page  # every pack locale offered
    switched = client.post("/lang", data={"csrf_token": token_of(page), "lang": "hi",
                                          "next": "/sessions"})
    assert switched.status_code == 303 and switched.headers["Location"] == "/sessions"
    assert "lang=hi" in switched.headers["Set-Cookie"]
    hindi = text(client.get("/sessions"))
    assert '<html lang="hi" dir="ltr">' in hindi
    assert "केरल" in hindi and "राज्य" in hindi  # place and level names from the pack
    refused = client.post("/lang", data={"csrf_token": token_of(hindi), "lang": "xx"})
    assert refused.status_code == 422
    # Signed in, the choice is stored on the account and follows it to another browser.
    web_sign_in(reg_app, client)
    form_post(client, "/", action="/lang", lang="hi", next="/")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalars(select(CitizenAccount.locale)).one() == "hi"
    fresh = reg_app.test_client()
    assert '<html lang="en"' in text(fresh.get("/"))
    web_sign_in(reg_app, fresh)
    assert '<html lang="hi"' in text(fresh.get("/members/new"))
    assert "आधार कार्ड" in text(fresh.get("/members/new"))


@pytest.fixture
def ae_app(database_url, tmp_path):
    from cowin_kit.config.packs import load_pack
    from conftest import EXAMPLES

    app = make_reg_app(database_url, tmp_path, load_pack(EXAMPLES / "ae"))
    yield app
    close_reg_app(app)


def test_arabic_pages_are_right_to_left(ae_app):
    client = ae_app.test_client()
    page = text(client.get("/sessions?lang=ar"))
    assert '<html lang="ar" dir="rtl">' in page
    assert "الإمارة" in page  # the level name in Arabic
    english = text(client.get("/sessions", headers={"Accept-Language": "en"}))
    assert '<html lang="en" dir="ltr">' in english
    assert "PIN code" not in english and 'name="postal_code"' not in english  # no postal codes


def test_staff_sign_in_and_the_staff_required_decorator(reg_app):
    from cowin_kit.identity import services as identity
    from cowin_kit.web import ui
    from cowin_kit.web.auth import staff_required

    probe = ui.make_blueprint("probe_pages", __name__)

    @probe.get("/probe/doses")
    @staff_required("dose.record")
    def doses():
        return "may record doses"

    @probe.get("/probe/audit")
    @staff_required("audit.read")
    def audit():
        return "may read the audit trail"

    reg_app.register_blueprint(probe)
    with pytest.raises(ValueError):
        staff_required("no.such.action")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        user = identity.create_staff_user(session, "admin.web", "a long enough password")
        identity.grant_role(session, user, "district_admin", location_code="IN-KL-TVM")
        session.commit()
    client = reg_app.test_client()
    assert client.get("/staff").headers["Location"].startswith("/staff/sign-in?next=/staff")
    assert client.get("/probe/audit").headers["Location"] == "/staff/sign-in?next=/probe/audit"
    wrong = form_post(client, "/staff/sign-in", username="admin.web", password="nope")
    assert wrong.status_code == 401 and "Unknown user name or wrong password." in text(wrong)
    empty = form_post(client, "/staff/sign-in", username="admin.web")
    assert empty.status_code == 422 and field_error(text(empty), "password")
    right = client.post("/staff/sign-in?next=/probe/audit", data={
        "csrf_token": token_of(text(client.get("/staff/sign-in"))), "username": "admin.web",
        "password": "a long enough password"})
    assert right.status_code == 303 and right.headers["Location"] == "/probe/audit"
    assert text(client.get("/probe/audit")) == "may read the audit trail"
    refused = client.get("/probe/doses")
    assert refused.status_code == 403 and "may not use this page" in text(refused)
    assert "Welcome" in text(client.get("/staff"))
    # A citizen session is not a staff session.
    citizen = reg_app.test_client()
    web_sign_in(reg_app, citizen)
    assert citizen.get("/staff").status_code == 302
    # Deactivating the account ends its page session.
    with reg_app.app_context(), get_database(reg_app).session() as session:
        identity.deactivate_user(session, identity.get_staff_user(session, "admin.web"))
        session.commit()
    assert client.get("/probe/audit").status_code == 302


def test_web_booking_and_search_share_the_api_limits(reg_app, tmp_path):
    """BOOKING_LIMITS_PER_ACCOUNT counts the form posts (not the form pages) and the API
    calls of one account together; SEARCH_LIMITS_PER_IP counts the search page."""
    from cowin_kit import create_app

    session_id = publish(reg_app, days_ahead=2, code="F-TVM-1")
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "limited"),
                      "DATABASE_URL": reg_app.config["COWIN_KIT"]["DATABASE_URL"],
                      "NOTIFIER": f"file:{reg_app.outbox}", "OTP_RESEND_COOLDOWN_SECONDS": 0,
                      "BOOKING_LIMITS_PER_ACCOUNT": "2/hour",
                      "SEARCH_LIMITS_PER_IP": "2/minute"})
    app.outbox = reg_app.outbox
    client = app.test_client()
    try:
        web_sign_in(app, client)
        add_member(client, _valid_aadhaar(1)[0])
        refs = _refs(client)
        for _ in range(3):  # showing the form counts nothing
            assert client.get(f"/sessions/{session_id}/book").status_code == 200
        booked = form_post(client, f"/sessions/{session_id}/book", slot="09:00-11:00",
                           beneficiaries=refs)
        assert booked.status_code == 303, text(booked)
        booking_id = booked.headers["Location"].split("/")[2]
        cancelled = form_post(client, f"/appointments/{booking_id}/cancel")
        assert cancelled.status_code == 303
        refused = form_post(client, f"/sessions/{session_id}/book", slot="09:00-11:00",
                            beneficiaries=refs)
        assert refused.status_code == 429 and refused.mimetype == "text/html"
        assert "Too many requests" in text(refused) and refused.headers["Retry-After"]
        search = "/sessions?search=1&place1=IN-KL"
        assert [client.get(search).status_code for _ in range(3)] == [200, 200, 429]
    finally:
        get_database(app).dispose()


def test_the_session_cookie_is_set_read_and_refused_when_forged(reg_app):
    """Requests without a session cookie get an empty session (and no cookie back); a
    signed-in browser's cookie is read on the next request; a forged one counts as none."""
    client = reg_app.test_client()
    api = client.get("/api/v1/sessions?district_id=1&date=01-01-2030")
    assert "Set-Cookie" not in api.headers
    web_sign_in(reg_app, client)
    assert client.get("/members/new").status_code == 200
    cookie = client.get_cookie(reg_app.config["SESSION_COOKIE_NAME"])
    forged = reg_app.test_client()
    forged.set_cookie(reg_app.config["SESSION_COOKIE_NAME"], cookie.value[:-2] + "xx")
    answer = forged.get("/members/new")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/sign-in")


# --- trust at a glance: cut-off, language through sign-in, local formats, footer ----------------

def test_no_book_button_for_today_past_the_same_day_cutoff(reg_app, database_url, tmp_path,
                                                           india_pack):
    today_id = publish(reg_app, days_ahead=0, code="F-TODAY", postal="695011")
    tomorrow_id = publish(reg_app, days_ahead=1, code="F-TOMORROW", postal="695011")
    search = "/sessions?search=1&postal_code=695011"
    # a cut-off at midnight: booking for today is always closed
    midnight = make_reg_app(database_url, tmp_path / "midnight", india_pack,
                            BOOKING_CUTOFF_TIME="00:00")
    closed = text(midnight.test_client().get(search))
    assert f"/sessions/{tomorrow_id}/book" in closed
    assert f"/sessions/{today_id}/book" not in closed
    assert "Booking for today has closed" in closed
    # a cut-off at the last minute of the day (tests do not run then): today is bookable
    late = make_reg_app(database_url, tmp_path / "late", india_pack,
                        BOOKING_CUTOFF_TIME="23:59")
    open_page = text(late.test_client().get(search))
    assert f"/sessions/{today_id}/book" in open_page
    assert "Booking for today has closed" not in open_page
    for app in (midnight, late):  # their rows go with reg_app's; their connections now
        get_database(app).engine.dispose()


def test_the_language_chosen_before_sign_in_wins_and_is_saved(reg_app):
    first = reg_app.test_client()
    web_sign_in(reg_app, first)  # the account exists, in English
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalars(select(CitizenAccount.locale)).one() in (None, "en")
    visitor = reg_app.test_client()
    page = text(visitor.get("/sign-in"))
    switched = visitor.post("/lang", data={"csrf_token": token_of(page), "lang": "hi",
                                           "next": "/sign-in"})
    assert switched.status_code == 303
    web_sign_in(reg_app, visitor)
    assert '<html lang="hi"' in text(visitor.get("/"))
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalars(select(CitizenAccount.locale)).one() == "hi"
    # a browser without a choice gets the account's (now Hindi)
    fresh = reg_app.test_client()
    web_sign_in(reg_app, fresh)
    assert '<html lang="hi"' in text(fresh.get("/"))


def test_dates_and_fees_follow_the_pack_locale_and_currency(reg_app):
    from datetime import timedelta
    from decimal import Decimal

    from babel.dates import format_skeleton

    from cowin_kit.geography.models import Location
    from cowin_kit.scheduling import sessions as scheduling
    from cowin_kit.testing import today

    with reg_app.app_context(), get_database(reg_app).session() as session:
        district = session.scalars(select(Location).where(Location.code == "IN-KL-TVM")).one()
        facility = scheduling.upsert_facility(
            session, code="F-PAID", name="Private Hospital", location_code=district.code,
            postal_code="695021", latitude=8.5, longitude=76.9, fee_type="Paid")
        session_id = scheduling.publish_session(
            session, facility=facility, session_date=today() + timedelta(days=2),
            product_code="COVISHIELD", slots="09:00-11:00", capacity_by_dose={1: 5},
            fee=Decimal("780")).id
        session.commit()
    page = text(reg_app.test_client().get("/sessions?search=1&postal_code=695021"))
    day = today() + timedelta(days=2)
    assert format_skeleton("MMMEd", day, locale="en_IN") in page     # "Wed, 9 Dec"
    assert format_skeleton("MMMEd", day, locale="en") not in page    # not "Wed, Dec 9"
    assert "₹780.00" in page
    hindi = text(reg_app.test_client().get("/sessions?search=1&postal_code=695021&lang=hi"))
    assert format_skeleton("MMMEd", day, locale="hi_IN") in hindi and "₹780.00" in hindi
    client = reg_app.test_client()
    web_sign_in(reg_app, client)
    booking_page = text(client.get(f"/sessions/{session_id}/book"))
    assert "₹780.00" in booking_page


def test_official_header_and_footer_come_from_the_pack(reg_app):
    client = reg_app.test_client()
    page = text(client.get("/"))
    assert 'class="mark" src="/site-logo"' in page
    assert "Ministry of Health and Family Welfare" in page
    assert 'href="tel:1075"' in page
    for kind in ("help", "faq", "privacy", "accessibility"):
        assert f'href="/about/{kind}"' in page
    with client.get("/site-logo") as logo:
        assert logo.status_code == 200 and logo.mimetype == "image/png"
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.data.startswith(b"\x89PNG")
    privacy = text(client.get("/about/privacy?lang=hi"))
    assert "गोपनीयता सूचना" in privacy and "<p>" in privacy
    assert client.get("/about/nothing").status_code == 404
