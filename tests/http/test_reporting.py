"""Campaign reports on seeded doses: doses per day, coverage against population.csv, age
band x sex, dose-2 drop-out, CSV exports, and every figure limited to the user's area."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from cowin_kit.core.db import get_database
from cowin_kit.geography.models import Location, PopulationFigure
from cowin_kit.reporting import rules
from cowin_kit.testing import auth, seed_report_doses as seed, staff_token

NOW = datetime.now(timezone.utc)


def population(app, *codes):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.sum(PopulationFigure.count))
                              .join(Location, Location.id == PopulationFigure.location_id)
                              .where(Location.code.in_(codes)))


@pytest.fixture
def seeded(reg_app):
    client = reg_app.test_client()
    seed(reg_app, client)
    national = staff_token(reg_app, client, "nat.reports", "national_admin")
    district = staff_token(reg_app, client, "tvm.reports", "district_admin",
                           location_code="IN-KL-TVM")
    return client, national, district


def _by_code(rows):
    return {row["code"]: row for row in rows}


def test_coverage_by_state_then_district_against_the_packs_population(reg_app, seeded):
    client, national, _district = seeded
    states = client.get("/api/v1/reports/coverage", headers=auth(national)).get_json()
    assert states["parent"] is None
    by_code = _by_code(states["regions"])
    assert len(by_code) == 36
    kerala, delhi = by_code["IN-KL"], by_code["IN-DL"]
    assert (kerala["first_doses"], kerala["completed"]) == (4, 1)
    kerala_people = population(reg_app, *[f"IN-KL-{d}" for d in (
        "TVM", "KLM", "PTA", "ALP", "KTM", "IDK", "EKM", "TSR", "PKD", "MLP", "KKD", "WYD",
        "KNR", "KSD")])
    assert kerala["population"] == kerala_people > 20_000_000
    assert kerala["first_dose_percent"] == round(100 * 4 / kerala_people, 1)
    assert (delhi["first_doses"], delhi["population"], delhi["first_dose_percent"]) == (1, None, None)
    # the imported dose without a facility belongs to no region
    assert sum(r["first_doses"] for r in states["regions"]) == 5

    districts = client.get("/api/v1/reports/coverage?parent=IN-KL",
                           headers=auth(national)).get_json()
    by_code = _by_code(districts["regions"])
    assert districts["parent"] == "IN-KL" and len(by_code) == 14
    assert (by_code["IN-KL-TVM"]["first_doses"], by_code["IN-KL-TVM"]["completed"]) == (3, 1)
    assert by_code["IN-KL-EKM"]["first_doses"] == 1
    assert by_code["IN-KL-TVM"]["population"] == population(reg_app, "IN-KL-TVM")


def test_a_district_administrator_sees_only_the_district(reg_app, seeded):
    client, _national, district = seeded
    own = client.get("/api/v1/reports/coverage", headers=auth(district)).get_json()
    assert own["parent"] == "IN-KL-TVM"
    assert [(r["code"], r["first_doses"]) for r in own["regions"]] == [("IN-KL-TVM", 3)]
    # Looking from the state down, the neighbours are there but empty: no doses, no people.
    state = _by_code(client.get("/api/v1/reports/coverage?parent=IN-KL",
                                headers=auth(district)).get_json()["regions"])
    assert state["IN-KL-TVM"]["first_doses"] == 3
    assert (state["IN-KL-EKM"]["first_doses"], state["IN-KL-EKM"]["population"]) == (0, None)
    elsewhere = client.get("/api/v1/reports/coverage?parent=IN-DL", headers=auth(district))
    assert elsewhere.status_code == 403
    days = client.get("/api/v1/reports/doses-per-day?days=120",
                      headers=auth(district)).get_json()["days"]
    assert sum(d["total"] for d in days) == 4
    age_sex = client.get("/api/v1/reports/age-sex", headers=auth(district)).get_json()
    assert sum(c["first_doses"] for c in age_sex["cells"]) == 3


def test_doses_per_day_by_dose_in_the_pack_timezone(reg_app, seeded):
    client, national, _district = seeded
    body = client.get("/api/v1/reports/doses-per-day?days=120", headers=auth(national)).get_json()
    days = body["days"]
    assert len(days) == 120 and days[0]["date"] < days[-1]["date"]
    assert sum(d["total"] for d in days) == 7
    assert sum(d["dose_1"] for d in days) == 6 and sum(d["dose_2"] for d in days) == 1
    ten_days_ago = [d for d in days if d["dose_2"]]
    assert len(ten_days_ago) == 1 and ten_days_ago[0]["total"] == 2  # A's dose 2, C's dose 1
    assert len(client.get("/api/v1/reports/doses-per-day",
                          headers=auth(national)).get_json()["days"]) == 30
    too_many = client.get("/api/v1/reports/doses-per-day?days=999", headers=auth(national))
    assert too_many.status_code == 422


def test_age_band_and_sex_with_population(reg_app, seeded):
    client, national, _district = seeded
    body = client.get("/api/v1/reports/age-sex", headers=auth(national)).get_json()
    assert body["age_bands"] == ["18-44", "45-59", "60+"]  # the bands of population.csv
    assert body["sexes"] == ["M", "F", "T"]
    cells = {(c["age_band"], c["sex"]): c for c in body["cells"]}
    # A (born 1950, F) and F (1940, M) are 60+; B (1990, M), D (1985, F), E (2000, M) 18-44;
    # C (1970, F) 45-59 — ages at the dose.
    assert cells[("60+", "F")]["first_doses"] == 1 and cells[("60+", "F")]["completed"] == 1
    assert cells[("60+", "M")]["first_doses"] == 1
    assert cells[("18-44", "M")]["first_doses"] == 2
    assert cells[("18-44", "F")]["first_doses"] == 1
    assert cells[("45-59", "F")]["first_doses"] == 1
    assert cells[("18-44", "T")]["population"] is None
    assert cells[("60+", "F")]["population"] > 1_000_000
    assert sum(c["first_doses"] for c in body["cells"]) == 6


def test_dose_2_dropout(reg_app, seeded):
    client, national, _district = seeded
    body = client.get("/api/v1/reports/dropout?parent=IN-KL", headers=auth(national)).get_json()
    by_code = _by_code(body["regions"])
    # A (dose 2 given) and B (none) are past 84 days; C is not due yet.
    assert (by_code["IN-KL-TVM"]["due"], by_code["IN-KL-TVM"]["without_dose_2"]) == (2, 1)
    assert by_code["IN-KL-TVM"]["dropout_percent"] == 50.0
    # D: Covaxin's interval is 28 days, 30 have passed.
    assert (by_code["IN-KL-EKM"]["due"], by_code["IN-KL-EKM"]["without_dose_2"]) == (1, 1)
    assert by_code["IN-KL-KLM"]["dropout_percent"] is None


def test_csv_exports_carry_the_same_figures(reg_app, seeded):
    client, national, _district = seeded
    response = client.get("/api/v1/reports/coverage.csv?parent=IN-KL", headers=auth(national))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    tvm = next(r for r in rows if r["region_code"] == "IN-KL-TVM")
    assert (tvm["first_doses"], tvm["completed"]) == ("3", "1")
    assert int(tvm["population"]) == population(reg_app, "IN-KL-TVM")
    daily = list(csv.DictReader(io.StringIO(client.get(
        "/api/v1/reports/doses-per-day.csv?days=120", headers=auth(national)).get_data(as_text=True))))
    assert len(daily) == 120 and sum(int(r["total"]) for r in daily) == 7
    dropout = list(csv.reader(io.StringIO(client.get(
        "/api/v1/reports/dropout.csv?parent=IN-KL", headers=auth(national)).get_data(as_text=True))))
    assert dropout[0] == ["region_code", "region_name", "dose_1_due_for_dose_2",
                          "without_dose_2", "dropout_percent"]
    age_sex = client.get("/api/v1/reports/age-sex.csv", headers=auth(national))
    assert age_sex.get_data(as_text=True).startswith("age_band,sex,first_doses")


def test_reports_need_a_reporting_role(reg_app, seeded):
    client, _national, _district = seeded
    vaccinator = staff_token(reg_app, client, "vax.reports", "vaccinator",
                             facility_code="F-TVM-1")
    assert client.get("/api/v1/reports/coverage", headers=auth(vaccinator)).status_code == 403
    assert client.get("/api/v1/reports/coverage").status_code == 401
    facility_admin = staff_token(reg_app, client, "fac.reports", "facility_admin",
                                 facility_code="F-EKM-1")
    own = client.get("/api/v1/reports/coverage", headers=auth(facility_admin)).get_json()
    assert [(r["code"], r["first_doses"], r["population"]) for r in own["regions"]] == [
        ("IN-KL-EKM", 1, None)]


def test_rules():
    bands = rules.age_bands(["60+", "18-44", "45-59"])
    assert [b.label for b in bands] == ["18-44", "45-59", "60+"]
    assert rules.band_of(44, bands) == "18-44" and rules.band_of(90, bands) == "60+"
    assert rules.band_of(12, bands) == rules.OTHER_BAND
    assert [b.label for b in rules.age_bands([])] == list(rules.DEFAULT_AGE_BANDS)
    with pytest.raises(ValueError):
        rules.parse_age_band("44-18")
    assert rules.percent(1, 3) == 33.3 and rules.percent(1, 0) is None
    # A day in a place with summer time is 23 or 25 hours long.
    (_day, start, end), = rules.day_bounds(datetime(2026, 3, 29).date(), 1, "Europe/Kyiv")
    assert end - start == timedelta(hours=23)
    text = rules.to_csv(["a", "b"], [["=HYPERLINK(1)", None], ["ok", 2]])
    assert text.splitlines() == ["a,b", "'=HYPERLINK(1),", "ok,2"]
