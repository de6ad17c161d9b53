"""What every request passes through (cowin_kit's hooks), seen from outside: the request
id, NUL refusal, the partner key check, and the X-RateLimit-* headers and Retry-After only
where limits with headers apply."""

from __future__ import annotations

import itertools
import time
import uuid

import pytest
from flask import Response

from cowin_kit.core import logging_setup
from cowin_kit.audit.services import current_actor


LIMIT_HEADERS = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}


_numbers = itertools.count(1)


def test_a_made_request_id_is_a_uuid4_echoed_and_unbound_afterwards(make_app):
    client = make_app().test_client()
    ids = [client.get("/healthz").headers["X-Request-ID"] for _ in range(3)]
    for echoed in ids:
        made = uuid.UUID(hex=echoed)
        assert made.hex == echoed and made.version == 4 and made.variant == uuid.RFC_4122
    assert len(set(ids)) == 3
    assert logging_setup.current_request_id() is None


def test_the_anonymous_actor_carries_the_request_id_and_address(make_app):
    app = make_app()
    seen = {}

    @app.get("/_test/actor")
    def actor_view():
        seen["actor"] = current_actor()
        return {"ok": True}

    app.test_client().get("/_test/actor", headers={"X-Request-ID": "lb-0042"},
                          environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert seen["actor"].type == "anonymous"
    assert (seen["actor"].id, seen["actor"].request_id, seen["actor"].source_ip) == \
        ("10.1.2.3", "lb-0042", "10.1.2.3")


def test_a_view_s_own_request_id_header_is_kept(make_app):
    app = make_app()

    @app.get("/_test/own-id")
    def own_id() -> Response:
        return Response("x", headers={"X-Request-ID": "from-the-view"})

    response = app.test_client().get("/_test/own-id", headers={"X-Request-ID": "lb-1"})
    assert response.headers.getlist("X-Request-ID") == ["from-the-view"]


def test_after_this_request_functions_still_run(make_app):
    from flask import after_this_request

    app = make_app()

    @app.get("/_test/after")
    def with_after():
        @after_this_request
        def tag(response: Response) -> Response:
            response.headers["X-Tagged"] = "yes"
            return response
        return {"ok": True}

    for _ in range(2):
        assert app.test_client().get("/_test/after").headers["X-Tagged"] == "yes"


@pytest.mark.parametrize("url", ["/api/v1/meta/genders%00", "/healthz?q=a%00b", "/%00"])
def test_nul_in_the_url_is_refused(make_app, url):
    response = make_app().test_client().get(url)
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_input"
    assert "X-Request-ID" in response.headers


def test_an_api_key_matters_only_on_api_paths(make_app):
    client = make_app().test_client()
    assert client.get("/healthz", headers={"X-Api-Key": "ck_not-a-key"}).status_code == 200
    refused = client.get("/api/v1/meta/genders", headers={"X-Api-Key": "ck_not-a-key"})
    assert refused.status_code == 401 and refused.get_json()["code"] == "invalid_api_key"
    assert "X-Request-ID" in refused.headers


def test_limit_headers_only_on_routes_limited_with_them(make_app):
    client = make_app(OTP_LIMITS_PER_IP="2/hour", OTP_LIMITS_PER_NUMBER="100/hour",
                      OTP_RESEND_COOLDOWN_SECONDS=0).test_client()
    assert not LIMIT_HEADERS & set(client.get("/healthz").headers.keys())
    before = time.time()
    answers = [client.post("/api/v1/auth/otp", json={"mobile": f"70000{next(_numbers):05d}"})
               for _ in range(3)]
    assert all(LIMIT_HEADERS <= set(answer.headers.keys()) for answer in answers)
    # the limit closest to being used up: 2 per hour and address (not 100 per number)
    assert [(answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"])
            for answer in answers] == [("2", "1"), ("2", "0"), ("2", "0")]
    refused = answers[-1]
    assert refused.status_code == 429 and refused.get_json()["code"] == "too_many_requests"
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
    assert before + 3590 <= int(refused.headers["X-RateLimit-Reset"]) <= time.time() + 3601
    assert not LIMIT_HEADERS & set(client.get("/healthz").headers.keys())


def test_an_app_wide_limit_puts_its_headers_on_every_answer(make_app):
    client = make_app(API_LIMITS_PER_IP="3/minute").test_client()
    answers = [client.get("/healthz") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert all(LIMIT_HEADERS <= set(answer.headers.keys()) for answer in answers)
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers] == ["2", "1", "0", "0"]
    assert int(answers[-1].headers["Retry-After"]) > 0
