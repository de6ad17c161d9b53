"""The sms-http notifier against a real local HTTP server (http.server in a thread), both
directly and as cowin-kit's NOTIFIER when the plugin is enabled."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from cowin_kit_sms_http import GatewayError, HttpSmsNotifier

from cowin_kit import create_app
from cowin_kit.core import migrate
from cowin_kit.provision.installer import install_pack
from cowin_kit.config.packs import load_pack
from cowin_kit.config.settings import SettingsError
from cowin_kit.core.db import get_database
from cowin_kit.notifications import OutgoingMessage
from cowin_kit.testing import example_pack


class Gateway:
    """A local SMS gateway: records each request, answers with the next scripted status."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": body.decode("utf-8")})
                status = gateway.statuses.pop(0) if gateway.statuses else 200
                if isinstance(status, tuple):  # (redirect status, Location)
                    status, location = status
                    self.send_response(status)
                    self.send_header("Location", location)
                else:
                    self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "queued"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


@pytest.fixture
def gateway():
    server = Gateway()
    yield server
    server.close()


MESSAGE = OutgoingMessage(to="+919876543210", template="otp", locale="hi",
                          text='123456 है "आपका" OTP')


def test_json_body_auth_header_and_quoting(gateway):
    notifier = HttpSmsNotifier(url=gateway.url, auth_header="Authorization: Bearer s3cret",
                               body='{"msisdn": $to, "message": $text, "lang": $locale}')
    notifier.send(MESSAGE)
    (request,) = gateway.requests
    assert request["path"] == "/send"
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == {"msisdn": "+919876543210",
                                           "message": '123456 है "आपका" OTP', "lang": "hi"}


def test_form_body(gateway):
    notifier = HttpSmsNotifier(url=gateway.url, content_type="application/x-www-form-urlencoded",
                               body="to=$to&text=$text&from=$sender", sender="MOHFW")
    notifier.send(MESSAGE)
    assert parse_qs(gateway.requests[0]["body"]) == {
        "to": ["+919876543210"], "text": ['123456 है "आपका" OTP'], "from": ["MOHFW"]}


def test_retries_with_exponential_backoff_then_success(gateway):
    gateway.statuses = [503, 429, 200]
    waits: list[float] = []
    HttpSmsNotifier(url=gateway.url, retries=3, backoff_seconds=0.5, sleep=waits.append).send(MESSAGE)
    assert len(gateway.requests) == 3 and waits == [0.5, 1.0]
    assert len({r["body"] for r in gateway.requests}) == 1  # the same message each time


def test_gives_up_after_the_retries_and_does_not_retry_a_refusal(gateway):
    gateway.statuses = [500, 502, 503]
    with pytest.raises(GatewayError, match="failed 3 times, last: HTTP 503"):
        HttpSmsNotifier(url=gateway.url, retries=2, backoff_seconds=0).send(MESSAGE)
    assert len(gateway.requests) == 3
    gateway.statuses = [401]
    with pytest.raises(GatewayError, match="HTTP 401; not retried"):
        HttpSmsNotifier(url=gateway.url, retries=2, backoff_seconds=0).send(MESSAGE)
    assert len(gateway.requests) == 4


def test_a_redirect_to_another_origin_never_gets_the_credential(gateway):
    elsewhere = Gateway()
    try:
        gateway.statuses = [(302, elsewhere.url)]
        notifier = HttpSmsNotifier(url=gateway.url, auth_header="Authorization: Bearer s3cret",
                                   retries=2, backoff_seconds=0)
        with pytest.raises(GatewayError, match="redirect to another origin refused"):
            notifier.send(MESSAGE)
        assert elsewhere.requests == [] and len(gateway.requests) == 1
        gateway.statuses = [(307, gateway.url + "?moved=1")]  # the same origin: followed
        notifier.send(MESSAGE)
        assert gateway.requests[-1]["path"] == "/send?moved=1"
        assert gateway.requests[-1]["headers"]["Authorization"] == "Bearer s3cret"
    finally:
        elsewhere.close()


def test_connection_refused_is_retried_then_reported(gateway):
    url = gateway.url
    gateway.close()
    with pytest.raises(GatewayError, match="failed 2 times"):
        HttpSmsNotifier(url=url, retries=1, backoff_seconds=0, timeout_seconds=2).send(MESSAGE)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="SMS_HTTP_URL"):
        HttpSmsNotifier(url="")
    with pytest.raises(ValueError, match="SMS_HTTP_BODY"):
        HttpSmsNotifier(url="http://127.0.0.1:9/", body='{"to": $phone}')
    with pytest.raises(ValueError, match="SMS_HTTP_AUTH_HEADER"):
        HttpSmsNotifier(url="http://127.0.0.1:9/", auth_header="token-without-a-name")


# --- through cowin-kit ----------------------------------------------------------------

@pytest.fixture
def kit(tmp_path, gateway):
    """make(**overrides): an app with the India example pack and this plugin as notifier."""
    india = example_pack("IN")
    pack = load_pack(india)
    apps = []

    def make(**overrides):
        app = create_app({
            "ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'kit.db'}", "OTP_RESEND_COOLDOWN_SECONDS": 0,
            "PLUGINS": ["sms-http"], "NOTIFIER": "sms-http", "SMS_HTTP_URL": gateway.url,
            "SMS_HTTP_AUTH_HEADER": "X-Api-Key: k1", "SMS_HTTP_RETRIES": 1,
            "SMS_HTTP_BACKOFF_SECONDS": 0, **overrides})
        if not apps:
            migrate.upgrade(get_database(app).engine)
            with app.app_context(), get_database(app).session() as session:
                install_pack(session, pack)
        apps.append(app)
        return app

    yield make
    for app in apps:
        get_database(app).dispose()


def test_otp_sign_in_through_the_gateway(kit, gateway):
    app = kit()
    client = app.test_client()
    sent = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"})
    assert sent.status_code == 200, sent.get_json()
    (request,) = gateway.requests
    assert request["headers"]["X-Api-Key"] == "k1"
    body = json.loads(request["body"])
    assert body["to"] == "+919876543210"
    otp = body["text"].split()[0]
    confirmed = client.post("/api/v1/auth/otp/confirm",
                            json={"txn_id": sent.get_json()["txn_id"], "otp": otp})
    assert confirmed.status_code == 200 and confirmed.get_json()["token"]


def test_a_gateway_outage_is_logged_and_the_citizen_request_still_succeeds(kit, gateway, caplog):
    app = kit()
    gateway.statuses = [503, 503]
    caplog.set_level(logging.WARNING)
    sent = app.test_client().post("/api/v1/auth/otp", json={"mobile": "9876543210"})
    assert sent.status_code == 200
    assert len(gateway.requests) == 2
    assert any("notifier failed for template otp" in r.getMessage() for r in caplog.records)


def test_settings_are_checked_at_start(kit, gateway):
    with pytest.raises(SettingsError, match="SMS_HTTP_URLL: unknown setting"):
        kit(SMS_HTTP_URLL="http://typo")
    with pytest.raises(SettingsError, match="SMS_HTTP_URL: set the gateway"):
        kit(SMS_HTTP_URL="")
    with pytest.raises(SettingsError, match="SMS_HTTP_RETRIES: expected a whole number"):
        kit(SMS_HTTP_RETRIES="many")
    app = kit(NOTIFIER=f"sms-http:{gateway.url}?route=2", SMS_HTTP_URL="")
    app.test_client().post("/api/v1/auth/otp", json={"mobile": "9876543210"})
    assert gateway.requests[-1]["path"] == "/send?route=2"
