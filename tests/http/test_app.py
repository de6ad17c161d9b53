from sqlalchemy import event

from cowin_kit import create_app
from cowin_kit.core import migrate
from cowin_kit.core.db import get_database


def test_creating_the_app_runs_no_database_query(tmp_path):
    # An unreachable server: creating the app must still succeed, and connect nowhere.
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path),
                      "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert get_database(app)._engine is None
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database unreachable" in response.get_json()["reason"]


def test_app_factory_with_a_real_database_queries_nothing_until_a_request(database_url, tmp_path):
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": database_url})
    statements = []
    event.listen(get_database(app).engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))
    assert statements == []
    assert app.test_client().get("/readyz").status_code == 200
    assert statements
    get_database(app).dispose()


def test_readyz_answers_200_at_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["revision"] == ",".join(migrate.head_revisions())


def test_readyz_answers_503_with_a_reason_when_migrations_are_missing(fresh_database_url, tmp_path):
    for backend in ("sqlite",):
        url = fresh_database_url(backend)
        app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": url})
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert "cowin-kit db upgrade" in response.get_json()["reason"]
        migrate.upgrade(get_database(app).engine)
        assert app.test_client().get("/readyz").status_code == 200
        get_database(app).dispose()


def test_errors_are_problem_json(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 404 and body["code"] == "not_found"


def test_wsgi_module_exposes_an_app(monkeypatch, tmp_path):
    import importlib
    import sys

    monkeypatch.setenv("COWIN_KIT_ENV", "dev")
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path))
    sys.modules.pop("cowin_kit.wsgi", None)
    wsgi = importlib.import_module("cowin_kit.wsgi")
    assert wsgi.app.test_client().get("/healthz").get_json() == {"status": "ok"}
    sys.modules.pop("cowin_kit.wsgi", None)


def test_deeply_nested_json_bodies_are_refused_like_malformed_json(reg_app):
    client = reg_app.test_client()
    for body in ("[" * 100_000 + "]" * 100_000,  # deeper than Python's recursion limit
                 '{"mobile": ' + "[" * 500 + "]" * 500 + "}", '{"mobile": '):
        response = client.post("/api/v1/auth/otp", data=body, content_type="application/json")
        assert response.status_code == 422, (body[:20], response.status_code)
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == "invalid_json"
    shallow = client.post("/api/v1/auth/otp", json={"mobile": [[["9876543210"]]]})
    assert shallow.status_code == 422 and shallow.get_json()["code"] != "invalid_json"


def test_request_bodies_above_max_request_bytes_are_a_413_problem(make_app, reg_app):
    from cowin_kit.config.settings import load_settings

    default = load_settings({"ENV": "test"})["MAX_REQUEST_BYTES"]
    assert default > 16 * 1024 * 1024  # the CSV imports take files of up to 16 MB
    small = make_app(MAX_REQUEST_BYTES=4096)
    client = small.test_client()
    body = '{"mobile": "' + "9" * 5000 + '"}'
    response = client.post("/api/v1/auth/otp", data=body, content_type="application/json",
                           headers={"Accept-Language": "hi"})
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "request_too_large" and problem["status"] == 413
    english = client.post("/api/v1/auth/otp", data=body, content_type="application/json")
    assert english.get_json()["title"] != problem["title"]  # in the request's language
    fits = client.post("/api/v1/auth/otp", json={"mobile": "98765"})
    assert fits.status_code == 422  # read and judged
    huge = reg_app.test_client().post("/api/v1/auth/otp", data=b"[" * (default + 1),
                                      content_type="application/json")
    assert huge.status_code == 413
