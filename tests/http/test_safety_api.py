"""Vaccine safety through the API (SQLite and PostgreSQL): AEFI reports with WHO's core
variables from vaccinators and citizens, serious-case alerts to the district, the India
pack's three investigation stages with WHO causality classification, every step audited,
signals by lot and facility, the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core.db import get_database
from cowin_kit.safety.models import AefiAlert, AefiReportDose, AefiStep
from cowin_kit.testing import add_members, auth, publish, sign_in, staff_token, valid_aadhaar
from cowin_kit.vaccination.models import AefiReport


def _rows(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _vaccinate(client, token, ref, *, vaccine="COVAXIN", lot="EL0001"):
    recorded = client.post("/api/v1/vaccinator/doses", headers=auth(token), json={
        "reference_id": ref, "vaccine": vaccine, "lot": lot})
    assert recorded.status_code == 201, recorded.get_json()
    return recorded.get_json()["dose_id"]


def _walk_in(client, token, n, start=300000000000):
    refs = []
    for index, number in enumerate(valid_aadhaar(n, start=start)):
        response = client.post("/api/v1/vaccinator/walk-ins", headers=auth(token), json={
            "mobile": f"99887{index:05d}", "name": f"Person {index}", "birth_year": 1960,
            "gender": "F", "id_type": "aadhaar", "id_number": number,
            "consent_version": "v1"})
        assert response.status_code == 201, response.get_json()
        refs.append(response.get_json()["reference_id"])
    return refs


SERIOUS = {"reactions": ["anaphylaxis"], "symptoms": ["wheezing"], "seriousness": "serious",
           "serious_criteria": ["hospitalization", "life_threatening"],
           "outcome": "recovering", "medical_history": "asthma"}


def test_a_serious_report_alerts_its_district_and_goes_through_the_pack_stages(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, client, "vax.safe", "vaccinator", facility_code="F-TVM-1")
    (ref,) = _walk_in(client, vaccinator, 1)
    dose_id = _vaccinate(client, vaccinator, ref)
    # the onset is before the dose: refused, nothing written
    early = client.post("/api/v1/vaccinator/aefi", headers=auth(vaccinator), json={
        **SERIOUS, "dose_id": dose_id,
        "onset_at": (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()})
    assert early.status_code == 422 and early.get_json()["code"] == "invalid_onset"
    assert _rows(reg_app, AefiReport) == 0
    reported = client.post("/api/v1/vaccinator/aefi", headers=auth(vaccinator), json={
        **SERIOUS, "dose_id": dose_id,
        "onset_at": datetime.now(timezone.utc).isoformat()})
    assert reported.status_code == 201, reported.get_json()
    body = reported.get_json()
    assert (body["serious"], body["alert"], body["stage"], body["status"]) == (
        True, True, "district_investigation", "open")
    assert body["stage_name"] == "District AEFI committee investigation"
    assert [(d["dose_id"], d["lot"], d["vaccine"]) for d in body["doses"]] == [
        (dose_id, "EL0001", "COVAXIN")]
    report_id = body["id"]

    district = staff_token(reg_app, client, "tvm.district", "district_admin",
                           location_code="IN-KL-TVM")
    elsewhere = staff_token(reg_app, client, "dl.district", "district_admin",
                            location_code="IN-DL-CD")
    state = staff_token(reg_app, client, "kl.state", "state_admin", location_code="IN-KL")
    national = staff_token(reg_app, client, "nat.safety", "national_admin")

    alerts = client.get("/api/v1/admin/aefi/alerts", headers=auth(district)).get_json()
    assert [(a["report_id"], a["location"], a["reference_id"]) for a in alerts["alerts"]] == [
        (report_id, "IN-KL-TVM", ref)]
    assert alerts["alerts"][0]["serious_criteria"] == ["hospitalization", "life_threatening"]
    assert client.get("/api/v1/admin/aefi/alerts",
                      headers=auth(elsewhere)).get_json() == {"alerts": []}
    assert client.get("/api/v1/admin/aefi/alerts",
                      headers=auth(vaccinator)).status_code == 403
    alert_id = alerts["alerts"][0]["id"]
    assert client.post(f"/api/v1/admin/aefi/alerts/{alert_id}/acknowledge",
                       headers=auth(elsewhere)).status_code == 404
    acknowledged = client.post(f"/api/v1/admin/aefi/alerts/{alert_id}/acknowledge",
                               headers=auth(district))
    assert acknowledged.get_json()["acknowledged_by"] == "tvm.district"
    assert client.get("/api/v1/admin/aefi/alerts", headers=auth(district)).get_json() == {
        "alerts": []}
    assert len(client.get("/api/v1/admin/aefi/alerts?all=true",
                          headers=auth(district)).get_json()["alerts"]) == 1

    step = f"/api/v1/admin/aefi/{report_id}/steps"
    # the state may not act in the district's stage, nor the other district at all
    assert client.post(step, headers=auth(state), json={"findings": "x"}).status_code == 403
    assert client.post(step, headers=auth(elsewhere), json={"findings": "x"}).status_code == 404
    first = client.post(step, headers=auth(district), json={
        "findings": "Anaphylaxis 10 minutes after the dose; treated with adrenaline.",
        "outcome": "recovered"})
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["stage"], first.get_json()["outcome"]) == ("state_review",
                                                                        "recovered")
    assert client.post(step, headers=auth(district), json={"findings": "x"}).status_code == 403
    second = client.post(step, headers=auth(state), json={"findings": "Cold chain in order."})
    assert second.get_json()["stage"] == "national_causality"
    unclassified = client.post(step, headers=auth(national), json={"findings": "Reviewed."})
    assert unclassified.status_code == 422
    assert unclassified.get_json()["code"] == "causality_required"
    wrong = client.post(step, headers=auth(national), json={"findings": "x", "causality": "E"})
    assert wrong.status_code == 422
    closed = client.post(step, headers=auth(national), json={
        "findings": "Known reaction to the vaccine product.", "causality": "A1"})
    assert closed.status_code == 201
    detail = closed.get_json()
    assert (detail["status"], detail["causality"]) == ("closed", "A1")
    assert [(s["stage"], s["actor"], s["role"], s["status_after"]) for s in detail["steps"]] == [
        ("district_investigation", "tvm.district", "district_admin", "open"),
        ("state_review", "kl.state", "state_admin", "open"),
        ("national_causality", "nat.safety", "national_admin", "closed")]
    again = client.post(step, headers=auth(national), json={"findings": "x", "causality": "C"})
    assert again.status_code == 422 and again.get_json()["code"] == "aefi_closed"
    with reg_app.app_context(), get_database(reg_app).session() as session:
        actions = [e.action for e in session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "aefi_report",
                                     AuditEvent.object_id == str(report_id))
            .order_by(AuditEvent.id))]
    assert actions == ["aefi.report", "aefi.alert", "aefi.alert_acknowledge", "aefi.step",
                       "aefi.step", "aefi.step"]
    assert _rows(reg_app, AefiStep) == 3


def test_citizens_report_for_their_own_members_and_follow_the_investigation(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, client, "vax.cit", "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, citizen, 1)
    # two vaccines at one visit: both are suspected
    first = _vaccinate(client, vaccinator, ref, vaccine="COVISHIELD", lot="4121Z005")
    other = sign_in(reg_app, client, mobile="9876500000")
    url = f"/api/v1/beneficiaries/{ref}/aefi"
    mild = {"onset_at": datetime.now(timezone.utc).isoformat(), "reactions": ["fever_38"], "seriousness": "non_serious",
            "outcome": "recovered"}
    assert client.post(url, headers=auth(other), json=mild).status_code == 404
    assert client.post(url, json=mild).status_code == 401
    bad = client.post(url, headers=auth(citizen), json={**mild,
                                                        "serious_criteria": ["death"]})
    assert bad.status_code == 422 and bad.get_json()["code"] == "criteria_not_serious"
    nothing = client.post(url, headers=auth(citizen), json={**mild, "reactions": []})
    assert nothing.status_code == 422 and nothing.get_json()["code"] == "reaction_required"
    fatal = client.post(url, headers=auth(citizen), json={**mild, "outcome": "fatal"})
    assert fatal.status_code == 422 and fatal.get_json()["code"] == "fatal_needs_death"
    unknown = client.post(url, headers=auth(citizen), json={**mild, "reactions": ["hiccups"]})
    assert unknown.status_code == 422 and "reactions" in str(unknown.get_json())
    assert _rows(reg_app, AefiReport) == 0
    filed = client.post(url, headers=auth(citizen), json=mild)
    assert filed.status_code == 201, filed.get_json()
    assert (filed.get_json()["lot"], filed.get_json()["causality"]) == ("4121Z005", None)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        report = session.scalars(select(AefiReport)).one()
        assert (report.reporter, report.reporter_type, report.dose_id) == (
            "citizen", "citizen", first)
        assert report.reporter_account_id is not None
    assert _rows(reg_app, AefiAlert) == 0  # not serious: no alert
    assert _rows(reg_app, AefiReportDose) == 1
    listed = client.get(url, headers=auth(citizen)).get_json()["reports"]
    assert [(r["status"], r["stage_name"]) for r in listed] == [
        ("open", "District AEFI committee investigation")]
    assert client.get(url, headers=auth(other)).status_code == 404
    # the district closes it early as coincidental: the citizen sees the category
    district = staff_token(reg_app, client, "tvm.d2", "district_admin",
                           location_code="IN-KL-TVM")
    report_id = listed[0]["id"]
    closed = client.post(f"/api/v1/admin/aefi/{report_id}/steps", headers=auth(district),
                         json={"findings": "Fever from a viral infection in the family.",
                               "causality": "C", "close": True})
    assert closed.status_code == 201 and closed.get_json()["status"] == "closed"
    assert client.get(url, headers=auth(citizen)).get_json()["reports"][0]["causality"] == "C"
    seen = client.get("/api/v1/admin/aefi?status=closed", headers=auth(district)).get_json()
    assert [(r["reference_id"], r["reporter_type"]) for r in seen["reports"]] == [
        (ref, "citizen")]


def test_a_death_is_serious_and_carries_its_date(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, client, "vax.death", "vaccinator",
                             facility_code="F-TVM-1")
    (ref,) = _walk_in(client, vaccinator, 1)
    dose_id = _vaccinate(client, vaccinator, ref)
    today = datetime.now(timezone.utc).date()
    late = client.post("/api/v1/vaccinator/aefi", headers=auth(vaccinator), json={
        "dose_id": dose_id, "onset_at": datetime.now(timezone.utc).isoformat(),
        "symptoms": ["collapse"], "seriousness": "death", "outcome": "recovered",
        "died_on": today.isoformat()})
    assert late.status_code == 422 and late.get_json()["code"] == "died_on_not_fatal"
    died = client.post("/api/v1/vaccinator/aefi", headers=auth(vaccinator), json={
        "dose_id": dose_id, "onset_at": datetime.now(timezone.utc).isoformat(),
        "symptoms": ["collapse"], "seriousness": "death", "outcome": "fatal",
        "died_on": today.isoformat()})
    assert died.status_code == 201, died.get_json()
    body = died.get_json()
    assert (body["serious_criteria"], body["died_on"], body["alert"]) == (
        ["death"], today.isoformat(), True)


def test_signals_flag_a_lot_and_a_facility_above_the_pack_threshold(reg_app):
    """India pack: flagged from 3 reports and above 10 per 10,000 doses."""
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    publish(reg_app, code="F-TVM-2")
    one = staff_token(reg_app, client, "vax.one", "vaccinator", facility_code="F-TVM-1")
    two = staff_token(reg_app, client, "vax.two", "vaccinator", facility_code="F-TVM-2")
    people = _walk_in(client, one, 6)
    doses = [_vaccinate(client, one, ref, lot="BAD01") for ref in people[:3]]
    doses += [_vaccinate(client, two, ref, lot="GOOD1") for ref in people[3:]]
    for dose_id, token in zip(doses[:3] + doses[3:5], [one] * 3 + [two] * 2):
        response = client.post("/api/v1/vaccinator/aefi", headers=auth(token), json={
            "dose_id": dose_id, "onset_at": datetime.now(timezone.utc).isoformat(),
            "reactions": ["fever_38"], "seriousness": "non_serious", "outcome": "recovered"})
        assert response.status_code == 201, response.get_json()
    district = staff_token(reg_app, client, "tvm.sig", "district_admin",
                           location_code="IN-KL-TVM")
    found = client.get("/api/v1/admin/aefi/signals", headers=auth(district)).get_json()
    assert (found["threshold_per_10000"], found["min_reports"]) == (10.0, 3)
    rows = {(s["kind"], s["key"]): (s["reports"], s["doses"], s["flagged"])
            for s in found["signals"]}
    assert rows == {("lot", "BAD01"): (3, 3, True), ("facility", "F-TVM-1"): (3, 3, True),
                    ("lot", "GOOD1"): (2, 3, False), ("facility", "F-TVM-2"): (2, 3, False)}
    assert [s["flagged"] for s in found["signals"]][:2] == [True, True]
    elsewhere = staff_token(reg_app, client, "dl.sig", "district_admin",
                            location_code="IN-DL-CD")
    assert client.get("/api/v1/admin/aefi/signals",
                      headers=auth(elsewhere)).get_json()["signals"] == []
    assert client.get("/api/v1/admin/aefi/signals", headers=auth(one)).status_code == 403

    exported = client.get("/api/v1/admin/aefi.csv", headers=auth(district))
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert len(table) == 5
    assert {row["lots"] for row in table} == {"BAD01", "GOOD1"}
    assert table[0]["reactions"] == "fever_38" and table[0]["stage"] == "district_investigation"
    assert "Person" not in exported.get_data(as_text=True)  # names are not exported
    assert client.get("/api/v1/admin/aefi.csv", headers=auth(one)).status_code == 403


def test_reports_filed_before_the_migration_enter_the_first_stage(reg_app):
    """A report with no stage (written before migration 0024) is taken by the first
    stage's role."""
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, client, "vax.old", "vaccinator", facility_code="F-TVM-1")
    (ref,) = _walk_in(client, vaccinator, 1)
    dose_id = _vaccinate(client, vaccinator, ref)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        old = AefiReport(dose_id=dose_id, onset_at=datetime.now(timezone.utc),
                         symptoms=["rash"], seriousness="non_serious", outcome="recovered",
                         reporter="vax.old", stage="")
        session.add(old)
        session.commit()
        report_id = old.id
    district = staff_token(reg_app, client, "tvm.old", "district_admin",
                           location_code="IN-KL-TVM")
    step = client.post(f"/api/v1/admin/aefi/{report_id}/steps", headers=auth(district),
                       json={"findings": "Mild rash, resolved."})
    assert step.status_code == 201, step.get_json()
    assert step.get_json()["stage"] == "state_review"
