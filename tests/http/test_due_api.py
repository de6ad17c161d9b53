"""The due API: one person's doses (citizen and staff tokens, scope) and the staff due
list as JSON, CSV and PDF, with bad input refused as problem+json."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from cowin_kit.testing import auth, sign_in, staff_token, today
from cowin_kit.testing.documents import pdf_text
from cowin_kit.testing.routine_area import seed_area

COLUMNS = ["reference_id", "external_id", "name", "birth_date", "schedule", "dose",
           "earliest", "due", "latest", "status"]


def test_a_guardian_reads_their_childs_doses(reg_app):
    refs = seed_area(reg_app)
    client = reg_app.test_client()
    guardian = sign_in(reg_app, client, mobile="9876500001")
    response = client.get(f"/api/v1/people/{refs['A']}/due", headers=auth(guardian))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["reference_id"] == refs["A"] and body["on"] == today().isoformat()
    due = {(d["schedule"], d["dose"]) for d in body["doses"] if d["status"] == "due"}
    assert ("dtp", 1) in due and ("opv", 2) in due
    done = [d for d in body["doses"] if d["status"] == "done"]
    assert {d["given_product"] for d in done} == {"BCG", "HEPB", "BOPV"}
    assert next(d for d in body["doses"] if d["schedule"] == "bcg")["schedule_name"] \
        == "Tuberculosis"
    assert body["summary"]["done"] == 3
    hindi = client.get(f"/api/v1/people/{refs['A']}/due", headers={
        **auth(guardian), "Accept-Language": "hi"}).get_json()
    assert next(d for d in hindi["doses"] if d["schedule"] == "bcg")["schedule_name"] \
        == "क्षय रोग (टीबी)"
    # in 10 weeks the 6-week doses are overdue and the 10-week ones due
    later = (today() + timedelta(weeks=5)).isoformat()
    ahead = client.get(f"/api/v1/people/{refs['A']}/due?on={later}",
                       headers=auth(guardian)).get_json()
    assert {d["status"] for d in ahead["doses"] if d["schedule"] == "dtp" and d["dose"] == 1} \
        == {"overdue"}
    # someone else's child: as if it did not exist
    other = client.get(f"/api/v1/people/{refs['B']}/due", headers=auth(guardian))
    assert other.status_code == 404
    bad = client.get(f"/api/v1/people/{refs['A']}/due?on=tomorrow", headers=auth(guardian))
    assert bad.status_code == 422 and bad.content_type.startswith("application/problem+json")
    assert client.get(f"/api/v1/people/{refs['A']}/due").status_code == 401


def test_staff_read_a_persons_doses_in_their_area(reg_app):
    refs = seed_area(reg_app)
    client = reg_app.test_client()
    district = staff_token(reg_app, client, "dio.tvm", "district_admin",
                           location_code="IN-KL-TVM")
    kollam = staff_token(reg_app, client, "dio.klm", "district_admin",
                         location_code="IN-KL-KLM")
    pregnant = client.get(f"/api/v1/people/{refs['D']}/due", headers=auth(district))
    assert pregnant.status_code == 200
    td = [d for d in pregnant.get_json()["doses"] if d["schedule"] == "td-pregnancy"]
    assert td[0]["status"] == "due" and td[0]["pregnancy_start"]
    refused = client.get(f"/api/v1/people/{refs['D']}/due", headers=auth(kollam))
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"


def test_the_staff_due_list_as_json_csv_and_pdf(reg_app):
    refs = seed_area(reg_app)
    client = reg_app.test_client()
    token = staff_token(reg_app, client, "dio.tvm", "district_admin", location_code="IN-KL-TVM")
    listed = client.get("/api/v1/staff/due-list?location=IN-KL-TVM", headers=auth(token))
    assert listed.status_code == 200, listed.get_json()
    body = listed.get_json()
    assert body["people"] == 3 and body["statuses"] == ["due", "overdue"]
    assert {r["reference_id"] for r in body["rows"]} == {refs["A"], refs["B"], refs["D"]}
    as_csv = client.get("/api/v1/staff/due-list?location=IN-KL-TVM&list=zero-dose",
                        headers={**auth(token), "Accept": "text/csv"})
    assert as_csv.content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert rows[0] == COLUMNS
    assert {r[0] for r in rows[1:]} == {refs["B"]} and rows[1][1] == "H-B"
    only = client.get("/api/v1/staff/due-list?location=IN-KL-TVM&status=upcoming&format=csv",
                      headers=auth(token)).get_data(as_text=True)
    assert {r[9] for r in list(csv.reader(io.StringIO(only)))[1:]} == {"upcoming"}
    pdf = client.get("/api/v1/staff/due-list?location=IN-KL-TVM&format=pdf",
                     headers=auth(token))
    assert pdf.content_type == "application/pdf"
    text = pdf_text(pdf.data)
    assert "Due list" in text and "Anu" in text and "Page 1 of 1" in text
    hindi = pdf_text(client.get("/api/v1/staff/due-list?location=IN-KL-TVM&format=pdf",
                                headers={**auth(token), "Accept-Language": "hi"}).data)
    assert "Anu" in hindi and "Due list" not in hindi
    for query, code in (("location=IN-KL", "forbidden"), ("location=IN-KL-TVM&status=late",
                                                          "invalid_status"),
                        ("location=IN-KL-TVM&list=all", "invalid_input"),
                        ("location=IN-KL-TVM&colour=red", "invalid_input")):
        refused = client.get(f"/api/v1/staff/due-list?{query}", headers=auth(token))
        assert refused.status_code in (403, 422), (query, refused.get_json())
        assert refused.get_json()["code"] == code, (query, refused.get_json())
    # without a place: the worker's own grant
    vaccinator = staff_token(reg_app, client, "anm", "vaccinator", facility_code="F-TVM-1")
    own = client.get("/api/v1/staff/due-list", headers=auth(vaccinator)).get_json()
    assert own["facility"] == "F-TVM-1" and {r["reference_id"] for r in own["rows"]} \
        == {refs["A"]}
