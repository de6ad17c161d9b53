"""The safety pages (SQLite and PostgreSQL): a citizen reports a side effect for a member
of their account, a vaccinator reports a serious case, the district sees the alert and the
signal plot on its safety dashboard, acknowledges the alert and takes its stage's step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from cowin_kit.core.db import get_database
from cowin_kit.testing import (
    IST, add_members, auth, create_staff, form_post, last_otp, publish, sign_in, staff_token,
    text, token_of, web_staff_sign_in,
)
from cowin_kit.safety.models import AefiAlert
from cowin_kit.vaccination.models import AefiReport


def _now_local() -> str:
    return datetime.now(IST).strftime("%Y-%m-%dT%H:%M")


def _web_citizen(app, client, mobile="9876543210"):
    form_post(client, "/sign-in", mobile=mobile)
    response = form_post(client, "/sign-in/otp", otp=last_otp(app, mobile))
    assert response.status_code == 303, text(response)


def test_a_citizen_reports_a_side_effect_and_sees_its_status(reg_app):
    api = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, api, "vax.web", "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, api)
    (ref,) = add_members(reg_app, api, citizen, 1)
    recorded = api.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": "4121Z005"})
    assert recorded.status_code == 201
    client = reg_app.test_client()
    _web_citizen(reg_app, client)
    home = text(client.get("/"))
    assert f"/members/{ref}/side-effects" in home
    page = f"/members/{ref}/side-effects"
    missing = form_post(client, page, onset_at=_now_local(), seriousness="non_serious",
                        outcome="recovered")
    assert missing.status_code == 422
    assert "Name at least one adverse event or symptom." in text(missing)
    sent = client.post(page, data={
        "csrf_token": token_of(text(client.get(page))), "onset_at": _now_local(),
        "reactions": ["fever_38", "severe_local_reaction"], "symptoms": "sore arm\nheadache",
        "seriousness": "non_serious", "outcome": "recovering"})
    assert sent.status_code == 303, text(sent)
    shown = text(client.get(page))
    assert "Under investigation: District AEFI committee investigation" in shown
    assert "Fever of 38 °C or more" in shown and "sore arm" in shown
    with reg_app.app_context(), get_database(reg_app).session() as session:
        report = session.scalars(select(AefiReport)).one()
        assert report.reactions == ["fever_38", "severe_local_reaction"]
        assert report.symptoms == ["sore arm", "headache"]
        assert report.reporter_type == "citizen"
    # someone else's member: not found, and nothing of it shown
    other = reg_app.test_client()
    _web_citizen(reg_app, other, mobile="9876500001")
    assert other.get(page).status_code == 404


def test_the_district_sees_the_alert_and_signal_and_takes_its_step(reg_app):
    api = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, api, "vax.web2", "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, api)
    (ref,) = add_members(reg_app, api, citizen, 1)
    dose = api.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": "4121Z005"}).get_json()
    staff = reg_app.test_client()
    web_staff_sign_in(staff, "vax.web2")
    page = f"/vaccinator/doses/{dose['dose_id']}/aefi"
    assert "Life-threatening" in text(staff.get(page))
    reported = staff.post(page, data={
        "csrf_token": token_of(text(staff.get(page))), "onset_at": _now_local(),
        "reactions": ["anaphylaxis"], "seriousness": "serious",
        "serious_criteria": ["hospitalization"], "outcome": "recovering"})
    assert reported.status_code == 303, text(reported)

    create_staff(reg_app, "tvm.web", "district_admin", location_code="IN-KL-TVM")
    district = reg_app.test_client()
    web_staff_sign_in(district, "tvm.web")
    assert "/admin/safety" in text(district.get("/staff"))
    board = district.get("/admin/safety")
    assert board.status_code == 200
    body = text(board)
    assert "Serious cases to follow up" in body and "Hospitalization" in body
    assert 'class="chart" role="img"' in body and "Lot 4121Z005" in body
    with reg_app.app_context(), get_database(reg_app).session() as session:
        report_id = session.scalars(select(AefiReport.id)).one()
        alert_id = session.scalars(select(AefiAlert.id)).one()
    acknowledged = district.post(f"/admin/safety/alerts/{alert_id}/acknowledge",
                                 data={"csrf_token": token_of(body)})
    assert acknowledged.status_code == 303
    assert "No serious case waits for acknowledgement." in text(district.get("/admin/safety"))
    report_page = f"/admin/safety/reports/{report_id}"
    shown = text(district.get(report_page))
    assert "Record and pass to: State AEFI committee review" in shown
    assert "Anaphylaxis" in shown and ref in shown
    empty = form_post(district, report_page, findings="")
    assert empty.status_code == 422
    step = form_post(district, report_page, findings="Treated at the district hospital.",
                     outcome="recovered")
    assert step.status_code == 303, text(step)
    after = text(district.get(report_page))
    assert "Under investigation: State AEFI committee review" in after
    assert "Treated at the district hospital." in after
    assert "Record and pass to" not in after  # the next stage is the state's
    csv_text = text(district.get("/admin/safety/aefi.csv"))
    assert csv_text.splitlines()[0].startswith("report_id,reported_at,reporter_type")
    assert len(csv_text.splitlines()) == 2
    # a vaccinator has no safety dashboard
    assert staff.get("/admin/safety").status_code in (302, 403)
