"""The vaccinator's flow through the API: queue, check-in, secret code, idempotent dose
recording with its certificate-due outbox row, walk-ins and AEFI reports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from cowin_kit.core.db import get_database
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.scheduling.models import Appointment
from cowin_kit.vaccination.models import CertificateDue
from cowin_kit.testing import (
    add_members, auth, national_admin_token, publish, secret_code, sign_in, staff_token,
)
from cowin_kit.testing import valid_aadhaar as _valid_aadhaar


def count(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _booked_for_today(reg_app, client, username):
    """A session today at F-TVM-1, a vaccinator there, and one member booked on it (in
    the morning, before the same-day cut-off): (vaccinator token, citizen token, ref)."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.registration.models import CitizenAccount
    from cowin_kit.scheduling import booking as bookings

    session_id = publish(reg_app, days_ahead=0, code="F-TVM-1", slots="00:00-23:59")
    vaccinator = staff_token(reg_app, client, username, "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, citizen, 1)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        account = session.scalars(select(CitizenAccount)).one()
        bookings.book(session, active_pack(), account, session_id=session_id,
                        slot="00:00-23:59", reference_ids=[ref],
                        now=datetime.now(timezone.utc).replace(hour=3, minute=0))
    return vaccinator, citizen, ref


def test_queue_check_in_secret_code_and_recording(reg_app):
    client = reg_app.test_client()
    vaccinator, citizen, ref = _booked_for_today(reg_app, client, "vax.one")

    today = client.get("/api/v1/vaccinator/today", headers=auth(vaccinator)).get_json()
    assert today["facility"] == "F-TVM-1"
    assert today["sessions"][0]["queue"][0]["reference_id"] == ref
    checked = client.get(f"/api/v1/vaccinator/beneficiaries/{ref}", headers=auth(vaccinator))
    body = checked.get_json()
    assert checked.status_code == 200 and body["secret_code_required"] is True
    assert "secret_code" not in body and body["doses"] == []
    code = secret_code(client, citizen, ref)
    wrong = "0000" if code != "0000" else "1111"
    refused = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "secret_code": wrong, "vaccine": "COVISHIELD", "lot": "4121Z005"})
    assert refused.status_code == 422 and refused.get_json()["code"] == "secret_code_invalid"
    assert count(reg_app, Dose) == 0
    headers = {**auth(vaccinator), "Idempotency-Key": "tablet-7-0001"}
    recorded = client.post("/api/v1/vaccinator/doses", headers=headers, json={
        "reference_id": ref, "secret_code": code, "vaccine": "COVISHIELD", "lot": "4121Z005"})
    assert recorded.status_code == 201, recorded.get_json()
    assert recorded.get_json()["dose"] == 1 and recorded.get_json()["created"] is True
    again = client.post("/api/v1/vaccinator/doses", headers=headers, json={
        "reference_id": ref, "secret_code": code, "vaccine": "COVISHIELD", "lot": "4121Z005"})
    assert again.status_code == 200 and again.get_json()["created"] is False
    same_dose = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": "4121Z005", "dose": 1})
    assert same_dose.status_code == 200 and same_dose.get_json()["dose_id"] == \
        recorded.get_json()["dose_id"]
    assert count(reg_app, Dose) == 1
    assert count(reg_app, CertificateDue, CertificateDue.status == "pending") == 1
    assert count(reg_app, Appointment, Appointment.status == "completed") == 1
    too_early = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": "4121Z006"})
    assert too_early.status_code == 422 and too_early.get_json()["code"] == "too_early"
    status = client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()
    assert status["beneficiaries"][0]["vaccination_status"] == "Partially Vaccinated"


def test_vaccinators_only_record_at_their_facility(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    publish(reg_app, code="F-TVM-2", days_ahead=4)
    vaccinator = staff_token(reg_app, client, "vax.two", "vaccinator", facility_code="F-TVM-2")
    citizen = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, citizen, 1)
    elsewhere = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": "L1", "facility": "F-TVM-1"})
    assert elsewhere.status_code == 403
    admin = national_admin_token(reg_app, client)
    no_facility = client.post("/api/v1/vaccinator/doses", headers=auth(admin), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": "L1"})
    assert no_facility.status_code == 422 and no_facility.get_json()["code"] == "facility_required"


def test_walk_in_then_dose_without_a_code_then_aefi_visible_to_the_district(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, client, "vax.three", "vaccinator", facility_code="F-TVM-1")
    number = _valid_aadhaar(1)[0]
    walk_in = client.post("/api/v1/vaccinator/walk-ins", headers=auth(vaccinator), json={
        "mobile": "9988776655", "name": "Lakshmi Amma", "birth_year": 1950, "gender": "F",
        "id_type": "aadhaar", "id_number": number, "consent_version": "v1"})
    assert walk_in.status_code == 201, walk_in.get_json()
    ref = walk_in.get_json()["reference_id"]
    dose = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVAXIN", "lot": "EL0001"})
    assert dose.status_code == 201, dose.get_json()
    dose_id = dose.get_json()["dose_id"]
    onset = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    aefi = client.post("/api/v1/vaccinator/aefi", headers=auth(vaccinator), json={
        "dose_id": dose_id, "onset_at": onset, "symptoms": ["fever", "injection-site pain"],
        "seriousness": "non_serious", "outcome": "recovering"})
    assert aefi.status_code == 201, aefi.get_json()
    assert aefi.get_json()["lot"] == "EL0001"
    district = staff_token(reg_app, client, "tvm.district", "district_admin",
                           location_code="IN-KL-TVM")
    other = staff_token(reg_app, client, "dl.district", "district_admin", location_code="IN-DL-CD")
    seen = client.get("/api/v1/admin/aefi", headers=auth(district)).get_json()["reports"]
    assert [r["reference_id"] for r in seen] == [ref]
    assert client.get("/api/v1/admin/aefi", headers=auth(other)).get_json() == {"reports": []}
    assert client.get("/api/v1/admin/aefi", headers=auth(vaccinator)).get_json() == {"reports": []}
    with reg_app.app_context(), get_database(reg_app).session() as session:
        person = session.scalars(select(Beneficiary).where(Beneficiary.reference_id == ref)).one()
        assert person.name == "Lakshmi Amma"


def test_a_recorded_dose_commits_with_its_outbox_row_and_audit_event(reg_app, monkeypatch):
    """The dose, its "certificate due" row and its audit event are written together (one
    statement on PostgreSQL); a dose recorded twice at once leaves nothing behind."""
    from cowin_kit.audit.models import AuditEvent
    from cowin_kit.vaccination import services

    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, client, "vax.rows", "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, citizen, 1)
    recorded = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": " 4121Z005 "})
    assert recorded.status_code == 201, recorded.get_json()
    body = recorded.get_json()
    assert (body["reference_id"], body["vaccine"], body["facility"], body["lot"]) == (
        ref, "COVISHIELD", "F-TVM-1", "4121Z005")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        dose = session.scalars(select(Dose)).one()
        assert dose.id == body["dose_id"] and dose.vaccinator == "vax.rows"
        assert dose.source == "recorded" and dose.recorded_at is not None
        due = session.scalars(select(CertificateDue)).one()
        assert (due.dose_id, due.status, due.reason, due.attempts) == (
            dose.id, "pending", "dose", 0)
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "dose.record")).one()
        assert (event.object_type, event.object_id) == ("dose", str(dose.id))
        assert (event.actor_type, event.actor_id) == ("staff", "vax.rows")
        assert event.details == {"beneficiary": ref, "dose": 1, "vaccine": "COVISHIELD",
                                 "lot": "4121Z005", "facility": "F-TVM-1"}

    # Another request recorded the same dose between this one's read and its insert.
    real = services._person_for_dose
    monkeypatch.setattr(services, "_person_for_dose",
                        lambda *args: (real(*args)[0], []))  # as if read before it
    clash = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": "4121Z005"})
    assert clash.status_code == 409 and clash.get_json()["code"] == "dose_already_recorded"
    assert count(reg_app, Dose) == 1 and count(reg_app, CertificateDue) == 1
    assert count(reg_app, AuditEvent, AuditEvent.action == "dose.record") == 1


def test_a_booked_dose_completes_the_appointment(reg_app):
    client = reg_app.test_client()
    vaccinator, citizen, ref = _booked_for_today(reg_app, client, "vax.appt")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        booked_at = session.scalars(select(Appointment)).one().updated_at
    recorded = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "secret_code": secret_code(client, citizen, ref),
        "vaccine": "COVISHIELD", "lot": "4121Z005"})
    assert recorded.status_code == 201, recorded.get_json()
    with reg_app.app_context(), get_database(reg_app).session() as session:
        appointment = session.scalars(select(Appointment)).one()
        assert appointment.status == "completed" and appointment.updated_at >= booked_at


def test_wrong_secret_codes_are_limited_per_person_and_per_vaccinator(reg_app):
    """After 5 wrong codes for a person, nobody records their booked dose for a while (the
    right code is refused too); after 10 wrong codes a vaccinator records no booked dose
    for a while, while colleagues still do. Refused in the request's language."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.registration.models import CitizenAccount
    from cowin_kit.scheduling import booking as bookings

    client = reg_app.test_client()
    session_id = publish(reg_app, days_ahead=0, code="F-TVM-1", slots="00:00-23:59")
    guesser = staff_token(reg_app, client, "vax.guess", "vaccinator", facility_code="F-TVM-1")
    colleague = staff_token(reg_app, client, "vax.other", "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, client)
    refs = add_members(reg_app, client, citizen, 3)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        account = session.scalars(select(CitizenAccount)).one()
        bookings.book(session, active_pack(), account, session_id=session_id,
                      slot="00:00-23:59", reference_ids=refs,
                      now=datetime.now(timezone.utc).replace(hour=3, minute=0))
    codes = [secret_code(client, citizen, ref) for ref in refs]

    def record(token, ref, code, **headers):
        return client.post("/api/v1/vaccinator/doses", headers={**auth(token), **headers},
                           json={"reference_id": ref, "secret_code": code,
                                 "vaccine": "COVISHIELD", "lot": "4121Z005"})

    def wrong(code):
        return "0000" if code != "0000" else "1111"

    for _ in range(5):
        assert record(guesser, refs[0], wrong(codes[0])).get_json()["code"] \
            == "secret_code_invalid"
    for token in (guesser, colleague):  # the person's limit: the right code is refused too
        refused = record(token, refs[0], codes[0])
        assert refused.status_code == 429 and refused.get_json()["code"] \
            == "secret_code_attempts"
    in_hindi = record(colleague, refs[0], codes[0], **{"Accept-Language": "hi"}).get_json()
    assert in_hindi["code"] == "secret_code_attempts"
    assert in_hindi["detail"] != refused.get_json()["detail"]
    for _ in range(5):
        assert record(guesser, refs[1], wrong(codes[1])).status_code == 422
    refused = record(guesser, refs[2], codes[2])  # the vaccinator's limit
    assert refused.status_code == 429 and refused.get_json()["code"] == "secret_code_attempts"
    assert record(colleague, refs[2], codes[2]).status_code == 201
    assert count(reg_app, Dose) == 1
