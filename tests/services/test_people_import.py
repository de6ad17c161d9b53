"""`cowin-kit people import FILE`: people from an existing register, on every backend. A
file is imported whole or not at all with every bad row as FILE:LINE: column: message,
re-running it changes nothing, and `vaccinations import` finds the people by external_id."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.cli import main
from cowin_kit.core.db import get_database
from cowin_kit.registration.imports import ImportInvalid, import_people
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.testing import auth, publish, staff_token, today, valid_aadhaar

HEADER = ("external_id,name,birth_date,sex,location_code,guardian_name,guardian_relation,"
          "mobile,id_type,id_number\n")


def ago(days: int) -> str:
    return (today() - timedelta(days=days)).isoformat()


def good_file() -> str:
    adult = valid_aadhaar(1)[0]
    return HEADER + "".join([
        f"DH-001,Baby Meena,{ago(20)},F,IN-KL-TVM,Meena Kumari,Mother,9876500101,,\n",
        f"DH-002,Ravi,{ago(900)},male,IN-KL-TVM,Meena Kumari,mother,9876500101,,\n",
        f"DH-003,Anil Kumar,1980-05-01,M,IN-KL-EKM,,,9876500102,aadhaar,{adult}\n",
    ])


def run(app, text: str, **options):
    with app.app_context(), get_database(app).session() as session:
        return import_people(session, text.encode(), file_name="register.csv", **options)


def count(app, model, *where) -> int:
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_register_is_imported_and_a_rerun_changes_nothing(reg_app):
    report = run(reg_app, good_file())
    assert (report.added, report.unchanged) == (3, 0)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        people = {p.external_id: p for p in session.scalars(select(Beneficiary))}
        baby, adult = people["DH-001"], people["DH-003"]
        assert baby.id_type_id is None and baby.id_number_last4 is None
        assert baby.guardian_name == "Meena Kumari" and baby.guardian_relation == "mother"
        assert baby.account_id == people["DH-002"].account_id  # one household
        assert adult.id_type_id is not None and adult.id_number_last4 == valid_aadhaar(1)[0][-4:]
        assert baby.registered_by == "import" and len(baby.reference_id) == 14
    assert count(reg_app, CitizenAccount) == 2
    assert count(reg_app, AuditEvent, AuditEvent.action == "person.import") == 3
    again = run(reg_app, good_file())
    assert (again.added, again.unchanged) == (0, 3)
    assert count(reg_app, Beneficiary) == 3 and count(reg_app, CitizenAccount) == 2


def test_bad_rows_are_all_reported_and_nothing_is_written(reg_app):
    text = HEADER + "".join([
        f"DH-001,Baby Meena,{ago(20)},F,IN-KL-TVM,Meena Kumari,mother,9876500101,,\n",
        f"DH-002,Old Enough,{ago(8 * 365)},F,IN-KL-TVM,Meena Kumari,mother,9876500101,,\n",
        f"DH-003,No Guardian,{ago(30)},X,NOWHERE,,,12,,\n",
        f"DH-001,Twice,{ago(40)},F,IN-KL-TVM,Meena,mother,9876500101,,\n",
        f"DH-005,Future,{(today() + timedelta(days=3)).isoformat()},M,IN-KL-TVM,A,father,"
        "9876500101,aadhaar,123\n",
    ])
    with pytest.raises(ImportInvalid) as caught:
        run(reg_app, text)
    found = {(p.line, p.field) for p in caught.value.problems}
    assert {(3, "id_number"), (4, "sex"), (4, "location_code"), (4, "mobile"),
            (4, "guardian_name"), (4, "guardian_relation"), (5, "external_id"),
            (6, "birth_date"), (6, "id_number")} <= found
    assert all(str(p).startswith(f"register.csv:{p.line}: ") for p in caught.value.problems)
    assert count(reg_app, Beneficiary) == 0 and count(reg_app, CitizenAccount) == 0


def test_the_household_limit_and_changed_rows_are_refused(reg_app):
    run(reg_app, good_file())
    rows = "".join(f"DH-1{i},Child {i},{ago(30 + i)},F,IN-KL-TVM,Meena Kumari,mother,"
                   "9876500101,,\n" for i in range(5))  # 2 registered + 5 > 6
    with pytest.raises(ImportInvalid) as caught:  # the India pack's routine.household_limit
        run(reg_app, HEADER + rows)
    assert [(p.line, p.field) for p in caught.value.problems] == [(6, "mobile")]
    changed = HEADER + f"DH-001,Baby Meenakshi,{ago(20)},F,IN-KL-TVM,Meena Kumari,mother," \
                       "9876500101,,\n"
    with pytest.raises(ImportInvalid) as caught:
        run(reg_app, changed)
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "name")]
    assert count(reg_app, Beneficiary) == 3


def test_the_cli_prints_file_line_problems_and_then_imports(reg_app, tmp_path, monkeypatch):
    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", reg_app.config["COWIN_KIT"]["DATABASE_URL"])
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    # one ID hash key for every run, as an instance has (else each process draws one)
    monkeypatch.setenv("COWIN_KIT_ID_HASH_KEY", "people-import-test-key-0123456789abcdef")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + f"DH-9,Someone,{ago(10)},F,IN-KL-TVM,,,9876500101,,\n",
                   encoding="utf-8")
    result = CliRunner().invoke(main, ["people", "import", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2: guardian_name: " in result.output
    good = tmp_path / "good.csv"
    good.write_text(good_file(), encoding="utf-8")
    checked = CliRunner().invoke(main, ["people", "import", "--check", str(good)])
    assert checked.exit_code == 0 and "3 added" in checked.output
    assert count(reg_app, Beneficiary) == 0
    done = CliRunner().invoke(main, ["people", "import", str(good)])
    assert done.exit_code == 0, done.output
    assert "people: 3 added, 0 unchanged" in done.output
    rerun = CliRunner().invoke(main, ["people", "import", str(good)])
    assert "people: 0 added, 3 unchanged" in rerun.output


def test_vaccinations_import_finds_people_by_external_id(reg_app, tmp_path, monkeypatch):
    from cowin_kit.vaccination.imports import import_vaccinations

    run(reg_app, good_file())
    publish(reg_app, code="F-EKM-1")
    doses = ("external_id,vaccine,dose,date,lot,facility_code,vaccinator\n"
             f"DH-003,COVISHIELD,1,{ago(120)},4121Z005,,\n")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        report = import_vaccinations(session, doses.encode(), file_name="doses.csv")
    assert report.added == 1
    with reg_app.app_context(), get_database(reg_app).session() as session:
        person = session.scalars(select(Beneficiary)
                                 .where(Beneficiary.external_id == "DH-003")).one()
        assert session.scalar(select(Dose.dose_number)
                              .where(Dose.beneficiary_id == person.id)) == 1
    unknown = ("external_id,vaccine,dose,date,lot,facility_code,vaccinator\n"
               f"DH-404,COVISHIELD,1,{ago(120)},L1,,\n")
    with reg_app.app_context(), get_database(reg_app).session() as session, \
            pytest.raises(ImportInvalid) as caught:
        import_vaccinations(session, unknown.encode(), file_name="doses.csv")
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "external_id")]
    both = ("beneficiary_reference_id,external_id,vaccine,dose,date,lot,facility_code,"
            f"vaccinator\n{person.reference_id},DH-003,COVISHIELD,2,{ago(1)},L2,,\n")
    with reg_app.app_context(), get_database(reg_app).session() as session, \
            pytest.raises(ImportInvalid):
        import_vaccinations(session, both.encode(), file_name="doses.csv")


def test_a_child_s_routine_history_is_imported_as_it_was_given(reg_app):
    """A register's doses of a child (DH-002, 900 days old) go to their routine series,
    early ones included (the due rules judge them), with no certificate due; a re-run
    changes nothing; a dose before birth or an unknown schedule is refused, naming the
    line, and nothing of the file is written."""
    from cowin_kit.programme import due
    from cowin_kit.vaccination.imports import import_vaccinations
    from cowin_kit.vaccination.models import CertificateDue

    def vaccinate(text):
        with reg_app.app_context(), get_database(reg_app).session() as session:
            return import_vaccinations(session, text.encode(), file_name="history.csv")

    run(reg_app, good_file())
    header = "external_id,vaccine,dose,date,lot,facility_code,vaccinator,schedule\n"
    history = header + "".join([
        f"DH-002,BCG,1,{ago(900)},BCG-7,,ANM Lata,\n",
        f"DH-002,HEPB,1,{ago(900)},HB-7,,ANM Lata,\n",
        f"DH-002,BOPV,1,{ago(900)},OPV-7,,ANM Lata,\n",
        f"DH-002,PENTA,1,{ago(900 - 42)},PN-7,,ANM Lata,\n",
        f"DH-002,PENTA,2,{ago(900 - 50)},PN-8,,ANM Lata,\n",   # 8 days later: too early
        f"DH-002,BOPV,2,{ago(900 - 42)},OPV-8,,ANM Lata,opv\n",
    ])
    report = vaccinate(history)
    assert (report.added, report.unchanged) == (6, 0)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        child = session.scalars(select(Beneficiary)
                                .where(Beneficiary.external_id == "DH-002")).one()
        rows = session.execute(select(Dose.series, Dose.dose_number, Dose.source)
                               .where(Dose.beneficiary_id == child.id)).all()
        assert sorted(rows) == [("bcg", 1, "imported"), ("dtp", 1, "imported"),
                                ("dtp", 2, "imported"), ("hepb-birth", 1, "imported"),
                                ("opv", 1, "imported"), ("opv", 2, "imported")]
        assert session.scalar(select(func.count()).select_from(CertificateDue)) == 0
    client = reg_app.test_client()
    token = staff_token(reg_app, client, "dio.tvm", "district_admin", location_code="IN-KL-TVM")
    statuses = client.get(f"/api/v1/people/{child.reference_id}/due",
                          headers=auth(token)).get_json()
    dtp = [(d["dose"], d["status"]) for d in statuses["doses"] if d["schedule"] == "dtp"]
    assert (1, due.DONE) in dtp and (2, due.NOT_COUNTED) in dtp  # the early one
    assert vaccinate(history).unchanged == 6  # a re-run
    bad = header + "".join([
        f"DH-001,BCG,1,{ago(400)},BCG-9,,,\n",                 # before her birth (20 days)
        f"DH-001,HEPB,1,{ago(19)},HB-9,,,hepatitis\n",         # no such schedule
        f"DH-001,BOPV,1,{ago(19)},OPV-9,,,bcg\n",              # BCG's schedule gives no OPV
        f"DH-001,BOPV,1,{ago(18)},OPV-9,,,\n",
    ])
    with pytest.raises(ImportInvalid) as caught:
        vaccinate(bad)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (2, "date"), (3, "schedule"), (4, "schedule")]
    with reg_app.app_context(), get_database(reg_app).session() as session:
        baby = session.scalars(select(Beneficiary)
                               .where(Beneficiary.external_id == "DH-001")).one()
        assert session.scalar(select(func.count()).select_from(Dose)
                              .where(Dose.beneficiary_id == baby.id)) == 0
