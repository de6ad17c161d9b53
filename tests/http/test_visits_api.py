"""Routine immunization visits through the vaccinator API (issue 14): what a child is due
today by the India pack's UIP schedule, one visit recording several doses each with its
lot (all or none), refusals with stable codes, idempotency, and the COVID-19 booked series
left as it was."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core.db import get_database
from cowin_kit.registration.models import Dose
from cowin_kit.vaccination.models import CertificateDue
from cowin_kit.config.runtime import active_pack
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.scheduling import booking as bookings
from cowin_kit.testing import (
    add_members, auth, publish, secret_code, sign_in, staff_token, today, valid_aadhaar,
)

PEOPLE = "/api/v1/staff/people"
VISITS = "/api/v1/vaccinator/visits"
IST = timezone(timedelta(hours=5, minutes=30))
BIRTH_DOSES = [{"vaccine": "BCG", "lot": "BCG-01"}, {"vaccine": "BOPV", "lot": "OPV-01"},
               {"vaccine": "HEPB", "lot": "HB-01"}]
SIX_WEEKS = [{"vaccine": "BOPV", "lot": "OPV-02"}, {"vaccine": "PENTA", "lot": "PN-01"},
             {"vaccine": "ROTA", "lot": "RV-01"}, {"vaccine": "FIPV", "lot": "IPV-01"},
             {"vaccine": "PCV", "lot": "PCV-01"}]


def count(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def vaccinator(app, client, username="anm.tvm"):
    publish(app, code="F-TVM-1")
    return staff_token(app, client, username, "vaccinator", facility_code="F-TVM-1")


def child(app, client, token, days_old: int, name="Baby of Meena", mobile="9876500001"):
    response = client.post(PEOPLE, headers=auth(token), json={
        "name": name, "birth_date": (today() - timedelta(days=days_old)).isoformat(),
        "gender": "F", "mobile": mobile, "location": "IN-KL-TVM",
        "guardian_name": "Meena Kumari", "guardian_relation": "mother"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["reference_id"]


def at_birth(days_old: int) -> str:
    """Noon (India) on the day of birth of a child ``days_old`` days old."""
    return datetime.combine(today() - timedelta(days=days_old), time(12), IST).isoformat()


def due_codes(client, token, ref, on=None):
    url = f"/api/v1/vaccinator/people/{ref}/due-today" + (f"?on={on}" if on else "")
    response = client.get(url, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return [(d["schedule"], d["dose"], d["status"]) for d in response.get_json()["due"]]


def test_birth_doses_then_the_six_week_visit(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    ref = child(reg_app, client, token, days_old=42)
    assert due_codes(client, token, ref, on=(today() - timedelta(days=42)).isoformat()) == [
        ("bcg", 1, "due"), ("hepb-birth", 1, "due"), ("opv", 1, "due")]
    birth = client.post(VISITS, headers=auth(token), json={
        "reference_id": ref, "doses": BIRTH_DOSES, "administered_at": at_birth(42)})
    assert birth.status_code == 201, birth.get_json()
    assert sorted((d["schedule"], d["dose"], d["vaccine"], d["lot"])
                  for d in birth.get_json()["doses"]) == [
        ("bcg", 1, "BCG", "BCG-01"), ("hepb-birth", 1, "HEPB", "HB-01"),
        ("opv", 1, "BOPV", "OPV-01")]

    due = client.get(f"/api/v1/vaccinator/people/{ref}/due-today",
                     headers={**auth(token), "Accept-Language": "hi"})
    body = due.get_json()
    assert sorted((d["schedule"], d["dose"], d["status"]) for d in body["due"]) == [
        ("dtp", 1, "due"), ("fipv", 1, "due"), ("opv", 2, "due"), ("pcv", 1, "due"),
        ("rotavirus", 1, "due")]
    names = {d["schedule"]: d["name"] for d in body["due"]}
    assert names["opv"] == "पोलियो"
    dtp = next(d for d in body["due"] if d["schedule"] == "dtp")
    birth = today() - timedelta(days=42)
    one_year = birth.replace(year=birth.year + 1) if (birth.month, birth.day) != (2, 29) \
        else birth.replace(year=birth.year + 1, day=28)
    assert dtp["vaccines"] == ["PENTA"] and dtp["latest"] == one_year.isoformat()
    assert dtp["due"] == (birth + timedelta(weeks=6)).isoformat()
    statuses = {(s["schedule"], s["dose"]): s["status"] for s in body["statuses"]}
    assert statuses[("bcg", 1)] == "done" and statuses[("mr", 1)] == "upcoming"

    visit = client.post(VISITS, headers={**auth(token), "Idempotency-Key": "tab-1-visit-9"},
                        json={"reference_id": ref, "doses": SIX_WEEKS})
    assert visit.status_code == 201, visit.get_json()
    recorded = sorted((d["schedule"], d["dose"], d["vaccine"]) for d in visit.get_json()["doses"])
    assert recorded == [("dtp", 1, "PENTA"), ("fipv", 1, "FIPV"), ("opv", 2, "BOPV"),
                        ("pcv", 1, "PCV"), ("rotavirus", 1, "ROTA")]
    again = client.post(VISITS, headers={**auth(token), "Idempotency-Key": "tab-1-visit-9"},
                        json={"reference_id": ref, "doses": SIX_WEEKS})
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert sorted(d["dose_id"] for d in again.get_json()["doses"]) == sorted(
        d["dose_id"] for d in visit.get_json()["doses"])
    assert count(reg_app, Dose) == 8
    assert count(reg_app, CertificateDue) == 0  # routine doses: no COVID-19 certificate
    assert count(reg_app, AuditEvent, AuditEvent.action == "dose.record") == 8
    assert due_codes(client, token, ref) == []
    # given today, again: the series moved on, so it is too early for the next dose
    repeat = client.post(VISITS, headers=auth(token), json={
        "reference_id": ref, "doses": [{"vaccine": "PENTA", "lot": "PN-02"}]})
    assert repeat.status_code == 422 and repeat.get_json()["code"] == "dose_too_early"
    assert repeat.mimetype == "application/problem+json"


def test_a_refused_product_writes_nothing_of_the_visit(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    ref = child(reg_app, client, token, days_old=42)
    cases = [
        ([*SIX_WEEKS[:2], {"vaccine": "MR", "lot": "MR-1"}], "dose_too_early"),
        ([*SIX_WEEKS[:2], {"vaccine": "HEPB", "lot": "HB-1"}], "dose_missed"),
        ([*SIX_WEEKS[:2], {"vaccine": "COVISHIELD", "lot": "C-1"}], "vaccine_not_routine"),
        ([*SIX_WEEKS[:2], {"vaccine": "DPT", "lot": "D-1"}], "vaccine_not_for_dose"),
        ([*SIX_WEEKS[:2], {"vaccine": "PENTA", "lot": "P-9"}], "vaccine_twice"),
        ([{"vaccine": "PENTA", "lot": "P-9", "schedule": "opv"}], "schedule_not_found"),
        ([{"vaccine": "NOPE", "lot": "P-9"}], "vaccine_not_found"),
    ]
    for doses, code in cases:
        refused = client.post(VISITS, headers=auth(token),
                              json={"reference_id": ref, "doses": doses})
        assert refused.get_json()["code"] == code, (code, refused.get_json())
        assert refused.mimetype == "application/problem+json"
    bad = client.post(VISITS, headers=auth(token), json={"reference_id": ref, "doses": []})
    assert bad.status_code == 422
    no_lot = client.post(VISITS, headers=auth(token), json={
        "reference_id": ref, "doses": [{"vaccine": "PENTA", "lot": "  "}]})
    assert no_lot.status_code == 422 and no_lot.get_json()["code"] == "invalid_lot"
    assert count(reg_app, Dose) == 0
    # a year and a day later, rotavirus can no longer be started
    old = child(reg_app, client, token, days_old=400, name="Ravi", mobile="9876500002")
    late = client.post(VISITS, headers=auth(token), json={
        "reference_id": old, "doses": [{"vaccine": "ROTA", "lot": "RV-1"}]})
    assert late.get_json()["code"] == "catch_up_limit_passed"
    done = client.post(VISITS, headers=auth(token), json={
        "reference_id": old, "doses": [{"vaccine": "BCG", "lot": "B-1"}]})
    assert done.get_json()["code"] == "dose_missed"  # BCG: till one year of age
    assert count(reg_app, Dose) == 0


def test_the_vaccinator_s_facility_scope_and_the_person_lookup(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    ref = child(reg_app, client, token, days_old=0)
    publish(reg_app, code="F-TVM-2")
    elsewhere = client.post(VISITS, headers=auth(token), json={
        "reference_id": ref, "facility": "F-TVM-2", "doses": BIRTH_DOSES})
    assert elsewhere.status_code == 403
    missing = client.get("/api/v1/vaccinator/people/00000000000000/due-today",
                         headers=auth(token))
    assert missing.status_code == 404 and missing.get_json()["code"] == "beneficiary_not_found"
    assert client.get(f"/api/v1/vaccinator/people/{ref}/due-today").status_code == 401
    assert count(reg_app, Dose) == 0


def test_routine_doses_leave_the_booked_covid_series_alone(reg_app):
    """A person with a routine dose (an adult's catch-up Td) can still book and record
    COVID-19 dose 1, and stays "Not Vaccinated" until then."""
    client = reg_app.test_client()
    session_id = publish(reg_app, days_ahead=0, code="F-TVM-1", slots="00:00-23:59")
    token = staff_token(reg_app, client, "anm.covid", "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, client, mobile="9876500009")
    (ref,) = add_members(reg_app, client, citizen, 1)
    td = client.post(VISITS, headers=auth(token), json={
        "reference_id": ref, "doses": [{"vaccine": "TD", "lot": "TD-1"}]})
    assert td.status_code == 201, td.get_json()
    assert td.get_json()["doses"][0]["schedule"] == "td-adolescent"
    listed = client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()
    assert listed["beneficiaries"][0]["vaccination_status"] == "Not Vaccinated"
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        account = session.scalars(select(CitizenAccount)).one()
        bookings.book(session, active_pack(), account, session_id=session_id,
                      slot="00:00-23:59", reference_ids=[ref],  # before the same-day cut-off
                      now=datetime.now(timezone.utc).replace(hour=3, minute=0))
    appointments = client.get("/api/v1/appointments", headers=auth(citizen)).get_json()
    assert [a["dose"] for a in appointments["appointments"]] == [1]
    code = secret_code(client, citizen, ref)
    dose = client.post("/api/v1/vaccinator/doses", headers=auth(token), json={
        "reference_id": ref, "secret_code": code, "vaccine": "COVISHIELD", "lot": "4121Z005"})
    assert dose.status_code == 201 and dose.get_json()["dose"] == 1, dose.get_json()
    listed = client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()
    assert listed["beneficiaries"][0]["vaccination_status"] == "Partially Vaccinated"
    assert count(reg_app, CertificateDue) == 1
    assert count(reg_app, Dose) == 2


def test_a_schedule_for_girls_is_refused_for_a_boy(reg_app):
    """India's pack gives HPV to girls of 14: a boy of that age is refused with a stable
    code and nothing is written; a girl of the same age gets her dose."""
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    numbers = valid_aadhaar(2)
    born = today() - timedelta(days=14 * 366 + 10)
    refs = {}
    for sex, name, mobile, number in (("M", "Arun", "9876500011", numbers[0]),
                                      ("F", "Anjali", "9876500012", numbers[1])):
        response = client.post(PEOPLE, headers=auth(token), json={
            "name": name, "birth_date": born.isoformat(), "gender": sex, "mobile": mobile,
            "location": "IN-KL-TVM", "id_type": "aadhaar", "id_number": number})
        assert response.status_code == 201, response.get_json()
        refs[sex] = response.get_json()["reference_id"]
    assert "hpv" not in {d[0] for d in due_codes(client, token, refs["M"])}
    assert "hpv" in {d[0] for d in due_codes(client, token, refs["F"])}
    before = count(reg_app, Dose)
    boy = client.post(VISITS, headers=auth(token), json={
        "reference_id": refs["M"], "doses": [{"vaccine": "HPV4", "lot": "HPV-01"}]})
    assert boy.status_code == 422 and boy.get_json()["code"] == "vaccine_not_for_person"
    assert count(reg_app, Dose) == before
    girl = client.post(VISITS, headers=auth(token), json={
        "reference_id": refs["F"], "doses": [{"vaccine": "HPV4", "lot": "HPV-01"}]})
    assert girl.status_code == 201, girl.get_json()
    assert count(reg_app, Dose) == before + 1
