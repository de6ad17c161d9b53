"""Slot alerts cannot be flooded (cap, rate limit, no duplicates, one SMS per account and
period) nor starved (subscriptions that match nothing never hold back others)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.core.ratelimit import parse_limits
from cowin_kit.geography.models import Location
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.scheduling import alerts
from cowin_kit.scheduling.models import SlotAlertSubscription
from cowin_kit.testing import auth, publish, sign_in


def told(app) -> list[str]:
    lines = [json.loads(line) for line in app.outbox.read_text(encoding="utf-8").splitlines()]
    return [m["to"] for m in lines if m["template"] == "slot_alert"]


def dispatch(app, **options) -> int:
    with app.app_context(), get_database(app).session() as session:
        return alerts.dispatch_slot_alerts(session, active_pack(), **options)


def add_accounts(app, mobiles: list[str]) -> list[int]:
    with app.app_context(), get_database(app).session() as session:
        accounts = [CitizenAccount(mobile=mobile) for mobile in mobiles]
        session.add_all(accounts)
        session.commit()
        return [account.id for account in accounts]


def add_subscriptions(app, account_ids: list[int], location: str, *, product=None,
                      age=40) -> None:
    """Rows written directly: more than the API's cap allows, as old data may hold."""
    with app.app_context(), get_database(app).session() as session:
        location_id = session.scalar(select(Location.id).where(Location.code == location))
        session.add_all(SlotAlertSubscription(account_id=account_id, location_id=location_id,
                                              product_code=product, dose_number=1, age=age)
                        for account_id in account_ids)
        session.commit()


def account_id(app, mobile: str) -> int:
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(CitizenAccount.id).where(CitizenAccount.mobile == mobile))


def test_identical_alert_is_returned_not_made_twice(reg_app):
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    wish = {"location": "IN-KL", "age": 40, "dose": 1, "vaccine": "COVISHIELD"}
    first = client.post("/api/v1/alerts", headers=auth(token), json=wish)
    again = client.post("/api/v1/alerts", headers=auth(token), json=wish)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    other_dose = client.post("/api/v1/alerts", headers=auth(token), json={**wish, "dose": 2})
    assert other_dose.status_code == 201 and other_dose.get_json()["id"] != first.get_json()["id"]
    assert len(client.get("/api/v1/alerts", headers=auth(token)).get_json()["alerts"]) == 2
    # a stopped alert is not "the same": asking again makes a new one
    client.delete(f"/api/v1/alerts/{first.get_json()['id']}", headers=auth(token))
    renewed = client.post("/api/v1/alerts", headers=auth(token), json=wish)
    assert renewed.status_code == 201 and renewed.get_json()["id"] != first.get_json()["id"]


def test_alerts_per_account_are_capped(reg_app):
    client = reg_app.test_client()
    token, other = sign_in(reg_app, client), sign_in(reg_app, client, "9123456789")
    cap = reg_app.config["COWIN_KIT"]["SLOT_ALERTS_PER_ACCOUNT"]
    made = [client.post("/api/v1/alerts", headers=auth(token),
                        json={"location": "IN-KL", "age": 20 + n}) for n in range(cap)]
    assert [r.status_code for r in made] == [201] * cap
    refused = client.post("/api/v1/alerts", headers={**auth(token), "Accept-Language": "hi"},
                          json={"location": "IN-KL", "age": 70})
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    problem = refused.get_json()
    assert problem["code"] == "slot_alert_limit"
    assert str(cap) in problem["detail"] and "alert" not in problem["detail"]  # in Hindi
    english = client.post("/api/v1/alerts", headers=auth(token),
                          json={"location": "IN-KL", "age": 70}).get_json()
    assert english["detail"] == (f"An account can hold at most {cap} slot alerts. "
                                 "Stop one to ask for another.")
    # one it already holds is still answered; another account is not affected
    assert client.post("/api/v1/alerts", headers=auth(token),
                       json={"location": "IN-KL", "age": 20}).status_code == 200
    assert client.post("/api/v1/alerts", headers=auth(other),
                       json={"location": "IN-KL", "age": 70}).status_code == 201
    client.delete(f"/api/v1/alerts/{made[0].get_json()['id']}", headers=auth(token))
    assert client.post("/api/v1/alerts", headers=auth(token),
                       json={"location": "IN-KL", "age": 70}).status_code == 201


def test_alert_creation_is_rate_limited_per_account(reg_app):
    first_limit = parse_limits(reg_app.config["COWIN_KIT"]["SLOT_ALERT_LIMITS_PER_ACCOUNT"])[0]
    allowed = first_limit.amount
    client = reg_app.test_client()
    token, other = sign_in(reg_app, client), sign_in(reg_app, client, "9123456789")
    wish = {"postal_code": "695001", "age": 40}
    answers = [client.post("/api/v1/alerts", headers=auth(token), json=wish).status_code
               for _ in range(allowed + 1)]
    assert answers == [201] + [200] * (allowed - 1) + [429]  # the same alert asked counts too
    refused = client.post("/api/v1/alerts", headers=auth(token), json=wish)
    assert refused.get_json()["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) > 0
    assert client.post("/api/v1/alerts", headers=auth(other), json=wish).status_code == 201
    assert client.get("/api/v1/alerts", headers=auth(token)).status_code == 200  # reading is not


def test_one_sms_per_account_and_period_however_many_alerts(reg_app):
    client = reg_app.test_client()
    publish(reg_app, capacity={1: 5})
    token = sign_in(reg_app, client)
    for age in (30, 40, 50):
        client.post("/api/v1/alerts", headers=auth(token), json={"location": "IN-KL", "age": age})
    client.post("/api/v1/alerts", headers=auth(token), json={"postal_code": "695001", "age": 40})
    now = datetime.now(timezone.utc)
    assert dispatch(reg_app, now=now) == 1
    assert dispatch(reg_app, now=now + timedelta(hours=1)) == 0
    assert told(reg_app) == ["+919876543210"]
    assert dispatch(reg_app, now=now + timedelta(hours=7)) == 1  # the period is over
    assert len(told(reg_app)) == 2


def test_a_thousand_dead_alerts_of_one_account_do_not_delay_another(reg_app):
    client = reg_app.test_client()
    publish(reg_app, capacity={1: 5})  # seats in Kerala only
    sign_in(reg_app, client, "9123456789")
    add_subscriptions(reg_app, [account_id(reg_app, "+919123456789")] * 1000, "IN-DL")
    waiting = sign_in(reg_app, client)
    assert client.post("/api/v1/alerts", headers=auth(waiting),
                       json={"location": "IN-KL", "age": 40}).status_code == 201
    assert dispatch(reg_app) == 1
    assert told(reg_app) == ["+919876543210"]


def test_dead_alerts_go_to_the_back_of_the_line(reg_app):
    """Alerts that match nothing, older than a matching one in the same area and of as
    many accounts as a dispatch looks at: each dispatch looks at new ones, and the
    matching one is reached instead of the oldest being looked at forever."""
    client = reg_app.test_client()
    publish(reg_app, capacity={1: 5}, product="COVISHIELD")
    dead = add_accounts(reg_app, [f"+91900000{n:04d}" for n in range(12)])
    add_subscriptions(reg_app, dead, "IN-KL", product="COVAXIN")  # no COVAXIN sessions
    waiting = sign_in(reg_app, client)
    client.post("/api/v1/alerts", headers=auth(waiting),
                json={"location": "IN-KL", "age": 40, "vaccine": "COVISHIELD"})
    start = datetime.now(timezone.utc)
    sent = [dispatch(reg_app, now=start + timedelta(minutes=n), limit=5) for n in range(3)]
    assert sent == [0, 0, 1]  # 12 dead ones looked at 5 by 5, then the matching one
    assert told(reg_app) == ["+919876543210"]


def test_alerts_of_another_area_come_first_in_a_dispatch(reg_app):
    client = reg_app.test_client()
    publish(reg_app, capacity={1: 5})
    dead = add_accounts(reg_app, [f"+91900000{n:04d}" for n in range(20)])
    add_subscriptions(reg_app, dead, "IN-DL")
    waiting = sign_in(reg_app, client)
    client.post("/api/v1/alerts", headers=auth(waiting), json={"location": "IN-KL", "age": 40})
    assert dispatch(reg_app, limit=3) == 1  # one of each area before a second of any


def test_concurrent_workers_tell_an_account_once(reg_app):
    """Two workers each claim a different alert of the same account (PostgreSQL)."""
    if reg_app.config["COWIN_KIT"]["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("replicas share a PostgreSQL database; SQLite serialises writers")
    client = reg_app.test_client()
    publish(reg_app, capacity={1: 5})
    token = sign_in(reg_app, client)
    for age in (30, 40, 50, 60):
        client.post("/api/v1/alerts", headers=auth(token), json={"location": "IN-KL", "age": age})
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def replica() -> None:
        barrier.wait()
        for _ in range(2):
            sent.append(dispatch(reg_app, limit=1))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(sent) == 1 and told(reg_app) == ["+919876543210"]
