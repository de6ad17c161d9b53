"""Availability and booking through the API: rules, errors, CoWIN v2 shapes, and no
oversell under concurrency (PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core.db import get_database
from cowin_kit.core.errors import RuleViolation
from cowin_kit.geography.models import Location
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.scheduling import booking as bookings, booking_rows, sessions
from cowin_kit.scheduling.models import Appointment, SessionDoseCapacity, SessionSlot

from cowin_kit.testing import (
    IST, accounts_with_members as _accounts_with_members, add_members, auth, booked_counts,
    member, publish, record_dose, sign_in, today,
)
from cowin_kit.testing import valid_aadhaar as _valid_aadhaar


def _district(session) -> Location:
    return session.scalars(select(Location).where(Location.code == "IN-KL-TVM")).one()


def test_search_by_place_postal_code_and_position_with_cache_headers(reg_app):
    session_id = publish(reg_app)
    client = reg_app.test_client()
    day = (today() + timedelta(days=3)).isoformat()
    by_place = client.get(f"/api/v1/sessions?location=IN-KL&date={day}")
    assert by_place.status_code == 200
    (centre,) = by_place.get_json()["centres"]
    assert centre["facility_code"] == "F-TVM-1" and centre["location"][0] == "Kerala"
    (offered,) = centre["sessions"]
    assert offered["session_id"] == session_id and offered["available"] == {"1": 10, "2": 10}
    assert [s["slot"] for s in offered["slots"]] == ["09:00-11:00", "11:00-13:00"]
    assert by_place.headers["Cache-Control"].startswith("public") and by_place.headers["ETag"]
    again = client.get(f"/api/v1/sessions?location=IN-KL&date={day}",
                       headers={"If-None-Match": by_place.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == by_place.headers["ETag"]
    hit = client.get(f"/api/v1/sessions?location=IN-KL&date={day}")  # from the cache
    assert hit.get_data() == by_place.get_data() and hit.headers["ETag"] == by_place.headers["ETag"]
    assert hit.mimetype == "application/json" and hit.headers["Cache-Control"] == \
        by_place.headers["Cache-Control"]
    other = client.get(f"/api/v1/sessions?location=IN-KL&date={day}",
                       headers={"If-None-Match": '"not-this-one"'})
    assert other.status_code == 200 and other.get_data() == by_place.get_data()
    assert client.get(f"/api/v1/sessions?postal_code=695001&date={day}").get_json()["centres"]
    near = client.get(f"/api/v1/sessions?lat=8.50&long=76.95&radius_km=10&date={day}").get_json()
    assert near["centres"][0]["distance_km"] < 10
    assert client.get(f"/api/v1/sessions?location=IN-DL&date={day}").get_json() == {"centres": []}
    week = client.get(f"/api/v1/sessions?location=IN-KL&date={today().isoformat()}&days=7")
    assert len(week.get_json()["centres"][0]["sessions"]) == 1
    filtered = client.get(f"/api/v1/sessions?location=IN-KL&date={day}&vaccine=COVAXIN")
    assert filtered.get_json() == {"centres": []}
    too_young = client.get(f"/api/v1/sessions?location=IN-KL&date={day}&age=12")
    assert too_young.get_json() == {"centres": []}
    bad = client.get(f"/api/v1/sessions?date={day}")
    assert bad.status_code == 422


def test_book_list_and_the_second_booking_of_a_dose_is_refused(reg_app):
    session_id = publish(reg_app)
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    refs = add_members(reg_app, client, token, 2)
    booked = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": refs})
    assert booked.status_code == 201, booked.get_json()
    body = booked.get_json()
    assert len(body["appointments"]) == 2 and all(a["dose"] == 1 for a in body["appointments"])
    assert {a["booking_id"] for a in body["appointments"]} == {body["booking_id"]}
    assert booked_counts(reg_app, session_id) == ({1: 2, 2: 0}, 2, 2)
    again = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "11:00-13:00", "beneficiaries": refs[:1]})
    assert again.status_code == 409 and again.get_json()["code"] == "already_booked"
    listing = client.get("/api/v1/appointments", headers=auth(token)).get_json()
    assert len(listing["appointments"]) == 2
    v2 = client.get("/api/v2/appointment/beneficiaries", headers=auth(token)).get_json()
    appointment = v2["beneficiaries"][0]["appointments"][0]
    assert appointment["appointment_id"] == body["booking_id"]
    assert appointment["slot"] == "09:00AM-11:00AM" and appointment["dose"] == 1


def test_the_booking_answer_is_the_listing_s_and_each_appointment_is_audited(reg_app):
    """The 201 answer (built from the rows the booking read and wrote) says what the
    listing says of the same appointments, in every language the facility is named in;
    every appointment has its appointment.book audit event, by the citizen."""
    session_id = publish(reg_app, days_ahead=5)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        sessions.upsert_facility(session, code="F-TVM-1", name="Medical College PHC",
                                   location_code="IN-KL-TVM", postal_code="695001",
                                   names={"hi": "मेडिकल कॉलेज पीएचसी"})
        session.commit()
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    refs = add_members(reg_app, client, token, 2)
    booked = client.post("/api/v1/appointments?lang=hi", headers=auth(token), json={
        "session_id": session_id, "slot": "11:00-13:00", "beneficiaries": refs, "dose": 1})
    assert booked.status_code == 201, booked.get_json()
    body = booked.get_json()
    listing = client.get("/api/v1/appointments?lang=hi", headers=auth(token)).get_json()
    assert sorted(body["appointments"], key=lambda a: a["appointment_id"]) == sorted(
        listing["appointments"], key=lambda a: a["appointment_id"])
    first = body["appointments"][0]
    assert first["facility_name"] == "मेडिकल कॉलेज पीएचसी" and first["slot"] == "11:00-13:00"
    assert first["status"] == "booked"
    assert first["reschedules_left"] == reg_app.config["COWIN_KIT"]["MAX_RESCHEDULES"]
    assert [a["beneficiary"] for a in body["appointments"]] == refs  # in member order
    refused = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "11:00-13:00", "beneficiaries": refs[:1],
        "dose": 2})
    assert refused.status_code == 422  # dose 2 before dose 1 was given: nothing written
    with reg_app.app_context(), get_database(reg_app).session() as session:
        account = session.scalars(select(CitizenAccount)).one()
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "appointment.book").order_by(AuditEvent.id)).all()
        assert sorted(e.object_id for e in events) == sorted(
            a["appointment_id"] for a in body["appointments"])
        for event in events:
            assert event.object_type == "appointment"
            assert (event.actor_type, event.actor_id) == ("citizen", str(account.id))
            assert event.request_id and event.occurred_at.tzinfo is not None
            assert event.details == {"booking": body["booking_id"],
                                     "vaccination_session": session_id, "dose": 1}
        rows = session.scalars(select(Appointment).order_by(Appointment.id)).all()
        assert {(r.id, r.booking_id, r.session_id, r.dose_number, r.status, r.account_id,
                 r.reschedule_count) for r in rows} == {
            (a["appointment_id"], body["booking_id"], session_id, 1, "booked", account.id, 0)
            for a in body["appointments"]}


def test_a_member_already_booked_is_told_so_even_when_the_session_is_full(reg_app):
    """The live-appointment check comes before the seats are claimed (as before), and the
    booking service hands back the appointments it wrote."""
    session_id = publish(reg_app, capacity={1: 1})
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, token, 1)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        from cowin_kit.config.runtime import active_pack

        account = session.scalars(select(CitizenAccount)).one()
        booked = bookings.book(session, active_pack(), account, session_id=session_id,
                                 slot="09:00AM-11:00AM", reference_ids=[ref])
        stored = session.get(Appointment, booked[0].id)
        assert (stored.booking_id, stored.dose_number, stored.slot_id, stored.status) == (
            booked[0].booking_id, booked[0].dose_number, booked[0].slot_id, "booked")
    again = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]})
    assert again.status_code == 409 and again.get_json()["code"] == "already_booked"
    assert booked_counts(reg_app, session_id) == ({1: 1}, 1, 1)


def test_a_second_live_appointment_refused_by_the_index_gives_its_seats_back(reg_app,
                                                                            monkeypatch):
    """Two requests of the same member racing past the live-appointment check: the partial
    unique index refuses the second appointment, which answers already_booked and rolls its
    seats back (the race is made here by hiding the live appointment from the check)."""
    session_id = publish(reg_app, capacity={1: 5})
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, token, 1)
    request = {"session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]}
    assert client.post("/api/v1/appointments", headers=auth(token),
                       json=request).status_code == 201
    read = booking_rows.members_and_history

    def without_live_appointments(*args):
        found = read(*args)
        found.live = set()
        return found

    monkeypatch.setattr(booking_rows, "members_and_history", without_live_appointments)
    again = client.post("/api/v1/appointments", headers=auth(token), json=request)
    assert again.status_code == 409 and again.get_json()["code"] == "already_booked"
    assert booked_counts(reg_app, session_id) == ({1: 1}, 1, 1)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "appointment.book")) == 1


def test_v2_schedule_answers_the_booking_id(reg_app):
    session_id = publish(reg_app)
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    refs = add_members(reg_app, client, token, 2)
    response = client.post("/api/v2/appointment/schedule", headers=auth(token), json={
        "dose": 1, "session_id": session_id, "slot": "11:00AM-01:00PM", "beneficiaries": refs})
    assert response.status_code == 200, response.get_json()
    confirmation = response.get_json()["appointment_confirmation_no"]
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert set(session.scalars(select(Appointment.booking_id))) == {confirmation}
    assert booked_counts(reg_app, session_id) == ({1: 2, 2: 0}, 2, 2)


def test_fully_booked_all_or_nothing(reg_app):
    session_id = publish(reg_app, capacity={1: 2})
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    refs = add_members(reg_app, client, token, 3)
    response = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": refs})
    assert response.status_code == 409 and response.get_json()["code"] == "fully_booked"
    assert booked_counts(reg_app, session_id) == ({1: 0}, 0, 0)


@pytest.mark.parametrize("setup, code", [
    ("no_dose_1", "dose_order"),
    ("too_early", "too_early"),
    ("too_late", "too_late"),
    ("other_product", "product_mismatch"),
    ("too_young", "age_not_eligible"),
])
def test_schedule_rules(reg_app, setup, code):
    session_id = publish(reg_app, capacity={1: 5, 2: 5})
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    birth_year = 2015 if setup == "too_young" else 1980
    (ref,) = add_members(reg_app, client, token, 1, birth_year=birth_year)
    dose = 1 if setup == "too_young" else 2
    if setup == "too_early":
        record_dose(reg_app, ref, 1, "COVISHIELD", days_ago=10)
    if setup == "too_late":
        record_dose(reg_app, ref, 1, "COVISHIELD", days_ago=200)
    if setup == "other_product":
        record_dose(reg_app, ref, 1, "COVAXIN", days_ago=60)
    response = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref], "dose": dose})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == code
    assert booked_counts(reg_app, session_id)[2] == 0


def test_dose_2_after_the_interval_is_booked(reg_app):
    session_id = publish(reg_app, capacity={2: 5})
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, token, 1)
    record_dose(reg_app, ref, 1, "COVISHIELD", days_ago=90)
    response = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["appointments"][0]["dose"] == 2


def test_same_day_cutoff(reg_app):
    session_id = publish(reg_app, days_ahead=0)
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, token, 1)
    late = datetime.combine(today(), datetime.min.time(), IST).replace(hour=15, minute=30)
    early = late.replace(hour=10)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        from cowin_kit.config.runtime import active_pack

        account = session.scalars(select(CitizenAccount)).one()
        with pytest.raises(RuleViolation) as refused:
            bookings.book(session, active_pack(), account, session_id=session_id,
                            slot="09:00-11:00", reference_ids=[ref], now=late)
        assert refused.value.code == "same_day_cutoff"
        booked = bookings.book(session, active_pack(), account, session_id=session_id,
                                 slot="09:00-11:00", reference_ids=[ref], now=early)
        assert len(booked) == 1


def test_reschedule_limits_and_cancel(reg_app):
    first = publish(reg_app, days_ahead=3)
    second = publish(reg_app, days_ahead=4, code="F-TVM-2")
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    refs = add_members(reg_app, client, token, 2)
    booking = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": first, "slot": "09:00-11:00", "beneficiaries": refs}).get_json()["booking_id"]
    targets = [second, first, second]
    for target in targets:
        moved = client.post(f"/api/v1/appointments/{booking}/reschedule", headers=auth(token),
                            json={"session_id": target, "slot": "11:00-13:00"})
        assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["appointments"][0]["reschedules_left"] == 0
    fourth = client.post(f"/api/v1/appointments/{booking}/reschedule", headers=auth(token),
                         json={"session_id": first, "slot": "11:00-13:00"})
    assert fourth.status_code == 422 and fourth.get_json()["code"] == "reschedule_limit"
    assert booked_counts(reg_app, first)[0] == {1: 0, 2: 0}
    assert booked_counts(reg_app, second) == ({1: 2, 2: 0}, 2, 2)
    some = client.post(f"/api/v1/appointments/{booking}/cancel", headers=auth(token),
                       json={"beneficiaries": refs[:1]})
    assert some.status_code == 200 and len(some.get_json()["appointments"]) == 1
    assert booked_counts(reg_app, second) == ({1: 1, 2: 0}, 1, 1)
    rest = client.post(f"/api/v1/appointments/{booking}/cancel", headers=auth(token), json={})
    assert rest.status_code == 200
    assert booked_counts(reg_app, second) == ({1: 0, 2: 0}, 0, 0)
    gone = client.post(f"/api/v1/appointments/{booking}/cancel", headers=auth(token), json={})
    assert gone.status_code == 404


def test_rescheduling_on_the_day_is_refused(reg_app):
    session_id = publish(reg_app, days_ahead=1)
    other = publish(reg_app, days_ahead=2, code="F-TVM-2")
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, token, 1)
    booking = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00",
        "beneficiaries": [ref]}).get_json()["booking_id"]
    tomorrow = datetime.combine(today() + timedelta(days=1), datetime.min.time(), IST)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        from cowin_kit.config.runtime import active_pack

        account = session.scalars(select(CitizenAccount)).one()
        with pytest.raises(RuleViolation) as refused:
            bookings.reschedule(session, active_pack(), account, booking_id=booking,
                                  session_id=other, slot="09:00-11:00", now=tomorrow)
        assert refused.value.code == "reschedule_too_late"


def test_cancelling_dose_1_cancels_a_later_appointment(reg_app):
    first = publish(reg_app, days_ahead=3)
    later = publish(reg_app, days_ahead=90, code="F-TVM-2")
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, token, 1)
    booking = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": first, "slot": "09:00-11:00", "beneficiaries": [ref]}).get_json()["booking_id"]
    # A dose-2 appointment booked ahead (as imported from an earlier system).
    with reg_app.app_context(), get_database(reg_app).session() as session:
        beneficiary = session.scalars(select(Beneficiary)).one()
        slot = session.scalars(select(SessionSlot).where(SessionSlot.session_id == later)).first()
        session.add(Appointment(booking_id="0" * 8 + "-0000-4000-8000-" + "0" * 12,
                                beneficiary_id=beneficiary.id, session_id=later, slot_id=slot.id,
                                dose_number=2, account_id=beneficiary.account_id))
        session.execute(SessionDoseCapacity.__table__.update()
                        .where(SessionDoseCapacity.session_id == later,
                               SessionDoseCapacity.dose_number == 2).values(booked=1))
        session.execute(SessionSlot.__table__.update().where(SessionSlot.id == slot.id)
                        .values(booked=1))
        session.commit()
    cancelled = client.post(f"/api/v1/appointments/{booking}/cancel", headers=auth(token), json={})
    assert len(cancelled.get_json()["appointments"]) == 2
    assert booked_counts(reg_app, later) == ({1: 0, 2: 0}, 0, 0)


def test_cowin_v2_availability_and_appointments(reg_app):
    session_id = publish(reg_app)
    client = reg_app.test_client()
    day = (today() + timedelta(days=3)).strftime("%d-%m-%Y")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        district_id = _district(session).id
    found = client.get(f"/api/v2/appointment/sessions/public/findByDistrict"
                       f"?district_id={district_id}&date={day}")
    assert found.status_code == 200 and "max-age" in found.headers["Cache-Control"]
    (item,) = found.get_json()["sessions"]
    assert item["session_id"] == session_id and item["date"] == day
    assert item["center_id"] == int(item["center_id"]) and item["pincode"] == 695001
    assert item["state_name"] == "Kerala" and item["district_name"]
    assert item["available_capacity"] == 20 and item["available_capacity_dose1"] == 10
    assert item["fee_type"] == "Free" and item["vaccine"] == "COVISHIELD"
    assert item["slots"] == ["09:00AM-11:00AM", "11:00AM-01:00PM"]
    assert {"from", "to", "lat", "long", "min_age_limit", "block_name", "fee"} <= set(item)
    by_pin = client.get(f"/api/v2/appointment/sessions/public/findByPin?pincode=695001&date={day}")
    assert len(by_pin.get_json()["sessions"]) == 1
    calendar = client.get(f"/api/v2/appointment/sessions/public/calendarByDistrict"
                          f"?district_id={district_id}&date={today().strftime('%d-%m-%Y')}")
    (centre,) = calendar.get_json()["centers"]
    assert centre["sessions"][0]["session_id"] == session_id
    by_centre = client.get(f"/api/v2/appointment/sessions/public/calendarByCenter"
                           f"?center_id={centre['center_id']}&date={day}").get_json()
    assert by_centre["centers"][0]["center_id"] == centre["center_id"]
    near = client.get("/api/v2/appointment/centers/public/findByLatLong?lat=8.52&long=76.93")
    assert near.get_json()["centers"][0]["center_id"] == centre["center_id"]
    bad_date = client.get(f"/api/v2/appointment/sessions/public/findByDistrict"
                          f"?district_id={district_id}&date=2026-01-01")
    assert bad_date.status_code == 400 and set(bad_date.get_json()) == {"errorCode", "error"}
    assert client.get(f"/api/v2/appointment/sessions/findByDistrict?district_id={district_id}"
                      f"&date={day}").status_code == 401

    token = sign_in(reg_app, client)
    refs = add_members(reg_app, client, token, 2)
    private = client.get(f"/api/v2/appointment/sessions/findByDistrict"
                         f"?district_id={district_id}&date={day}", headers=auth(token))
    assert private.status_code == 200 and "no-store" in private.headers["Cache-Control"]
    scheduled = client.post("/api/v2/appointment/schedule", headers=auth(token), json={
        "dose": 1, "session_id": session_id, "slot": "09:00AM-11:00AM",
        "beneficiaries": refs, "center_id": centre["center_id"], "captcha": "x"})
    assert scheduled.status_code == 200, scheduled.get_json()
    confirmation = scheduled.get_json()["appointment_confirmation_no"]
    other = publish(reg_app, days_ahead=5, code="F-TVM-2")
    moved = client.post("/api/v2/appointment/reschedule", headers=auth(token), json={
        "appointment_id": confirmation, "session_id": other, "slot": "11:00AM-01:00PM"})
    assert moved.status_code == 204
    cancelled = client.post("/api/v2/appointment/cancel", headers=auth(token), json={
        "appointment_id": confirmation, "beneficiariesToCancel": refs})
    assert cancelled.status_code == 204
    assert booked_counts(reg_app, other)[2] == 0


def test_cowin_fully_booked_error(reg_app):
    session_id = publish(reg_app, capacity={1: 1})
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    refs = add_members(reg_app, client, token, 2)
    response = client.post("/api/v2/appointment/schedule", headers=auth(token), json={
        "dose": 1, "session_id": session_id, "slot": "09:00AM-11:00AM", "beneficiaries": refs})
    assert response.status_code == 409
    assert response.get_json()["errorCode"] == "APPOIN0040"


# --- concurrency (PostgreSQL) -------------------------------------------------------------

def test_200_concurrent_bookings_for_50_seats_sell_exactly_50(pg_app):
    reg_app = pg_app
    session_id = publish(reg_app, capacity={1: 50}, slots="09:00-17:00")
    tokens, refs = _accounts_with_members(reg_app, 200)

    def attempt(i):
        client = reg_app.test_client()
        response = client.post("/api/v1/appointments", headers=auth(tokens[i]), json={
            "session_id": session_id, "slot": "09:00-17:00", "beneficiaries": [refs[i]]})
        return response.status_code, (response.get_json() or {}).get("code")

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(attempt, range(200)))
    assert sum(1 for status, _ in results if status == 201) == 50
    assert all(code == "fully_booked" for status, code in results if status != 201), results
    assert booked_counts(reg_app, session_id) == ({1: 50}, 50, 50)


def test_reschedule_racing_cancel_keeps_counters_true(pg_app):
    reg_app = pg_app
    source = publish(reg_app, capacity={1: 60}, slots="09:00-17:00")
    target = publish(reg_app, days_ahead=4, code="F-TVM-2", capacity={1: 30}, slots="09:00-17:00")
    tokens, refs = _accounts_with_members(reg_app, 50)
    bookings = []
    client = reg_app.test_client()
    for token, ref in zip(tokens, refs):
        bookings.append(client.post("/api/v1/appointments", headers=auth(token), json={
            "session_id": source, "slot": "09:00-17:00", "beneficiaries": [ref]}
        ).get_json()["booking_id"])

    def move(i):
        return reg_app.test_client().post(
            f"/api/v1/appointments/{bookings[i]}/reschedule", headers=auth(tokens[i]),
            json={"session_id": target, "slot": "09:00-17:00"}).status_code

    def drop(i):
        return reg_app.test_client().post(
            f"/api/v1/appointments/{bookings[i]}/cancel", headers=auth(tokens[i]),
            json={}).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        futures = [pool.submit(move, i) for i in range(50)] + [pool.submit(drop, i)
                                                               for i in range(50)]
        statuses = [f.result() for f in futures]
    assert all(status in (200, 404, 409) for status in statuses), statuses
    for session_id in (source, target):
        capacity, slots, rows = booked_counts(reg_app, session_id)
        assert capacity[1] == slots == rows
    assert booked_counts(reg_app, target)[2] <= 30


def test_public_answers_are_served_from_the_cache_and_signed_in_ones_are_real_time(reg_app):
    session_id = publish(reg_app, capacity={1: 5})
    client = reg_app.test_client()
    day = (today() + timedelta(days=3)).strftime("%d-%m-%Y")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        district_id = _district(session).id
    public = f"/api/v2/appointment/sessions/public/findByDistrict?district_id={district_id}&date={day}"
    before = client.get(public).get_json()["sessions"][0]["available_capacity_dose1"]
    token = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, token, 1)
    client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]})
    cached = client.get(public).get_json()["sessions"][0]["available_capacity_dose1"]
    live = client.get(public.replace("/public", ""), headers=auth(token)).get_json()
    assert before == cached == 5
    assert live["sessions"][0]["available_capacity_dose1"] == 4


def test_searches_are_limited_per_client_address(reg_app, tmp_path):
    """SEARCH_LIMITS_PER_IP counts the API and the CoWIN v2 searches together, per address."""
    from cowin_kit import create_app

    publish(reg_app)
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "limited"),
                      "DATABASE_URL": reg_app.config["COWIN_KIT"]["DATABASE_URL"],
                      "SEARCH_LIMITS_PER_IP": "3/minute;100/hour"})
    client = app.test_client()
    day = today() + timedelta(days=3)
    native = f"/api/v1/sessions?location=IN-KL&date={day.isoformat()}"
    cowin = f"/api/v2/appointment/sessions/public/findByPin?pincode=695001&date={day:%d-%m-%Y}"
    bot = {"REMOTE_ADDR": "203.0.113.7"}
    try:
        answers = [client.get(url, environ_base=bot) for url in (native, cowin, native, native)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.mimetype == "application/problem+json"
        assert refused.get_json()["code"] == "too_many_requests"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert client.get(cowin, environ_base=bot).status_code == 429
        neighbour = client.get(native, environ_base={"REMOTE_ADDR": "203.0.113.8"})
        assert neighbour.status_code == 200 and "Retry-After" not in neighbour.headers
    finally:
        get_database(app).dispose()


def test_booking_changes_are_limited_per_account(reg_app, tmp_path):
    """BOOKING_LIMITS_PER_ACCOUNT counts book, reschedule and cancel of one account, on the
    native and the CoWIN v2 API, whatever address the requests come from."""
    from cowin_kit import create_app

    session_id = publish(reg_app, capacity={1: 20})
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "limited"),
                      "DATABASE_URL": reg_app.config["COWIN_KIT"]["DATABASE_URL"],
                      "NOTIFIER": f"file:{reg_app.outbox}", "OTP_RESEND_COOLDOWN_SECONDS": 0,
                      "BOOKING_LIMITS_PER_ACCOUNT": "2/hour"})
    app.outbox = reg_app.outbox
    client = app.test_client()
    try:
        token = sign_in(app, client)
        first, second = add_members(app, client, token, 2)
        book = lambda ref, addr: client.post(  # noqa: E731
            "/api/v1/appointments", headers=auth(token), environ_base={"REMOTE_ADDR": addr},
            json={"session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]})
        booked = book(first, "198.51.100.1")
        assert booked.status_code == 201
        cancelled = client.post(f"/api/v1/appointments/{booked.get_json()['booking_id']}/cancel",
                                headers=auth(token), json={},
                                environ_base={"REMOTE_ADDR": "198.51.100.2"})
        assert cancelled.status_code == 200
        refused = book(second, "198.51.100.3")
        assert refused.status_code == 429 and refused.get_json()["code"] == "too_many_requests"
        assert int(refused.headers["Retry-After"]) >= 1
        other = sign_in(app, client, "9123456789")
        added = client.post("/api/v1/beneficiaries", headers=auth(other),
                            json=member(_valid_aadhaar(3)[2]))
        assert added.status_code == 201, added.get_json()
        assert client.post("/api/v1/appointments", headers=auth(other), json={
            "session_id": session_id, "slot": "09:00-11:00",
            "beneficiaries": [added.get_json()["reference_id"]]}).status_code == 201
        assert booked_counts(app, session_id)[1] == 1  # the refused booking took no seat
    finally:
        get_database(app).dispose()


@pytest.mark.parametrize("endpoint", ["/api/v1/appointments", "/api/v2/appointment/schedule"])
@pytest.mark.parametrize("change", ["mobile changed", "account gone"])
def test_booking_with_the_token_of_a_changed_or_gone_account_is_refused_and_writes_nothing(
        reg_app, endpoint, change):
    """Booking checks the token's account in its own read (not a separate one): a token
    issued before the account's mobile changed, or for an account no longer there, gets
    401 invalid_token, and no seat, appointment or audit event is written."""
    session_id = publish(reg_app, capacity={1: 5})
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, token, 1)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        account = session.scalars(select(CitizenAccount)).one()
        if change == "mobile changed":
            account.mobile = "+919812345678"
        else:  # members first: they belong to the account
            for beneficiary in session.scalars(select(Beneficiary)):
                session.delete(beneficiary)
            session.flush()
            session.delete(account)
        session.commit()
    answer = client.post(endpoint, headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref], "dose": 1})
    assert answer.status_code == 401
    body = answer.get_json()
    assert (body["code"] == "invalid_token") if endpoint.startswith("/api/v1") \
        else (body["errorCode"] == "USRAUT0009")
    assert booked_counts(reg_app, session_id) == ({1: 0}, 0, 0)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "appointment.book")) == 0


def test_a_pin_finds_the_sessions_of_its_district_first_those_at_the_pin(reg_app):
    """The India pack maps each PIN of India Post's directory to its district: a search by
    any PIN of Thiruvananthapuram finds the district's centres, those at the PIN first."""
    elsewhere = publish(reg_app, code="F-TVM-1", postal="695001")
    here = publish(reg_app, code="F-TVM-2", postal="695014")
    unlisted = publish(reg_app, code="F-TVM-3", postal="999999")  # not in the directory
    client = reg_app.test_client()
    day = today() + timedelta(days=3)

    def v1(pin):
        found = client.get(f"/api/v1/sessions?postal_code={pin}&date={day.isoformat()}")
        assert found.status_code == 200
        return [c["sessions"][0]["session_id"] for c in found.get_json()["centres"]]

    assert v1("695014") == [here, elsewhere, unlisted]     # the PIN's own centre first
    assert v1("695001") == [elsewhere, here, unlisted]
    assert v1("695002") == [elsewhere, here, unlisted]     # a PIN with no centre of its own
    assert v1("682011") == []                               # Ernakulam: another district
    assert v1("999999") == [unlisted]                       # unknown: that very PIN only
    cowin_day = day.strftime("%d-%m-%Y")
    for path in ("public/findByPin", "findByPin"):
        headers = {} if path.startswith("public") else auth(sign_in(reg_app, client))
        found = client.get(f"/api/v2/appointment/sessions/{path}?pincode=695002&date={cowin_day}",
                           headers=headers).get_json()["sessions"]
        assert [s["session_id"] for s in found] == [elsewhere, here, unlisted]
    calendar = client.get(f"/api/v2/appointment/sessions/public/calendarByPin?pincode=695014"
                          f"&date={today().strftime('%d-%m-%Y')}").get_json()["centers"]
    assert [c["pincode"] for c in calendar] == [695014, 695001, 999999]
    assert client.get(f"/api/v2/appointment/sessions/public/findByPin?pincode=682011"
                      f"&date={cowin_day}").get_json() == {"sessions": []}
