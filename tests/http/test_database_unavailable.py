"""A database that cannot be reached is 503 problem+json with Retry-After, never a 500
(docs/reliability.md; the fault-injection suite in tests/faults proves it under load)."""

from __future__ import annotations

import pytest

from cowin_kit import create_app
from cowin_kit.core.db import get_database


@pytest.fixture
def unreachable_app(tmp_path):
    # Nothing listens on port 1: every connection is refused, as while a server restarts.
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/cowin"})
    yield app
    get_database(app).dispose()


@pytest.mark.parametrize("path", ["/api/v1/sessions?location=IN-KL&date=2030-01-01",
                                  "/api/v2/admin/location/states"])
def test_a_database_down_is_503_problem_json_with_retry_after(unreachable_app, path):
    answer = unreachable_app.test_client().get(path, headers={"Accept-Language": "fr"})
    assert answer.status_code == 503
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert body["code"] == "database_unavailable" and body["status"] == 503
    assert int(answer.headers["Retry-After"]) > 0
    assert "postgres" not in answer.get_data(as_text=True)  # nothing of the URL shown


def test_readiness_says_unavailable_and_liveness_stays_up(unreachable_app):
    client = unreachable_app.test_client()
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_a_database_error_that_is_a_bug_is_still_a_500(reg_app):
    """Only a database that cannot be reached is 503: a constraint broken by the code is
    not something a client should retry."""
    from sqlalchemy import text

    from cowin_kit.core.db import get_session

    @reg_app.get("/_test/broken")
    def _broken():
        get_session().execute(text("INSERT INTO location (id) VALUES (NULL)"))

    reg_app.config["PROPAGATE_EXCEPTIONS"] = False
    answer = reg_app.test_client().get("/_test/broken")
    assert answer.status_code == 500
