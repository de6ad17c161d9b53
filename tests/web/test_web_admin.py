"""The administrator pages through Flask's test client: the dashboard's plots and CSV
exports, CSV uploads with the row-level problems in the page, staff and roles, partner
keys and the audit log — each limited to the administrator's area."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

from sqlalchemy import func, select

from cowin_kit.core.db import get_database
from cowin_kit.identity.models import PartnerApiKey, StaffUser
from cowin_kit.geography.models import Facility
from cowin_kit.scheduling.models import VaccinationSession
from cowin_kit.testing import (
    create_staff as staff_user, form_post, iso_day as day, seed_report_doses as seed, text,
    token_of, web_staff_sign_in,
)

FACILITIES = ("code,name,location_code,postal_code\n"
              "TVM-1,Medical College PHC,IN-KL-TVM,695001\n"
              "EKM-1,General Hospital,IN-KL-EKM,682011\n")


def signed_in(app, username, role, **scope):
    client = app.test_client()
    staff_user(app, username, role, **scope)
    web_staff_sign_in(client, username)
    return client


def count(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def upload(client, page, kind, content, name="upload.csv", **extra):
    token = token_of(text(client.get(page)))
    return client.post(f"/admin/{kind}/import", data={
        "csrf_token": token, "file": (io.BytesIO(content.encode()), name), **extra},
        content_type="multipart/form-data")


def test_dashboard_plots_and_csv_exports(reg_app):
    seed(reg_app, reg_app.test_client())
    client = signed_in(reg_app, "nat.web", "national_admin")
    assert "/admin/dashboard" in text(client.get("/staff"))
    page = client.get("/admin/dashboard?days=120&parent=IN-KL")
    body = text(page)
    assert page.status_code == 200
    svgs = re.findall(r"<svg .*?</svg>", body, re.S)
    assert len(svgs) == 5  # doses, coverage, age and sex, by channel, drop-out
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.get("role") == "img" and root.find("{http://www.w3.org/2000/svg}title") is not None
    assert "Thiruvananthapuram" in body and "Coverage by region" in body
    exported = client.get("/admin/dashboard/coverage.csv?parent=IN-KL")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = {r["region_code"]: r for r in csv.DictReader(io.StringIO(text(exported)))}
    assert rows["IN-KL-TVM"]["first_doses"] == "3"
    daily = list(csv.DictReader(io.StringIO(text(client.get(
        "/admin/dashboard/doses-per-day.csv?days=120")))))
    assert sum(int(r["total"]) for r in daily) == 7
    assert client.get("/admin/dashboard/nothing.csv").status_code == 404
    assert client.get("/admin/dashboard?days=5000").status_code == 422


def test_the_dashboard_in_hindi_and_for_a_district(reg_app):
    seed(reg_app, reg_app.test_client())
    client = signed_in(reg_app, "tvm.web", "district_admin", location_code="IN-KL-TVM")
    body = text(client.get("/admin/dashboard?days=120&lang=hi"))
    assert 'lang="hi"' in body and "तिरुवनंतपुरम" in body
    assert "एर्नाकुलम" not in body  # only the district itself
    assert client.get("/admin/dashboard?parent=IN-DL").status_code == 403
    vaccinator = signed_in(reg_app, "vax.dash", "vaccinator", facility_code="F-TVM-1")
    assert vaccinator.get("/admin/dashboard").status_code == 403


def test_upload_with_a_bad_row_shows_every_problem_and_writes_nothing(reg_app):
    client = signed_in(reg_app, "kl.web", "state_admin", location_code="IN-KL")
    done = upload(client, "/admin/facilities", "facilities", FACILITIES)
    assert done.status_code == 303
    assert "2 added" in text(client.get(done.headers["Location"]))
    assert count(reg_app, Facility) == 2
    bad = ("facility_code,date,vaccine,slots,capacity_dose1\n"
           f"TVM-1,{day(3)},COVISHIELD,09:00-11:00,10\n"
           f"EKM-1,{day(3)},NOSUCHVACCINE,09:00-11:00,10\n")
    refused = upload(client, "/admin/sessions", "sessions", bad, name="week.csv")
    page = text(refused)
    assert refused.status_code == 422
    problem = re.search(r"<tr><td>3</td><td>vaccine</td><td>([^<]+)</td></tr>", page)
    assert problem, page
    assert count(reg_app, VaccinationSession) == 0
    checked = upload(client, "/admin/sessions", "sessions", bad.splitlines()[0] + "\n"
                     + bad.splitlines()[1] + "\n", check_only="1")
    assert checked.status_code == 303 and count(reg_app, VaccinationSession) == 0
    good = upload(client, "/admin/sessions", "sessions", bad.splitlines()[0] + "\n"
                  + bad.splitlines()[1] + "\n")
    assert good.status_code == 303 and count(reg_app, VaccinationSession) == 1
    sessions = text(client.get("/admin/sessions"))
    assert "Medical College PHC" in sessions and "0 / 10" in sessions
    # Outside the state: every row is a problem.
    outside = upload(client, "/admin/facilities", "facilities",
                     "code,name,location_code\nDL-1,Delhi PHC,IN-DL-CD\n")
    assert outside.status_code == 422 and "DL-1" not in text(client.get("/admin/facilities"))
    no_file = client.post("/admin/facilities/import", data={
        "csrf_token": token_of(text(client.get("/admin/facilities")))},
        content_type="multipart/form-data")
    assert no_file.status_code == 422


def test_staff_roles_within_the_area(reg_app):
    client = signed_in(reg_app, "kl.staff", "state_admin", location_code="IN-KL")
    created = form_post(client, "/admin/staff", "/admin/staff", username="nurse.anu",
                        display_name="Anu")
    page = text(created)
    assert created.status_code == 200 and "Password of nurse.anu" in page
    password = re.search(r'<p class="code big">([^<]+)</p>', page).group(1)
    assert len(password) >= 12
    assert password not in text(client.get("/admin/staff"))  # shown once
    granted = form_post(client, "/admin/staff", "/admin/staff/grants", username="nurse.anu",
                        role="district_admin", location="IN-KL-TVM")
    assert granted.status_code == 303
    assert "District administrator" in text(client.get("/admin/staff"))
    refused = form_post(client, "/admin/staff", "/admin/staff/grants", username="nurse.anu",
                        role="national_admin")
    assert refused.status_code == 403
    revoked = form_post(client, "/admin/staff", "/admin/staff/grants", username="nurse.anu",
                        role="district_admin", location="IN-KL-TVM", revoke="1")
    assert revoked.status_code == 303
    with reg_app.app_context(), get_database(reg_app).session() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == "nurse.anu")).one()
        assert user.grants == []


def test_partner_keys_are_national_and_shown_once(reg_app):
    national = signed_in(reg_app, "nat.keys", "national_admin")
    created = form_post(national, "/admin/partner-keys", name="Health app",
                        rate_limit_per_minute="120")
    page = text(created)
    assert created.status_code == 200
    key = re.search(r'<p class="code">([^<]+)</p>', page).group(1)
    assert key not in text(national.get("/admin/partner-keys"))
    with reg_app.app_context(), get_database(reg_app).session() as session:
        stored = session.scalars(select(PartnerApiKey)).one()
        assert stored.rate_limit_per_minute == 120 and key not in stored.key_hash
    revoked = form_post(national, "/admin/partner-keys", f"/admin/partner-keys/{stored.id}/revoke")
    assert revoked.status_code == 303
    assert count(reg_app, PartnerApiKey, PartnerApiKey.revoked_at.is_not(None)) == 1
    state = signed_in(reg_app, "kl.keys", "state_admin", location_code="IN-KL")
    assert state.get("/admin/partner-keys").status_code == 403


def test_audit_log_is_limited_to_the_area(reg_app):
    national = signed_in(reg_app, "nat.audit", "national_admin")
    kerala = signed_in(reg_app, "kl.audit", "state_admin", location_code="IN-KL")
    delhi = signed_in(reg_app, "dl.audit", "state_admin", location_code="IN-DL")
    upload(kerala, "/admin/facilities", "facilities", FACILITIES)
    upload(delhi, "/admin/facilities", "facilities",
           "code,name,location_code\nDL-1,Delhi PHC,IN-DL-CD\n")
    everything = text(national.get("/admin/audit"))
    assert "kl.audit" in everything and "dl.audit" in everything
    own = text(kerala.get("/admin/audit"))
    assert "kl.audit" in own and "dl.audit" not in own
    filtered = text(national.get("/admin/audit?action=pack.install"))
    assert "pack.install" in filtered and "kl.audit" not in filtered


def test_audit_visibility_follows_the_events_place(reg_app):
    """An area's administrator reads the events placed inside the area, whoever acted (a
    national administrator's facility in the district), not those of another district,
    nor national ones (a partner key, the pack); a national administrator reads all."""
    national = signed_in(reg_app, "nat.audit", "national_admin")
    district = signed_in(reg_app, "tvm.audit", "district_admin", location_code="IN-KL-TVM")
    upload(national, "/admin/facilities", "facilities", FACILITIES)  # TVM-1 and EKM-1
    created = form_post(national, "/admin/partner-keys", name="Audit partner",
                        rate_limit_per_minute="60")
    assert created.status_code in (200, 303), text(created)
    everything = text(national.get("/admin/audit"))
    assert "code=TVM-1" in everything and "code=EKM-1" in everything
    assert "partner_key.create" in everything and "pack.install" in everything
    district_view = text(district.get("/admin/audit"))
    assert "code=TVM-1" in district_view  # inside the district, by a national administrator
    assert "code=EKM-1" not in district_view  # another district
    assert "partner_key.create" not in district_view and "pack.install" not in district_view
    assert "staff.sign_in" in district_view  # their own sign-in, placed in the district
    assert "nat.audit" not in text(district.get("/admin/audit?action=staff.sign_in"))


def test_the_dashboard_is_right_to_left_in_arabic(database_url, tmp_path):
    from cowin_kit.config.packs import load_pack
    from conftest import EXAMPLES
    from cowin_kit.testing import close_reg_app, make_reg_app

    app = make_reg_app(database_url, tmp_path, load_pack(EXAMPLES / "ae"))
    try:
        client = signed_in(app, "nat.ar", "national_admin")
        body = text(client.get("/admin/dashboard?lang=ar"))
        assert 'dir="rtl"' in body and 'lang="ar"' in body
        svgs = [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", body, re.S)]
        assert len(svgs) == 5 and all(svg.get("direction") == "rtl" for svg in svgs)
        assert "دبي" in body  # the regions by their Arabic names
    finally:
        close_reg_app(app)
