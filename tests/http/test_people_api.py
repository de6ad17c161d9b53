"""People registered by health workers through the staff API: newborns and children without
an ID document (below the pack's id_exempt_below age, 5 years by default) linked to a
guardian, an ID required from that age, the household limit, the worker's area, and
pregnancies whose outcome registers the newborns linked to the mother."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core.db import get_database
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Pregnancy
from cowin_kit.testing import auth, publish, sign_in, staff_token, today, valid_aadhaar

PEOPLE = "/api/v1/staff/people"


def count(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def newborn(**extra) -> dict:
    return {"name": "Baby of Meena", "birth_date": (today() - timedelta(days=3)).isoformat(),
            "gender": "F", "mobile": "9876500001", "location": "IN-KL-TVM",
            "guardian_name": "Meena Kumari", "guardian_relation": "mother", **extra}


def vaccinator(app, client, username="anm.tvm", facility="F-TVM-1"):
    publish(app, code=facility)
    return staff_token(app, client, username, "vaccinator", facility_code=facility)


def test_a_newborn_without_an_id_document_linked_to_a_guardian(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    response = client.post(PEOPLE, headers=auth(token), json=newborn(external_id="HMIS-1"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id_type"] is None and body["id_number_masked"] == ""
    assert body["guardian_name"] == "Meena Kumari" and body["guardian_relation"] == "mother"
    assert body["location"] == "IN-KL-TVM" and body["facility"] == "F-TVM-1"
    assert body["registered_by"] == "anm.tvm" and body["created"] is True
    assert body["mobile_masked"].endswith("0001") and "98765" not in body["mobile_masked"]
    ref = body["reference_id"]
    shown = client.get(f"{PEOPLE}/{ref}", headers=auth(token)).get_json()
    assert shown["reference_id"] == ref and shown["external_id"] == "HMIS-1"
    # The guardian signs in with the mobile and sees the child, without an ID document.
    citizen = sign_in(reg_app, client, mobile="9876500001")
    listed = client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()
    (child,) = listed["beneficiaries"]
    assert child["reference_id"] == ref and child["id_type"] is None
    assert child["id_number_masked"] == ""
    v2 = client.get("/api/v2/appointment/beneficiaries", headers=auth(citizen)).get_json()
    assert v2["beneficiaries"][0]["photo_id_type"] == ""
    assert count(reg_app, AuditEvent, AuditEvent.action == "person.register") == 1


def test_registration_is_idempotent_on_external_id(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    first = client.post(PEOPLE, headers=auth(token), json=newborn(external_id="HMIS-7"))
    again = client.post(PEOPLE, headers=auth(token), json=newborn(external_id="HMIS-7"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["reference_id"] == first.get_json()["reference_id"]
    assert again.get_json()["created"] is False
    other = client.post(PEOPLE, headers=auth(token),
                        json=newborn(external_id="HMIS-7", name="Somebody Else"))
    assert other.status_code == 409 and other.get_json()["code"] == "external_id_in_use"
    assert count(reg_app, Beneficiary) == 1


def test_an_id_document_is_required_from_the_exempt_age(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    six = (today() - timedelta(days=6 * 366)).isoformat()
    refused = client.post(PEOPLE, headers=auth(token), json=newborn(birth_date=six))
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["code"] == "invalid_person"
    assert "id_number" in refused.get_json()["errors"]
    assert count(reg_app, Beneficiary) == 0 and count(reg_app, CitizenAccount) == 0
    number = valid_aadhaar(1)[0]
    accepted = client.post(PEOPLE, headers=auth(token), json=newborn(
        birth_date=six, name="Arjun", gender="M", id_type="aadhaar", id_number=number))
    assert accepted.status_code == 201, accepted.get_json()
    assert accepted.get_json()["id_type"] == "aadhaar"
    assert accepted.get_json()["id_number_masked"].endswith(number[-4:])
    assert number not in accepted.get_data(as_text=True)
    # Just below the age no document is needed.
    four = (today() - timedelta(days=4 * 365)).isoformat()
    young = client.post(PEOPLE, headers=auth(token), json=newborn(birth_date=four, name="Anu"))
    assert young.status_code == 201, young.get_json()


def test_bad_input_names_every_field_and_writes_nothing(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    future = (today() + timedelta(days=2)).isoformat()
    response = client.post(PEOPLE, headers=auth(token), json=newborn(
        birth_date=future, gender="X", mobile="1234", location="NOWHERE", guardian_name=None,
        guardian_relation=None))
    assert response.status_code == 422
    fields = response.get_json()["errors"]
    assert {"birth_date", "gender", "mobile", "location", "guardian_name",
            "guardian_relation"} <= set(fields)
    missing_date = client.post(PEOPLE, headers=auth(token),
                               json={k: v for k, v in newborn().items() if k != "birth_date"})
    assert missing_date.status_code == 422 and "birth_date" in missing_date.get_json()["errors"]
    assert count(reg_app, Beneficiary) == 0 and count(reg_app, CitizenAccount) == 0
    assert count(reg_app, AuditEvent, AuditEvent.action.like("person.%")) == 0


def test_the_household_limit_counts_children(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    for index in range(6):  # the India pack's routine.household_limit: 6 people per account
        made = client.post(PEOPLE, headers=auth(token), json=newborn(name=f"Child {index}"))
        assert made.status_code == 201, made.get_json()
    seventh = client.post(PEOPLE, headers=auth(token), json=newborn(name="Child 7"))
    assert seventh.status_code == 422 and seventh.get_json()["code"] == "household_limit_reached"
    assert count(reg_app, Beneficiary) == 6


def test_a_worker_registers_only_in_their_place(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    publish(reg_app, code="F-TVM-2", days_ahead=4)
    elsewhere = client.post(PEOPLE, headers=auth(token), json=newborn(facility="F-TVM-2"))
    assert elsewhere.status_code == 403
    other_district = staff_token(reg_app, client, "ekm.admin", "district_admin",
                                 location_code="IN-KL-EKM")
    refused = client.post(PEOPLE, headers=auth(other_district), json=newborn(facility=""))
    assert refused.status_code == 403
    verifier = staff_token(reg_app, client, "ver.one", "verifier")
    assert client.post(PEOPLE, headers=auth(verifier), json=newborn()).status_code == 403
    assert count(reg_app, Beneficiary) == 0
    district = staff_token(reg_app, client, "tvm.admin", "district_admin",
                           location_code="IN-KL-TVM")
    made = client.post(PEOPLE, headers=auth(district), json=newborn(facility=""))
    assert made.status_code == 201 and made.get_json()["facility"] is None
    ref = made.get_json()["reference_id"]
    assert client.get(f"{PEOPLE}/{ref}", headers=auth(other_district)).status_code == 403
    # A facility's vaccinator does not reach a person of the area without that facility.
    assert client.get(f"{PEOPLE}/{ref}", headers=auth(token)).status_code == 403
    assert client.get(f"{PEOPLE}/{ref}", headers=auth(district)).status_code == 200


def test_a_pregnancy_and_its_outcome_register_the_newborns_linked_to_the_mother(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    registered_on = today() - timedelta(days=200)
    woman = client.post(PEOPLE, headers=auth(token), json={
        "name": "Meena Kumari", "birth_date": "1998-04-02", "gender": "F",
        "mobile": "9876500002", "location": "IN-KL-TVM", "id_type": "aadhaar",
        "id_number": valid_aadhaar(1)[0],
        "pregnancy": {"registered_on": registered_on.isoformat(),
                      "lmp": (registered_on - timedelta(weeks=10)).isoformat(),
                      "edd": (registered_on + timedelta(weeks=30)).isoformat()}})
    assert woman.status_code == 201, woman.get_json()
    mother = woman.get_json()["reference_id"]
    (pregnancy,) = woman.get_json()["pregnancies"]
    assert pregnancy["outcome"] is None
    second = client.post(f"{PEOPLE}/{mother}/pregnancies", headers=auth(token),
                         json={"registered_on": today().isoformat()})
    assert second.status_code == 409 and second.get_json()["code"] == "pregnancy_open"
    born = today() - timedelta(days=1)
    outcome_url = f"{PEOPLE}/{mother}/pregnancies/{pregnancy['id']}/outcome"
    bad = client.post(outcome_url, headers=auth(token), json={
        "outcome": "live_birth", "outcome_date": born.isoformat(), "newborns": []})
    assert bad.status_code == 422 and "newborns" in bad.get_json()["errors"]
    twins = [{"name": "Baby One", "gender": "F"}, {"name": "Baby Two", "gender": "M"}]
    recorded = client.post(outcome_url, headers=auth(token), json={
        "outcome": "live_birth", "outcome_date": born.isoformat(), "newborns": twins})
    assert recorded.status_code == 201, recorded.get_json()
    body = recorded.get_json()
    assert body["pregnancy"]["outcome"] == "live_birth" and len(body["newborns"]) == 2
    for baby in body["newborns"]:
        assert baby["mother_reference_id"] == mother and baby["id_type"] is None
        assert baby["birth_date"] == born.isoformat() and baby["location"] == "IN-KL-TVM"
        assert baby["facility"] == "F-TVM-1" and baby["guardian_relation"] == "mother"
        assert baby["mobile_masked"].endswith("0002")
    again = client.post(outcome_url, headers=auth(token), json={
        "outcome": "live_birth", "outcome_date": born.isoformat(), "newborns": twins})
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert {b["reference_id"] for b in again.get_json()["newborns"]} == \
        {b["reference_id"] for b in body["newborns"]}
    other = client.post(outcome_url, headers=auth(token), json={
        "outcome": "stillbirth", "outcome_date": born.isoformat()})
    assert other.status_code == 409 and other.get_json()["code"] == "outcome_recorded"
    shown = client.get(f"{PEOPLE}/{mother}", headers=auth(token)).get_json()
    assert sorted(shown["children"]) == sorted(b["reference_id"] for b in body["newborns"])
    assert count(reg_app, Beneficiary) == 3 and count(reg_app, Pregnancy) == 1
    assert count(reg_app, AuditEvent, AuditEvent.action == "pregnancy.outcome") == 1
    # The next pregnancy may now be registered.
    nxt = client.post(f"{PEOPLE}/{mother}/pregnancies", headers=auth(token),
                      json={"registered_on": today().isoformat()})
    assert nxt.status_code == 201, nxt.get_json()


def test_a_stillbirth_registers_nobody_and_dates_are_checked(reg_app):
    client = reg_app.test_client()
    token = vaccinator(reg_app, client)
    woman = client.post(PEOPLE, headers=auth(token), json={
        "name": "Lata", "birth_date": "1995-01-01", "gender": "F", "mobile": "9876500003",
        "location": "IN-KL-TVM", "id_type": "aadhaar", "id_number": valid_aadhaar(1)[0]})
    mother = woman.get_json()["reference_id"]
    wrong = client.post(f"{PEOPLE}/{mother}/pregnancies", headers=auth(token), json={
        "registered_on": today().isoformat(),
        "lmp": (today() + timedelta(days=1)).isoformat()})
    assert wrong.status_code == 422 and "lmp" in wrong.get_json()["errors"]
    made = client.post(f"{PEOPLE}/{mother}/pregnancies", headers=auth(token), json={
        "registered_on": (today() - timedelta(days=30)).isoformat()})
    assert made.status_code == 201
    url = f"{PEOPLE}/{mother}/pregnancies/{made.get_json()['id']}/outcome"
    before = client.post(url, headers=auth(token), json={
        "outcome": "stillbirth", "outcome_date": (today() - timedelta(days=60)).isoformat()})
    assert before.status_code == 422 and "outcome_date" in before.get_json()["errors"]
    with_baby = client.post(url, headers=auth(token), json={
        "outcome": "stillbirth", "outcome_date": today().isoformat(),
        "newborns": [{"name": "X", "gender": "F"}]})
    assert with_baby.status_code == 422
    done = client.post(url, headers=auth(token), json={
        "outcome": "stillbirth", "outcome_date": today().isoformat()})
    assert done.status_code == 201 and done.get_json()["newborns"] == []
    assert count(reg_app, Beneficiary) == 1
