"""fhir-export against a local FHIR stub server (http.server in a thread) that checks what
a FHIR R4 server would reject: the Bundle, and the required fields of each resource."""

from __future__ import annotations

import json
import re
import threading
import zoneinfo
from datetime import datetime, time, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from cowin_kit_fhir_export import queue
from sqlalchemy import select, text

from cowin_kit import create_app, plugins
from cowin_kit.core import migrate
from cowin_kit.cli import main
from cowin_kit.provision.installer import install_pack
from cowin_kit.config.packs import load_pack
from cowin_kit.core.db import get_database
from cowin_kit.geography.models import Location
from cowin_kit.identity import services as identity
from cowin_kit.scheduling import sessions
from cowin_kit.testing import database_url, example_pack  # noqa: F401  (fixture)

DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def problems_of(bundle: dict) -> list[str]:
    """What the stub refuses; empty when the transaction is acceptable."""
    found = []
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
        return ["not a transaction Bundle"]
    in_bundle = {f"{e['resource']['resourceType']}/{e['resource']['id']}"
                 for e in bundle.get("entry", []) if "resource" in e}
    for index, entry in enumerate(bundle.get("entry", [])):
        resource, request = entry.get("resource", {}), entry.get("request", {})
        where = f"entry[{index}]"
        kind, rid = resource.get("resourceType"), resource.get("id", "")
        if request.get("method") != "PUT" or request.get("url") != f"{kind}/{rid}":
            found.append(f"{where}: request must be PUT {kind}/{rid}")
        if not FHIR_ID.match(rid):
            found.append(f"{where}: bad id")
        if kind == "Patient":
            if not resource.get("identifier") or not resource["identifier"][0].get("value"):
                found.append(f"{where}: Patient.identifier required")
            if resource.get("gender") not in ("male", "female", "other", "unknown"):
                found.append(f"{where}: Patient.gender invalid")
            if not DATE.match(resource.get("birthDate", "")):
                found.append(f"{where}: Patient.birthDate invalid")
        elif kind == "Immunization":
            if resource.get("status") not in ("completed", "entered-in-error", "not-done"):
                found.append(f"{where}: Immunization.status required")
            coding = resource.get("vaccineCode", {}).get("coding", [])
            if not coding or not all(c.get("system") and c.get("code") for c in coding):
                found.append(f"{where}: Immunization.vaccineCode.coding required")
            reference = resource.get("patient", {}).get("reference", "")
            if not reference.startswith("Patient/") or reference not in in_bundle:
                found.append(f"{where}: Immunization.patient must reference a Patient")
            if not DATE_TIME.match(resource.get("occurrenceDateTime", "")):
                found.append(f"{where}: Immunization.occurrenceDateTime required")
            protocol = resource.get("protocolApplied", [{}])[0]
            if not isinstance(protocol.get("doseNumberPositiveInt"), int):
                found.append(f"{where}: protocolApplied.doseNumberPositiveInt required")
        elif kind == "ImmunizationRecommendation":
            reference = resource.get("patient", {}).get("reference", "")
            if not reference.startswith("Patient/") or reference not in in_bundle:
                found.append(f"{where}: ImmunizationRecommendation.patient required")
            if not DATE_TIME.match(resource.get("date", "")):
                found.append(f"{where}: ImmunizationRecommendation.date required")
            if not resource.get("recommendation"):
                found.append(f"{where}: ImmunizationRecommendation.recommendation required")
            for item in resource.get("recommendation", []):
                if not item.get("vaccineCode") and not item.get("targetDisease"):
                    found.append(f"{where}: vaccineCode or targetDisease required")
                status = item.get("forecastStatus", {}).get("coding", [{}])[0]
                if status.get("code") not in ("due", "overdue", "immune", "contraindicated",
                                              "complete"):
                    found.append(f"{where}: forecastStatus invalid")
                for criterion in item.get("dateCriterion", []):
                    code = criterion.get("code", {}).get("coding", [{}])[0].get("code")
                    if code not in ("30981-5", "30980-7", "59777-3") \
                            or not DATE_TIME.match(criterion.get("value", "")):
                        found.append(f"{where}: dateCriterion invalid")
        elif kind == "AdverseEvent":
            if resource.get("actuality") not in ("actual", "potential"):
                found.append(f"{where}: AdverseEvent.actuality required")
            reference = resource.get("subject", {}).get("reference", "")
            if not reference.startswith("Patient/") or reference not in in_bundle:
                found.append(f"{where}: AdverseEvent.subject must reference a Patient")
            for name in ("date", "recordedDate"):
                if name in resource and not DATE_TIME.match(resource[name]):
                    found.append(f"{where}: AdverseEvent.{name} invalid")
            seriousness = resource.get("seriousness", {}).get("coding", [{}])[0]
            if seriousness.get("code") not in ("serious", "non-serious"):
                found.append(f"{where}: AdverseEvent.seriousness invalid")
            outcome = resource.get("outcome", {}).get("coding", [{}])[0]
            if outcome.get("code") not in ("resolved", "recovering", "ongoing",
                                           "resolvedWithSequelae", "fatal", "unknown"):
                found.append(f"{where}: AdverseEvent.outcome invalid")
            for suspect in resource.get("suspectEntity", []):
                if suspect.get("instance", {}).get("reference") not in in_bundle:
                    found.append(f"{where}: suspectEntity.instance must resolve")
        else:
            found.append(f"{where}: unexpected resourceType {kind!r}")
    return found


class FhirStub:
    def __init__(self):
        self.store: dict[str, dict] = {}
        self.bundles: list[dict] = []
        self.fail_with: int | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.bundles.append({"headers": dict(self.headers), "bundle": body})
                problems = problems_of(body)
                if stub.fail_with or problems or \
                        self.headers["Content-Type"] != "application/fhir+json":
                    self.reply(stub.fail_with or 422, {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "invalid", "diagnostics": p}
                                  for p in problems or ["refused"]]})
                    return
                for entry in body["entry"]:
                    stub.store[entry["request"]["url"]] = entry["resource"]
                self.reply(200, {"resourceType": "Bundle", "type": "transaction-response",
                                 "entry": [{"response": {"status": "200 OK"}}
                                           for _ in body["entry"]]})

            def reply(self, status, document):
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/fhir"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


def test_the_stub_refuses_what_a_fhir_server_would():
    assert problems_of({"resourceType": "Bundle", "type": "batch"}) == ["not a transaction Bundle"]
    bad = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": {"resourceType": "Immunization", "id": "x-1", "vaccineCode": {"coding": []},
                     "patient": {"reference": "Patient/nobody"},
                     "occurrenceDateTime": "27-11-2026"},
        "request": {"method": "PUT", "url": "Immunization/x-1"}}]}
    assert problems_of(bad) == [
        "entry[0]: Immunization.status required",
        "entry[0]: Immunization.vaccineCode.coding required",
        "entry[0]: Immunization.patient must reference a Patient",
        "entry[0]: Immunization.occurrenceDateTime required",
        "entry[0]: protocolApplied.doseNumberPositiveInt required"]


@pytest.fixture
def fhir_server():
    stub = FhirStub()
    yield stub
    stub.close()


@pytest.fixture
def kit(tmp_path, fhir_server, database_url):
    india = example_pack("IN")
    settings = {"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                "DATABASE_URL": database_url,
                "PLUGINS": ["fhir-export"], "FHIR_EXPORT_URL": fhir_server.url,
                "FHIR_EXPORT_AUTH_HEADER": "Authorization: Bearer t0k3n"}
    app = create_app(settings)
    with app.app_context(), get_database(app).session() as session:
        engine = get_database(app).engine
        migrate.upgrade(engine)
        assert migrate.upgrade_plugins(engine, plugins.enabled_plugins()) == [
            "plugin fhir-export at fhir0003"]
        install_pack(session, load_pack(india))
        district = session.scalars(select(Location).where(Location.code == "IN-KL-TVM")).one()
        sessions.upsert_facility(session, code="F-TVM-1", name="Medical College PHC",
                                   location_code=district.code, postal_code="695001",
                                   latitude=8.5, longitude=76.9, fee_type="Free")
        user = identity.create_staff_user(session, "vax.fhir", "correct horse battery")
        identity.grant_role(session, user, "vaccinator", facility_code="F-TVM-1")
        session.commit()
    app.cli_env = {f"COWIN_KIT_{k}": ",".join(v) if isinstance(v, list) else str(v)
                   for k, v in settings.items()}
    yield app
    get_database(app).dispose()


def vaccinate(app, mobile, aadhaar, vaccine="COVISHIELD", birth_year=1950, gender="F"):
    client = app.test_client()
    token = client.post("/api/v1/staff/sign-in", json={
        "username": "vax.fhir", "password": "correct horse battery"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    walk_in = client.post("/api/v1/vaccinator/walk-ins", headers=headers, json={
        "mobile": mobile, "name": "Lakshmi Amma", "birth_year": birth_year, "gender": gender,
        "id_type": "aadhaar", "id_number": aadhaar, "consent_version": "v1"})
    assert walk_in.status_code == 201, walk_in.get_json()
    ref = walk_in.get_json()["reference_id"]
    dose = client.post("/api/v1/vaccinator/doses", headers=headers, json={
        "reference_id": ref, "vaccine": vaccine, "lot": "4121Z005"})
    assert dose.status_code == 201, dose.get_json()
    return ref, dose.get_json()["dose_id"]


AADHAAR = ["234123412346", "499118665246"]  # valid Verhoeff check digits


def queued(app):
    with app.app_context(), get_database(app).session() as session:
        return [tuple(row) for row in session.execute(
            select(queue.c.dose_id, queue.c.pushed_at.is_not(None), queue.c.attempts))]


def test_recorded_doses_are_queued_and_pushed_as_valid_resources(kit, fhir_server):
    ref, dose_id = vaccinate(kit, "9988776655", AADHAAR[0])
    assert queued(kit) == [(dose_id, False, 0)]  # queued by the hook, nothing sent yet
    assert fhir_server.bundles == []
    runner = CliRunner()
    result = runner.invoke(main, ["fhir", "push"], env=kit.cli_env)
    assert result.exit_code == 0, result.output
    # Patient and dose; no ImmunizationRecommendation: at 76 every routine series of the
    # pack is past its last age (a child's forecast: the test below)
    assert result.output.splitlines() == ["fhir: 1 queued dose(s) sent (2 resources)"]
    assert f"ImmunizationRecommendation/{ref}-forecast" not in fhir_server.store
    (sent,) = fhir_server.bundles
    assert sent["headers"]["Authorization"] == "Bearer t0k3n"
    patient = fhir_server.store[f"Patient/{ref}"]
    assert patient["identifier"] == [{"system": "urn:cowin-kit:beneficiary-reference-id",
                                      "value": ref}]
    assert (patient["gender"], patient["birthDate"], patient["name"]) == (
        "female", "1950", [{"text": "Lakshmi Amma"}])
    assert AADHAAR[0] not in json.dumps(sent["bundle"])  # the ID number never leaves
    immunization = fhir_server.store[f"Immunization/{ref}-1"]
    assert immunization["status"] == "completed"
    assert {"system": "http://hl7.org/fhir/sid/cvx", "code": "210"} in \
        immunization["vaccineCode"]["coding"]
    assert immunization["patient"] == {"reference": f"Patient/{ref}"}
    assert immunization["lotNumber"] == "4121Z005"
    assert immunization["protocolApplied"] == [{"doseNumberPositiveInt": 1}]
    occurred = datetime.fromisoformat(immunization["occurrenceDateTime"])
    assert abs((datetime.now(timezone.utc) - occurred).total_seconds()) < 3600
    assert queued(kit) == [(dose_id, True, 0)]
    again = runner.invoke(main, ["fhir", "push"], env=kit.cli_env)
    assert again.output.splitlines() == ["fhir: 0 queued dose(s) sent (0 resources)"]
    assert len(fhir_server.bundles) == 1


def test_a_dose_id_past_the_32_bit_range_is_queued_and_pushed(kit, fhir_server):
    """The kit's dose ids are bigint on PostgreSQL (its migration 0033), the queue's too
    (fhir0003): a dose numbered past 2,147,483,647 is queued and sent."""
    engine = get_database(kit).engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's INTEGER ids are 64-bit already")
    with engine.begin() as connection:
        connection.execute(text("SELECT setval(pg_get_serial_sequence('dose', 'id'), "
                                "3000000000, false)"))
    ref, dose_id = vaccinate(kit, "9988776655", AADHAAR[0])
    assert dose_id == 3_000_000_000 and queued(kit) == [(dose_id, False, 0)]
    result = CliRunner().invoke(main, ["fhir", "push"], env=kit.cli_env)
    assert result.output.splitlines() == ["fhir: 1 queued dose(s) sent (2 resources)"]
    assert f"Immunization/{ref}-1" in fhir_server.store and queued(kit) == [(dose_id, True, 0)]


def test_a_child_s_forecast_goes_as_an_immunization_recommendation(kit, fhir_server):
    """A newborn registered by the health worker, given the birth doses at birth: the
    push carries the child's ImmunizationRecommendation (the 6-week doses, with their
    LOINC date criteria; BCG complete) beside the Patient and the three Immunizations."""
    client = kit.test_client()
    token = client.post("/api/v1/staff/sign-in", json={
        "username": "vax.fhir", "password": "correct horse battery"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    zone = zoneinfo.ZoneInfo("Asia/Kolkata")
    born = datetime.now(zone).date() - timedelta(days=50)
    person = client.post("/api/v1/staff/people", headers=headers, json={
        "name": "Baby of Lakshmi", "birth_date": born.isoformat(), "gender": "M",
        "mobile": "9988776600", "location": "IN-KL-TVM", "guardian_name": "Lakshmi Amma",
        "guardian_relation": "mother"})
    assert person.status_code == 201, person.get_json()
    ref = person.get_json()["reference_id"]
    visit = client.post("/api/v1/vaccinator/visits", headers=headers, json={
        "reference_id": ref, "administered_at": datetime.combine(
            born, time(12), zone).isoformat(),
        "doses": [{"vaccine": "BCG", "lot": "B1"}, {"vaccine": "BOPV", "lot": "O1"},
                  {"vaccine": "HEPB", "lot": "H1"}]})
    assert visit.status_code == 201, visit.get_json()
    result = CliRunner().invoke(main, ["fhir", "push"], env=kit.cli_env)
    assert result.exit_code == 0, result.output
    assert result.output == "fhir: 3 queued dose(s) sent (5 resources)\n"
    forecast = fhir_server.store[f"ImmunizationRecommendation/{ref}-forecast"]
    assert forecast["patient"] == {"reference": f"Patient/{ref}"}
    by_series = {}
    for item in forecast["recommendation"]:
        by_series.setdefault(item["series"], []).append(item)
    assert by_series["bcg"][0]["forecastStatus"]["coding"][0]["code"] == "complete"
    penta = by_series["dtp"][0]
    assert penta["forecastStatus"]["coding"][0]["code"] == "due"  # 6 weeks passed 8 days ago
    assert penta["doseNumberPositiveInt"] == 1
    assert {"coding": [{"system": "urn:cowin-kit:vaccine", "code": "PENTA"}]} \
        in penta["vaccineCode"]
    criteria = {c["code"]["coding"][0]["code"]: c["value"][:10] for c in penta["dateCriterion"]}
    assert criteria["30980-7"] == (born + timedelta(weeks=6)).isoformat()  # due date
    assert "hpv" not in by_series  # a boy


def test_a_refused_push_stays_queued_with_its_error(kit, fhir_server):
    _, dose_id = vaccinate(kit, "9988776655", AADHAAR[0])
    fhir_server.fail_with = 503
    result = CliRunner().invoke(main, ["fhir", "push"], env=kit.cli_env)
    assert result.exit_code == 1
    assert "FHIR server answered HTTP 503: refused (1 dose(s) stay queued)" in result.output
    assert queued(kit) == [(dose_id, False, 1)]
    fhir_server.fail_with = None
    assert CliRunner().invoke(main, ["fhir", "push"], env=kit.cli_env).exit_code == 0
    assert queued(kit) == [(dose_id, True, 1)]


def test_export_by_days_sends_every_dose_of_those_days(kit, fhir_server):
    first, _ = vaccinate(kit, "9988776655", AADHAAR[0])
    second, _ = vaccinate(kit, "9988776611", AADHAAR[1], vaccine="COVAXIN", gender="M")
    today = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date()  # the India pack's zone
    result = CliRunner().invoke(main, ["export", "fhir", "--from", today.isoformat()],
                                env=kit.cli_env)
    assert result.exit_code == 0, result.output
    assert result.output == (f"fhir: 2 dose(s) from {today} to {today}, "
                             f"4 resource(s) sent\n")
    assert fhir_server.store[f"Patient/{second}"]["gender"] == "male"
    assert {"system": "http://hl7.org/fhir/sid/cvx", "code": "502"} in \
        fhir_server.store[f"Immunization/{second}-1"]["vaccineCode"]["coding"]
    assert f"Immunization/{first}-1" in fhir_server.store
    empty = CliRunner().invoke(main, ["export", "fhir", "--from", "2020-01-01"], env=kit.cli_env)
    assert empty.output == "fhir: 0 dose(s) from 2020-01-01 to 2020-01-01, 0 resource(s) sent\n"
    fhir_server.close()
    down = CliRunner().invoke(main, ["export", "fhir", "--from", today.isoformat()],
                              env=kit.cli_env)
    assert down.exit_code == 1 and "FHIR server unreachable" in down.output


def test_the_hook_can_be_switched_off(kit, fhir_server, tmp_path):
    app = create_app({**{k[len("COWIN_KIT_"):]: v for k, v in kit.cli_env.items()},
                      "FHIR_EXPORT_QUEUE_DOSES": "false"})
    vaccinate(app, "9988776655", AADHAAR[0])
    assert queued(app) == []
    get_database(app).dispose()


def test_aefi_reports_are_pushed_as_adverse_events_and_again_after_each_step(kit, fhir_server):
    from cowin_kit_fhir_export import aefi_queue

    ref, dose_id = vaccinate(kit, "9988776655", AADHAAR[0])
    client = kit.test_client()
    token = client.post("/api/v1/staff/sign-in", json={
        "username": "vax.fhir", "password": "correct horse battery"}).get_json()["token"]
    reported = client.post("/api/v1/vaccinator/aefi", headers={
        "Authorization": f"Bearer {token}"}, json={
        "dose_id": dose_id, "onset_at": datetime.now(timezone.utc).isoformat(),
        "reactions": ["anaphylaxis"], "symptoms": ["wheezing"], "seriousness": "serious",
        "serious_criteria": ["hospitalization"], "outcome": "recovering"})
    assert reported.status_code == 201, reported.get_json()
    report_id = reported.get_json()["id"]
    runner = CliRunner()
    result = runner.invoke(main, ["fhir", "push"], env=kit.cli_env)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("fhir: 1 queued AEFI report(s) sent (")
    assert {f"Patient/{ref}", f"Immunization/{ref}-1"} <= set(fhir_server.store)
    event = fhir_server.store[f"AdverseEvent/aefi-{report_id}"]
    assert event["subject"] == {"reference": f"Patient/{ref}"}
    assert event["seriousness"]["coding"][0]["code"] == "serious"
    assert event["outcome"]["coding"][0]["code"] == "recovering"
    assert event["suspectEntity"] == [{"instance": {"reference": f"Immunization/{ref}-1"}}]
    assert event["event"]["coding"][0]["code"] == "anaphylaxis"
    assert AADHAAR[0] not in json.dumps(fhir_server.bundles[-1]["bundle"])
    # the district investigates and closes it: pushed again, with the causality
    with kit.app_context(), get_database(kit).session() as session:
        identity.add_staff_user(session, "tvm.fhir", "correct horse battery",
                                role="district_admin", location_code="IN-KL-TVM")
    district = client.post("/api/v1/staff/sign-in", json={
        "username": "tvm.fhir", "password": "correct horse battery"}).get_json()["token"]
    step = client.post(f"/api/v1/admin/aefi/{report_id}/steps",
                       headers={"Authorization": f"Bearer {district}"},
                       json={"findings": "Known reaction.", "causality": "A1", "close": True})
    assert step.status_code == 201, step.get_json()
    with kit.app_context(), get_database(kit).session() as session:
        assert session.execute(select(aefi_queue.c.pushed_at)).scalar_one() is None
    assert runner.invoke(main, ["fhir", "push"], env=kit.cli_env).exit_code == 0
    event = fhir_server.store[f"AdverseEvent/aefi-{report_id}"]
    assert event["suspectEntity"][0]["causality"][0]["assessment"]["coding"][0]["code"] == "A1"
