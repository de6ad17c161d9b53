"""Tokens end on the server side: a citizen's token issued before a change of mobile
stays dead when the number is changed back, for the API and for booking alike."""

from __future__ import annotations

from sqlalchemy import func, select

from cowin_kit.core.db import get_database
from cowin_kit.scheduling.models import Appointment
from cowin_kit.testing import add_members, auth, last_otp, publish, sign_in, staff_token


def _change_mobile(app, client, token, mobile) -> str:
    txn = client.post("/api/v1/account/mobile", json={"mobile": mobile},
                      headers=auth(token)).get_json()["txn_id"]
    moved = client.post("/api/v1/account/mobile/confirm",
                        json={"txn_id": txn, "otp": last_otp(app, mobile)}, headers=auth(token))
    assert moved.status_code == 200, moved.get_json()
    return moved.get_json()["token"]


def test_changing_the_mobile_away_and_back_does_not_revive_old_tokens(reg_app):
    session_id = publish(reg_app)
    client = reg_app.test_client()
    old = sign_in(reg_app, client, "9876543210")
    refs = add_members(reg_app, client, old, 1)
    away = _change_mobile(reg_app, client, old, "9988776655")
    back = _change_mobile(reg_app, client, away, "9876543210")
    for token in (old, away):
        listing = client.get("/api/v1/beneficiaries", headers=auth(token))
        assert listing.status_code == 401 and listing.get_json()["code"] == "invalid_token"
        booked = client.post("/api/v1/appointments", headers=auth(token), json={
            "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": refs})
        assert booked.status_code == 401 and booked.get_json()["code"] == "invalid_token"
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == 0
    assert client.get("/api/v1/beneficiaries", headers=auth(back)).status_code == 200
    booked = client.post("/api/v1/appointments", headers=auth(back), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": refs})
    assert booked.status_code == 201, booked.get_json()


def test_citizen_sign_out_through_the_api_ends_every_token_of_the_account(reg_app):
    client = reg_app.test_client()
    first = sign_in(reg_app, client, "9876543210")
    second = sign_in(reg_app, client, "9876543210")  # another device
    assert client.post("/api/v1/auth/sign-out", headers=auth(first)).status_code == 204
    for token in (first, second):
        answer = client.get("/api/v1/beneficiaries", headers=auth(token))
        assert answer.status_code == 401 and answer.get_json()["code"] == "invalid_token"
    assert client.post("/api/v1/auth/sign-out", headers=auth(first)).status_code == 401
    fresh = sign_in(reg_app, client, "9876543210")
    assert client.get("/api/v1/beneficiaries", headers=auth(fresh)).status_code == 200


def test_staff_sign_out_through_the_api_ends_the_token(reg_app):
    client = reg_app.test_client()
    token = staff_token(reg_app, client, "district.admin", "district_admin",
                        location_code="IN-KL-TVM")
    assert client.get("/api/v1/admin/staff", headers=auth(token)).status_code == 200
    assert client.post("/api/v1/staff/sign-out", headers=auth(token)).status_code == 204
    answer = client.get("/api/v1/admin/staff", headers=auth(token))
    assert answer.status_code == 401
