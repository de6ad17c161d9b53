"""Corrections with maker-checker approval through the API: nothing changes until another
staff member approves, then the certificate is revoked and reissued with the corrected
facts; a voided dose leaves the record; the maker cannot approve their own request; a
person is moved to another mobile by staff (with approval) or by themselves (secret code
and OTP); citizens' grievances and the staff queue with ages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.certificates import services as certificates
from cowin_kit.certificates.verify import verify
from cowin_kit.core.db import get_database
from cowin_kit.corrections.models import SetAsideDose
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.testing import auth, last_otp, secret_code, run_worker, staff_token, today

STAFF = "/api/v1/staff"


def count(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def dcc_vaccination(app, client, citizen, ref):
    body = client.get(f"/api/v1/beneficiaries/{ref}/certificate", headers=auth(citizen))
    assert body.status_code == 200, body.get_json()
    body = body.get_json()
    with app.app_context():
        payload = verify(body["formats"]["dcc"], trust=certificates.instance_trust_store()).payload
    return body["certificate_id"], payload["v"][0]


def maker_and_checker(app, client):
    maker = staff_token(app, client, "vax.maker", "vaccinator", facility_code="F-TVM-1")
    checker = staff_token(app, client, "dist.checker", "district_admin",
                          location_code="IN-KL-TVM")
    return maker, checker


def record_of(client, token, ref):
    response = client.get(f"{STAFF}/corrections/people/{ref}", headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_dose_correction_waits_for_approval_then_the_certificate_changes(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    old_id, old = dcc_vaccination(reg_app, client, citizen, ref)
    maker, checker = maker_and_checker(reg_app, client)
    (dose,) = record_of(client, maker, ref)["doses"]
    earlier = (today() - timedelta(days=3)).isoformat()
    proposed = client.post(f"{STAFF}/corrections", headers=auth(maker), json={
        "kind": "dose", "dose_id": dose["id"], "reason": "date typed wrong at the session",
        "changes": {"administered_on": earlier, "lot": "4121Z999"}})
    assert proposed.status_code == 201, proposed.get_json()
    request = proposed.get_json()
    assert request["status"] == "pending" and request["before"]["lot"] == "4121Z005"

    # Nothing has changed yet: same dose facts, same live certificate, nothing queued.
    assert record_of(client, maker, ref)["doses"][0]["lot"] == "4121Z005"
    assert run_worker(reg_app) == 0
    assert dcc_vaccination(reg_app, client, citizen, ref)[0] == old_id

    # The maker cannot approve their own request (nor can a vaccinator approve at all).
    own = client.post(f"{STAFF}/corrections/{request['id']}/approve", headers=auth(maker),
                      json={})
    assert own.status_code == 403
    assert dcc_vaccination(reg_app, client, citizen, ref)[0] == old_id
    queue = client.get(f"{STAFF}/corrections", headers=auth(checker)).get_json()["requests"]
    assert [r["id"] for r in queue] == [request["id"]]

    approved = client.post(f"{STAFF}/corrections/{request['id']}/approve",
                           headers=auth(checker), json={"note": "checked the register"})
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "applied"
    assert approved.get_json()["checker"] == "dist.checker"
    assert record_of(client, checker, ref)["doses"][0]["lot"] == "4121Z999"
    revoked = client.get("/api/v1/trust/revocations").get_json()["revoked"]
    assert old_id in revoked
    assert run_worker(reg_app) == 1
    new_id, new = dcc_vaccination(reg_app, client, citizen, ref)
    assert new_id != old_id and new["dt"] == earlier and old["dt"] != earlier
    again = client.post(f"{STAFF}/corrections/{request['id']}/approve", headers=auth(checker),
                        json={})
    assert again.status_code == 409 and again.get_json()["code"] == "already_decided"
    actions = {a for (a,) in _audit(reg_app)}
    assert {"correction.propose", "correction.approve", "certificate.revoke"} <= actions


def _audit(app):
    with app.app_context(), get_database(app).session() as session:
        return session.execute(select(AuditEvent.action)).all()


def test_a_maker_with_the_approving_grant_still_cannot_approve_their_own(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    _maker, checker = maker_and_checker(reg_app, client)
    proposed = client.post(f"{STAFF}/corrections", headers=auth(checker), json={
        "kind": "person", "reference_id": ref, "reason": "spelling on the ID card",
        "changes": {"name": "Aasha Devi"}}).get_json()
    own = client.post(f"{STAFF}/corrections/{proposed['id']}/approve", headers=auth(checker),
                      json={})
    assert own.status_code == 403 and own.get_json()["code"] == "maker_cannot_approve"
    other = staff_token(reg_app, client, "state.checker", "state_admin", location_code="IN-KL")
    rejected = client.post(f"{STAFF}/corrections/{proposed['id']}/reject",
                           headers=auth(other), json={"reason": "the ID card says Asha"})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    listed = client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()
    assert listed["beneficiaries"][0]["name"] == "Asha Devi"


def test_a_person_correction_reissues_the_certificate_with_the_new_name(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    old_id, _old = dcc_vaccination(reg_app, client, citizen, ref)
    maker, checker = maker_and_checker(reg_app, client)
    request = client.post(f"{STAFF}/corrections", headers=auth(maker), json={
        "kind": "person", "reference_id": ref, "reason": "name as on the ID card",
        "changes": {"name": "Asha Devi Menon"}}).get_json()
    assert client.post(f"{STAFF}/corrections/{request['id']}/approve", headers=auth(checker),
                       json={}).status_code == 200
    assert run_worker(reg_app) == 1
    with reg_app.app_context():
        body = client.get(f"/api/v1/beneficiaries/{ref}/certificate",
                          headers=auth(citizen)).get_json()
        payload = verify(body["formats"]["dcc"],
                         trust=certificates.instance_trust_store()).payload
    assert body["certificate_id"] != old_id and payload["nam"]["fn"] == "Menon"


def test_a_bad_proposal_writes_nothing(reg_app, vaccinated):
    client, _citizen, ref = vaccinated
    maker, _checker = maker_and_checker(reg_app, client)
    (dose,) = record_of(client, maker, ref)["doses"]
    bad = client.post(f"{STAFF}/corrections", headers=auth(maker), json={
        "kind": "dose", "dose_id": dose["id"], "reason": "x",
        "changes": {"administered_on": (today() + timedelta(days=2)).isoformat(),
                    "product": "NOPE"}})
    assert bad.status_code == 422
    problem = client.post(f"{STAFF}/corrections", headers=auth(maker), json={
        "kind": "dose", "dose_id": dose["id"], "reason": "typed wrong",
        "changes": {"administered_on": (today() + timedelta(days=2)).isoformat(),
                    "product": "NOPE"}}).get_json()
    assert set(problem["errors"]) == {"administered_on", "product"}
    assert client.get(f"{STAFF}/corrections", headers=auth(maker)).get_json()["requests"] == []


def test_voiding_a_dose_recorded_in_error(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    old_id, _ = dcc_vaccination(reg_app, client, citizen, ref)
    maker, checker = maker_and_checker(reg_app, client)
    (dose,) = record_of(client, maker, ref)["doses"]
    request = client.post(f"{STAFF}/corrections", headers=auth(maker), json={
        "kind": "void_dose", "dose_id": dose["id"],
        "reason": "recorded on the wrong person"}).get_json()
    assert count(reg_app, Dose) == 1
    assert client.post(f"{STAFF}/corrections/{request['id']}/approve", headers=auth(checker),
                       json={}).status_code == 200
    assert count(reg_app, Dose) == 0 and count(reg_app, SetAsideDose) == 1
    assert old_id in client.get("/api/v1/trust/revocations").get_json()["revoked"]
    assert run_worker(reg_app) == 0
    assert client.get(f"/api/v1/beneficiaries/{ref}/certificate",
                      headers=auth(citizen)).status_code == 404
    listed = client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()
    assert listed["beneficiaries"][0]["vaccination_status"] == "Not Vaccinated"


def test_staff_move_a_person_to_another_mobile_with_approval(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    maker, checker = maker_and_checker(reg_app, client)
    request = client.post(f"{STAFF}/corrections", headers=auth(maker), json={
        "kind": "move", "reference_id": ref, "mobile": "9811122233",
        "reason": "operator typed the wrong number"}).get_json()
    assert request["changes"] == {"mobile": "+919811122233"}
    assert client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()[
        "beneficiaries"][0]["reference_id"] == ref
    assert client.post(f"{STAFF}/corrections/{request['id']}/approve", headers=auth(checker),
                       json={}).status_code == 200
    assert client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()[
        "beneficiaries"] == []
    from cowin_kit.testing import sign_in
    owner = sign_in(reg_app, client, mobile="9811122233")
    (moved,) = client.get("/api/v1/beneficiaries", headers=auth(owner)).get_json()["beneficiaries"]
    assert moved["reference_id"] == ref


def test_a_person_moves_themselves_with_the_secret_code_and_an_otp(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    code = secret_code(client, citizen, ref)
    wrong = client.post("/api/v1/people-moves", json={
        "reference_id": ref, "secret_code": "0000" if code != "0000" else "1111",
        "mobile": "9822233344"})
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "secret_code_invalid"
    started = client.post("/api/v1/people-moves", json={
        "reference_id": ref, "secret_code": code, "mobile": "9822233344"})
    assert started.status_code == 201, started.get_json()
    move = started.get_json()
    bad = client.post(f"/api/v1/people-moves/{move['move_id']}/confirm",
                      json={"txn_id": move["txn_id"], "otp": "000000"})
    assert bad.status_code == 401
    assert count(reg_app, CitizenAccount, CitizenAccount.mobile == "+919822233344") == 0
    done = client.post(f"/api/v1/people-moves/{move['move_id']}/confirm",
                       json={"txn_id": move["txn_id"], "otp": last_otp(reg_app, "33344")})
    assert done.status_code == 200, done.get_json()
    assert done.get_json() == {"reference_id": ref, "mobile_masked": "*********3344"}
    assert client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()[
        "beneficiaries"] == []
    with reg_app.app_context(), get_database(reg_app).session() as session:
        person = session.scalars(select(Beneficiary).where(Beneficiary.reference_id == ref)).one()
        assert session.get(CitizenAccount, person.account_id).mobile == "+919822233344"
    replay = client.post(f"/api/v1/people-moves/{move['move_id']}/confirm",
                         json={"txn_id": move["txn_id"], "otp": last_otp(reg_app, "33344")})
    assert replay.status_code == 404


def test_grievances_are_filed_followed_and_answered_by_area(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    filed = client.post("/api/v1/grievances", headers=auth(citizen), json={
        "category": "missing_dose", "reference_id": ref,
        "description": "My second dose is not on the certificate."})
    assert filed.status_code == 201, filed.get_json()
    grievance = filed.get_json()
    assert grievance["status"] == "open"
    refused = client.post("/api/v1/grievances", headers=auth(citizen), json={
        "category": "complaint", "description": "no"})
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]) == {"category", "description"}

    handler = staff_token(reg_app, client, "fac.admin", "facility_admin", facility_code="F-TVM-1")
    elsewhere = staff_token(reg_app, client, "other.admin", "district_admin",
                            location_code="IN-KL-KKD")
    queue = client.get(f"{STAFF}/grievances", headers=auth(handler)).get_json()["grievances"]
    assert [(g["id"], g["age_days"], g["overdue"]) for g in queue] == [(grievance["id"], 0, False)]
    assert client.get(f"{STAFF}/grievances", headers=auth(elsewhere)).get_json()[
        "grievances"] == []
    assert client.post(f"{STAFF}/grievances/{grievance['id']}", headers=auth(elsewhere),
                       json={"status": "in_progress"}).status_code == 403
    closing = client.post(f"{STAFF}/grievances/{grievance['id']}", headers=auth(handler),
                          json={"status": "resolved"})
    assert closing.status_code == 422 and closing.get_json()["code"] == "answer_required"
    answered = client.post(f"{STAFF}/grievances/{grievance['id']}", headers=auth(handler),
                           json={"status": "resolved", "answer": "Dose 2 was added."})
    assert answered.status_code == 200
    mine = client.get("/api/v1/grievances", headers=auth(citizen)).get_json()["grievances"]
    assert [(g["status"], g["answer"]) for g in mine] == [("resolved", "Dose 2 was added.")]
    assert client.get(f"{STAFF}/grievances", headers=auth(handler)).get_json()[
        "grievances"] == []
