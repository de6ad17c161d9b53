"""The corrections pages (SQLite and PostgreSQL): the checker's queue, one request with
what changes, approval (applied) and rejection (a reason needed); the maker cannot approve
their own; citizens file a grievance and follow it while staff answer it from their queue;
an administrator sets a staff member's contact on the staff page."""

from __future__ import annotations

from sqlalchemy import select

from cowin_kit.core.db import get_database
from cowin_kit.corrections.models import ChangeRequest
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration.models import Dose
from cowin_kit.testing import (
    add_members, auth, form_post, last_otp, record_first_dose, staff_token, text, token_of,
    web_staff_sign_in,
)

STAFF = "/api/v1/staff"


def _web_citizen(app, client, mobile="9876543210"):
    form_post(client, "/sign-in", mobile=mobile)
    response = form_post(client, "/sign-in/otp", otp=last_otp(app, mobile))
    assert response.status_code == 303, text(response)


def _proposals(app, client):
    _citizen, ref, recorded = record_first_dose(app, client)
    maker = staff_token(app, client, "vax.maker", "vaccinator", facility_code="F-TVM-1")
    staff_token(app, client, "dist.checker", "district_admin", location_code="IN-KL-TVM")
    dose_id = recorded.get_json()["dose_id"]
    ids = []
    for lot in ("4121Z777", "4121Z888"):
        response = client.post(f"{STAFF}/corrections", headers=auth(maker), json={
            "kind": "dose", "dose_id": dose_id, "reason": "the lot was misread",
            "changes": {"lot": lot}})
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
        if lot == "4121Z777":  # one pending request per record: reject it on the API first
            assert client.post(f"{STAFF}/corrections/{ids[0]}/reject", headers=auth(
                staff_token(app, client, "kl.checker", "state_admin", location_code="IN-KL")),
                json={"reason": "typed the wrong lot"}).status_code == 200
    return ref, dose_id, ids[1]


def test_the_checker_approves_from_the_queue_and_the_maker_cannot(reg_app):
    api = reg_app.test_client()
    ref, dose_id, request_id = _proposals(reg_app, api)

    maker = reg_app.test_client()
    web_staff_sign_in(maker, "vax.maker")
    own = text(maker.get(f"/admin/corrections/{request_id}"))
    assert "You proposed this correction" in own and 'name="decision"' not in own
    refused = maker.post(f"/admin/corrections/{request_id}", data={
        "csrf_token": token_of(own), "decision": "approve"})
    assert refused.status_code == 403

    checker = reg_app.test_client()
    web_staff_sign_in(checker, "dist.checker")
    assert "/admin/corrections" in text(checker.get("/staff"))
    queue = text(checker.get("/admin/corrections"))
    assert f"/admin/corrections/{request_id}" in queue and ref in queue
    assert "4121Z005 → 4121Z888" in queue
    page = f"/admin/corrections/{request_id}"
    shown = text(checker.get(page))
    assert "4121Z888" in shown and "the lot was misread" in shown
    # no CSRF token: refused, nothing changes
    assert checker.post(page, data={"decision": "approve"}).status_code == 400
    # rejecting needs the reason
    unexplained = form_post(checker, page, decision="reject", note="")
    assert unexplained.status_code == 422
    assert "Give the reason, in 3 to 500 characters." in text(unexplained)
    approved = form_post(checker, page, decision="approve", note="checked the vial")
    assert approved.status_code == 303, text(approved)
    assert "No correction is waiting for approval" in text(checker.get("/admin/corrections"))
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.get(Dose, dose_id).lot == "4121Z888"
        row = session.get(ChangeRequest, request_id)
        assert (row.status, row.checker, row.decision_note) == (
            "applied", "dist.checker", "checked the vial")
    # another district's administrator does not see it
    staff_token(reg_app, api, "dl.checker", "district_admin", location_code="IN-DL-CD")
    other = reg_app.test_client()
    web_staff_sign_in(other, "dl.checker")
    assert other.get(page).status_code == 404


def test_a_citizen_files_a_grievance_and_reads_the_answer(reg_app):
    api = reg_app.test_client()
    _citizen, ref, _recorded = record_first_dose(reg_app, api)
    citizen = reg_app.test_client()
    _web_citizen(reg_app, citizen)
    assert "/grievances" in text(citizen.get("/"))
    listing = text(citizen.get("/grievances"))
    assert "within 7 days" in listing and "You have not filed any grievance." in listing
    short = form_post(citizen, "/grievances/new", category="missing_dose",
                      reference_id=ref, description="no")
    assert short.status_code == 422
    filed = form_post(citizen, "/grievances/new", category="missing_dose", reference_id=ref,
                      description="The second dose given in March is not on the record.")
    assert filed.status_code == 303, text(filed)
    assert "Received" in text(citizen.get("/grievances"))

    staff_token(reg_app, api, "dist.grief", "district_admin", location_code="IN-KL-TVM")
    staff = reg_app.test_client()
    web_staff_sign_in(staff, "dist.grief")
    queue = text(staff.get("/admin/grievances"))
    assert "A dose is missing" in queue and ref in queue and "0 days" in queue
    link = queue.split('href="/admin/grievances/')[1].split('"')[0]
    page = f"/admin/grievances/{link}"
    closed_silently = form_post(staff, page, status="resolved", answer="")
    assert closed_silently.status_code == 422
    assert "Tell the citizen what was done." in text(closed_silently)
    answered = form_post(staff, page, status="resolved",
                         answer="The March dose is added to the record.")
    assert answered.status_code == 303, text(answered)
    assert "No open grievance in your area." in text(staff.get("/admin/grievances"))
    mine = text(citizen.get("/grievances"))
    assert "Resolved" in mine and "The March dose is added to the record." in mine
    # a vaccinator does not handle grievances
    staff_token(reg_app, api, "vax.grief", "vaccinator", facility_code="F-TVM-1")
    vaccinator = reg_app.test_client()
    web_staff_sign_in(vaccinator, "vax.grief")
    assert vaccinator.get("/admin/grievances").status_code == 403


def test_an_administrator_sets_a_staff_members_contact(reg_app):
    api = reg_app.test_client()
    staff_token(reg_app, api, "nat.page", "national_admin")
    staff_token(reg_app, api, "anm.page", "state_admin", location_code="IN-KL")
    admin = reg_app.test_client()
    web_staff_sign_in(admin, "nat.page")
    wrong = form_post(admin, "/admin/staff", action="/admin/staff/contact",
                      username="anm.page", mobile="12", email="")
    assert wrong.status_code == 422 and "not a valid phone number" in text(wrong)
    saved = form_post(admin, "/admin/staff", action="/admin/staff/contact",
                      username="anm.page", mobile="9876500401", email="anm@example.org")
    assert saved.status_code == 303, text(saved)
    page = text(admin.get("/admin/staff"))
    assert "+919876500401" in page and "anm@example.org" in page
    created = form_post(admin, "/admin/staff", username="anm.new", display_name="New ANM",
                        mobile="9876500402", email="")
    assert created.status_code == 200, text(created)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        rows = dict(session.execute(select(StaffUser.username, StaffUser.mobile)).all())
    assert rows["anm.page"] == "+919876500401" and rows["anm.new"] == "+919876500402"


def test_a_maker_proposes_corrections_from_the_persons_page(reg_app):
    api = reg_app.test_client()
    _citizen, ref, recorded = record_first_dose(reg_app, api)
    dose_id = recorded.get_json()["dose_id"]
    staff_token(reg_app, api, "vax.page", "vaccinator", facility_code="F-TVM-1")
    maker = reg_app.test_client()
    web_staff_sign_in(maker, "vax.page")
    found = maker.get(f"/admin/corrections/people?reference_id={ref}")
    assert found.status_code == 303
    page = f"/admin/corrections/people/{ref}"
    assert found.headers["Location"].endswith(page)
    shown = text(maker.get(page))
    assert "4121Z005" in shown and f'name="dose_id" value="{dose_id}"' in shown
    nothing = form_post(maker, page, kind="dose", dose_id=str(dose_id),
                        reason="nothing typed")
    assert nothing.status_code == 422 and "Say what should change." in text(nothing)
    proposed = form_post(maker, page, kind="dose", dose_id=str(dose_id), lot="4121Z321",
                         reason="the vial's lot was misread")
    assert proposed.status_code == 303, text(proposed)
    assert "/admin/corrections/" in proposed.headers["Location"]
    with reg_app.app_context(), get_database(reg_app).session() as session:
        row = session.scalars(select(ChangeRequest)).one()
        assert (row.kind, row.changes, row.maker, row.status) == (
            "dose", {"lot": "4121Z321"}, "vax.page", "pending")
        assert session.get(Dose, dose_id).lot == "4121Z005"   # not before approval
    waiting = text(maker.get(page))
    assert f"/admin/corrections/{row.id}" in waiting
    # one pending request per record at a time
    again = form_post(maker, page, kind="void_dose", dose_id=str(dose_id),
                      reason="recorded in error")
    assert again.status_code == 409
    # a person outside the maker's area is not shown
    staff_token(reg_app, api, "dl.far", "district_admin", location_code="IN-DL-CD")
    far = reg_app.test_client()
    web_staff_sign_in(far, "dl.far")
    assert far.get(page).status_code == 403
