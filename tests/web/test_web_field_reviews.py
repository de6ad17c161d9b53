"""The supervisor's page of field conflicts (/admin/field-reviews): the waiting
conflicts of their facility, accepting one records it through the normal services,
rejecting notes why; no ID number in the page; other roles and facilities kept out."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from cowin_kit.core.db import get_database
from cowin_kit.fieldsync.models import FieldReview
from cowin_kit.registration.models import Beneficiary
from cowin_kit.testing import (
    auth, create_staff, form_post, publish, staff_token, text, valid_aadhaar,
    web_staff_sign_in,
)

PAGE = "/admin/field-reviews"


def count(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def registration(number: str | None, name: str, mobile: str) -> dict:
    payload = {"name": name, "gender": "F", "mobile": mobile, "location": "IN-KL-TVM"}
    if number:
        payload.update(birth_date="1980-05-01", id_type="aadhaar", id_number=number)
    else:
        payload.update(birth_date=(datetime.now(timezone.utc) - timedelta(days=4))
                       .date().isoformat(), guardian_name="Meena", guardian_relation="mother")
    return {"client_id": str(uuid.uuid4()), "kind": "register_person",
            "recorded_at": datetime.now(timezone.utc).isoformat(), "payload": payload}


def conflicts(app):
    """Two conflicts at F-TVM-1: a newborn registered twice, an ID number used twice."""
    client = app.test_client()
    publish(app, code="F-TVM-1")
    token = staff_token(app, client, "anm.page", "vaccinator", facility_code="F-TVM-1")
    number = valid_aadhaar(1)[0]
    baby = registration(None, "Baby Meena", "9876500011")
    adult = registration(number, "Asha Devi", "9876500012")
    twin_baby = dict(baby, client_id=str(uuid.uuid4()))
    twin_adult = dict(registration(number, "Asha D", "9876500013"))
    response = client.post("/api/v1/field/sync", headers=auth(token), json={
        "device_id": str(uuid.uuid4()), "records": [baby, adult, twin_baby, twin_adult]})
    statuses = [r["status"] for r in response.get_json()["results"]]
    assert statuses == ["accepted", "accepted", "conflict", "conflict"], response.get_json()
    return number


def test_a_supervisor_sees_and_decides_the_conflicts_of_their_facility(reg_app):
    number = conflicts(reg_app)
    create_staff(reg_app, "sup.page", "facility_admin", facility_code="F-TVM-1")
    client = reg_app.test_client()
    web_staff_sign_in(client, "sup.page")
    start = client.get("/staff")
    assert PAGE in text(start)
    page = client.get(PAGE)
    assert page.status_code == 200
    body = text(page)
    assert "Baby Meena" in body and "Asha D" in body
    assert "person_registered_twice" in body and "id_already_registered" in body
    assert number not in body and number[-4:] in body
    assert 'name="viewport"' in body  # the phone layout of every page
    with reg_app.app_context(), get_database(reg_app).session() as session:
        baby, adult = session.scalars(select(FieldReview).order_by(FieldReview.id)).all()
    # Accepting the twin registers the second child (twins, as the supervisor knows).
    accepted = form_post(client, PAGE, review_id=str(baby.id), decision="accept",
                         note="twins")
    assert accepted.status_code == 302, text(accepted)
    assert count(reg_app, Beneficiary) == 3
    # Accepting the second use of an ID number is refused by registration: shown, kept.
    refused = form_post(client, PAGE, review_id=str(adult.id), decision="accept")
    assert refused.status_code == 409
    assert count(reg_app, Beneficiary) == 3
    rejected = form_post(client, PAGE, review_id=str(adult.id), decision="reject",
                         note="same woman")
    assert rejected.status_code == 302
    assert count(reg_app, FieldReview, FieldReview.status == "open") == 0
    decided = text(client.get(PAGE + "?status=rejected"))
    assert "same woman" in decided and "sup.page" in decided


def test_vaccinators_and_other_facilities_do_not_see_the_conflicts(reg_app):
    conflicts(reg_app)
    create_staff(reg_app, "anm.other", "vaccinator", facility_code="F-TVM-1")
    vaccinator = reg_app.test_client()
    web_staff_sign_in(vaccinator, "anm.other")
    assert vaccinator.get(PAGE).status_code == 403
    publish(reg_app, code="F-TVM-2")
    create_staff(reg_app, "sup.other", "facility_admin", facility_code="F-TVM-2")
    elsewhere = reg_app.test_client()
    web_staff_sign_in(elsewhere, "sup.other")
    page = elsewhere.get(PAGE)
    assert page.status_code == 200 and "Baby Meena" not in text(page)
