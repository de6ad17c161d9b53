"""Staff publish, resize and cancel sessions; citizens' slot alerts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from cowin_kit.core.db import get_database
from cowin_kit.identity import services as identity
from cowin_kit.scheduling import alerts
from cowin_kit.worker import Worker
from cowin_kit.testing import (
    add_members, auth, booked_counts, national_admin_token, publish, sign_in, today,
)


def messages(app, template):
    lines = [json.loads(l) for l in app.outbox.read_text(encoding="utf-8").splitlines()]
    return [m for m in lines if m["template"] == template]


def test_staff_publish_resize_and_cancel_a_session(reg_app):
    client = reg_app.test_client()
    admin = national_admin_token(reg_app, client)
    facility = client.post("/api/v1/admin/facilities", headers=auth(admin), json={
        "code": "F-KLM-1", "name": "Kollam District Hospital", "location": "IN-KL-KLM",
        "postal_code": "691001", "lat": 8.89, "long": 76.61, "open": "09:00", "close": "17:00"})
    assert facility.status_code == 200, facility.get_json()
    day = (today() + timedelta(days=2)).isoformat()
    published = client.post("/api/v1/admin/sessions", headers=auth(admin), json={
        "facility": "F-KLM-1", "date": day, "vaccine": "COVAXIN", "min_age": 18,
        "slots": "09:00-12:00;13:00-16:00", "capacity": {"1": 3, "2": 2}})
    assert published.status_code == 201, published.get_json()
    session_id = published.get_json()["session_id"]
    assert published.get_json()["capacity"] == {"1": 3, "2": 2}

    citizen = sign_in(reg_app, client)
    refs = add_members(reg_app, client, citizen, 2)
    booked = client.post("/api/v1/appointments", headers=auth(citizen), json={
        "session_id": session_id, "slot": "09:00-12:00", "beneficiaries": refs})
    assert booked.status_code == 201
    shrink = client.patch(f"/api/v1/admin/sessions/{session_id}", headers=auth(admin),
                          json={"capacity": {"1": 1}})
    assert shrink.status_code == 422 and shrink.get_json()["code"] == "capacity_below_booked"
    grow = client.patch(f"/api/v1/admin/sessions/{session_id}", headers=auth(admin),
                        json={"capacity": {"1": 10}})
    assert grow.status_code == 200 and grow.get_json()["capacity"]["1"] == 10
    cancelled = client.post(f"/api/v1/admin/sessions/{session_id}/cancel", headers=auth(admin))
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["booked"] == {"1": 0, "2": 0}
    assert len(messages(reg_app, "session_cancelled")) == 2
    assert client.get("/api/v1/appointments", headers=auth(citizen)).get_json() == {
        "appointments": []}
    assert client.get(f"/api/v1/sessions?location=IN-KL&date={day}").get_json() == {"centres": []}


def test_staff_outside_their_area_are_refused(reg_app):
    client = reg_app.test_client()
    session_id = publish(reg_app)  # a facility in Thiruvananthapuram, Kerala
    national_admin_token(reg_app, client)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        user = identity.create_staff_user(session, "delhi.admin", "correct horse battery")
        identity.grant_role(session, user, "state_admin", location_code="IN-DL")
        session.commit()
    token = client.post("/api/v1/staff/sign-in", json={
        "username": "delhi.admin", "password": "correct horse battery"}).get_json()["token"]
    refused = client.post(f"/api/v1/admin/sessions/{session_id}/cancel", headers=auth(token))
    assert refused.status_code == 403
    facility = client.post("/api/v1/admin/facilities", headers=auth(token), json={
        "code": "F-X", "name": "X", "location": "IN-KL-KLM"})
    assert facility.status_code == 403


def test_a_district_administrator_cannot_move_another_district_s_facility_into_theirs(reg_app):
    """Changing an existing facility takes the right where it is and where it goes: the
    same code with a new location does not hand someone else's facility over."""
    from cowin_kit.testing import staff_token
    from cowin_kit.geography.models import Facility, Location

    client = reg_app.test_client()
    publish(reg_app)  # F-TVM-1, in Thiruvananthapuram
    kollam = staff_token(reg_app, client, "klm.admin", "district_admin",
                         location_code="IN-KL-KLM")
    moved = client.post("/api/v1/admin/facilities", headers=auth(kollam), json={
        "code": "F-TVM-1", "name": "Mine now", "location": "IN-KL-KLM"})
    assert moved.status_code == 403, moved.get_json()
    with reg_app.app_context(), get_database(reg_app).session() as session:
        facility = session.query(Facility).filter_by(code="F-TVM-1").one()
        place = session.get(Location, facility.location_id)
        assert (facility.name, place.code) == ("Medical College PHC", "IN-KL-TVM")
    # and the district's own administrator may not give it away to another district
    tvm = staff_token(reg_app, client, "tvm.admin", "district_admin",
                      location_code="IN-KL-TVM")
    away = client.post("/api/v1/admin/facilities", headers=auth(tvm), json={
        "code": "F-TVM-1", "name": "Gone", "location": "IN-KL-KLM"})
    assert away.status_code == 403
    # within their district they still edit it; a state administrator moves it
    kept = client.post("/api/v1/admin/facilities", headers=auth(tvm), json={
        "code": "F-TVM-1", "name": "Medical College PHC 2", "location": "IN-KL-TVM"})
    assert kept.status_code == 200, kept.get_json()
    state = staff_token(reg_app, client, "kl.admin", "state_admin", location_code="IN-KL")
    assert client.post("/api/v1/admin/facilities", headers=auth(state), json={
        "code": "F-TVM-1", "name": "Moved", "location": "IN-KL-KLM"}).status_code == 200


def test_anonymous_callers_learn_nothing_of_places_and_sessions(reg_app):
    client = reg_app.test_client()
    admin = national_admin_token(reg_app, client)
    asks = [("post", "/api/v1/admin/facilities", {"code": "F-X", "name": "X",
                                                   "location": "IN-NOWHERE"}),
            ("post", "/api/v1/admin/sessions", {"facility": "F-NOWHERE", "date": "2030-01-01",
                                                 "vaccine": "COVAXIN", "slots": "09:00-12:00",
                                                 "capacity": {"1": 3}}),
            ("patch", "/api/v1/admin/sessions/nope", {"capacity": {"1": 3}}),
            ("post", "/api/v1/admin/sessions/nope/cancel", None)]
    for method, url, body in asks:
        anonymous = getattr(client, method)(url, json=body)
        assert anonymous.status_code == 401, url
        signed_in = getattr(client, method)(url, json=body, headers=auth(admin))
        assert signed_in.status_code == 404, url


def test_slot_alerts_oldest_first_once_per_period(reg_app):
    client = reg_app.test_client()
    tokens = [sign_in(reg_app, client, mobile) for mobile in ("9876543210", "9123456789")]
    for token in tokens:
        created = client.post("/api/v1/alerts", headers=auth(token),
                              json={"location": "IN-KL", "age": 40, "dose": 1})
        assert created.status_code == 201, created.get_json()
    assert len(client.get("/api/v1/alerts", headers=auth(tokens[0])).get_json()["alerts"]) == 1
    publish(reg_app, capacity={1: 5})
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        from cowin_kit.config.runtime import active_pack

        now = datetime.now(timezone.utc)
        assert alerts.dispatch_slot_alerts(session, active_pack(), now=now) == 2
        told = [m["to"] for m in messages(reg_app, "slot_alert")]
        assert told == ["+919876543210", "+919123456789"]  # oldest subscription first
        assert alerts.dispatch_slot_alerts(session, active_pack(), now=now) == 0
        later = now + timedelta(hours=7)
        assert alerts.dispatch_slot_alerts(session, active_pack(), now=later, limit=1) == 1
    alert_id = client.get("/api/v1/alerts", headers=auth(tokens[1])).get_json()["alerts"][0]["id"]
    assert client.delete(f"/api/v1/alerts/{alert_id}", headers=auth(tokens[1])).status_code == 204
    assert client.get("/api/v1/alerts", headers=auth(tokens[1])).get_json() == {"alerts": []}
    assert client.delete(f"/api/v1/alerts/{alert_id}", headers=auth(tokens[0])).status_code == 404


def test_a_cancellation_alerts_waiting_subscribers(reg_app):
    client = reg_app.test_client()
    session_id = publish(reg_app, capacity={1: 1})
    first = sign_in(reg_app, client, "9876543210")
    (ref,) = add_members(reg_app, client, first, 1)
    booking = client.post("/api/v1/appointments", headers=auth(first), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]}).get_json()
    waiting = sign_in(reg_app, client, "9123456789")
    client.post("/api/v1/alerts", headers=auth(waiting),
                json={"postal_code": "695001", "age": 30, "vaccine": "COVISHIELD"})
    worker = Worker(reg_app)
    assert worker.run_round(force_alerts=True).alerts_sent == 0  # fully booked: nothing to say
    cancelled = client.post(f"/api/v1/appointments/{booking['booking_id']}/cancel",
                            headers=auth(first), json={})
    assert cancelled.status_code == 200
    assert messages(reg_app, "slot_alert") == []  # the request itself tells nobody
    assert worker.run_round(force_alerts=True).alerts_sent == 1
    (alert,) = messages(reg_app, "slot_alert")
    assert alert["to"] == "+919123456789" and alert["text"].startswith("1 ")
    assert worker.run_round(force_alerts=True).alerts_sent == 0  # once per period
    assert booked_counts(reg_app, session_id)[2] == 0


def test_worker_polls_alerts_at_its_own_pace(reg_app):
    client = reg_app.test_client()
    publish(reg_app, capacity={1: 4})
    token = sign_in(reg_app, client)
    client.post("/api/v1/alerts", headers=auth(token), json={"location": "IN-KL", "age": 40})
    slow = Worker(reg_app, alert_poll_seconds=3600)
    first = slow.run_round()
    assert first.alerts_checked and first.alerts_sent == 1
    assert not slow.run_round().alerts_checked  # not due again for an hour


def test_alerts_dispatch_command_and_worker_once(reg_app, monkeypatch):
    from click.testing import CliRunner

    from cowin_kit.cli import main

    client = reg_app.test_client()
    publish(reg_app, capacity={1: 4})
    token = sign_in(reg_app, client)
    client.post("/api/v1/alerts", headers=auth(token), json={"postal_code": "695001", "age": 40})
    settings = reg_app.config["COWIN_KIT"]
    for key in ("DATABASE_URL", "INSTANCE_PATH", "NOTIFIER", "ENV"):
        monkeypatch.setenv(f"COWIN_KIT_{key}", str(settings[key]))
    runner = CliRunner()
    result = runner.invoke(main, ["alerts", "dispatch"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sent 1 slot alert(s)"
    assert len(messages(reg_app, "slot_alert")) == 1
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "slot alert" not in result.output  # already told within the period
    assert len(messages(reg_app, "slot_alert")) == 1


def test_concurrent_workers_tell_each_subscriber_once(reg_app):
    """Two worker replicas dispatching at the same moment (PostgreSQL: SKIP LOCKED)."""
    import threading

    if reg_app.config["COWIN_KIT"]["DATABASE_URL"].startswith("sqlite"):
        import pytest

        pytest.skip("replicas share a PostgreSQL database; SQLite serialises writers")
    client = reg_app.test_client()
    publish(reg_app, capacity={1: 40})
    mobiles = [f"98765{n:05d}" for n in range(30)]
    for mobile in mobiles:
        token = sign_in(reg_app, client, mobile)
        assert client.post("/api/v1/alerts", headers=auth(token),
                           json={"location": "IN-KL", "age": 40}).status_code == 201
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def replica() -> None:
        worker = Worker(reg_app)
        barrier.wait()
        sent.append(worker.run_round(force_alerts=True).alerts_sent)

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    told = [m["to"] for m in messages(reg_app, "slot_alert")]
    assert sum(sent) == 30 and len(told) == 30 and len(set(told)) == 30
