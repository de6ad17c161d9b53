"""The app-wide API limit per client IP (API_LIMITS_PER_IP): counted on every call when
set; when empty, nothing is counted app-wide while routes keep their own limits."""

from __future__ import annotations

import random

import pytest

from cowin_kit.core.db import get_database


def test_the_default_limit_applies_to_every_call_when_set(make_app):
    client = make_app(API_LIMITS_PER_IP="3/minute").test_client()
    statuses = [client.get("/healthz").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_no_default_limit_but_route_limits_still_hold(make_app):
    app = make_app(OTP_LIMITS_PER_IP="2/hour", OTP_LIMITS_PER_NUMBER="100/hour",
                   OTP_RESEND_COOLDOWN_SECONDS=0)
    client = app.test_client()
    assert all(client.get("/healthz").status_code == 200 for _ in range(50))
    statuses = [client.post("/api/v1/auth/otp", json={"mobile": f"98765432{n:02d}"}).status_code
                for n in range(3)]
    assert statuses[-1] == 429 and 429 not in statuses[:2]


def test_apps_of_one_process_keep_their_own_limits_and_counts(make_app):
    """Each app reads its own API_LIMITS_PER_IP and counts in its own memory."""
    two, three, unlimited = (make_app(API_LIMITS_PER_IP="2/minute").test_client(),
                             make_app(API_LIMITS_PER_IP="3/minute").test_client(),
                             make_app().test_client())
    statuses: dict[str, list[int]] = {"two": [], "three": [], "unlimited": []}
    for _ in range(4):  # the same client address, interleaved
        for name, client in (("two", two), ("three", three), ("unlimited", unlimited)):
            statuses[name].append(client.get("/healthz").status_code)
    assert statuses == {"two": [200, 200, 429, 429], "three": [200, 200, 200, 429],
                        "unlimited": [200, 200, 200, 200]}
    assert "X-RateLimit-Limit" not in unlimited.get("/healthz").headers


class FakeClock:
    """Stands for the `time` module in limits.storage.memory: time() is ours to move."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.mark.parametrize("spec", ["3/second", "2/second;5/10second", "4/minute;6/hour"])
def test_the_same_hits_are_allowed_and_refused_as_by_the_limits_library(monkeypatch, spec):
    """Our in-memory windows against limits' FixedWindowRateLimiter on its MemoryStorage:
    for every hit (several keys, times landing on window ends too) the same limit refuses
    it, or none. A hit counts in each limit in turn until one refuses it."""
    import limits
    import limits.storage.memory
    from limits.strategies import FixedWindowRateLimiter

    from cowin_kit.core.ratelimit import RateLimiter, parse_limits

    clock = FakeClock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    library = FixedWindowRateLimiter(limits.storage.MemoryStorage())
    items, ours_items = limits.parse_many(spec), parse_limits(spec)
    ours = RateLimiter({"REDIS_URL": ""})
    rng = random.Random(spec)
    refusals = {}
    for _ in range(3000):
        clock.now += rng.choice([0, 0, 0, 0.25, 0.5, 1, 2.5, 10, 30, 600])
        key = rng.choice(["a", "b", "c"])
        expected = next((n for n, item in enumerate(items) if not library.hit(item, key)), None)
        refused, limit, _count, _ends = ours.hit(ours_items, key, clock.now,
                                                 timed=rng.random() < 0.5)
        got = ours_items.index(limit) if refused else None
        assert got == expected, (clock.now, key)
        refusals[got] = refusals.get(got, 0) + 1
    assert len(refusals) == len(items) + 1  # every limit refused some hits; some passed


def test_one_number_s_otp_limit_counts_v1_and_cowin_v2_together(make_app, india_pack):
    from cowin_kit.provision.installer import install_pack

    app = make_app(OTP_LIMITS_PER_NUMBER="2/hour", OTP_LIMITS_PER_IP="100/hour",
                   OTP_RESEND_COOLDOWN_SECONDS=0)
    with app.app_context(), get_database(app).session() as session:
        install_pack(session, india_pack)
    client = app.test_client()
    mobile = "9876500001"
    assert client.post("/api/v1/auth/otp", json={"mobile": mobile}).status_code == 200
    assert client.post("/api/v2/auth/public/generateOTP",
                       json={"mobile": mobile}).status_code == 200
    refused = client.post("/api/v2/auth/public/generateOTP", json={"mobile": mobile})
    assert refused.status_code == 429 and set(refused.get_json()) == {"errorCode", "error"}
    assert (refused.headers["X-RateLimit-Limit"], refused.headers["X-RateLimit-Remaining"]) \
        == ("2", "0")
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
    other = client.post("/api/v1/auth/otp", json={"mobile": "9876500002"})
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "1"


@pytest.mark.parametrize("first", ["web", "v1", "v2"])
def test_otp_limits_are_one_count_per_number_and_per_address_across_every_channel(
        make_app, india_pack, first):
    """Exhausting a number's (then an address's) OTP limit on one channel (the web sign-in,
    API v1 or CoWIN v2) makes the others refuse too."""
    from cowin_kit.provision.installer import install_pack
    from cowin_kit.testing.pages import form_post

    app = make_app(OTP_LIMITS_PER_NUMBER="2/hour", OTP_LIMITS_PER_IP="2/hour",
                   OTP_RESEND_COOLDOWN_SECONDS=0)
    with app.app_context(), get_database(app).session() as session:
        install_pack(session, india_pack)

    def channels(address: str) -> dict:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return {
            "web": lambda mobile: form_post(client, "/sign-in", mobile=mobile).status_code,
            "v1": lambda mobile: client.post("/api/v1/auth/otp",
                                             json={"mobile": mobile}).status_code,
            "v2": lambda mobile: client.post("/api/v2/auth/public/generateOTP",
                                             json={"mobile": mobile}).status_code,
        }

    here, elsewhere = channels("10.0.0.1"), channels("10.0.0.2")
    assert [here[first]("9876500011") in (200, 303) for _ in range(2)] == [True, True]
    for name, send in elsewhere.items():  # the number's limit, from another address
        assert send("9876500011") == 429, name
    for name, send in here.items():  # the address's limit, for another number
        assert send("9876500012") == 429, name
