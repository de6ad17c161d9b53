"""Campaigns through the API and the CLI: planning in the planner's area, targets from
population figures and from a micro-plan CSV (all or nothing), campaign doses within the
dates, areas, ages and sex (apart from the routine series), and daily progress per area."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.cli import main
from cowin_kit.core.db import get_database
from cowin_kit.geography.models import Location, PopulationFigure
from cowin_kit.immunization.models import Campaign, CampaignArea
from cowin_kit.registration.models import Dose
from cowin_kit.testing import auth, publish, staff_token, today, valid_aadhaar

PEOPLE = "/api/v1/staff/people"
CAMPAIGNS = "/api/v1/campaigns"


def plan(**extra) -> dict:
    return {"code": "MR-2026", "names": {"en": "Measles-rubella catch-up",
                                         "hi": "खसरा-रूबेला अभियान"},
            "products": ["MR"], "ages": "9m-15y", "areas": ["IN-KL-TVM", "IN-KL-EKM"],
            "starts_on": (today() - timedelta(days=3)).isoformat(),
            "ends_on": (today() + timedelta(days=10)).isoformat(), **extra}


def add_population(app, code, rows):
    with app.app_context(), get_database(app).session() as session:
        location = session.scalars(select(Location).where(Location.code == code)).one()
        for band, sex, count in rows:
            session.add(PopulationFigure(location_id=location.id, year=2011, age_band=band,
                                         sex=sex, count=count))
        session.commit()


def person(client, token, name, born, gender="F", location="IN-KL-TVM", **extra):
    response = client.post(PEOPLE, headers=auth(token), json={
        "name": name, "birth_date": born.isoformat(), "gender": gender,
        "mobile": extra.pop("mobile", "9876500001"), "location": location,
        "guardian_name": "Meena Kumari", "guardian_relation": "mother", **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["reference_id"]


@pytest.fixture
def world(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, client, "anm.tvm", "vaccinator", facility_code="F-TVM-1")
    national = staff_token(reg_app, client, "nat.camp", "national_admin")
    district = staff_token(reg_app, client, "tvm.camp", "district_admin",
                           location_code="IN-KL-TVM")
    return client, vaccinator, national, district


def test_plan_record_and_progress(reg_app, world):
    client, vaccinator, national, district = world
    # the pack has adult bands only: children's figures added as a ministry's pack would
    add_population(reg_app, "IN-KL-TVM", [("0-0", "M", 300), ("0-0", "F", 300),
                                          ("1-4", "M", 2000), ("1-4", "F", 2000),
                                          ("5-14", "M", 5000), ("5-14", "F", 5000)])
    # a district administrator plans only in their district
    refused = client.post(CAMPAIGNS, json=plan(), headers=auth(district))
    assert refused.status_code == 403
    created = client.post(CAMPAIGNS, json=plan(), headers=auth(national))
    assert created.status_code == 201, created.get_json()
    areas = {a["code"]: a for a in created.get_json()["areas"]}
    # a quarter of the infants (9-12 months), all of 1-4 and 5-14
    assert areas["IN-KL-TVM"] == {"code": "IN-KL-TVM", "target": 150 + 4000 + 10000,
                                  "target_source": "population"}
    assert areas["IN-KL-EKM"]["target"] is None
    again = client.post(CAMPAIGNS, json=plan(), headers=auth(national))
    assert again.status_code == 409 and again.get_json()["code"] == "campaign_exists"
    bad = client.post(CAMPAIGNS, json=plan(code="X", ages="15y-9m", names={"fr": "x"}),
                      headers=auth(national))
    assert bad.status_code == 422

    two_years = person(client, vaccinator, "Child two", today() - timedelta(days=800))
    infant = person(client, vaccinator, "Infant", today() - timedelta(days=100))
    given_at = datetime.now(timezone.utc) - timedelta(days=2)
    recorded = client.post(f"{CAMPAIGNS}/MR-2026/doses", headers=auth(vaccinator), json={
        "reference_id": two_years, "vaccine": "MR", "lot": "MR-LOT-7",
        "administered_at": given_at.isoformat()})
    assert recorded.status_code == 201, recorded.get_json()
    assert recorded.get_json()["series"] == "campaign:MR-2026"
    refusals = {
        "campaign_age": {"reference_id": infant, "vaccine": "MR", "lot": "L"},
        "campaign_product": {"reference_id": two_years, "vaccine": "PENTA", "lot": "L"},
        "campaign_dose_given": {"reference_id": two_years, "vaccine": "MR", "lot": "L"},
        "campaign_not_running": {"reference_id": two_years, "vaccine": "MR", "lot": "L",
                                 "administered_at": (datetime.now(timezone.utc)
                                                     - timedelta(days=9)).isoformat()},
    }
    for code, body in refusals.items():
        answer = client.post(f"{CAMPAIGNS}/MR-2026/doses", headers=auth(vaccinator), json=body)
        assert (answer.status_code, answer.get_json()["code"]) == (422, code), code
    # the campaign's dose is not in the routine series
    with reg_app.app_context(), get_database(reg_app).session() as session:
        dose = session.scalars(select(Dose).where(Dose.campaign_id.is_not(None))).one()
        assert (dose.series, dose.dose_number, dose.lot) == ("campaign:MR-2026", 1, "MR-LOT-7")
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action.in_(["campaign.create", "campaign.dose"]))) == 2

    progress = client.get(f"{CAMPAIGNS}/MR-2026/progress", headers=auth(national)).get_json()
    tvm = next(a for a in progress["areas"] if a["code"] == "IN-KL-TVM")
    assert tvm["doses"] == 1 and tvm["target_percent"] == round(100 / 14150, 1)
    assert len(tvm["days"]) == 4  # from 3 days ago to today
    assert tvm["days"][-1]["cumulative"] == 1
    assert sum(d["doses"] for d in tvm["days"]) == 1
    ekm = next(a for a in progress["areas"] if a["code"] == "IN-KL-EKM")
    assert (ekm["doses"], ekm["target_percent"]) == (0, None)
    # the district administrator sees their district's area only
    mine = client.get(f"{CAMPAIGNS}/MR-2026/progress", headers=auth(district)).get_json()
    assert [a["code"] for a in mine["areas"]] == ["IN-KL-TVM"]
    text = client.get(f"{CAMPAIGNS}/MR-2026/progress.csv", headers=auth(national)).get_data(
        as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 8 and rows[0]["campaign_code"] == "MR-2026"
    assert sum(int(r["doses"]) for r in rows if r["area_code"] == "IN-KL-TVM") == 1
    listed = client.get(CAMPAIGNS, headers=auth(district)).get_json()["campaigns"]
    assert [c["code"] for c in listed] == ["MR-2026"]


def test_hpv_for_girls_only_outside_areas_refused(reg_app, world):
    client, vaccinator, national, _district = world
    created = client.post(CAMPAIGNS, headers=auth(national), json=plan(
        code="HPV-2026", names={"en": "HPV for girls"}, products=["MR"], ages="9y-15y",
        sex="F", areas=["IN-KL-TVM"]))
    assert created.status_code == 201, created.get_json()
    ids = valid_aadhaar(2)
    girl = person(client, vaccinator, "Girl", today() - timedelta(days=365 * 11),
                  id_type="aadhaar", id_number=ids[0])
    boy = person(client, vaccinator, "Boy", today() - timedelta(days=365 * 11), gender="M",
                 id_type="aadhaar", id_number=ids[1], mobile="9876500002")
    body = {"vaccine": "MR", "lot": "H1"}
    assert client.post(f"{CAMPAIGNS}/HPV-2026/doses", headers=auth(vaccinator),
                       json={"reference_id": boy, **body}).get_json()["code"] == "campaign_sex"
    assert client.post(f"{CAMPAIGNS}/HPV-2026/doses", headers=auth(vaccinator),
                       json={"reference_id": girl, **body}).status_code == 201
    # a campaign elsewhere: this vaccinator's facility is outside its areas
    client.post(CAMPAIGNS, headers=auth(national), json=plan(code="MR-EKM",
                                                             areas=["IN-KL-EKM"]))
    child = person(client, vaccinator, "Child", today() - timedelta(days=800),
                   mobile="9876500003")
    answer = client.post(f"{CAMPAIGNS}/MR-EKM/doses", headers=auth(vaccinator),
                         json={"reference_id": child, **body})
    assert answer.get_json()["code"] == "campaign_area"


def test_cli_create_targets_and_progress(reg_app, tmp_path, monkeypatch):
    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", reg_app.config["COWIN_KIT"]["DATABASE_URL"])
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    runner = CliRunner()
    start = today().isoformat()
    result = runner.invoke(main, [
        "campaigns", "create", "--code", "MR-CLI", "--name", "en=MR catch-up", "--products",
        "MR", "--ages", "9m-15y", "--areas", "IN-KL-TVM,IN-KL-EKM", "--from", start, "--to",
        (today() + timedelta(days=6)).isoformat()])
    assert result.exit_code == 0, result.output
    assert "2 area(s), 2 without a target" in result.output
    bad = tmp_path / "plan.csv"
    bad.write_text("campaign_code,location_code,target\nMR-CLI,IN-KL-TVM,5000\n"
                   "MR-CLI,IN-KL-KLM,100\nMR-NONE,IN-KL-TVM,1\nMR-CLI,IN-KL-EKM,lots\n")
    result = runner.invoke(main, ["campaigns", "targets", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3: location_code: not one of the campaign's areas" in result.output
    assert f"{bad}:4: campaign_code: No campaign with code MR-NONE." in result.output
    assert f"{bad}:5: target: must be a whole number" in result.output
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalar(select(func.count()).select_from(CampaignArea).where(
            CampaignArea.target.is_not(None))) == 0  # nothing written
    good = tmp_path / "good.csv"
    good.write_text("campaign_code,location_code,target\nMR-CLI,IN-KL-TVM,5000\n"
                    "MR-CLI,IN-KL-EKM,7000\n")
    result = runner.invoke(main, ["campaigns", "targets", str(good)])
    assert result.exit_code == 0, result.output
    assert "2 area(s) set" in result.output
    listed = runner.invoke(main, ["campaigns", "list"])
    assert "MR-CLI" in listed.output and "9m-15y" in listed.output
    progress = runner.invoke(main, ["campaigns", "progress", "MR-CLI", "--format", "csv"])
    assert progress.exit_code == 0, progress.output
    rows = list(csv.DictReader(io.StringIO(progress.output)))
    assert {(r["area_code"], r["target"], r["doses"]) for r in rows} == {
        ("IN-KL-TVM", "5000", "0"), ("IN-KL-EKM", "7000", "0")}
    refused = runner.invoke(main, ["campaigns", "create", "--code", "BAD", "--name", "en=x",
                                   "--products", "NOPE", "--ages", "9m-15y", "--areas",
                                   "IN-KL-TVM", "--from", start, "--to", start])
    assert refused.exit_code == 1 and "NOPE" in refused.output
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1
