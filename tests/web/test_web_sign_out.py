"""Signing out on the pages ends the session on the server: a copy of the cookie kept
from before no longer works, nor do the account's (or staff member's) other tokens —
signing out signs out everywhere. A change of mobile ends the page session of before."""

from __future__ import annotations

from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core.db import get_database
from cowin_kit.testing import (
    auth, create_staff, form_post, last_otp, sign_in, staff_token, text, web_staff_sign_in,
)


def _saved_cookie(client) -> str:
    return client.get_cookie("session").value


def _client_with(app, cookie):
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def _web_sign_in(app, client, mobile="9876543210"):
    form_post(client, "/sign-in", mobile=mobile)
    assert form_post(client, "/sign-in/otp", otp=last_otp(app, mobile)).status_code == 303


def _audited(app, action) -> int:
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == action))


def test_a_saved_staff_cookie_no_longer_works_after_sign_out(reg_app):
    client = reg_app.test_client()
    create_staff(reg_app, "admin.one", "national_admin")
    web_staff_sign_in(client, "admin.one")
    saved = _saved_cookie(client)
    assert _client_with(reg_app, saved).get("/staff").status_code == 200
    signed_out = form_post(client, "/staff", action="/staff/sign-out")
    assert signed_out.status_code == 303
    kept = _client_with(reg_app, saved).get("/staff")
    assert kept.status_code == 302 and "/staff/sign-in" in kept.headers["Location"]
    assert _audited(reg_app, "staff_user.sign_out") == 1


def test_staff_sign_out_on_a_page_ends_the_user_s_api_tokens(reg_app):
    client = reg_app.test_client()
    token = staff_token(reg_app, client, "admin.two", "national_admin")
    assert client.get("/api/v1/admin/staff", headers=auth(token)).status_code == 200
    web_staff_sign_in(client, "admin.two")
    form_post(client, "/staff", action="/staff/sign-out")
    ended = client.get("/api/v1/admin/staff", headers=auth(token))
    assert ended.status_code == 401 and ended.get_json()["code"] == "invalid_token"


def test_citizen_sign_out_signs_the_account_out_everywhere(reg_app):
    client = reg_app.test_client()
    other_device = sign_in(reg_app, reg_app.test_client())
    _web_sign_in(reg_app, client)
    saved = _saved_cookie(client)
    assert "My family" in text(_client_with(reg_app, saved).get("/"))
    assert client.get("/api/v1/beneficiaries", headers=auth(other_device)).status_code == 200
    assert form_post(client, "/", action="/sign-out").status_code == 303
    assert "My family" not in text(_client_with(reg_app, saved).get("/"))
    assert _client_with(reg_app, saved).get("/members/new").status_code == 302
    ended = client.get("/api/v1/beneficiaries", headers=auth(other_device))
    assert ended.status_code == 401 and ended.get_json()["code"] == "invalid_token"
    assert _audited(reg_app, "account.sign_out") == 1


def test_a_page_cookie_of_before_a_mobile_change_and_back_stays_ended(reg_app):
    client = reg_app.test_client()
    _web_sign_in(reg_app, client)
    saved = _saved_cookie(client)
    for mobile in ("9876543219", "9876543210"):
        assert form_post(client, "/account/mobile", mobile=mobile).status_code == 303
        moved = form_post(client, "/account/mobile/confirm", otp=last_otp(reg_app, mobile))
        assert moved.status_code == 303
    assert "My family" in text(client.get("/"))
    assert "My family" not in text(_client_with(reg_app, saved).get("/"))
    assert _client_with(reg_app, saved).get("/members/new").status_code == 302
