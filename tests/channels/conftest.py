"""A simulated USSD/SMS gateway (the built-in ``at`` callback shape, signed with the
instance's CHANNELS_SECRET) and apps with the India (en, hi) or UAE (en, ar) pack."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from cowin_kit.channels.gateways import sign
from cowin_kit.channels.rules import Limits
from cowin_kit.testing import close_reg_app, example_pack

SECRET = "gateway-shared-secret"
LIMITS = Limits(182, 80)


def make_channel_app(database_url, tmp_path, code, **settings):
    from cowin_kit import create_app
    from cowin_kit.config.packs import load_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.provision.installer import install_pack

    outbox = tmp_path / "messages.jsonl"
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": database_url, "NOTIFIER": f"file:{outbox}",
                      "OTP_RESEND_COOLDOWN_SECONDS": 0,
                      "OTP_LIMITS_PER_NUMBER": "1000/hour", "OTP_LIMITS_PER_IP": "1000/hour",
                      "BOOKING_LIMITS_PER_ACCOUNT": "1000/hour",
                      "SEARCH_LIMITS_PER_IP": "10000/hour", "CHANNELS_SECRET": SECRET,
                      **settings})
    app.outbox = outbox
    with app.app_context(), get_database(app).session() as session:
        install_pack(session, load_pack(example_pack(code)))
    return app


@pytest.fixture
def india(migrated_database_url, tmp_path):
    app = make_channel_app(migrated_database_url, tmp_path, "IN")
    yield app
    close_reg_app(app)


@pytest.fixture
def uae(migrated_database_url, tmp_path):
    app = make_channel_app(migrated_database_url, tmp_path, "AE")
    yield app
    close_reg_app(app)


def messages(app) -> list[dict]:
    if not app.outbox.exists():
        return []
    return [json.loads(line) for line in app.outbox.read_text(encoding="utf-8").splitlines()]


class Phone:
    """A caller on a feature phone, through the simulated gateway: every screen it gets
    is checked against the USSD limit of its alphabet."""

    def __init__(self, client, number, *, network="62130", secret=SECRET):
        self.client, self.number, self.network, self.secret = client, number, network, secret
        self.session_id = ""
        self.answers: list[str] = []
        self.screens: list[str] = []

    def post(self, text, *, session_id=None, signed=True, number=None, network=None):
        form = {"sessionId": session_id or self.session_id, "serviceCode": "*384*123#",
                "phoneNumber": number or self.number, "networkCode": network or self.network,
                "text": text}
        from urllib.parse import urlencode

        body = urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signed:
            headers["X-Channel-Signature"] = sign(self.secret, body)
        response = self.client.post("/api/v1/channels/ussd/at", data=body, headers=headers)
        return response

    def _screen(self, response):
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_data(as_text=True)
        assert body[:4] in ("CON ", "END "), body
        screen = body[4:]
        length, limit = LIMITS.size(screen)
        assert length <= limit, f"{length} > {limit}: {screen!r}"
        self.screens.append(screen)
        return body[:3], screen

    def dial(self):
        self.session_id = "ATUid_" + uuid.uuid4().hex
        self.answers = []
        return self._screen(self.post(""))

    def send(self, answer):
        self.answers.append(str(answer))
        return self._screen(self.post("*".join(self.answers)))

    def again(self):
        """The last request sent again (a gateway's retry)."""
        return self._screen(self.post("*".join(self.answers)))

    def choose(self, label_part):
        """Answer with the number of the option whose label contains ``label_part``
        (following "0 More" pages until it shows)."""
        for _ in range(20):
            screen = self.screens[-1]
            for line in screen.split("\n"):
                number, _sep, label = line.partition(" ")
                if number.isdigit() and number != "0" and label_part in label:
                    return self.send(number)
            if "\n0 " not in screen:
                break
            self.send("0")
        raise AssertionError(f"no option {label_part!r} in {self.screens[-1]!r}")
