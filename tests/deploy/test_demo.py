"""`cowin-kit demo`: sets up, reuses what exists, and serves."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

from click.testing import CliRunner
from sqlalchemy import func, select

from cowin_kit import create_app
from cowin_kit.cli import main
from cowin_kit.core.db import get_database
from cowin_kit.identity.models import StaffUser
from cowin_kit.geography.models import Facility
from cowin_kit.scheduling.models import VaccinationSession
from cowin_kit.vaccination.models import CertificateDue
from cowin_kit.registration.models import Dose


def _counts(instance):
    app = create_app({"ENV": "demo", "INSTANCE_PATH": str(instance)})
    with app.app_context(), get_database(app).session() as session:
        counts = tuple(session.scalar(select(func.count()).select_from(m))
                       for m in (Facility, VaccinationSession, StaffUser, Dose, CertificateDue))
    get_database(app).dispose()
    return counts


def test_demo_sets_up_then_reuses(tmp_path):
    instance = tmp_path / "instance"
    first = CliRunner().invoke(main, ["demo", "--no-serve", "--instance", str(instance)])
    assert first.exit_code == 0, first.output
    assert "passwords shown once" in first.output
    facilities, sessions, staff, doses, certificates_due = _counts(instance)
    published = re.search(r"demo data: (\d+) facilities, (\d+) sessions", first.output)
    assert sessions == int(published[2]) == int(published[1]) * 14
    assert facilities >= int(published[1]) and staff == 5
    # past doses at places with population figures, each waiting for its certificate
    assert f"demo history: {doses} doses" in first.output and doses >= 240
    assert certificates_due == doses
    second = CliRunner().invoke(main, ["demo", "--no-serve", "--instance", str(instance)])
    assert second.exit_code == 0, second.output
    assert "passwords shown once" not in second.output
    assert "already up to date" in second.output and "demo history" not in second.output
    assert _counts(instance) == (facilities, sessions, staff, doses, certificates_due)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_serves_and_is_ready(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COWIN_KIT_")}
    log = tmp_path / "demo.log"
    with log.open("w") as stream:
        process = subprocess.Popen(
            [sys.executable, "-m", "cowin_kit.cli", "demo", "--instance", str(tmp_path / "i"),
             "--port", str(port)],
            env=env, stdout=stream, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    status = r.status
                    break
            except OSError:
                time.sleep(0.5)
        assert status == 200, log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)
