"""The field app's sync API (issue 15): prepare, exact-once uploads (resent, cut in the
middle, sent twice at once on PostgreSQL), conflicts into the review queue with the
outcome told to the device, refusals with their codes in the request's language, and
certificates of synced doses through the outbox."""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.certificates.models import Certificate
from cowin_kit.core.db import get_database
from cowin_kit.fieldsync.models import FieldRecord, FieldReview
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.testing import auth, publish, run_worker, staff_token, valid_aadhaar

SYNC = "/api/v1/field/sync"
PREPARE = "/api/v1/field/prepare"
REVIEWS = "/api/v1/field/reviews"


def count(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def cid() -> str:
    return str(uuid.uuid4())


def ago(days: float = 0, hours: float = 1) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days, hours=hours)).isoformat()


def person(client_id: str, number: str, name: str, mobile: str = "9876500001") -> dict:
    return {"client_id": client_id, "kind": "register_person", "recorded_at": ago(),
            "payload": {"name": name, "birth_date": "1980-05-01", "gender": "F",
                        "mobile": mobile, "location": "IN-KL-TVM", "id_type": "aadhaar",
                        "id_number": number}}


def dose(client_id: str, who: str, *, product="COVISHIELD", lot="LOT-A", number=None,
         days=0) -> dict:
    payload = {"person": who, "product": product, "lot": lot, "administered_at": ago(days)}
    if number is not None:
        payload["dose"] = number
    return {"client_id": client_id, "kind": "record_dose", "recorded_at": ago(),
            "payload": payload}


def field_worker(app, client, username="anm.field", facility="F-TVM-1"):
    publish(app, code=facility)
    return staff_token(app, client, username, "vaccinator", facility_code=facility)


def offline_batch(n_people=3):
    """n people registered offline and two doses each (dose 1 long ago, dose 2 today),
    the doses referring to the people by client id."""
    numbers = valid_aadhaar(n_people)
    people = [person(cid(), numbers[i], f"Field Person {i}", mobile=f"98765000{i:02d}")
              for i in range(n_people)]
    doses = []
    for p in people:
        doses.append(dose(cid(), "client:" + p["client_id"], days=100, number=1))
        doses.append(dose(cid(), "client:" + p["client_id"], lot="LOT-B", number=2))
    return people + doses


def test_an_offline_batch_is_recorded_once_and_answered_per_record(reg_app):
    client = reg_app.test_client()
    token = field_worker(reg_app, client)
    device = cid()
    records = offline_batch(3)
    first = client.post(SYNC, headers=auth(token), json={"device_id": device,
                                                         "records": records})
    assert first.status_code == 200, first.get_json()
    results = first.get_json()["results"]
    assert [r["client_id"] for r in results] == [r["client_id"] for r in records]
    assert {r["status"] for r in results} == {"accepted"}, results
    refs = [r["reference_id"] for r in results[:3]]
    assert all(r["dose_ids"] for r in results[3:])
    assert count(reg_app, Beneficiary) == 3 and count(reg_app, Dose) == 6
    with reg_app.app_context(), get_database(reg_app).session() as session:
        doses = session.scalars(select(Dose).order_by(Dose.id)).all()
        assert {d.vaccinator for d in doses} == {"anm.field"}
        registered = session.scalars(select(Beneficiary)).all()
        assert {b.registered_by for b in registered} == {"anm.field"}
        assert sorted(b.reference_id for b in registered) == sorted(refs)
    # The whole batch again (its answer was lost): every record is a duplicate with the
    # first answer, nothing new.
    again = client.post(SYNC, headers=auth(token), json={"device_id": device,
                                                         "records": records})
    answers = again.get_json()["results"]
    assert {r["status"] for r in answers} == {"duplicate"}
    assert {r["first_status"] for r in answers} == {"accepted"}
    assert [r.get("reference_id") for r in answers[:3]] == refs
    assert [r["dose_ids"] for r in answers[3:]] == [r["dose_ids"] for r in results[3:]]
    assert count(reg_app, Beneficiary) == 3 and count(reg_app, Dose) == 6
    assert count(reg_app, FieldRecord) == len(records)


def test_a_batch_cut_in_the_middle_then_resent_records_every_dose_once(reg_app):
    client = reg_app.test_client()
    token = field_worker(reg_app, client)
    device = cid()
    records = offline_batch(4)
    half = len(records) // 2 + 1  # the people and the first doses
    cut = client.post(SYNC, headers=auth(token), json={"device_id": device,
                                                       "records": records[:half]})
    assert {r["status"] for r in cut.get_json()["results"]} == {"accepted"}
    whole = client.post(SYNC, headers=auth(token), json={"device_id": device,
                                                         "records": records})
    statuses = [r["status"] for r in whole.get_json()["results"]]
    assert statuses == ["duplicate"] * half + ["accepted"] * (len(records) - half)
    assert count(reg_app, Beneficiary) == 4 and count(reg_app, Dose) == 8


def test_the_same_batch_sent_twice_at_once_records_each_dose_once(pg_app):
    client = pg_app.test_client()
    token = field_worker(pg_app, client)
    device = cid()
    records = offline_batch(5)
    answers: list = []
    start = threading.Barrier(2)

    def send():
        start.wait()
        response = pg_app.test_client().post(SYNC, headers=auth(token), json={
            "device_id": device, "records": records})
        answers.append(response)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200, 200], [a.get_json() for a in answers]
    for index in range(len(records)):
        pair = sorted(a.get_json()["results"][index]["status"] for a in answers)
        assert pair == ["accepted", "duplicate"], (index, pair)
    assert count(pg_app, Beneficiary) == 5 and count(pg_app, Dose) == 10
    assert count(pg_app, AuditEvent, AuditEvent.action == "dose.record") == 10


def test_two_devices_record_the_same_dose_one_goes_to_review_and_both_are_told(reg_app):
    client = reg_app.test_client()
    token_a = field_worker(reg_app, client, "anm.a")
    token_b = staff_token(reg_app, client, "anm.b", "vaccinator", facility_code="F-TVM-1")
    device_a, device_b = cid(), cid()
    registered = client.post(SYNC, headers=auth(token_a), json={
        "device_id": device_a, "records": [person(cid(), valid_aadhaar(1)[0], "Asha")]})
    ref = registered.get_json()["results"][0]["reference_id"]
    a = client.post(SYNC, headers=auth(token_a), json={
        "device_id": device_a, "records": [dose(cid(), ref)]}).get_json()["results"][0]
    b_record = dose(cid(), ref, lot="LOT-Z")
    b = client.post(SYNC, headers=auth(token_b), json={
        "device_id": device_b, "records": [b_record]}).get_json()["results"][0]
    assert a["status"] == "accepted"
    assert b["status"] == "conflict" and b["code"] == "same_dose_other_device"
    assert b["review_id"] and b["message"]
    assert count(reg_app, Dose) == 1
    supervisor = staff_token(reg_app, client, "sup.tvm", "facility_admin",
                             facility_code="F-TVM-1")
    listed = client.get(REVIEWS, headers=auth(supervisor))
    assert listed.status_code == 200, listed.get_json()
    (review,) = listed.get_json()["reviews"]
    assert review["id"] == b["review_id"] and review["staff"] == "anm.b"
    assert review["facility"] == "F-TVM-1" and review["payload"]["lot"] == "LOT-Z"
    # A vaccinator may not decide; the supervisor rejects, noting why.
    refused = client.post(f"{REVIEWS}/{review['id']}/decide", headers=auth(token_a),
                          json={"decision": "accept"})
    assert refused.status_code == 403
    decided = client.post(f"{REVIEWS}/{review['id']}/decide", headers=auth(supervisor),
                          json={"decision": "reject", "note": "recorded twice"})
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["status"] == "rejected"
    assert decided.get_json()["decided_by"] == "sup.tvm"
    again = client.post(f"{REVIEWS}/{review['id']}/decide", headers=auth(supervisor),
                        json={"decision": "accept"})
    assert again.status_code == 409 and again.get_json()["code"] == "review_decided"
    # Device B learns the outcome at its next sync; device A has nothing to learn.
    told = client.get(f"/api/v1/field/outcomes?device_id={device_b}", headers=auth(token_b))
    assert told.status_code == 200, told.get_json()
    (outcome,) = told.get_json()["outcomes"]
    assert outcome["client_id"] == b_record["client_id"]
    assert outcome["decision"] == "rejected" and outcome["note"] == "recorded twice"
    cursor = told.get_json()["cursor"]
    later = client.get(f"/api/v1/field/outcomes?device_id={device_b}&since={cursor}",
                       headers=auth(token_b)).get_json()
    assert later["outcomes"] == [] and later["cursor"] == cursor
    nothing = client.get(f"/api/v1/field/outcomes?device_id={device_a}",
                         headers=auth(token_a)).get_json()
    assert nothing["outcomes"] == []
    assert count(reg_app, Dose) == 1
    assert count(reg_app, AuditEvent, AuditEvent.action == "field.review.reject") == 1


def test_a_person_registered_twice_offline_is_reviewed_and_accepting_registers_them(reg_app):
    client = reg_app.test_client()
    token_a = field_worker(reg_app, client, "anm.a")
    token_b = staff_token(reg_app, client, "anm.b", "vaccinator", facility_code="F-TVM-1")
    newborn = {"name": "Baby Meena", "birth_date": (datetime.now(timezone.utc)
                                                    - timedelta(days=5)).date().isoformat(),
               "gender": "F", "mobile": "9876500009", "location": "IN-KL-TVM",
               "guardian_name": "Meena", "guardian_relation": "mother"}
    first = client.post(SYNC, headers=auth(token_a), json={"device_id": cid(), "records": [
        {"client_id": cid(), "kind": "register_person", "recorded_at": ago(),
         "payload": newborn}]}).get_json()["results"][0]
    assert first["status"] == "accepted"
    device_b = cid()
    twin = {"client_id": cid(), "kind": "register_person", "recorded_at": ago(),
            "payload": newborn}
    second = client.post(SYNC, headers=auth(token_b), json={"device_id": device_b,
                                                            "records": [twin]})
    result = second.get_json()["results"][0]
    assert result["status"] == "conflict" and result["code"] == "person_registered_twice"
    assert count(reg_app, Beneficiary) == 1
    supervisor = staff_token(reg_app, client, "sup.tvm", "facility_admin",
                             facility_code="F-TVM-1")
    accepted = client.post(f"{REVIEWS}/{result['review_id']}/decide",
                           headers=auth(supervisor),
                           json={"decision": "accept", "note": "twins"})
    assert accepted.status_code == 200, accepted.get_json()
    assert count(reg_app, Beneficiary) == 2
    with reg_app.app_context(), get_database(reg_app).session() as session:
        newest = session.scalars(select(Beneficiary).order_by(Beneficiary.id.desc())).first()
        assert newest.registered_by == "anm.b"  # who registered them in the field
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "person.register",
            AuditEvent.object_id == newest.reference_id)).one()
        assert event.actor_id == "sup.tvm"  # who accepted it
    (outcome,) = client.get(f"/api/v1/field/outcomes?device_id={device_b}",
                            headers=auth(token_b)).get_json()["outcomes"]
    assert outcome["decision"] == "accepted" and outcome["reference_id"] == newest.reference_id


def test_an_id_number_in_the_review_queue_is_kept_only_masked_or_encrypted(reg_app):
    client = reg_app.test_client()
    token = field_worker(reg_app, client)
    number = valid_aadhaar(1)[0]
    client.post(SYNC, headers=auth(token), json={"device_id": cid(), "records": [
        person(cid(), number, "Asha Devi")]})
    twin = client.post(SYNC, headers=auth(token), json={"device_id": cid(), "records": [
        person(cid(), number, "Asha D.", mobile="9876500077")]}).get_json()["results"][0]
    assert twin["status"] == "conflict" and twin["code"] == "id_already_registered"
    supervisor = staff_token(reg_app, client, "sup.tvm", "facility_admin",
                             facility_code="F-TVM-1")
    listed = client.get(REVIEWS, headers=auth(supervisor))
    assert number not in listed.get_data(as_text=True)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        review = session.get(FieldReview, twin["review_id"])
        assert number not in str(review.payload) and review.id_number_encrypted
        assert number not in review.id_number_encrypted
        assert review.payload["id_number_masked"].endswith(number[-4:])
    # Accepting a record the registration still refuses changes nothing.
    accept = client.post(f"{REVIEWS}/{twin['review_id']}/decide", headers=auth(supervisor),
                         json={"decision": "accept"})
    assert accept.status_code == 409 and accept.get_json()["code"] == "id_already_registered"
    assert count(reg_app, Beneficiary) == 1
    assert count(reg_app, FieldReview, FieldReview.status == "open") == 1


def test_refusals_carry_the_services_codes_in_the_requests_language(reg_app):
    client = reg_app.test_client()
    token = field_worker(reg_app, client)
    device = cid()
    ref = client.post(SYNC, headers=auth(token), json={"device_id": device, "records": [
        person(cid(), valid_aadhaar(1)[0], "Asha")]}).get_json()["results"][0]["reference_id"]
    records = [dose(cid(), ref, product="NO-SUCH"), dose(cid(), "client:" + cid()),
               {"client_id": cid(), "kind": "record_dose", "recorded_at": ago(),
                "payload": {"person": ref}},
               dose(cid(), ref)]
    english = client.post(SYNC, headers=auth(token), json={"device_id": device,
                                                           "records": records})
    results = english.get_json()["results"]
    assert [r["status"] for r in results] == ["refused", "refused", "refused", "accepted"]
    assert results[0]["code"] == "vaccine_not_found"
    assert results[1]["code"] == "person_unknown"
    assert results[2]["code"] == "invalid_input" and "product" in results[2]["fields"]
    hindi = client.post(SYNC, headers={**auth(token), "Accept-Language": "hi"}, json={
        "device_id": device, "records": [dose(cid(), ref, product="NO-SUCH")]})
    message = hindi.get_json()["results"][0]["message"]
    assert hindi.get_json()["results"][0]["code"] == "vaccine_not_found"
    assert message and message != results[0]["message"]
    # the unknown person was not remembered: sent again later, it is judged again
    later = client.post(SYNC, headers=auth(token), json={"device_id": device,
                                                         "records": [records[1]]})
    assert later.get_json()["results"][0]["code"] == "person_unknown"
    assert count(reg_app, Dose) == 1


def test_bad_batches_are_refused_whole(reg_app):
    client = reg_app.test_client()
    token = field_worker(reg_app, client)
    assert client.post(SYNC, json={"device_id": cid(), "records": []}).status_code == 401
    empty = client.post(SYNC, headers=auth(token), json={"device_id": cid(), "records": []})
    assert empty.status_code == 422
    too_many = client.post(SYNC, headers=auth(token), json={
        "device_id": cid(), "records": [dose(cid(), "x") for _ in range(501)]})
    assert too_many.status_code == 422
    unknown_kind = client.post(SYNC, headers=auth(token), json={"device_id": cid(), "records": [
        {"client_id": cid(), "kind": "delete_everything", "recorded_at": ago(),
         "payload": {}}]})
    assert unknown_kind.status_code == 422 and count(reg_app, FieldRecord) == 0


def test_a_synced_covid_dose_gets_its_certificate_through_the_outbox(reg_app):
    from cowin_kit.certificates import services
    from cowin_kit.certificates.signing import keystore

    client = reg_app.test_client()
    with reg_app.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    token = field_worker(reg_app, client)
    records = offline_batch(1)[:2]  # the person and dose 1
    results = client.post(SYNC, headers=auth(token), json={
        "device_id": cid(), "records": records}).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert count(reg_app, Certificate) == 0
    assert run_worker(reg_app) == 1
    assert count(reg_app, Certificate) == 1


def test_prepare_gives_the_area_without_mobiles_or_id_numbers(reg_app):
    client = reg_app.test_client()
    token = field_worker(reg_app, client)
    number = valid_aadhaar(1)[0]
    records = [person(cid(), number, "Asha Devi", mobile="9876512345")]
    records.append(dose(cid(), "client:" + records[0]["client_id"], days=10, number=1))
    born = (datetime.now(timezone.utc) - timedelta(days=3)).date().isoformat()
    records.append({"client_id": cid(), "kind": "register_person", "recorded_at": ago(),
                    "payload": {"name": "Baby Asha", "birth_date": born, "gender": "F",
                                "mobile": "9876512345", "location": "IN-KL-TVM",
                                "guardian_name": "Asha Devi", "guardian_relation": "mother"}})
    client.post(SYNC, headers=auth(token), json={"device_id": cid(), "records": records})
    response = client.get(PREPARE + "?days=5", headers=auth(token))
    assert response.status_code == 200, response.get_json()
    bundle = response.get_json()
    text = response.get_data(as_text=True)
    assert number not in text and "9876512345" not in text
    someone, baby = bundle["people"]
    # the newborn's birth doses are due (India's UIP: BCG, OPV-0, HepB-0)
    assert {d["status"] for d in baby["due"] if d["dose"] == 1} & {"due", "overdue"}
    assert baby["doses"] == [] and baby["guardian_name"] == "Asha Devi"
    assert someone["name"] == "Asha Devi" and someone["mobile_last4"] == "2345"
    expected = hmac.new(bundle["mobile_salt"].encode(), b"+919876512345",
                        hashlib.sha256).hexdigest()
    assert someone["mobile_hash"] == expected
    assert someone["doses"][0]["product"] == "COVISHIELD"
    assert bundle["staff"]["username"] == "anm.field"
    assert bundle["staff"]["facilities"] == ["F-TVM-1"]
    assert bundle["pack"]["code"] == "IN" and bundle["pack"]["wipe_after_days"] == 7
    assert {"COVISHIELD"} <= {p["code"] for p in bundle["pack"]["products"]}
    assert any(p["code"] == "IN-KL-TVM" for p in bundle["pack"]["places"])
    assert len(bundle["sessions"]) == 1 and bundle["sessions"][0]["facility_code"] == "F-TVM-1"
    assert {"product": "COVISHIELD", "lot": "LOT-A"} in bundle["lots"]
    assert set(bundle["trust"]) >= {"shc_jwks", "dcc", "vc", "revoked"}
    # A verifier does not prepare for the field.
    verifier = staff_token(reg_app, client, "checker", "verifier")
    assert client.get(PREPARE, headers=auth(verifier)).status_code == 403


def test_prepare_carries_what_an_offline_verifier_needs(reg_app):
    """The trust part of the bundle: per DCC document signer the SubjectPublicKeyInfo of
    its certificate (WebCrypto imports it), the algorithm, the validity in seconds and the
    entry types it may sign; the issuer URL; the revoked ids."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from cowin_kit.certificates import services
    from cowin_kit.certificates.signing import keystore

    client = reg_app.test_client()
    with reg_app.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")  # a rotation
        issuer = reg_app.config["COWIN_KIT"]["PUBLIC_URL"].rstrip("/")
    token = field_worker(reg_app, client)
    trust = client.get(PREPARE, headers=auth(token)).get_json()["trust"]
    assert trust["issuer"] == issuer and trust["revoked"] == []
    assert len(trust["dcc"]) == 2 and len(trust["vc"]) == 2 and len(trust["shc_jwks"]["keys"]) == 2
    for signer in trust["dcc"]:
        certificate = x509.load_der_x509_certificate(base64.b64decode(signer["certificate"]))
        assert base64.b64decode(signer["spki"]) == certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert signer["alg"] == "ES256" and signer["entry_types"] == ["v"]
        assert signer["not_before"] == int(certificate.not_valid_before_utc.timestamp())
        assert signer["not_after"] == int(certificate.not_valid_after_utc.timestamp())
        assert base64.b64decode(signer["kid"]) == hashlib.sha256(
            base64.b64decode(signer["certificate"])).digest()[:8]


def newborn_record() -> dict:
    """A child born today (in India's time), so that the birth dose of hepatitis B (within
    24 hours) is still due."""
    from zoneinfo import ZoneInfo

    born = (datetime.now(timezone.utc) - timedelta(hours=1)).astimezone(
        ZoneInfo("Asia/Kolkata")).date().isoformat()
    return {"client_id": cid(), "kind": "register_person", "recorded_at": ago(),
            "payload": {"name": "Baby Lakshmi", "birth_date": born, "gender": "F",
                        "mobile": "9876500021", "location": "IN-KL-TVM",
                        "guardian_name": "Lakshmi", "guardian_relation": "mother"}}


def visit(client_id: str, who: str, doses: list[tuple[str, str]]) -> dict:
    return {"client_id": client_id, "kind": "record_visit", "recorded_at": ago(),
            "payload": {"person": who, "administered_at": ago(hours=0.5),
                        "doses": [{"product": p, "lot": lot} for p, lot in doses]}}


def test_a_newborns_birth_doses_recorded_offline_in_one_visit_sync_once(reg_app):
    client = reg_app.test_client()
    token = field_worker(reg_app, client)
    baby = newborn_record()
    birth = visit(cid(), "client:" + baby["client_id"],
                  [("BCG", "BCG-01"), ("BOPV", "OPV-01"), ("HEPB", "HB-01")])
    records = [baby, birth]
    first = client.post(SYNC, headers=auth(token), json={"device_id": cid(),
                                                         "records": records})
    results = first.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"], results
    assert len(results[1]["dose_ids"]) == 3
    again = client.post(SYNC, headers=auth(token), json={"device_id": cid(),
                                                         "records": records})
    assert [r["status"] for r in again.get_json()["results"]] == ["duplicate"] * 2
    assert count(reg_app, Dose) == 3
    with reg_app.app_context(), get_database(reg_app).session() as session:
        series = sorted(d.series for d in session.scalars(select(Dose)))
        assert "" not in series  # routine series, not the booked one
    # The same birth doses from another device: a conflict, nothing doubled.
    other = staff_token(reg_app, client, "anm.other", "vaccinator", facility_code="F-TVM-1")
    twice = client.post(SYNC, headers=auth(other), json={"device_id": cid(), "records": [
        visit(cid(), results[0]["reference_id"], [("BCG", "BCG-02")])]})
    (result,) = twice.get_json()["results"]
    assert result["status"] == "conflict" and result["code"] == "same_dose_other_device"
    assert count(reg_app, Dose) == 3
