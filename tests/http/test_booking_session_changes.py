"""Bookings after a session changed: a process may keep a session's bookable facts between
bookings (PostgreSQL), and every change staff make to a session (seats, cancellation, a
sessions import) is seen by the next booking, refused or accepted by the new facts. And
the one-statement booking (PostgreSQL, no transaction around it) never takes a dose seat
without its slot seat, even when the slot fills first under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from cowin_kit.core.db import get_database
from cowin_kit.scheduling.models import VaccinationSession
from cowin_kit.testing import (
    accounts_with_members as _accounts_with_members, add_members, auth, booked_counts,
    national_admin_token, publish, record_dose, sign_in, today,
)


def _book(client, token, session_id, ref, dose=None, slot="09:00-11:00"):
    body = {"session_id": session_id, "slot": slot, "beneficiaries": [ref]}
    if dose is not None:
        body["dose"] = dose
    return client.post("/api/v1/appointments", headers=auth(token), json=body)


def _version(app, session_id):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(VaccinationSession.version)
                              .where(VaccinationSession.id == session_id))


def test_each_change_of_a_booked_session_is_seen_by_the_next_booking(reg_app):
    session_id = publish(reg_app, capacity={1: 5})  # dose 2 not offered yet
    client = reg_app.test_client()
    admin = national_admin_token(reg_app, client)
    citizen = sign_in(reg_app, client)
    first, second, third, fourth = add_members(reg_app, client, citizen, 4)
    record_dose(reg_app, second, 1, "COVISHIELD", days_ago=100)
    assert _book(client, citizen, session_id, first).status_code == 201
    version = _version(reg_app, session_id)

    refused = _book(client, citizen, session_id, second, dose=2)
    assert refused.status_code == 422 and refused.get_json()["code"] == "dose_not_offered"
    # seats for dose 2 now: the booking that was refused a moment ago goes through
    grow = client.patch(f"/api/v1/admin/sessions/{session_id}", headers=auth(admin),
                        json={"capacity": {"1": 5, "2": 5}})
    assert grow.status_code == 200, grow.get_json()
    assert _version(reg_app, session_id) == version + 1
    booked = _book(client, citizen, session_id, second, dose=2)
    assert booked.status_code == 201, booked.get_json()
    assert booked_counts(reg_app, session_id) == ({1: 1, 2: 1}, 2, 2)

    # a sessions import raises the minimum age: the next booking is refused by it
    csv = ("facility_code,date,vaccine,min_age,max_age,slots,capacity_dose1,capacity_dose2\n"
           f"F-TVM-1,{(today() + timedelta(days=3)).isoformat()},"
           "COVISHIELD,60,,09:00-11:00;11:00-13:00,5,5\n")
    imported = client.post("/api/v1/admin/sessions/import", data=csv, content_type="text/csv",
                           headers=auth(admin))
    assert imported.status_code == 200 and imported.get_json()["updated"] == 1, \
        imported.get_json()
    assert _version(reg_app, session_id) == version + 2
    too_young = _book(client, citizen, session_id, third)
    assert too_young.status_code == 422 and too_young.get_json()["code"] == "age_not_eligible"

    cancelled = client.post(f"/api/v1/admin/sessions/{session_id}/cancel", headers=auth(admin))
    assert cancelled.status_code == 200
    assert _version(reg_app, session_id) == version + 3
    after = _book(client, citizen, session_id, fourth)
    assert after.status_code == 422 and after.get_json()["code"] == "session_cancelled"
    assert booked_counts(reg_app, session_id) == ({1: 0, 2: 0}, 0, 0)


def test_a_slot_that_fills_before_its_dose_gives_no_dose_seat_away(pg_app):
    """Dose 1 has 40 seats, the morning slot 30 (the session's 60 seats split over two
    slots): 100 people at once for dose 1 in the morning slot get exactly 30 seats, and
    the dose counter says 30, not more (a dose seat is taken only with a slot seat)."""
    session_id = publish(pg_app, capacity={1: 40, 2: 20})
    tokens, refs = _accounts_with_members(pg_app, 100)

    def attempt(i):
        response = _book(pg_app.test_client(), tokens[i], session_id, refs[i])
        return response.status_code, (response.get_json() or {}).get("code")

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(attempt, range(100)))
    assert sum(1 for status, _ in results if status == 201) == 30
    assert all(code == "fully_booked" for status, code in results if status != 201), results
    assert booked_counts(pg_app, session_id) == ({1: 30, 2: 0}, 30, 30)
