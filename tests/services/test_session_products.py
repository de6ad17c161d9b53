"""Sessions offering several products (issue 14, "Visits"): published through the admin
API and the CSV import, the session's main product unchanged for the booking flows."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from cowin_kit.geography.models import Facility
from cowin_kit.provision.installer import install_pack
from cowin_kit.scheduling import sessions
from cowin_kit.scheduling.imports import ImportInvalid, import_facilities, import_sessions
from cowin_kit.scheduling.models import VaccinationSession
from cowin_kit.testing import auth, iso_day as day, national_admin_token, today

FACILITIES = """\
code,name,location_code
TVM-1,Medical College PHC,IN-KL-TVM
"""


@pytest.fixture
def pack_session(db_session, india_pack):
    install_pack(db_session, india_pack)
    import_facilities(db_session, FACILITIES.encode(), file_name="facilities.csv")
    return db_session


def _offered(session) -> dict[str, tuple[list[str], str, str]]:
    out = {}
    for found in session.scalars(select(VaccinationSession)):
        session.refresh(found)
        codes = [p.code for p in sessions.offered_products(session, found)]
        out[found.session_date.isoformat()] = (codes, found.kind, found.site)
    return out


def test_publish_a_session_with_several_products_idempotently(pack_session):
    session = pack_session
    facility = session.scalars(select(Facility)).one()
    published = sessions.publish_session(
        session, facility=facility, session_date=today() + timedelta(days=1),
        product_code="PENTA", slots="09:00-13:00", capacity_by_dose={1: 50}, min_age=0,
        other_product_codes=["BOPV", "ROTA", "PENTA", "BOPV", "FIPV"], kind="outreach",
        site="Anganwadi, Ward 7")
    session.commit()
    # the other products in the pack's order (the order of their ids)
    assert _offered(session) == {day(1): (["PENTA", "BOPV", "FIPV", "ROTA"], "outreach",
                                          "Anganwadi, Ward 7")}
    again = sessions.publish_session(
        session, facility=facility, session_date=today() + timedelta(days=1),
        product_code="PENTA", slots="09:00-13:00", capacity_by_dose={1: 50}, min_age=0)
    assert again.id == published.id


@pytest.mark.parametrize("fields, code", [
    ({"other_product_codes": ["NOPE"]}, "vaccine_not_found"),
    ({"kind": "mobile"}, "invalid_session_kind"),
    ({"kind": "outreach", "site": "  "}, "site_required"),
])
def test_bad_products_or_kinds_are_refused(pack_session, fields, code):
    from cowin_kit.core.errors import DomainError

    facility = pack_session.scalars(select(Facility)).one()
    with pytest.raises(DomainError) as refused:
        sessions.publish_session(pack_session, facility=facility,
                                 session_date=today() + timedelta(days=1), product_code="PENTA",
                                 slots="09:00-13:00", capacity_by_dose={1: 5}, min_age=0,
                                 **fields)
    assert refused.value.code == code
    pack_session.rollback()
    assert pack_session.scalars(select(VaccinationSession)).first() is None


def test_csv_import_sets_and_replaces_the_other_products(pack_session):
    session = pack_session
    header = "facility_code,date,vaccine,slots,capacity_dose1,min_age,other_vaccines,kind,site\n"
    first = (header + f"TVM-1,{day(2)},PENTA,09:00-13:00,40,0,BOPV;ROTA,outreach,Ward 7 school\n"
             + f"TVM-1,{day(3)},COVISHIELD,09:00-13:00,40,18,,,\n")
    report = import_sessions(session, first.encode(), file_name="s.csv")
    assert report.added == 2
    offered = _offered(session)
    assert offered[day(2)] == (["PENTA", "BOPV", "ROTA"], "outreach", "Ward 7 school")
    assert offered[day(3)] == (["COVISHIELD"], "fixed", "")
    again = import_sessions(session, first.encode(), file_name="s.csv")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)

    changed = header + f"TVM-1,{day(2)},PENTA,09:00-13:00,40,0,PCV;BOPV,fixed,\n"
    report = import_sessions(session, changed.encode(), file_name="s.csv")
    assert (report.updated, report.unchanged) == (1, 0)
    assert _offered(session)[day(2)] == (["PENTA", "BOPV", "PCV"], "fixed", "")

    # without the columns, an existing session keeps its other products
    plain = ("facility_code,date,vaccine,slots,capacity_dose1,min_age\n"
             f"TVM-1,{day(2)},PENTA,09:00-13:00,40,0\n")
    report = import_sessions(session, plain.encode(), file_name="s.csv")
    assert report.unchanged == 1
    assert _offered(session)[day(2)][0] == ["PENTA", "BOPV", "PCV"]


def test_csv_import_reports_bad_products_and_sites_and_writes_nothing(pack_session):
    bad = ("facility_code,date,vaccine,slots,capacity_dose1,min_age,other_vaccines,kind,site\n"
           f"TVM-1,{day(2)},PENTA,09:00-13:00,40,0,BOPV;NOPE,fixed,\n"
           f"TVM-1,{day(3)},PENTA,09:00-13:00,40,0,,outreach,\n"
           f"TVM-1,{day(4)},PENTA,09:00-13:00,40,0,,mobile,\n")
    with pytest.raises(ImportInvalid) as refused:
        import_sessions(pack_session, bad.encode(), file_name="s.csv")
    assert [str(p) for p in refused.value.problems] == [
        "s.csv:2: other_vaccines: no vaccine with code NOPE",
        "s.csv:3: site: name the outreach site",
        "s.csv:4: kind: must be fixed or outreach",
    ]
    assert pack_session.scalars(select(VaccinationSession)).first() is None


def test_admin_api_publishes_several_products_and_booking_shows_the_main_one(reg_app):
    client = reg_app.test_client()
    admin = national_admin_token(reg_app, client)
    client.post("/api/v1/admin/facilities", headers=auth(admin), json={
        "code": "F-KLM-1", "name": "Kollam District Hospital", "location": "IN-KL-KLM",
        "postal_code": "691001"})
    date = (today() + timedelta(days=2)).isoformat()
    published = client.post("/api/v1/admin/sessions", headers=auth(admin), json={
        "facility": "F-KLM-1", "date": date, "vaccine": "COVISHIELD", "min_age": 18,
        "slots": "09:00-12:00", "capacity": {"1": 3}, "other_vaccines": ["TD"],
        "kind": "outreach", "site": "Panchayat hall"})
    assert published.status_code == 201, published.get_json()
    body = published.get_json()
    assert (body["vaccine"], body["other_vaccines"], body["kind"], body["site"]) == (
        "COVISHIELD", ["TD"], "outreach", "Panchayat hall")
    bad = client.post("/api/v1/admin/sessions", headers=auth(admin), json={
        "facility": "F-KLM-1", "date": date, "vaccine": "COVAXIN", "slots": "09:00-12:00",
        "capacity": {"1": 3}, "other_vaccines": ["NOPE"]})
    assert bad.status_code == 404 and bad.mimetype == "application/problem+json"
    assert bad.get_json()["code"] == "vaccine_not_found"
    centres = client.get(f"/api/v1/sessions?location=IN-KL&date={date}").get_json()["centres"]
    assert [s["vaccine"] for c in centres for s in c["sessions"]] == ["COVISHIELD"]
    v2_date = (today() + timedelta(days=2)).strftime("%d-%m-%Y")
    v2 = client.get(f"/api/v2/appointment/sessions/public/findByPin?pincode=691001&date={v2_date}")
    assert v2.status_code == 200
    assert [s["vaccine"] for s in v2.get_json()["sessions"]] == ["COVISHIELD"]
