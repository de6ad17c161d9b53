"""CoWIN v2 compatibility of auth, registration and locations (shapes per GUIDE §3)."""

from __future__ import annotations

import hashlib
import uuid

from cowin_kit.testing import auth, last_otp, valid_aadhaar as _valid_aadhaar


def _v2_sign_in(app, client, mobile="9876543210", path="auth/confirmOTP"):
    generated = client.post("/api/v2/auth/generateOTP", json={"mobile": mobile})
    assert generated.status_code == 200
    txn = generated.get_json()["txnId"]
    uuid.UUID(txn)
    digest = hashlib.sha256(last_otp(app, mobile).encode()).hexdigest()
    return client.post(f"/api/v2/{path}", json={"otp": digest, "txnId": txn})


def test_generate_and_confirm_otp_with_its_sha256(reg_app):
    client = reg_app.test_client()
    first = _v2_sign_in(reg_app, client)
    assert first.status_code == 200
    assert first.get_json()["isNewAccount"] == "Y" and first.get_json()["token"]
    second = _v2_sign_in(reg_app, client)
    assert second.get_json()["isNewAccount"] == "N"
    public = _v2_sign_in(reg_app, client, path="auth/public/confirmOTP")
    assert set(public.get_json()) == {"token"}


def test_wrong_otp_gives_a_cowin_error_body(reg_app):
    client = reg_app.test_client()
    txn = client.post("/api/v2/auth/public/generateOTP",
                      json={"mobile": "9876543210"}).get_json()["txnId"]
    response = client.post("/api/v2/auth/public/confirmOTP",
                           json={"otp": hashlib.sha256(b"000001").hexdigest(), "txnId": txn})
    assert response.status_code == 401
    body = response.get_json()
    assert set(body) == {"errorCode", "error"} and body["errorCode"].startswith("USRAUT")


def test_id_types_genders_and_registration(reg_app):
    client = reg_app.test_client()
    token = _v2_sign_in(reg_app, client).get_json()["token"]
    types = client.get("/api/v2/registration/beneficiary/idTypes").get_json()["types"]
    assert len(types) == 7 and all(isinstance(t["id"], int) and t["type"] for t in types)
    aadhaar = next(t for t in types if t["type"] == "Aadhaar Card")
    genders = client.get("/api/v2/registration/beneficiary/genders").get_json()["genders"]
    female = next(g for g in genders if g["gender"] == "Female")
    number = _valid_aadhaar(1)[0]
    new = client.post("/api/v2/registration/beneficiary/new", headers=auth(token), json={
        "name": "Meera Nair", "birth_year": "1975", "gender_id": female["id"],
        "photo_id_type": aadhaar["id"], "photo_id_number": number, "comorbidity_ind": "Y",
        "consent_version": "V1"})
    assert new.status_code == 200, new.get_json()
    ref = new.get_json()["beneficiary_reference_id"]
    assert len(ref) == 14 and ref.isdigit()
    listing = client.get("/api/v2/appointment/beneficiaries", headers=auth(token)).get_json()
    (person,) = listing["beneficiaries"]
    assert person["beneficiary_reference_id"] == ref
    assert person["birth_year"] == "1975" and person["gender"] == "Female"
    assert person["photo_id_type"] == "Aadhaar Card"
    assert person["photo_id_number"].endswith(number[-4:]) and number not in str(person)
    assert person["vaccination_status"] == "Not Vaccinated"
    assert person["comorbidity_ind"] == "Y" and person["appointments"] == []
    assert {"mobile_number", "vaccine", "dose1_date", "dose2_date"} <= set(person)
    duplicate = client.post("/api/v2/registration/beneficiary/new", headers=auth(token), json={
        "name": "Someone", "birth_year": "1975", "gender_id": female["id"],
        "photo_id_type": aadhaar["id"], "photo_id_number": number, "consent_version": "V1"})
    assert duplicate.status_code == 409
    assert set(duplicate.get_json()) == {"errorCode", "error"}
    deleted = client.post("/api/v2/registration/beneficiary/delete", headers=auth(token),
                          json={"beneficiary_reference_id": ref})
    assert deleted.status_code == 204


def test_states_and_districts(reg_app):
    client = reg_app.test_client()
    states = client.get("/api/v2/admin/location/states", headers={"Accept-Language": "hi"})
    body = states.get_json()
    assert body["ttl"] == 24 and len(body["states"]) == 36
    kerala = next(s for s in body["states"] if s["state_name"] == "Kerala")
    assert isinstance(kerala["state_id"], int) and kerala["state_name_l"] == "केरल"
    districts = client.get(f"/api/v2/admin/location/districts/{kerala['state_id']}").get_json()
    assert len(districts["districts"]) == 14
    assert all(isinstance(d["district_id"], int) and d["district_name"]
               for d in districts["districts"])
    assert client.get("/api/v2/admin/location/districts/999999").status_code == 404
