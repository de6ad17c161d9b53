"""Logs: JSON lines (or text) on stdout, each line of a request carrying its request id,
the ingress's X-Request-ID accepted when sane. (Access lines, which must never hold a query
string with an ID number, are checked on the real server in test_container.py.)"""

from __future__ import annotations

import json
import logging

import pytest
from cowin_kit.testing import close_reg_app

from cowin_kit import create_app
from cowin_kit.core import logging_setup
from cowin_kit.provision.installer import install_pack
from cowin_kit.core.db import get_database


@pytest.fixture
def log_app(database_url, tmp_path, india_pack):
    """An app whose notifier writes messages to the log (as the demo does)."""
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": database_url, "NOTIFIER": "log",
                      "OTP_RESEND_COOLDOWN_SECONDS": 0})
    with app.app_context(), get_database(app).session() as session:
        install_pack(session, india_pack)
    yield app
    close_reg_app(app)


@pytest.fixture
def json_logs(capsys):
    """Configure JSON logs as gunicorn.conf.py does; yields a reader of the lines so far."""
    logging_setup.configure("json", "INFO")

    def read() -> list[dict]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    capsys.readouterr()
    yield read
    logging_setup.configure("text", "INFO")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, logging_setup._HANDLER_MARK, False):
            root.removeHandler(handler)


def test_every_line_of_a_request_carries_the_ingress_request_id(log_app, json_logs):
    client = log_app.test_client()
    asked = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"},
                        headers={"X-Request-ID": "ingress-7f3a"})
    assert asked.status_code == 200
    assert asked.headers["X-Request-ID"] == "ingress-7f3a"
    lines = json_logs()
    assert lines, "the log notifier wrote nothing"
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)
    assert {line.get("request_id") for line in lines} == {"ingress-7f3a"}


@pytest.mark.parametrize("given", ["two words", "x" * 200, "a\"}{", "<script>", "id;drop"])
def test_a_forged_or_oversized_request_id_is_replaced(app, given):
    response = app.test_client().get("/healthz", headers={"X-Request-ID": given})
    echoed = response.headers["X-Request-ID"]
    assert echoed != given and len(echoed) == 32


def test_text_format_has_the_request_id_too(log_app, capsys):
    logging_setup.configure("text", "INFO")
    try:
        capsys.readouterr()
        log_app.test_client().post("/api/v1/auth/otp", json={"mobile": "9876543211"},
                                   headers={"X-Request-ID": "abc.123"})
        out = capsys.readouterr().out
        assert "[abc.123]" in out and "INFO cowin_kit.notifications" in out
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, logging_setup._HANDLER_MARK, False):
                root.removeHandler(handler)


def test_lines_outside_a_request_have_no_request_id(json_logs):
    logging.getLogger("cowin_kit.worker").info("outbox done", extra={"issued": 3})
    (line,) = json_logs()
    assert line["message"] == "outbox done" and line["issued"] == 3
    assert "request_id" not in line
