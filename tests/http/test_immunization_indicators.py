"""WHO/UNICEF indicators through /api/v1/reports/immunization (JSON and CSV): a birth
cohort's DTP1/DTP3/MCV1/MCV2 by 12 and 24 months per area, drop-out, zero-dose and
never-vaccinated children, campaign doses left out, and the reader's area only."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from cowin_kit.core.db import get_database
from cowin_kit.geography.models import Location, PopulationFigure
from cowin_kit.testing import auth, publish, staff_token
from cowin_kit.testing.routine import insert_dose

PEOPLE = "/api/v1/staff/people"
URL = "/api/v1/reports/immunization"


def register(client, token, name, born, location, mobile):
    response = client.post(PEOPLE, headers=auth(token), json={
        "name": name, "birth_date": born, "gender": "F", "mobile": mobile,
        "location": location, "guardian_name": "Meena Kumari", "guardian_relation": "mother"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["reference_id"]


@pytest.fixture
def cohort(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    national = staff_token(reg_app, client, "nat.ind", "national_admin")
    district = staff_token(reg_app, client, "tvm.ind", "district_admin",
                           location_code="IN-KL-TVM")
    people = {}
    for key, born, place, mobile in [
            ("A", "2024-01-10", "IN-KL-TVM", "9876500011"),
            ("B", "2024-05-05", "IN-KL-TVM", "9876500012"),
            ("C", "2024-08-01", "IN-KL-TVM", "9876500013"),
            ("D", "2024-03-01", "IN-KL-TVM", "9876500014"),
            ("E", "2024-02-02", "IN-KL-EKM", "9876500015"),
            ("F", "2023-06-01", "IN-KL-TVM", "9876500016")]:
        people[key] = register(client, national, f"Child {key}", born, place, mobile)
    doses = [
        ("A", "PENTA", "2024-02-21", "dtp"), ("A", "PENTA", "2024-03-20", "dtp"),
        ("A", "PENTA", "2024-04-17", "dtp"), ("A", "MR", "2024-10-15", "mr"),
        ("A", "MR", "2025-07-01", "mr"),
        ("B", "PENTA", "2024-06-20", "dtp"),
        ("B", "MR", "2025-02-01", "campaign:MR-2025"),   # a campaign's: not routine
        ("D", "BCG", "2024-03-01", "bcg"),
        ("E", "PENTA", "2024-03-15", "dtp"),
        ("F", "PENTA", "2023-07-15", "dtp")]
    for key, product, day, series in doses:
        insert_dose(reg_app, people[key], product, date.fromisoformat(day), series,
                    facility_code="F-TVM-1")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        tvm = session.scalars(select(Location).where(Location.code == "IN-KL-TVM")).one()
        for sex, count in (("M", 40), ("F", 38)):
            session.add(PopulationFigure(location_id=tvm.id, year=2011, age_band="0-0",
                                         sex=sex, count=count))
        session.commit()
    return client, national, district


def rows_by(body):
    return {(r["region_code"], r["age"]): r for r in body["rows"]}


def test_indicators_of_a_birth_cohort_per_district(cohort):
    client, national, _district = cohort
    answer = client.get(f"{URL}?cohort=2024&parent=IN-KL&on=2026-06-01",
                        headers=auth(national))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["parent"], body["birth_cohort"], body["on"]) == ("IN-KL", 2024, "2026-06-01")
    rows = rows_by(body)
    tvm12, tvm24 = rows[("IN-KL-TVM", "12m")], rows[("IN-KL-TVM", "24m")]
    assert {k: tvm12[k] for k in ("registered", "reached_age", "dtp1", "dtp3", "mcv1", "mcv2",
                                  "zero_dose", "never_vaccinated")} == {
        "registered": 4, "reached_age": 4, "dtp1": 2, "dtp3": 1, "mcv1": 1, "mcv2": 0,
        "zero_dose": 2, "never_vaccinated": 1}
    assert (tvm12["dtp1_percent"], tvm12["dtp3_percent"], tvm12["zero_dose_percent"]) == (
        50.0, 25.0, 50.0)
    assert (tvm12["dropout_dtp1_dtp3_percent"], tvm12["dropout_mcv1_mcv2_percent"]) == (
        50.0, 100.0)
    assert (tvm12["population"], tvm12["population_band"]) == (78, "0-0")
    assert (tvm24["mcv2"], tvm24["dropout_mcv1_mcv2_percent"]) == (1, 0.0)
    assert (tvm24["population"], tvm24["population_band"]) == (None, "")
    ekm = rows[("IN-KL-EKM", "12m")]
    assert (ekm["registered"], ekm["dtp1"], ekm["zero_dose"]) == (1, 1, 0)
    assert rows[("IN-KL-KLM", "12m")]["registered"] == 0
    # on 1 March 2025 only A (born 10 Jan) and D (born 1 March 2024) are 12 months old
    early = rows_by(client.get(f"{URL}?cohort=2024&parent=IN-KL&on=2025-03-01",
                               headers=auth(national)).get_json())
    assert (early[("IN-KL-TVM", "12m")]["reached_age"],
            early[("IN-KL-TVM", "24m")]["reached_age"]) == (2, 0)

    text = client.get(f"{URL}.csv?cohort=2024&parent=IN-KL&on=2026-06-01",
                      headers=auth(national)).get_data(as_text=True)
    records = list(csv.DictReader(io.StringIO(text)))
    row = next(r for r in records if (r["region_code"], r["age"]) == ("IN-KL-TVM", "12m"))
    assert (row["dtp1"], row["dtp3_percent"], row["population"]) == ("2", "25.0", "78")


def test_only_the_readers_area_and_bad_queries(cohort):
    client, _national, district = cohort
    mine = client.get(f"{URL}?cohort=2024&on=2026-06-01", headers=auth(district)).get_json()
    assert {r["region_code"] for r in mine["rows"]} == {"IN-KL-TVM"}
    assert client.get(f"{URL}?cohort=2024&parent=IN-KL-EKM",
                      headers=auth(district)).status_code == 403
    bad = client.get(f"{URL}?cohort=soon", headers=auth(district))
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert client.get(f"{URL}?cohort=2024").status_code == 401


def test_dashboard_page_plots_the_indicators_and_campaigns(reg_app, cohort):
    from cowin_kit.testing import web_staff_sign_in

    client = reg_app.test_client()
    web_staff_sign_in(client, "nat.ind")
    national = cohort[1]
    created = client.post("/api/v1/campaigns", headers=auth(national), json={
        "code": "MR-DASH", "names": {"en": "MR catch-up"}, "products": ["MR"],
        "ages": "9m-15y", "areas": ["IN-KL-TVM"], "starts_on": "2026-01-01",
        "ends_on": "2026-01-10"})
    assert created.status_code == 201, created.get_json()
    page = client.get("/admin/immunization?cohort=2024&parent=IN-KL")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<svg") == 6   # 2 coverage, zero-dose, drop-out, 2 for the campaign
    assert 'viewBox="0 0 360' in html and "Thiruvananthapuram" in html
    assert "MR catch-up" in html
    text = client.get("/admin/immunization.csv?cohort=2024&parent=IN-KL").get_data(as_text=True)
    assert text.startswith("region_code,region_name,birth_cohort,age")
