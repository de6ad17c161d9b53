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
from cowin_kit.registration.models import Beneficiary, Dose, Pregnancy


def _counts(instance):
    """Facilities, sessions, staff, booked-series doses, certificates due, routine doses,
    children registered by a health worker, pregnancies."""
    app = create_app({"ENV": "demo", "INSTANCE_PATH": str(instance)})
    with app.app_context(), get_database(app).session() as session:
        def count(model, *where):
            return session.scalar(select(func.count()).select_from(model).where(*where))
        counts = (count(Facility), count(VaccinationSession), count(StaffUser),
                  count(Dose, Dose.series == ""), count(CertificateDue),
                  count(Dose, Dose.series != ""),
                  count(Beneficiary, Beneficiary.registered_by != "",
                        Beneficiary.guardian_name.is_not(None)),
                  count(Pregnancy))
        # every facility of the demo's sessions has children on its books
        without = session.scalar(select(func.count()).select_from(Facility).where(
            Facility.id.in_(select(VaccinationSession.facility_id)),
            ~Facility.id.in_(select(Beneficiary.facility_id).where(
                Beneficiary.facility_id.is_not(None)))))
        assert without == 0
    get_database(app).dispose()
    return counts


def _looks_credible(instance) -> None:
    """What a ministry would check first: first doses in several states, men and women
    about equal and "others" rare, facility names wholly in each language."""
    from collections import Counter

    from cowin_kit.geography.models import Location

    app = create_app({"ENV": "demo", "INSTANCE_PATH": str(instance)})
    with app.app_context(), get_database(app).session() as session:
        parents = dict(session.execute(select(Location.id, Location.parent_id)).all())
        first_places = session.scalars(select(Facility.location_id).join(
            Dose, Dose.facility_id == Facility.id).where(Dose.series == "",
                                                         Dose.dose_number == 1)).all()
        states = Counter(parents[place] for place in first_places)
        assert len(states) >= 4 and max(states.values()) <= 0.5 * sum(states.values())
        from cowin_kit.identity.models import Gender

        sexes = Counter(session.scalars(select(Gender.code).join(
            Beneficiary, Beneficiary.gender_id == Gender.id).where(
            Beneficiary.id.in_(select(Dose.beneficiary_id).where(Dose.series == "")))).all())
        total = sum(sexes.values())
        assert 0.4 < sexes["M"] / total < 0.6 and 0.4 < sexes["F"] / total < 0.6
        assert sexes["T"] <= 0.02 * total
        for names in session.scalars(select(Facility.names).where(Facility.code.like("DEMO-%"))):
            assert "Health Centre" not in names["hi"] and "Hospital" not in names["hi"], names
            assert not re.search(r"[\u0900-\u097F]", names["en"]), names
    get_database(app).dispose()


def test_demo_sets_up_then_reuses(tmp_path):
    instance = tmp_path / "instance"
    first = CliRunner().invoke(main, ["demo", "--no-serve", "--instance", str(instance)])
    assert first.exit_code == 0, first.output
    assert "passwords shown once" in first.output
    counts = _counts(instance)
    facilities, sessions, staff, doses, certificates_due, routine, children, mothers = counts
    published = re.search(r"demo data: (\d+) facilities, (\d+) sessions", first.output)
    assert sessions == int(published[2]) == int(published[1]) * 14
    assert facilities >= int(published[1]) and staff == 5
    # past doses at places with population figures, each waiting for its certificate
    assert f"demo history: {doses} doses" in first.output and doses >= 240
    assert certificates_due == doses
    # routine immunization: children of every age with their histories, and mothers
    line = re.search(r"routine immunization: (\d+) children with (\d+) doses, "
                     r"(\d+) pregnant women", first.output)
    assert line and (int(line[1]), int(line[2]) + int(line[3])) == (children, routine)
    assert children >= 100 and routine > 10 * children and mothers == int(line[3]) > 0
    _looks_credible(instance)
    second = CliRunner().invoke(main, ["demo", "--no-serve", "--instance", str(instance)])
    assert second.exit_code == 0, second.output
    assert "passwords shown once" not in second.output
    assert "already up to date" in second.output and "demo history" not in second.output
    assert "routine immunization" not in second.output
    assert _counts(instance) == counts


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
