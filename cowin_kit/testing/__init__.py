"""Fixtures and helpers for the tests of the kit and of country plugins: a pytest plugin.

Register it once, in the top ``conftest.py``: ``pytest_plugins = ["cowin_kit.testing"]``
(or import single fixtures into a test module: ``from cowin_kit.testing import
database_url``). Every database fixture runs its tests on SQLite and, when
``COWIN_KIT_TEST_DATABASE_URL`` names a PostgreSQL server, on PostgreSQL too (a fresh
database is created and dropped afterwards).

- ``database_url``: an empty database for one test.
- ``migrated_database_url``: a migrated database per backend, shared by the tests of the
  run (``app``, ``reg_app``... empty its tables after each test); ``fresh_database_url``
  makes empty ones, ``pg_database_url`` is PostgreSQL only (skipped without a server).
- ``app``, ``client``, ``db_session``: a bare app on the shared database.
- ``india_pack``; ``reg_app`` (the India pack installed, OTPs in ``app.outbox``);
  ``pg_app`` (the same on PostgreSQL); ``vaccinated`` (one dose recorded through the API);
  ``make_app`` (apps with settings of the test's own); ``init_instance`` (instances set up
  by ``cowin-kit init``).
- Markers: ``postgres`` (given to tests that use ``pg_database_url``) and ``slow`` (given
  to tests that use ``init_instance``; mark others yourself), so ``-m "not slow and not
  postgres"`` is a quick run.
- Helpers: :mod:`cowin_kit.testing.api` (citizens, staff, sessions, doses),
  :mod:`~cowin_kit.testing.pages` (forms of the web pages),
  :mod:`~cowin_kit.testing.documents` (PDF text),
  :mod:`~cowin_kit.testing.pictures` (QR pictures in any format, a pixel bomb),
  :func:`vaccine_schedule` (for the rules),
  :func:`example_pack`, :func:`need_tool`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from cowin_kit.testing.api import (
    IST, STAFF_PASSWORD, accounts_with_members, add_members, auth, booked_counts,
    close_reg_app, count_rows, create_staff, demo_facility, iso_day, last_otp, make_reg_app, member,
    national_admin_token, publish, record_dose, record_first_dose, run_worker, secret_code,
    seed_report_doses, sign_in, staff_token, today, valid_aadhaar,
)
from cowin_kit.testing.builders import vaccine_schedule
from cowin_kit.testing.databases import (
    BACKENDS, create_database, drop_database, empty_tables, forget_kept_places,
    postgresql_server_url,
)
from cowin_kit.testing.documents import label, nfc, pdf_text, pixels
from cowin_kit.testing.environment import example_pack, need_tool
from cowin_kit.testing.pages import field_error, form_post, text, token_of, web_staff_sign_in
from cowin_kit.testing.pictures import huge_png, qr_picture

__all__ = [
    # fixtures
    "app", "client", "database_url", "db_session", "fresh_database_url", "india_pack",
    "init_instance", "make_app", "migrated_database_url", "pg_app", "pg_database_url",
    "reg_app", "vaccinated",
    # helpers
    "BACKENDS", "INIT_ADMIN_PASSWORD", "IST", "STAFF_PASSWORD", "accounts_with_members",
    "add_members", "auth", "booked_counts", "close_reg_app", "count_rows", "create_database",
    "create_staff", "drop_database", "empty_tables", "example_pack", "field_error",
    "form_post", "huge_png", "iso_day", "label", "last_otp", "make_reg_app", "member",
    "national_admin_token", "need_tool", "nfc", "pdf_text", "pixels", "postgresql_server_url", "publish", "qr_picture",
    "demo_facility", "record_dose", "record_first_dose", "run_worker", "secret_code", "seed_report_doses",
    "sign_in", "staff_token", "text", "today", "token_of", "vaccine_schedule", "valid_aadhaar",
    "web_staff_sign_in",
]

INIT_ADMIN_PASSWORD = "correct horse battery"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: takes seconds; `-m 'not slow'` skips it")
    config.addinivalue_line(
        "markers", "postgres: needs the PostgreSQL server named by COWIN_KIT_TEST_DATABASE_URL")


# Fixtures that make a test slow (an instance set up by `cowin-kit init`) or need PostgreSQL.
SLOW_FIXTURES = {"init_instance"}
POSTGRES_FIXTURES = {"pg_database_url"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if used & POSTGRES_FIXTURES:
            item.add_marker(pytest.mark.postgres)


def _migrated(url: str) -> str:
    from cowin_kit.core import migrate
    from cowin_kit.core.db import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


# --- databases ---------------------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty database: SQLite, and PostgreSQL when COWIN_KIT_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kit.db'}"
        return
    server = postgresql_server_url()
    url, name = create_database(server, "cowin_kit_plugin_test")
    try:
        yield url
    finally:
        drop_database(server, name)


@pytest.fixture(scope="session")
def fresh_database_url(tmp_path_factory) -> Iterator:
    """A factory of empty databases: fresh_database_url('sqlite'|'postgresql') -> URL."""
    created: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        url, name = create_database(postgresql_server_url())
        created.append(name)
        return url

    yield make
    for name in created:
        drop_database(postgresql_server_url(), name)


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_database_url(request, fresh_database_url) -> str:
    """A migrated database per backend, shared by the tests of the run."""
    return _migrated(fresh_database_url(request.param))


@pytest.fixture(scope="session")
def pg_database_url(fresh_database_url) -> str:
    """A migrated PostgreSQL database, for what must be proven on PostgreSQL (concurrency)."""
    import os

    if not postgresql_server_url():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must set COWIN_KIT_TEST_DATABASE_URL")
        pytest.skip("needs COWIN_KIT_TEST_DATABASE_URL (a PostgreSQL server)")
    return _migrated(fresh_database_url("postgresql"))


# --- apps --------------------------------------------------------------------------------

@pytest.fixture
def app(migrated_database_url, tmp_path):
    from cowin_kit import create_app
    from cowin_kit.core.db import get_database

    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": migrated_database_url})
    yield app
    empty_tables(get_database(app).engine)
    get_database(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db_session(app):
    from cowin_kit.core.db import get_database

    with app.app_context():
        with get_database(app).session() as session:
            yield session


# The fixtures whose first step is an app of the India pack (make_reg_app): a test using
# one may find the India pack's places left by the test before (close_reg_app).
KEEP_PLACES_FOR = frozenset({"reg_app", "pg_app"})


@pytest.fixture(autouse=True)
def _places_of_closed_apps(request):
    """Any other test starts from an empty database."""
    if not KEEP_PLACES_FOR & set(request.fixturenames):
        forget_kept_places()
    yield


@pytest.fixture
def india_pack():
    from cowin_kit.config.packs import load_pack

    return load_pack(example_pack("IN"))


@pytest.fixture
def reg_app(migrated_database_url, tmp_path, india_pack):
    """An app with the India pack installed (see make_reg_app)."""
    app = make_reg_app(migrated_database_url, tmp_path, india_pack)
    yield app
    close_reg_app(app)


@pytest.fixture
def pg_app(pg_database_url, tmp_path, india_pack):
    """reg_app on PostgreSQL (for concurrency)."""
    app = make_reg_app(pg_database_url, tmp_path, india_pack)
    yield app
    close_reg_app(app)


@pytest.fixture
def vaccinated(reg_app):
    """(client, citizen token, reference id) after one Covishield dose recorded via the API,
    with the country's signing keys generated."""
    from cowin_kit.certificates import services
    from cowin_kit.certificates.signing import keystore

    client = reg_app.test_client()
    with reg_app.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    citizen, ref, _recorded = record_first_dose(reg_app, client)
    return client, citizen, ref


@pytest.fixture
def make_app(migrated_database_url, tmp_path):
    """A factory of apps with settings of the test's own, on the shared database; their
    rows and connections go afterwards."""
    from cowin_kit import create_app
    from cowin_kit.core.db import get_database

    made = []

    def make(**settings):
        app = create_app({"ENV": "test", "DATABASE_URL": migrated_database_url,
                          "INSTANCE_PATH": str(tmp_path / f"instance{len(made)}"),
                          "NOTIFIER": f"file:{tmp_path / 'out.jsonl'}", **settings})
        made.append(app)
        return app

    yield make
    for app in made:
        empty_tables(get_database(app).engine)
        get_database(app).dispose()


@pytest.fixture(scope="session")
def init_instance(tmp_path_factory, fresh_database_url):
    """A factory: init_instance(backend) -> an instance folder set up by
    `cowin-kit init --yes` with the India pack and administrator `admin`
    (password INIT_ADMIN_PASSWORD)."""
    from click.testing import CliRunner

    from cowin_kit.cli import main

    def make(backend: str) -> Path:
        folder = tmp_path_factory.mktemp("instance")
        result = CliRunner().invoke(main, [
            "init", "--yes", "--country", "IN", "--instance", str(folder),
            "--database-url", fresh_database_url(backend),
            "--admin-password", INIT_ADMIN_PASSWORD,
        ], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return folder

    return make
