"""The app-wide API limit per client IP (API_LIMITS_PER_IP): counted on every call when
set; when empty, nothing is counted app-wide while routes keep their own limits."""

from __future__ import annotations


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
