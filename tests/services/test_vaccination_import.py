"""Bulk CSV import of doses given elsewhere or before the kit: the service and the CLI, on
every backend. A file is imported whole or not at all, every bad row is reported, re-running
a file changes nothing, and every imported dose is queued for its certificate."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cowin_kit import create_app
from cowin_kit.audit.models import AuditEvent
from cowin_kit.certificates import services as certificates
from cowin_kit.certificates.signing import keystore as keystore_module
from cowin_kit.certificates.models import Certificate
from cowin_kit.cli import main
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import CitizenAccount, Dose
from cowin_kit.vaccination.imports import ImportInvalid, import_vaccinations
from cowin_kit.vaccination.models import CertificateDue

from cowin_kit.testing import BACKENDS, add_members, member, publish, record_dose, sign_in
from cowin_kit.testing import valid_aadhaar as _valid_aadhaar

HEADER = "beneficiary_reference_id,vaccine,dose,date,lot,facility_code,vaccinator\n"
IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def day(n: int) -> str:
    """A date n days ago in India, as the files spell it."""
    return (datetime.now(IST).date() - timedelta(days=n)).isoformat()


@pytest.fixture
def people(reg_app):
    """Three registered people and facility F-TVM-1."""
    publish(reg_app, code="F-TVM-1")
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    return add_members(reg_app, client, token, 3)


def run(app, text: str, **options):
    with app.app_context(), get_database(app).session() as session:
        return import_vaccinations(session, text.encode(), file_name="doses.csv", **options)


def counts(app) -> tuple[int, int, int]:
    with app.app_context(), get_database(app).session() as session:
        return (session.scalar(select(func.count()).select_from(Dose)),
                session.scalar(select(func.count()).select_from(CertificateDue)),
                session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action == "dose.import")))


def good_file(refs) -> str:
    a, b, c = refs
    return HEADER + (
        f"{a},COVISHIELD,1,{day(200)},4121Z005,F-TVM-1,Dr. Rao\n"
        f"{a},COVISHIELD,2,{day(120)},4121Z099,,\n"          # abroad: no facility
        f"{b},COVAXIN,1,{day(30)},BB-77,F-TVM-1,\n"
        f"{b},COVAXIN,2,{day(10)},BB-78,F-TVM-1,\n"          # 20 days: interval relaxed
        f"{c},COVISHIELD,1,{day(0)},4121Z006,,\n"            # today is not the future
    )


def test_a_good_file_records_doses_and_queues_their_certificates(reg_app, people):
    report = run(reg_app, good_file(people))
    assert (report.rows, report.added, report.unchanged) == (5, 5, 0)
    assert counts(reg_app) == (5, 5, 5)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        doses = session.scalars(select(Dose).order_by(Dose.id)).all()
        assert {d.source for d in doses} == {"imported"}
        abroad = [d for d in doses if d.facility_id is None]
        assert len(abroad) == 2 and {d.lot for d in abroad} == {"4121Z099", "4121Z006"}
        local = doses[0].administered_at.astimezone(IST)
        assert local.date().isoformat() == day(200) and doses[0].vaccinator == "Dr. Rao"
        dues = session.scalars(select(CertificateDue)).all()
        assert {(d.status, d.reason) for d in dues} == {("pending", "dose")}
        assert {d.dose_id for d in dues} == {d.id for d in doses}
        event = session.scalars(select(AuditEvent)
                                .where(AuditEvent.action == "vaccination.import")).one()
        assert event.details["rows"] == 5 and event.details["added"] == 5
    # The worker issues the certificates of imported doses like any other.
    with reg_app.app_context():
        keystore_module.generate(certificates.keystore().keys_dir, "IN", "MoHFW")
        issued = certificates.process_outbox(get_database(reg_app).session_factory,
                                             active_pack(), certificates.keystore().current())
    assert issued == 5
    with reg_app.app_context(), get_database(reg_app).session() as session:
        live = session.scalars(select(Certificate).where(
            Certificate.superseded_at.is_(None))).all()
        assert len(live) == 3 and all(c.dcc for c in live)


def test_rerun_is_idempotent_and_a_changed_dose_is_refused(reg_app, people):
    text = good_file(people)
    run(reg_app, text)
    again = run(reg_app, text)
    assert (again.added, again.unchanged) == (0, 5)
    assert counts(reg_app) == (5, 5, 5)
    # More of the same history: recorded rows unchanged, the new one added.
    a = people[0]
    more = text + f"{a},COVISHIELD,3,{day(5)},4121Z500,F-TVM-1,\n"
    report = run(reg_app, more)
    assert (report.added, report.unchanged) == (1, 5)
    changed = HEADER + f"{a},COVAXIN,1,{day(199)},4121Z005,F-TVM-1,Dr. Rao\n"
    with pytest.raises(ImportInvalid) as caught:
        run(reg_app, changed)
    (problem,) = [str(p) for p in caught.value.problems]
    assert problem.startswith("doses.csv:2: vaccine: dose 1 of")
    assert "vaccine, date" in problem
    assert counts(reg_app) == (6, 6, 6)


def test_every_bad_row_is_reported_and_nothing_is_written(reg_app, people):
    a, b, c = people
    bad = HEADER + (
        f"{a},COVISHIELD,1,{day(100)},L1,F-TVM-1,\n"
        f"99999999999999,COVISHIELD,1,{day(100)},L1,,\n"                   # 3 unknown person
        f"{b},SPUTNIK,1,{day(100)},L1,,\n"                                 # 4 unknown vaccine
        f"{b},COVISHIELD,x,{day(100)},L1,,\n"                              # 5 bad dose
        f"{b},COVISHIELD,1,{day(-2)},L1,,\n"                               # 6 future
        f"{b},COVISHIELD,1,31/12/2021,,NOWHERE,\n"                         # 7 date, lot, facility
        f"{a},COVISHIELD,1,{day(100)},L1,F-TVM-1,\n"                       # 8 dose twice
        f"{c},COVISHIELD,2,{day(100)},L1,,\n"                              # 9 no dose 1
        f"{a},COVAXIN,2,{day(50)},L2,,\n"                                  # 10 other product
        f"{b},COVISHIELD,1,{day(100)},L1,,too,many\n"                      # 11 shape
    )
    with pytest.raises(ImportInvalid) as caught:
        run(reg_app, bad)
    lines = [(p.line, p.field) for p in caught.value.problems]
    assert lines == [
        (3, "beneficiary_reference_id"), (4, "vaccine"), (5, "dose"), (6, "date"),
        (7, "date"), (7, "facility_code"), (7, "lot"), (8, "dose"), (9, "dose"),
        (10, "vaccine"), (11, "(row)"),
    ], [str(p) for p in caught.value.problems]
    messages = {p.line: p.message for p in caught.value.problems}
    assert "first on line 2" in messages[8]
    assert "dose 1" in messages[9]
    assert counts(reg_app) == (0, 0, 0)


def test_order_checks_include_doses_already_recorded(reg_app, people):
    a, b, _c = people
    record_dose(reg_app, a, 1, "COVISHIELD", days_ago=100)
    text = HEADER + (
        f"{a},COVISHIELD,2,{day(110)},L2,,\n"      # before dose 1's date
        f"{b},COVISHIELD,1,{day(60)},L1,,\n"
        f"{b},COVISHIELD,1,{day(60)},L1,,\n"
    )
    with pytest.raises(ImportInvalid) as caught:
        run(reg_app, text)
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "date"), (4, "dose")]
    fixed = HEADER + f"{a},COVISHIELD,2,{day(90)},L2,,\n{b},COVISHIELD,1,{day(60)},L1,,\n"
    checked = run(reg_app, fixed, dry_run=True)
    assert checked.added == 2 and counts(reg_app)[0] == 1
    assert run(reg_app, fixed).added == 2
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert sorted(session.scalars(select(Dose.source))) == ["imported", "imported",
                                                               "recorded"]


# --- CLI ----------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def cli(request, init_instance):
    folder = init_instance(request.param)
    app = create_app({"INSTANCE_PATH": str(folder)})
    refs = []
    with app.app_context(), get_database(app).session() as session:
        account = CitizenAccount(mobile="+919876500000", locale="en")
        session.add(account)
        session.flush()
        for number in _valid_aadhaar(2):
            view = registration.add_beneficiary(session, active_pack(), account,
                                                **member(number))
            refs.append(view.beneficiary.reference_id)
        session.commit()
    get_database(app).dispose()

    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False,
                                  env={"COWIN_KIT_INSTANCE_PATH": str(folder)})
    invoke.refs = refs
    return invoke


def test_cli_imports_reruns_and_reports_problems(cli, tmp_path):
    a, b = cli.refs
    good = tmp_path / "doses.csv"
    good.write_text(HEADER + f"{a},COVISHIELD,1,{day(90)},L1,,\n"
                    f"{a},COVISHIELD,2,{day(3)},L2,,\n{b},COVAXIN,1,{day(9)},B1,,\n",
                    encoding="utf-8")
    checked = cli("vaccinations", "import", good, "--check")
    assert checked.exit_code == 0, checked.output
    assert "would give 3 added, 0 unchanged" in checked.output
    first = cli("vaccinations", "import", good)
    assert first.exit_code == 0, first.output
    summary, *made = first.output.strip().splitlines()
    assert summary == "vaccinations: 3 added, 0 unchanged"
    # on PostgreSQL the past months' partitions the doses needed, where the run had none
    assert made == [] or (len(made) == 1 and made[0].startswith("partitions created: dose_p"))
    again = cli("vaccinations", "import", good)
    assert again.output.strip() == "vaccinations: 0 added, 3 unchanged"
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + f"{b},COVAXIN,3,{day(1)},B3,,\n{b},COVAXIN,2,{day(1)},,,\n",
                   encoding="utf-8")
    result = cli("vaccinations", "import", bad)
    assert result.exit_code == 1
    assert f"{bad}:2: dose: " in result.output
    assert f"{bad}:3: lot: " in result.output
    assert "2 problems" in result.output
