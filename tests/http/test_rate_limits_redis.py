"""The limits of cowin_kit/core/ratelimit.py (searches per address, booking changes per account)
kept in Redis: counts shared by every app (worker, pod) on the same Redis, the 429 answer
and its Retry-After, each window's key expiring when its window ends, and the same
allow/deny sequence as the `limits` library's fixed windows in Redis."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from cowin_kit import create_app
from cowin_kit.core.db import get_database

from cowin_kit.testing import add_members, auth, publish, sign_in, today
from cowin_kit.testing.exclusive import machine_lock

# A Redis database of these tests' own, emptied before and after each: the apps keep their
# limits (and cached answers) there, and earlier runs' must not count.
REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("no Redis server on 127.0.0.1:6379")
    with machine_lock("redis"):  # no other test (another xdist worker's) uses Redis meanwhile
        client.flushdb()
        yield client
        client.flushdb()
    client.close()


def limited_apps(reg_app, tmp_path, **settings):
    """Two apps (two workers or pods) on reg_app's database and keys, sharing Redis."""
    base = {"ENV": "test", "DATABASE_URL": reg_app.config["COWIN_KIT"]["DATABASE_URL"],
            "SECRET_KEY": "shared-by-both-apps-" + "k" * 32,
            "NOTIFIER": f"file:{reg_app.outbox}", "OTP_RESEND_COOLDOWN_SECONDS": 0,
            # the OTP limits live in this Redis too: out of the way of sign-ins
            "OTP_LIMITS_PER_NUMBER": "1000/hour", "OTP_LIMITS_PER_IP": "1000/hour",
            "REDIS_URL": REDIS_URL, **settings}
    apps = [create_app({**base, "INSTANCE_PATH": str(tmp_path / name)}) for name in "ab"]
    for app in apps:
        app.outbox = reg_app.outbox
    return apps


def test_searches_are_counted_across_apps_sharing_redis(reg_app, tmp_path, redis_client):
    publish(reg_app)
    first, second = limited_apps(reg_app, tmp_path, SEARCH_LIMITS_PER_IP="3/minute;100/hour")
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    url = f"/api/v1/sessions?location=IN-KL&date={today().isoformat()}"
    try:
        minute_key = f"cowin-kit:limit:search:{address}:60"
        hour_key = f"cowin-kit:limit:search:{address}:3600"
        answers = [app.test_client().get(url, environ_base={"REMOTE_ADDR": address})
                   for app in (first, second, first, second)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.get_json()["code"] == "too_many_requests"
        # the seconds left of the minute window (opened by the first search), rounded up
        assert 58 <= int(refused.headers["Retry-After"]) <= 60
        assert not {"X-RateLimit-Limit", "X-RateLimit-Remaining"} & set(refused.headers.keys())
        # The refused request is counted in the window it broke; the hour is not reached.
        assert int(redis_client.get(minute_key)) == 4 and int(redis_client.get(hour_key)) == 3
        assert 58 <= redis_client.ttl(minute_key) <= 60
        assert 3598 <= redis_client.ttl(hour_key) <= 3600
        neighbour = first.test_client().get(url, environ_base={"REMOTE_ADDR": address + "1"})
        assert neighbour.status_code == 200 and "Retry-After" not in neighbour.headers
    finally:
        for app in (first, second):
            get_database(app).dispose()


def test_a_window_key_left_without_expiry_gets_one(reg_app, tmp_path, redis_client):
    """A window's key without expiry (as a crash between the two commands of an older
    version could leave) is given one at the next hit, and its count goes on."""
    (app, _) = limited_apps(reg_app, tmp_path, SEARCH_LIMITS_PER_IP="5/minute")
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    url = f"/api/v1/sessions?location=IN-KL&date={today().isoformat()}"
    try:
        key = f"cowin-kit:limit:search:{address}:60"
        redis_client.set(key, 4)
        statuses = [app.test_client().get(url, environ_base={"REMOTE_ADDR": address}).status_code
                    for _ in range(2)]
        assert statuses == [200, 429]
        assert int(redis_client.get(key)) == 6 and 58 <= redis_client.ttl(key) <= 60
    finally:
        get_database(app).dispose()


def test_booking_changes_are_counted_per_account_across_apps(reg_app, tmp_path, redis_client):
    session_id = publish(reg_app, capacity={1: 20})
    first, second = limited_apps(reg_app, tmp_path, BOOKING_LIMITS_PER_ACCOUNT="2/hour")
    try:
        one, two = first.test_client(), second.test_client()
        token = sign_in(first, one, "98" + str(uuid.uuid4().int)[:8])
        members = add_members(first, one, token, 2)
        book = lambda client, ref: client.post(  # noqa: E731
            "/api/v1/appointments", headers=auth(token),
            json={"session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]})
        booked = book(one, members[0])
        assert booked.status_code == 201
        cancelled = two.post(f"/api/v1/appointments/{booked.get_json()['booking_id']}/cancel",
                             headers=auth(token), json={})
        assert cancelled.status_code == 200
        refused = book(one, members[1])
        assert refused.status_code == 429 and refused.get_json()["code"] == "too_many_requests"
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        assert book(two, members[1]).status_code == 429
        (key,) = list(redis_client.scan_iter("cowin-kit:limit:booking:*"))
        assert int(redis_client.get(key)) == 4 and 0 < redis_client.ttl(key) <= 3600
    finally:
        for app in (first, second):
            get_database(app).dispose()


def test_an_unreachable_redis_degrades_to_limits_counted_in_the_process(reg_app, tmp_path):
    """Redis down is neither a 500 nor a pass: the limits still hold, counted in the
    process's memory (docs/reliability.md), and the answers are served uncached."""
    from cowin_kit.core.security import keyring

    app = create_app({"ENV": "test", "DATABASE_URL": reg_app.config["COWIN_KIT"]["DATABASE_URL"],
                      "INSTANCE_PATH": str(tmp_path / "down"),
                      "BOOKING_LIMITS_PER_ACCOUNT": "5/hour", "REDIS_URL": "redis://127.0.0.1:1/0"})
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with app.app_context():
        token = keyring().issue_citizen_token(1, "+919876543210", 0)
    try:
        client = app.test_client()
        statuses = [client.post("/api/v1/appointments", headers=auth(token), json={}).status_code
                    for _ in range(6)]
        assert 429 not in statuses[:5] and 500 not in statuses
        assert statuses[5] == 429
        searched = client.get("/api/v1/sessions?location=IN-KL&date=2030-01-01")
        assert searched.status_code == 200
    finally:
        get_database(app).dispose()


def test_redis_windows_allow_and_refuse_as_the_limits_library(redis_client):
    """Our Redis windows against limits' FixedWindowRateLimiter on its RedisStorage, hit
    for hit in real time (every hit well away from a window's end): the same limit refuses
    each hit, or none."""
    import limits
    from limits.strategies import FixedWindowRateLimiter

    from cowin_kit.core.ratelimit import RateLimiter, parse_limits

    spec = "3/second;5/2second"
    library = FixedWindowRateLimiter(limits.storage.storage_from_string(REDIS_URL))
    items, ours_items = limits.parse_many(spec), parse_limits(spec)
    ours = RateLimiter({"REDIS_URL": REDIS_URL})
    key = uuid.uuid4().hex
    seen = []
    start = time.time()
    for offset, hits in ((0, 4), (0.4, 2), (1.3, 3), (2.5, 2)):
        time.sleep(max(0.0, start + offset - time.time()))
        for n in range(hits):
            expected = next((i for i, item in enumerate(items) if not library.hit(item, key)),
                            None)
            refused, limit, _count, ends = ours.hit(ours_items, key, time.time(),
                                                    timed=n % 2 == 0)
            got = ours_items.index(limit) if refused else None
            assert got == expected, (offset, n)
            if refused:
                assert time.time() < ends <= time.time() + limit.seconds
            seen.append(got)
    assert seen == [None, None, None, 0, 0, 0, None, None, 1, None, None]


def test_failed_staff_sign_ins_are_counted_across_apps_and_successes_not(reg_app, tmp_path,
                                                                          redis_client):
    from cowin_kit.identity import services as identity
    from cowin_kit.testing import STAFF_PASSWORD, create_staff

    create_staff(reg_app, "redis.staff", "national_admin")
    first, second = limited_apps(reg_app, tmp_path)
    address = {"REMOTE_ADDR": "10.77.0.1"}
    limit = identity.SIGN_IN_ATTEMPTS_PER_SOURCE

    def sign_in_on(app, password):
        return app.test_client().post("/api/v1/staff/sign-in", environ_base=address, json={
            "username": "redis.staff", "password": password}).status_code

    try:
        assert [sign_in_on(app, STAFF_PASSWORD) for app in (first, second) * 6] == [200] * 12
        assert redis_client.keys("cowin-kit:limit:staff-sign-in-source:*") == []
        answers = [sign_in_on(app, "wrong!!!") for app in (first, second) * (limit // 2 + 1)]
        assert answers[:limit] == [401] * limit and answers[limit:] == [429] * (
            len(answers) - limit)
        assert sign_in_on(second, STAFF_PASSWORD) == 429
    finally:
        for app in (first, second):
            get_database(app).dispose()
