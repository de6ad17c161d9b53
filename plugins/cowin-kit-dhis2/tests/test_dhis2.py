"""dhis2: aggregation (pure) and the export through cowin-kit against a local DHIS2 stub
(http.server in a thread) that checks the dataValueSet as DHIS2's import would."""

from __future__ import annotations

import json
import re
import threading
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from cowin_kit_dhis2 import (
    DoseFact, aggregate, basic_auth, indicator_data_values, parse_bands, stock_data_values,
)
from sqlalchemy import select

from cowin_kit import create_app
from cowin_kit.core import migrate
from cowin_kit.cli import main
from cowin_kit.provision.installer import install_pack
from cowin_kit.config.packs import load_pack
from cowin_kit.config.settings import SettingsError
from cowin_kit.core.db import get_database
from cowin_kit.geography.models import Location
from cowin_kit.identity import services as identity
from cowin_kit.scheduling import sessions
from cowin_kit.testing import database_url, example_pack  # noqa: F401  (fixture)

BANDS = parse_bands(["0-17", "18-44", "45-59", "60+"])


def test_aggregate_counts_by_org_unit_day_band_and_sex():
    day, next_day = date(2026, 11, 26), date(2026, 11, 27)
    facts = [DoseFact("F1", day, 30, "FEMALE"), DoseFact("F1", day, 44, "FEMALE"),
             DoseFact("F1", day, 45, "FEMALE"), DoseFact("F1", day, 30, "MALE"),
             DoseFact("F2", day, 70, "FEMALE"), DoseFact("F1", next_day, 30, "FEMALE"),
             DoseFact("F1", day, 130, "OTHER")]
    assert aggregate(facts, BANDS, "DE") == {"dataValues": [
        {"dataElement": "DE", "period": "20261126", "orgUnit": "F1",
         "categoryOptionCombo": "18-44_FEMALE", "value": "2"},
        {"dataElement": "DE", "period": "20261126", "orgUnit": "F1",
         "categoryOptionCombo": "18-44_MALE", "value": "1"},
        {"dataElement": "DE", "period": "20261126", "orgUnit": "F1",
         "categoryOptionCombo": "45-59_FEMALE", "value": "1"},
        {"dataElement": "DE", "period": "20261126", "orgUnit": "F1",
         "categoryOptionCombo": "60+_OTHER", "value": "1"},
        {"dataElement": "DE", "period": "20261126", "orgUnit": "F2",
         "categoryOptionCombo": "60+_FEMALE", "value": "1"},
        {"dataElement": "DE", "period": "20261127", "orgUnit": "F1",
         "categoryOptionCombo": "18-44_FEMALE", "value": "1"}]}
    assert aggregate([DoseFact("F1", day, 5, "MALE")], parse_bands(["18-44"]), "DE")[
        "dataValues"][0]["categoryOptionCombo"] == "unknown_MALE"
    with pytest.raises(ValueError, match="overlaps"):
        parse_bands(["0-20", "18-44"])
    with pytest.raises(ValueError, match="not like 18-44"):
        parse_bands(["adults"])


PERIOD = re.compile(r"^\d{8}$|^\d{4}$")  # a day, or a year


class Dhis2Stub:
    """Accepts POST /api/dataValueSets like DHIS2: checks each data value, answers with an
    import summary (the 2.38+ shape), and keeps the values by their key."""

    def __init__(self):
        self.values: dict[tuple, str] = {}
        self.data_elements = {"COVAC_DOSES_GIVEN", "EPI_COHORT_REGISTERED",  # its metadata
                              "EPI_COHORT_REACHED_AGE", "EPI_DTP1", "EPI_DTP3", "EPI_MCV1",
                              "EPI_MCV2", "EPI_ZERO_DOSE", "EPI_DTP3_COV",
                              "EPI_STOCK_ON_HAND", "EPI_STOCK_DOSES_GIVEN",
                              "EPI_STOCK_DOSES_WASTED", "EPI_STOCK_VIALS_OPENED"}
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": url.path, "query": parse_qs(url.query),
                                      "headers": dict(self.headers), "body": body})
                conflicts, imported, updated = [], 0, 0
                for value in body.get("dataValues", []):
                    missing = [k for k in ("dataElement", "period", "orgUnit",
                                           "categoryOptionCombo", "value") if not value.get(k)]
                    if missing or not PERIOD.match(value["period"]) or \
                            not re.match(r"^\d+(\.\d+)?$", value["value"]):
                        conflicts.append({"object": json.dumps(value),
                                          "value": f"invalid data value {missing or ''}"})
                        continue
                    if value["dataElement"] not in stub.data_elements:
                        conflicts.append({"object": value["dataElement"],
                                          "value": "Data element not found or not accessible"})
                        continue
                    key = (value["dataElement"], value["period"], value["orgUnit"],
                           value["categoryOptionCombo"])
                    updated, imported = (updated + 1, imported) if key in stub.values else (
                        updated, imported + 1)
                    stub.values[key] = value["value"]
                status = "ERROR" if conflicts and not (imported or updated) else \
                    "WARNING" if conflicts else "SUCCESS"
                data = json.dumps({"httpStatus": "OK", "response": {
                    "status": status, "conflicts": conflicts,
                    "importCount": {"imported": imported, "updated": updated,
                                    "ignored": len(conflicts), "deleted": 0}}}).encode()
                self.send_response(200 if status != "ERROR" else 409)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def dhis2_server():
    stub = Dhis2Stub()
    yield stub
    stub.close()


@pytest.fixture
def kit(tmp_path, dhis2_server, database_url):
    india = example_pack("IN")
    settings = {"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                "DATABASE_URL": database_url, "PLUGINS": "dhis2",
                "DHIS2_URL": dhis2_server.url,
                "DHIS2_AUTH_HEADER": basic_auth("admin", "district")}
    app = create_app(settings)
    with app.app_context(), get_database(app).session() as session:
        migrate.upgrade(get_database(app).engine)
        install_pack(session, load_pack(india))
        for code, district in (("F-TVM-1", "IN-KL-TVM"), ("F-TVM-2", "IN-KL-TVM")):
            location = session.scalars(select(Location).where(Location.code == district)).one()
            sessions.upsert_facility(session, code=code, name=code, location_code=location.code,
                                       postal_code="695001", latitude=8.5, longitude=76.9,
                                       fee_type="Free")
            user = identity.create_staff_user(session, f"vax.{code}", "correct horse battery")
            identity.grant_role(session, user, "vaccinator", facility_code=code)
        session.commit()
    app.cli_env = {f"COWIN_KIT_{k}": v for k, v in settings.items()}
    yield app
    get_database(app).dispose()


AADHAAR = ["234123412346", "499118665246", "223344556676"]


def give(app, facility, mobile, aadhaar, *, birth_year, gender, at):
    client = app.test_client()
    token = client.post("/api/v1/staff/sign-in", json={
        "username": f"vax.{facility}", "password": "correct horse battery"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    walk_in = client.post("/api/v1/vaccinator/walk-ins", headers=headers, json={
        "mobile": mobile, "name": "Test Person", "birth_year": birth_year, "gender": gender,
        "id_type": "aadhaar", "id_number": aadhaar, "consent_version": "v1"})
    assert walk_in.status_code == 201, walk_in.get_json()
    dose = client.post("/api/v1/vaccinator/doses", headers=headers, json={
        "reference_id": walk_in.get_json()["reference_id"], "vaccine": "COVAXIN", "lot": "L1",
        "administered_at": at.isoformat()})
    assert dose.status_code == 201, dose.get_json()


def test_export_posts_the_aggregate_and_resending_updates(kit, dhis2_server):
    # 18:40 UTC is 00:10 the next day in India: the period is the local day.
    evening = datetime(2026, 11, 20, 18, 40, tzinfo=timezone.utc)
    morning = datetime(2026, 11, 20, 5, 0, tzinfo=timezone.utc)
    give(kit, "F-TVM-1", "9988776655", AADHAAR[0], birth_year=1990, gender="F", at=morning)
    give(kit, "F-TVM-1", "9988776611", AADHAAR[1], birth_year=1950, gender="M", at=morning)
    give(kit, "F-TVM-2", "9988776622", AADHAAR[2], birth_year=1990, gender="F", at=evening)
    runner = CliRunner()
    result = runner.invoke(main, ["export", "dhis2", "--from", "2026-11-20", "--to",
                                  "2026-11-21"], env=kit.cli_env)
    assert result.exit_code == 0, result.output
    assert result.output == ("dhis2: 3 value(s) from 2026-11-20 to 2026-11-21 sent; "
                             "imported 3, updated 0\n")
    (request,) = dhis2_server.requests
    assert request["path"] == "/api/dataValueSets"
    assert request["query"]["orgUnitIdScheme"] == ["CODE"]
    assert request["query"]["importStrategy"] == ["CREATE_AND_UPDATE"]
    assert request["headers"]["Authorization"] == "Basic YWRtaW46ZGlzdHJpY3Q="
    assert dhis2_server.values == {
        ("COVAC_DOSES_GIVEN", "20261120", "F-TVM-1", "18-44_FEMALE"): "1",
        ("COVAC_DOSES_GIVEN", "20261120", "F-TVM-1", "60+_MALE"): "1",
        ("COVAC_DOSES_GIVEN", "20261121", "F-TVM-2", "18-44_FEMALE"): "1"}
    again = runner.invoke(main, ["export", "dhis2", "--from", "2026-11-20"], env=kit.cli_env)
    assert again.output == ("dhis2: 2 value(s) from 2026-11-20 to 2026-11-20 sent; "
                            "imported 0, updated 2\n")
    nothing = runner.invoke(main, ["export", "dhis2", "--from", "2026-10-01"], env=kit.cli_env)
    assert nothing.output == "dhis2: no doses from 2026-10-01 to 2026-10-01; nothing sent\n"


def test_file_export_by_location_and_a_refused_import(kit, dhis2_server, tmp_path):
    at = datetime(2026, 11, 20, 5, 0, tzinfo=timezone.utc)
    give(kit, "F-TVM-1", "9988776655", AADHAAR[0], birth_year=1990, gender="F", at=at)
    give(kit, "F-TVM-2", "9988776611", AADHAAR[1], birth_year=1991, gender="F", at=at)
    env = {**kit.cli_env, "COWIN_KIT_DHIS2_ORG_UNIT": "location"}
    output = tmp_path / "day.json"
    result = CliRunner().invoke(main, ["dhis2", "export", "--from", "2026-11-20", "-o",
                                       str(output)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(output.read_text())["dataValues"] == [
        {"dataElement": "COVAC_DOSES_GIVEN", "period": "20261120", "orgUnit": "IN-KL-TVM",
         "categoryOptionCombo": "18-44_FEMALE", "value": "2"}]
    assert dhis2_server.requests == []  # the file export sends nothing
    refused = CliRunner().invoke(main, ["export", "dhis2", "--from", "2026-11-20"],
                                 env={**env, "COWIN_KIT_DHIS2_DATA_ELEMENT": "DOSES"})
    assert refused.exit_code == 1
    assert ("DHIS2 answered HTTP 409: Data element not found or not accessible"
            in refused.output)


def test_bad_settings_stop_the_start(kit):
    base = {k[len("COWIN_KIT_"):]: v for k, v in kit.cli_env.items()}
    with pytest.raises(SettingsError, match="DHIS2_AGE_BANDS: '60' is not like"):
        create_app({**base, "DHIS2_AGE_BANDS": "0-17,60"})
    with pytest.raises(SettingsError, match="DHIS2_ORGUNIT: unknown setting"):
        create_app({**base, "DHIS2_ORGUNIT": "location"})


def test_indicator_data_values_map_figures_and_ages():
    records = [{"region_code": "IN-KL-TVM", "birth_cohort": 2024, "age": "12m", "dtp1": 2,
                "dtp3": 1, "dtp3_percent": 25.0, "mcv2_percent": None},
               {"region_code": "IN-KL-TVM", "birth_cohort": 2024, "age": "18m", "dtp1": 9}]
    assert indicator_data_values(records, {"dtp1": "D1", "dtp3_percent": "D3C",
                                           "mcv2_percent": "M2C"}, {"12m": "A12"}) == {
        "dataValues": [
            {"dataElement": "D1", "period": "2024", "orgUnit": "IN-KL-TVM",
             "categoryOptionCombo": "A12", "value": "2"},
            {"dataElement": "D3C", "period": "2024", "orgUnit": "IN-KL-TVM",
             "categoryOptionCombo": "A12", "value": "25.0"}]}


def test_indicators_of_a_cohort_sent_per_district(kit, dhis2_server):
    from cowin_kit.testing.routine import insert_dose

    with kit.app_context(), get_database(kit).session() as session:
        admin = identity.create_staff_user(session, "nat.dhis2", "correct horse battery")
        identity.grant_role(session, admin, "national_admin")
        session.commit()
    client = kit.test_client()
    token = client.post("/api/v1/staff/sign-in", json={
        "username": "nat.dhis2", "password": "correct horse battery"}).get_json()["token"]
    refs = []
    for index, (born, place) in enumerate([("2024-01-10", "IN-KL-TVM"),
                                           ("2024-05-05", "IN-KL-TVM"),
                                           ("2024-02-02", "IN-KL-EKM")]):
        answer = client.post("/api/v1/staff/people", headers={
            "Authorization": f"Bearer {token}"}, json={
            "name": f"Child {index}", "birth_date": born, "gender": "F",
            "mobile": f"98765000{index:02d}", "location": place, "facility": "",
            "guardian_name": "Meena Kumari", "guardian_relation": "mother"})
        assert answer.status_code == 201, answer.get_json()
        refs.append(answer.get_json()["reference_id"])
    for day in ("2024-02-21", "2024-03-20", "2024-04-17"):
        insert_dose(kit, refs[0], "PENTA", date.fromisoformat(day), "dtp")
    insert_dose(kit, refs[1], "PENTA", date(2024, 6, 20), "dtp")
    env = {**kit.cli_env, "COWIN_KIT_DHIS2_INDICATOR_ELEMENTS":
           "dtp1=EPI_DTP1,dtp3=EPI_DTP3,zero_dose=EPI_ZERO_DOSE,dtp3_percent=EPI_DTP3_COV",
           "COWIN_KIT_DHIS2_INDICATOR_AGES": "12m=AGE_12M"}
    result = CliRunner().invoke(main, ["dhis2", "indicators", "--cohort", "2024", "--parent",
                                       "IN-KL", "--on", "2026-06-01", "--send"], env=env)
    assert result.exit_code == 0, result.output
    (request,) = dhis2_server.requests
    assert request["query"]["dataElementIdScheme"] == ["CODE"]
    values = dhis2_server.values
    assert values[("EPI_DTP1", "2024", "IN-KL-TVM", "AGE_12M")] == "2"
    assert values[("EPI_DTP3", "2024", "IN-KL-TVM", "AGE_12M")] == "1"
    assert values[("EPI_DTP3_COV", "2024", "IN-KL-TVM", "AGE_12M")] == "50.0"
    assert values[("EPI_ZERO_DOSE", "2024", "IN-KL-EKM", "AGE_12M")] == "1"
    # a district without registered children sends counts of 0 and no percentage
    assert values[("EPI_DTP1", "2024", "IN-KL-KLM", "AGE_12M")] == "0"
    assert ("EPI_DTP3_COV", "2024", "IN-KL-KLM", "AGE_12M") not in values
    assert "sent; imported" in result.output
    bad = {**env, "COWIN_KIT_DHIS2_INDICATOR_ELEMENTS": "dtp4=X"}
    with pytest.raises(SettingsError, match="unknown figure"):
        create_app({k[len("COWIN_KIT_"):]: v for k, v in bad.items()})


def test_stock_data_values_map_figures_per_area_and_product():
    rows = [{"area": "IN-KL", "product": "PENTA", "on_hand": 40, "given": 3, "wasted": 0,
             "days_of_stock": 373.3, "wastage_rate_percent": 0.0},
            {"area": "IN-KL", "product": "MR", "on_hand": 0, "given": 0, "wasted": 0,
             "days_of_stock": "", "wastage_rate_percent": ""},
            {"area": "national", "product": "PENTA", "on_hand": 900}]
    elements = {"on_hand": "SOH", "days_of_stock": "DOS"}
    assert stock_data_values(rows, elements, period="20261206") == {"dataValues": [
        {"dataElement": "SOH", "period": "20261206", "orgUnit": "IN-KL",
         "categoryOptionCombo": "MR", "value": "0"},
        {"dataElement": "DOS", "period": "20261206", "orgUnit": "IN-KL",
         "categoryOptionCombo": "PENTA", "value": "373.3"},
        {"dataElement": "SOH", "period": "20261206", "orgUnit": "IN-KL",
         "categoryOptionCombo": "PENTA", "value": "40"}]}
    national = stock_data_values(rows, {"on_hand": "SOH"}, period="20261206",
                                 national_org_unit="IN")
    assert {"dataElement": "SOH", "period": "20261206", "orgUnit": "IN",
            "categoryOptionCombo": "PENTA", "value": "900"} in national["dataValues"]


def test_stock_sent_per_area_and_product(kit, dhis2_server):
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.stock import services as stock

    with kit.app_context(), get_database(kit).session() as session:
        pack = active_pack()
        stock.register_lot(session, pack, None, stock.LotFacts(
            product="PENTA", number="PN-1", expires_on=date(2030, 1, 1)))
        stock.receive(session, pack, None, store="national", product_code="PENTA",
                      number="PN-1", quantity=500)
        stock.transfer(session, pack, None, from_store="national",
                       to_store="facility:F-TVM-1", product_code="PENTA", number="PN-1",
                       quantity=120)
    env = {**kit.cli_env, "COWIN_KIT_DHIS2_NATIONAL_ORG_UNIT": "IN"}
    result = CliRunner().invoke(main, ["dhis2", "stock", "--level", "2", "--send"], env=env)
    assert result.exit_code == 0, result.output
    values = dhis2_server.values
    today = next(iter(values))[1]
    assert values[("EPI_STOCK_ON_HAND", today, "IN-KL-TVM", "PENTA")] == "120"
    assert values[("EPI_STOCK_ON_HAND", today, "IN", "PENTA")] == "380"
    assert values[("EPI_STOCK_DOSES_GIVEN", today, "IN-KL-TVM", "PENTA")] == "0"
    assert "stock value(s)" in result.output
