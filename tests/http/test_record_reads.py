"""Staff reads of a person's record are audited (who looked at whom); outside the
reader's area they take a reason ("break the glass"). Walk-ins join an existing account
only with a member's secret code. Through HTTP, on every backend."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core.db import get_database
from cowin_kit.testing import (
    add_members, auth, publish, secret_code, sign_in, staff_token, valid_aadhaar,
)


def booked_today(app, client, username):
    """A vaccinator at F-TVM-1 and a citizen's member booked there today: (vaccinator
    token, reference id)."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.registration.models import CitizenAccount
    from cowin_kit.scheduling import booking as bookings

    session_id = publish(app, days_ahead=0, code="F-TVM-1", slots="00:00-23:59")
    vaccinator = staff_token(app, client, username, "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(app, client)
    (ref,) = add_members(app, client, citizen, 1)
    with app.test_request_context(), get_database(app).session() as session:
        account = session.scalars(select(CitizenAccount)).one()
        bookings.book(session, active_pack(), account, session_id=session_id,
                      slot="00:00-23:59", reference_ids=[ref],
                      now=datetime.now(timezone.utc).replace(hour=3, minute=0))
    return vaccinator, ref


def _events(app, *actions):
    with app.app_context(), get_database(app).session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action.in_(actions))
                                    .order_by(AuditEvent.id)))


def test_a_check_in_is_audited_and_outside_the_area_takes_a_reason(reg_app):
    client = reg_app.test_client()
    vaccinator, ref = booked_today(reg_app, client, "vax.here")
    # booked at the vaccinator's facility: inside, one audited read
    assert client.get(f"/api/v1/vaccinator/beneficiaries/{ref}",
                      headers=auth(vaccinator)).status_code == 200
    (read,) = _events(reg_app, "record.read")
    assert (read.actor_id, read.object_id, read.details["view"]) == ("vax.here", ref, "check_in")
    # a vaccinator of another facility (she is neither booked there nor of its area)
    publish(reg_app, code="F-TVM-9")
    other = staff_token(reg_app, client, "vax.ekm", "vaccinator", facility_code="F-TVM-9")
    refused = client.get(f"/api/v1/vaccinator/beneficiaries/{ref}", headers=auth(other))
    assert refused.status_code == 403 and refused.get_json()["code"] == "reason_required"
    assert "name" not in refused.get_json()
    too_long = client.get(f"/api/v1/vaccinator/beneficiaries/{ref}?reason=" + "x" * 201,
                          headers=auth(other))
    assert too_long.status_code == 422
    opened = client.get(f"/api/v1/vaccinator/beneficiaries/{ref}",
                        query_string={"reason": "walked in here for her dose"},
                        headers=auth(other))
    assert opened.status_code == 200 and opened.get_json()["reference_id"] == ref
    (glass,) = _events(reg_app, "record.read_outside_area")
    assert (glass.actor_id, glass.object_id) == ("vax.ekm", ref)
    assert glass.details == {"view": "check_in", "reason": "walked in here for her dose"}
    # an unknown reference ID stays "not found", reason or not
    missing = client.get("/api/v1/vaccinator/beneficiaries/12345678901234", headers=auth(other))
    assert missing.status_code == 404
    assert len(_events(reg_app, "record.read", "record.read_outside_area")) == 2


def test_the_record_api_outside_the_area_takes_a_reason(reg_app):
    from test_lifelong_record import PEOPLE, child_with_doses  # tests/http is on the path

    client = reg_app.test_client()
    _worker, ref = child_with_doses(reg_app, client)
    publish(reg_app, code="F-TVM-2")
    elsewhere = staff_token(reg_app, client, "vax.other", "vaccinator", facility_code="F-TVM-2")
    refused = client.get(f"{PEOPLE}/{ref}/record", headers=auth(elsewhere))
    assert refused.status_code == 403 and refused.get_json()["code"] == "reason_required"
    opened = client.get(f"{PEOPLE}/{ref}/record?reason=referred+from+TVM-1",
                        headers=auth(elsewhere))
    assert opened.status_code == 200 and opened.get_json()["doses"]
    (glass,) = _events(reg_app, "record.read_outside_area")
    assert glass.actor_id == "vax.other" and glass.details["reason"] == "referred from TVM-1"
    # placed at the child's place: the district's administrator reads who looked
    assert glass.location_id is not None


def test_a_walk_in_joins_an_existing_account_only_with_a_members_secret_code(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, client, "vax.walk", "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, client, "9876543210")
    (ref,) = add_members(reg_app, client, citizen, 1)
    code = secret_code(client, citizen, ref)
    numbers = valid_aadhaar(3, start=500000000000)

    def walk_in(number, **extra):
        return client.post("/api/v1/vaccinator/walk-ins", headers=auth(vaccinator), json={
            "mobile": "9876543210", "name": "Someone", "birth_year": 1970, "gender": "M",
            "id_type": "aadhaar", "id_number": number, "consent_version": "v1", **extra})

    def members():
        listed = client.get("/api/v1/beneficiaries", headers=auth(citizen)).get_json()
        return len(listed["beneficiaries"])

    refused = walk_in(numbers[0])
    assert refused.status_code == 409 and refused.get_json()["code"] == "mobile_has_account"
    wrong = walk_in(numbers[0], holder_code="0000" if code != "0000" else "1111")
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "holder_code_invalid"
    assert members() == 1
    joined = walk_in(numbers[0], holder_code=code)
    assert joined.status_code == 201, joined.get_json()
    assert members() == 2
    # the walk-in's home is the registering facility: its vaccinator reads them freely
    new_ref = joined.get_json()["reference_id"]
    assert client.get(f"/api/v1/vaccinator/beneficiaries/{new_ref}",
                      headers=auth(vaccinator)).status_code == 200
    # a number of their own needs nothing
    alone = client.post("/api/v1/vaccinator/walk-ins", headers=auth(vaccinator), json={
        "mobile": "9000000123", "name": "Alone", "birth_year": 1970, "gender": "M",
        "id_type": "aadhaar", "id_number": numbers[1], "consent_version": "v1"})
    assert alone.status_code == 201, alone.get_json()
    assert len(_events(reg_app, "walk_in.holder_code_wrong")) == 1


def test_wrong_holder_codes_pause_the_staff_member(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    vaccinator = staff_token(reg_app, client, "vax.guess", "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, client, "9876543210")
    (ref,) = add_members(reg_app, client, citizen, 1)
    code = secret_code(client, citizen, ref)
    number = valid_aadhaar(1, start=600000000000)[0]
    guesses = [f"{n:04d}" for n in range(10) if f"{n:04d}" != code][:6]
    answers = [client.post("/api/v1/vaccinator/walk-ins", headers=auth(vaccinator), json={
        "mobile": "9876543210", "name": "Guess", "birth_year": 1970, "gender": "M",
        "id_type": "aadhaar", "id_number": number, "consent_version": "v1",
        "holder_code": guess}).status_code for guess in guesses]
    # five wrong codes for the account's first member pause it: even the right one waits
    assert answers == [422] * 5 + [429]
    right = client.post("/api/v1/vaccinator/walk-ins", headers=auth(vaccinator), json={
        "mobile": "9876543210", "name": "Guess", "birth_year": 1970, "gender": "M",
        "id_type": "aadhaar", "id_number": number, "consent_version": "v1",
        "holder_code": code})
    assert right.status_code == 429
