"""Inbound SMS keywords (in the pack's languages, replies in the person's), delivery
reports on outbound messages, and health workers' handling of failed ones; every static
USSD screen of every pack language within the limit."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from cowin_kit.channels import services as channel_services
from cowin_kit.channels.gateways import sign
from cowin_kit.channels.models import InboundSms
from cowin_kit.channels.rules import Limits
from cowin_kit.config.packs import load_pack
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.notifications.models import OutboxMessage
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.testing import (
    add_members, auth, example_pack, national_admin_token, publish, sign_in, staff_token,
)
from tests.channels.conftest import SECRET, make_channel_app, messages

NUMBER = "+919876543210"


def post(client, path, form, secret=SECRET):
    body = urlencode(form).encode()
    return client.post(path, data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Channel-Signature": sign(secret, body)})


def sms(client, text, message_id, number=NUMBER):
    return post(client, "/api/v1/channels/sms/at",
                {"from": number, "to": "12345", "text": text, "id": message_id})


def replies(app, number=NUMBER):
    return [m["text"] for m in messages(app) if m["to"] == number
            and m["template"] == "channel_reply"]


def test_sms_keywords_in_english_and_hindi_once_per_message(india):
    client = india.test_client()
    publish(india, days_ahead=2, code="F-TVM-1")
    token = sign_in(india, client, "9876543210")
    (ref,) = add_members(india, client, token, 1)

    assert sms(client, f"status {ref}", "m1").status_code == 204
    assert "Asha Devi" in replies(india)[-1] and "0 doses" in replies(india)[-1]
    assert sms(client, f"status {ref}", "m1").status_code == 204      # the same message
    assert len(replies(india)) == 1
    sms(client, "CENTRE 695001", "m2")
    assert "Medical College PHC" in replies(india)[-1]
    sms(client, "CENTER 999999", "m3")
    assert "999999" in replies(india)[-1]
    # STOP / START: the reminders opt-out of the account, in Hindi keywords and replies
    sms(client, "बंद", "m4")
    with india.app_context(), get_database(india).session() as session:
        assert session.scalar(select(CitizenAccount.reminders_opt_out)) is True
    assert "no more reminders" in replies(india)[-1]      # the account's language: en
    # a number without an account gets the language of its keyword
    sms(client, "केंद्र 999999", "x1", number="+919812345678")
    assert any("\u0900" <= ch <= "\u097f" for ch in replies(india, "+919812345678")[-1])
    sms(client, "START", "m5")
    with india.app_context(), get_database(india).session() as session:
        assert session.scalar(select(CitizenAccount.reminders_opt_out)) is False
    sms(client, "hello", "m6")
    assert "STATUS" in replies(india)[-1]                                # the help
    sms(client, "DUE", "m7")
    assert replies(india)[-1]
    with india.app_context(), get_database(india).session() as session:
        assert [r.keyword for r in session.scalars(select(InboundSms).order_by(InboundSms.id))] \
            == ["status", "centre", "centre", "stop", "centre", "start", "", "due"]
    # unsigned: refused, nothing handled
    assert client.post("/api/v1/channels/sms/at", data={
        "from": NUMBER, "text": "STOP", "id": "m8"}).status_code == 401


def test_pack_keywords_extend_the_kit_ones(india):
    with india.app_context():
        pack = active_pack()
        words = channel_services.keywords(pack)
    assert "STOP" in words["stop"]["en"] and "बंद" in words["stop"]["hi"]


def test_delivery_reports_failed_messages_retry_and_escalate(india):
    client = india.test_client()
    admin = national_admin_token(india, client)
    sign_in(india, client, "9876543210")             # an OTP (secret: its text is erased)
    sms(client, "hello", "h1")                       # a reply (kept until delivered)
    sms(client, "hello", "h2")
    otp_id = next(m["id"] for m in messages(india) if m["template"] == "otp")
    reply_ids = [m["id"] for m in messages(india) if m["template"] == "channel_reply"]
    delivery = "/api/v1/channels/delivery/at"
    assert post(client, delivery, {"id": reply_ids[0], "status": "Success"}).status_code == 204
    assert post(client, delivery, {"id": reply_ids[1], "status": "Failed",
                                   "failureReason": "AbsentSubscriber"}).status_code == 204
    assert post(client, delivery, {"id": otp_id, "status": "Rejected"}).status_code == 204
    assert post(client, delivery, {"id": "unknown", "status": "Success"}).status_code == 204
    assert client.post(delivery, data={"id": reply_ids[0], "status": "Failed"}).status_code == 401
    with india.app_context(), get_database(india).session() as session:
        by_ref = {r.provider_ref: r for r in session.scalars(select(OutboxMessage))}
        assert (by_ref[reply_ids[0]].delivery_status, by_ref[reply_ids[0]].text) == ("delivered", "")
        assert by_ref[reply_ids[1]].delivery_status == "failed" and by_ref[reply_ids[1]].text
    # a late "sent" report does not undo "delivered"
    post(client, delivery, {"id": reply_ids[0], "status": "Sent"})
    listed = client.get("/api/v1/channels/messages/failed", headers=auth(admin))
    assert listed.status_code == 200
    failed = listed.get_json()["messages"]
    assert [(m["template"], m["can_retry"], m["reason"]) for m in failed] == [
        ("channel_reply", True, "AbsentSubscriber"), ("otp", False, None)]
    assert failed[0]["recipient_masked"].endswith("3210") and "98765" not in str(failed)
    publish(india, code="F-X")
    vaccinator = staff_token(india, client, "vax.one", "vaccinator", facility_code="F-X")
    assert client.get("/api/v1/channels/messages/failed",
                      headers=auth(vaccinator)).status_code == 403
    retried = client.post(f"/api/v1/channels/messages/{failed[0]['id']}/retry",
                          headers=auth(admin))
    assert retried.status_code == 201 and retried.get_json()["retry_of"] == failed[0]["id"]
    again = client.post(f"/api/v1/channels/messages/{failed[0]['id']}/retry",
                        headers=auth(admin))
    assert again.status_code == 409 and again.get_json()["code"] == "message_handled"
    secret = client.post(f"/api/v1/channels/messages/{failed[1]['id']}/retry",
                         headers=auth(admin))
    assert secret.get_json()["code"] == "message_text_erased"
    escalated = client.post(f"/api/v1/channels/messages/{failed[1]['id']}/escalate",
                            headers=auth(admin))
    assert escalated.status_code == 200 and escalated.get_json()["handled"] == "escalated"
    assert client.get("/api/v1/channels/messages/failed",
                      headers=auth(admin)).get_json()["messages"] == []
    # the retried message went out again with the same text
    texts = [m["text"] for m in messages(india) if m["template"] == "channel_reply"]
    assert len(texts) == 3 and texts[2] == texts[1]


PACKS = [("IN", "en"), ("IN", "hi"), ("AE", "en"), ("AE", "ar"), ("CA", "en"), ("CA", "fr"),
         ("UA", "uk"), ("UA", "en")]


@pytest.mark.parametrize("code, locale", PACKS)
def test_every_static_screen_of_every_pack_language_fits(migrated_database_url, tmp_path,
                                                          code, locale):
    from cowin_kit.channels import ussd
    from cowin_kit.testing import close_reg_app

    app = make_channel_app(migrated_database_url, tmp_path, code)
    try:
        limits = Limits(182, 80)
        with app.test_request_context(), get_database(app).session() as session:
            ctx = ussd.Context(session, active_pack(), "+10000000000", locale, limits)
            screens = channel_services.every_static_screen(ctx)
        assert len(screens) > 15
        for name, pages in screens.items():
            for page in pages:
                length, limit = limits.size(page)
                assert length <= limit, (name, page)
        if locale in ("hi", "ar", "uk"):   # translated, so in the UCS-2 alphabet
            assert not any(limits.size(p)[1] == 182 for p in screens["main"])
    finally:
        close_reg_app(app)


# (locale, the web's wording of a shared English word, the USSD menu's short wording)
MENU_WORDS = [
    ("hi", "Register", "पंजीकरण करें", "पंजीकरण"),
    ("hi", "Postal code", "डाक कोड", "पिन कोड"),
    ("ar", "Register", "تسجيل", "التسجيل"),
    ("fr", "Register", "Inscrire", "S'inscrire"),
    ("uk", "Register", "Зареєструвати", "Реєстрація"),
]


@pytest.mark.parametrize("locale, word, web, menu", MENU_WORDS)
def test_ussd_menu_words_have_their_own_context(india, locale, word, web, menu):
    """The USSD menus' short words are translated in the context ``ussd``: the same
    English word on the web pages keeps its own (longer) translation."""
    from flask_babel import force_locale

    from cowin_kit.channels import ussd
    from cowin_kit.core.i18n import gettext

    with india.test_request_context(), get_database(india).session() as session:
        with force_locale(locale):
            assert gettext(word) == web
        ctx = ussd.Context(session, active_pack(), "+10000000000", locale, Limits(182, 80))
        screens = channel_services.every_static_screen(ctx)
    shown = "\n".join(screens["main"] + screens["find_how"])
    assert menu in shown.split("\n") or any(line.endswith(" " + menu)
                                             for line in shown.split("\n"))
    assert web not in shown.split("\n") and not any(line.endswith(" " + web)
                                                    for line in shown.split("\n"))
