"""The health worker's due list page: their facility's list by default, the list and
status filters, the printable PDF, the area check, and the page's language."""

from __future__ import annotations

from cowin_kit.testing import create_staff
from cowin_kit.testing.documents import pdf_text
from cowin_kit.testing.pages import text, web_staff_sign_in
from cowin_kit.testing.routine_area import seed_area


def test_a_health_worker_sees_and_prints_their_due_list(reg_app):
    seed_area(reg_app)
    create_staff(reg_app, "anm.tvm", "vaccinator", facility_code="F-TVM-1")
    client = reg_app.test_client()
    web_staff_sign_in(client, "anm.tvm")
    page = client.get("/health-worker/due")
    assert page.status_code == 200
    body = text(page)
    assert "Anu" in body and "Bala" not in body   # the facility's own people only
    assert 'name="viewport"' in body or "viewport" in body
    assert "/health-worker/due.pdf?" in body
    upcoming = text(client.get("/health-worker/due?status=upcoming"))
    assert "Anu" in upcoming and "upcoming" in upcoming
    pdf = client.get("/health-worker/due.pdf?facility=F-TVM-1")
    assert pdf.content_type == "application/pdf" and "Anu" in pdf_text(pdf.data)
    refused = client.get("/health-worker/due?location=IN-KL-TVM")
    assert refused.status_code == 403


def test_a_district_officer_sees_zero_dose_children_in_hindi(reg_app):
    seed_area(reg_app)
    create_staff(reg_app, "dio.tvm", "district_admin", location_code="IN-KL-TVM")
    client = reg_app.test_client()
    web_staff_sign_in(client, "dio.tvm")
    page = text(client.get("/health-worker/due?list=zero-dose",
                           headers={"Accept-Language": "hi"}))
    assert "Bala" in page and "Anu" not in page
    assert "Zero-dose children" not in page   # translated
