"""Whole USSD sessions through a simulated gateway (the ``at`` callback shape): register,
find and book, move, cancel, what is due, the certificate code, in English, Hindi (India
pack) and Arabic (UAE pack, right to left); every screen is held to the USSD limit of its
alphabet by the Phone helper; replays and parallel copies write nothing twice."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.channels.models import ChannelPin, UssdSession
from cowin_kit.core.db import get_database
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.scheduling.models import Appointment
from cowin_kit.testing import (
    add_members, auth, count_rows, publish, record_first_dose, sign_in, staff_token, today,
)
from tests.channels.conftest import Phone, messages

NUMBER = "+919876543210"
DEVANAGARI = re.compile("[\u0900-\u097f]")
ARABIC = re.compile("[\u0600-\u06ff]")


def rows(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def last_otp(app, number):
    found = [m for m in messages(app) if m["to"] == number and m["template"] == "otp"]
    return found[-1]["text"].split()[0]


def register_adult(phone, *, name="Asha Devi", year="1980", id_number="234567890124"):
    phone.dial()
    phone.send("1")                   # Register
    phone.send("1")                   # adult with an ID document
    phone.send(name)
    phone.send(year)
    phone.send("2")                   # gender: the pack's second (F)
    phone.send("1")                   # Aadhaar
    phone.send(id_number)
    return phone.send("1")            # yes


def set_pin_and_confirm(app, phone, number=NUMBER, pin="4826"):
    kind, screen = phone.screens and ("CON", phone.screens[-1])
    phone.send(last_otp(app, number))
    phone.send(pin)
    phone.send(pin)
    return phone.send("1")


def test_register_book_move_cancel_in_english_and_hindi(india):
    from cowin_kit.testing import valid_aadhaar

    client = india.test_client()
    first = publish(india, days_ahead=3, code="F-TVM-1")
    publish(india, days_ahead=4, code="F-TVM-2")
    phone = Phone(client, NUMBER)
    kind, screen = register_adult(phone, id_number=valid_aadhaar(1)[0])
    assert kind == "END" and "Registered: Asha Devi" in screen
    ref = re.search(r"\d{14}", screen).group()
    # the gateway sends the last step again: the same screen, nobody registered twice
    assert phone.again() == (kind, screen)
    assert rows(india, Beneficiary) == 1
    sms = [m for m in messages(india) if m["template"] == "beneficiary_registered"]
    assert len(sms) == 1 and ref in sms[0]["text"] and sms[0]["to"] == NUMBER

    # the language: Hindi, kept on the account for the next sessions
    phone.dial()
    phone.send("6")
    kind, screen = phone.choose("हिन्दी")
    assert DEVANAGARI.search(screen)
    with india.app_context(), get_database(india).session() as session:
        assert session.scalar(select(CitizenAccount.locale)) == "hi"

    # find by postal code and book, setting the PIN after an SMS OTP
    phone.dial()
    assert DEVANAGARI.search(phone.screens[-1])
    phone.send("2")          # find a session
    phone.send("1")          # by postal code
    phone.send("695001")
    phone.send("1")          # the first session (3 days ahead)
    kind, screen = phone.send("1")          # its first slot
    assert DEVANAGARI.search(screen)        # "type the code we sent by SMS"
    kind, screen = set_pin_and_confirm(india, phone)
    assert kind == "END" and DEVANAGARI.search(screen)
    assert phone.again() == (kind, screen)
    assert rows(india, Appointment, Appointment.status == "booked") == 1
    assert rows(india, ChannelPin) == 1
    with india.app_context(), get_database(india).session() as session:
        appointment = session.scalars(select(Appointment)).one()
        assert appointment.session_id == first
        channels = session.scalars(select(AuditEvent.details).where(
            AuditEvent.action.in_(["beneficiary.create", "appointment.book"]))).all()
        assert [d.get("channel") for d in channels] == ["ussd", "ussd"]

    # move it to the other session (the PIN, set once, is asked again in a new session)
    phone.dial()
    phone.send("3")          # my appointments
    phone.send("1")
    phone.send("1")          # move it
    phone.send("1")          # by postal code
    phone.send("695001")
    phone.send("2")          # the second session
    phone.send("1")          # slot
    phone.send("4826")       # PIN
    kind, screen = phone.send("1")
    assert kind == "END"
    with india.app_context(), get_database(india).session() as session:
        appointment = session.scalars(select(Appointment)).one()
        assert appointment.session_id != first and appointment.reschedule_count == 1

    # cancel it, with a wrong PIN first
    phone.dial()
    phone.send("3")
    phone.send("1")
    phone.send("2")          # cancel it
    kind, screen = phone.send("1111")
    assert kind == "CON" and DEVANAGARI.search(screen)     # the PIN is not correct
    phone.send("4826")
    kind, screen = phone.send("1")
    assert kind == "END"
    assert phone.again() == (kind, screen)
    assert rows(india, Appointment, Appointment.status == "booked") == 0
    assert rows(india, AuditEvent, AuditEvent.action == "appointment.cancel") == 1


def test_a_child_by_birth_date_and_guardian_then_what_is_due(india):
    client = india.test_client()
    phone = Phone(client, NUMBER)
    born = today() - timedelta(days=75)
    phone.dial()
    phone.send("1")
    phone.send("2")                         # a child without an ID document
    phone.send("Ravi Kumar")
    phone.send(born.strftime("%d%m%Y"))
    phone.send("1")                         # gender
    phone.send("1")                         # you are the child's mother
    phone.send("Sita Kumar")
    kind, screen = phone.send("1")
    assert kind == "END" and "Ravi Kumar" in screen
    with india.app_context(), get_database(india).session() as session:
        child = session.scalars(select(Beneficiary)).one()
        assert (child.birth_date, child.guardian_name, child.guardian_relation,
                child.id_type_id, child.registered_by) == (born, "Sita Kumar", "mother", None, "")
    phone.dial()
    kind, screen = phone.send("4")          # vaccines due: the only person, at once
    assert "Ravi Kumar" in screen
    pages = [screen]
    while "\n0 " in phone.screens[-1]:
        pages.append(phone.send("0")[1])
    text = "\n".join(pages)
    assert "overdue" in text or "due" in text      # 10-week doses are due at 75 days


def test_the_certificate_code_goes_by_sms(india):
    from cowin_kit.certificates import services
    from cowin_kit.certificates.signing import keystore
    from cowin_kit.testing import run_worker

    client = india.test_client()
    with india.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    _citizen, ref, _recorded = record_first_dose(india, client)
    assert run_worker(india) == 1
    phone = Phone(client, NUMBER)
    phone.dial()
    kind, screen = phone.send("5")
    kind, screen = phone.send("1")
    assert kind == "END"
    assert phone.again() == (kind, screen)
    sent = [m for m in messages(india) if m["template"] == "certificate_code"]
    assert len(sent) == 1 and ref in sent[0]["text"] and sent[0]["to"] == NUMBER


def test_a_uae_caller_in_arabic_registers_books_and_cancels_by_place(uae):
    from cowin_kit.scheduling import sessions as scheduling

    with uae.app_context(), get_database(uae).session() as session:
        facility = scheduling.upsert_facility(
            session, code="DXB-1", name="Al Barsha Health Centre", location_code="AE-DU",
            names={"ar": "مركز البرشاء الصحي"}, latitude=25.1, longitude=55.2)
        scheduling.publish_session(session, facility=facility,
                                   session_date=today() + timedelta(days=3),
                                   product_code="COMIRNATY", slots="09:00-12:00",
                                   capacity_by_dose={1: 5, 2: 5}, min_age=12)
        session.commit()
    number = "+971501234567"
    phone = Phone(uae.test_client(), number)
    phone.dial()
    phone.send("6")
    kind, screen = phone.choose("العربية")
    assert ARABIC.search(screen)
    phone.send("1")                      # register (no child option: no routine section)
    phone.send("Fatima Ali")
    phone.send("15031990")               # the pack asks for the date of birth
    phone.send("2")
    phone.send("1")                      # Emirates ID
    kind, screen = phone.send("784199012345678")
    assert ARABIC.search(screen)
    kind, screen = phone.send("1")
    assert kind == "END" and "Fatima Ali" in screen
    phone.dial()
    phone.send("2")                      # find: by place only (no postal codes)
    kind, screen = phone.choose("دبي")
    phone.send("1")                      # all of Dubai
    kind, screen = phone.send("1")       # the session
    assert "مركز البرشاء" in screen or "09:00" in screen
    phone.send("1")                      # slot
    kind, screen = set_pin_and_confirm(uae, phone, number, pin="5937")
    assert kind == "END" and ARABIC.search(screen)
    assert rows(uae, Appointment, Appointment.status == "booked") == 1
    phone.dial()
    phone.send("3")
    phone.send("1")
    phone.send("2")
    phone.send("5937")
    kind, screen = phone.send("1")
    assert kind == "END"
    assert rows(uae, Appointment, Appointment.status == "booked") == 0


def test_bad_input_at_every_step_gets_a_clear_screen_and_writes_nothing(india):
    client = india.test_client()
    phone = Phone(client, NUMBER)
    main = phone.dial()[1]
    for answer, state in (("x", "main"), ("9", "main")):
        kind, screen = phone.send(answer)
        assert kind == "CON" and screen.startswith("Choose one of the numbers shown.")
    phone.send("1")
    assert phone.send("A")[1].startswith("Choose one of the numbers shown.")
    phone.send("1")
    assert phone.send("12")[1].startswith("Type the name in letters.")
    phone.send("Asha Devi")
    assert phone.send("19x0")[1].startswith("Type the year as 4 digits.")
    assert phone.send("2999")[1].startswith("Type the year as 4 digits.")
    phone.send("1980")
    assert phone.send("F")[1].startswith("Choose one")
    phone.send("2")
    assert phone.send("aadhaar")[1].startswith("Choose one")
    phone.send("1")
    kind, screen = phone.send("1234")           # not an Aadhaar number
    assert kind == "CON"
    kind, screen = phone.send("1")              # confirm: the service refuses it
    assert kind == "CON" and "Aadhaar" in screen or "number" in screen
    assert rows(india, Beneficiary) == 0
    # "00" goes back to the main menu from anywhere
    assert phone.send("00")[1] == main


def test_stale_replayed_out_of_step_and_unauthenticated_requests(india, make_app):
    client = india.test_client()
    phone = Phone(client, NUMBER)
    phone.dial()
    # an answer for a session id the server does not know: a clear closing screen
    response = phone.post("1*2", session_id="never-seen")
    assert response.get_data(as_text=True).startswith("END This session has ended.")
    # a step that skips one (out of step)
    response = phone.post("1*1*1")
    assert response.get_data(as_text=True).startswith("END This session has ended.")
    # another number on the same session id
    response = phone.post("1", number="+919812345678")
    assert response.get_data(as_text=True).startswith("END This session has ended.")
    # unsigned, wrongly signed, a wrong key, a network not allowed
    assert phone.post("1", signed=False).status_code == 401
    wrong = Phone(client, NUMBER, secret="not-the-secret")
    wrong.session_id = phone.session_id
    assert wrong.post("1").status_code == 401
    assert client.post("/api/v1/channels/ussd/at?key=nope", data={
        "sessionId": "s", "phoneNumber": NUMBER, "text": ""}).status_code == 401
    from tests.channels.conftest import SECRET
    ok = client.post(f"/api/v1/channels/ussd/at?key={SECRET}", data={
        "sessionId": "keyed", "phoneNumber": NUMBER, "text": ""})
    assert ok.status_code == 200 and ok.get_data(as_text=True).startswith("CON ")
    assert client.post("/api/v1/channels/ussd/nope", data={}).status_code == 404
    assert phone.post("", session_id="no-phone-field", number="").status_code in (200,)
    # the session's state after all that: still at the main menu, one step taken
    kind, screen = phone.send("1")
    assert kind == "CON" and "Adult" in screen
    # an expired session is stale
    with india.app_context(), get_database(india).session() as session:
        row = session.scalars(select(UssdSession).where(
            UssdSession.session_key == phone.session_id)).one()
        row.expires_at = row.expires_at - timedelta(hours=1)
        session.commit()
    response = phone.post("1*1")
    assert response.get_data(as_text=True).startswith("END This session has ended.")


def test_networks_outside_the_allow_list_are_refused(migrated_database_url, tmp_path):
    from cowin_kit.testing import close_reg_app
    from tests.channels.conftest import make_channel_app

    app = make_channel_app(migrated_database_url, tmp_path, "IN",
                           CHANNELS_ALLOWED_NETWORKS="40410,40445")
    try:
        phone = Phone(app.test_client(), NUMBER, network="99999")
        assert phone.post("", session_id="x").status_code == 403
        phone.network = "40445"
        assert phone.post("", session_id="x").status_code == 200
    finally:
        close_reg_app(app)


def test_two_copies_of_a_booking_step_at_once_book_once(india):
    client = india.test_client()
    publish(india, days_ahead=3, code="F-TVM-1")
    token = sign_in(india, client, "9876543210")
    add_members(india, client, token, 1)
    phone = Phone(client, NUMBER)
    phone.dial()
    for answer in ("2", "1", "695001", "1", "1"):
        phone.send(answer)
    set_pin_and_confirm_steps = [last_otp(india, NUMBER), "4826", "4826"]
    for answer in set_pin_and_confirm_steps:
        phone.send(answer)
    phone.answers.append("1")
    text = "*".join(phone.answers)

    def confirm(_n):
        with india.test_client() as c:
            p = Phone(c, NUMBER)
            p.session_id = phone.session_id
            return p.post(text).get_data(as_text=True)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(confirm, range(4)))
    assert rows(india, Appointment, Appointment.status == "booked") == 1
    assert all(a.startswith(("END ", "CON ")) for a in answers)
    assert sum(a.startswith("END ") for a in answers) >= 1


def test_the_dashboard_counts_registrations_and_bookings_by_channel(india):
    from cowin_kit.testing import create_staff, valid_aadhaar, web_staff_sign_in

    client = india.test_client()
    publish(india, days_ahead=3, code="F-TVM-1")
    token = sign_in(india, client, "9812345678")
    add_members(india, client, token, 1)                    # one registration on the web
    phone = Phone(client, NUMBER)
    register_adult(phone, id_number=valid_aadhaar(2)[1])   # one by USSD
    create_staff(india, "nat.admin", "national_admin")
    create_staff(india, "district.admin", "district_admin", location_code="IN-KL-TVM")
    with india.test_request_context(), get_database(india).session() as session:
        from cowin_kit.identity.models import StaffUser
        from cowin_kit.reporting import services as reports

        admin = session.scalars(select(StaffUser).where(StaffUser.username == "nat.admin")).one()
        counts = reports.by_channel(session, admin, days=30)
        assert counts["registrations"] == {"web": 1, "ussd": 1, "sms": 0, "health_worker": 0}
        district = session.scalars(select(StaffUser).where(
            StaffUser.username == "district.admin")).one()
        assert reports.by_channel(session, district) is None
    web_staff_sign_in(client, "nat.admin")
    page = client.get("/admin/dashboard").get_data(as_text=True)
    assert "Registrations and bookings by channel" in page and "USSD" in page


def test_a_pin_lists_its_districts_sessions_those_at_the_pin_first(india):
    from cowin_kit.channels.ussd.base import day

    publish(india, days_ahead=2, code="F-TVM-1", postal="695001")
    publish(india, days_ahead=4, code="F-TVM-2", postal="695014")
    phone = Phone(india.test_client(), NUMBER)
    phone.dial()
    phone.send("2")          # find a session
    phone.send("1")          # by postal code
    kind, screen = phone.send("695014")
    with india.test_request_context():  # as the screens write a day (English)
        days = [day(today() + timedelta(days=n)) for n in (4, 2)]
    assert kind == "CON" and all(d in screen for d in days)
    assert screen.index(days[0]) < screen.index(days[1])    # the PIN's own centre first
    phone.dial()
    phone.send("2")
    phone.send("1")
    kind, screen = phone.send("682011")                     # Ernakulam: none there
    assert "No free seats" in screen and days[1] not in screen and days[0] not in screen
