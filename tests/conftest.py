"""Shared fixtures. Every database test runs on SQLite and, when
COWIN_KIT_TEST_DATABASE_URL names a PostgreSQL server, on PostgreSQL too (a fresh database
is created for the run and dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cowin_kit import create_app, migrate
from cowin_kit.db import Base, get_database, make_engine
import cowin_kit.models  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "countries"
PG_SERVER_URL = os.environ.get("COWIN_KIT_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_SERVER_URL else [])


def _create_pg_database(server_url: str) -> tuple[str, str]:
    name = f"cowin_kit_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server_url).set(database=name)
    return url.render_as_string(hide_password=False), name


def _drop_pg_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()



def need_tool(command: str, package: str) -> None:
    """Skip the test when ``command`` (from Debian's ``package``) is missing; under CI=true
    fail instead (.ci/run installs it, so a CI run must not pass by skipping)."""
    import shutil

    if shutil.which(command) is None:
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(
            f"{command} ({package}) is not installed")

@pytest.fixture(scope="session")
def vectors() -> Path:
    """The shared conformance vectors (../shared/vectors or COWIN_KIT_VECTORS). Missing
    vectors skip the tests that need them on a developer's machine, and fail under CI."""
    folder = Path(os.environ.get("COWIN_KIT_VECTORS") or REPO.parent / "shared" / "vectors")
    if not folder.is_dir():
        message = f"conformance vectors not found at {folder}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def fresh_database_url(tmp_path_factory) -> Iterator:
    """A factory of empty databases: fresh_database_url('sqlite'|'postgresql') -> URL."""
    created: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        url, name = _create_pg_database(PG_SERVER_URL)
        created.append(name)
        return url

    yield make
    for name in created:
        _drop_pg_database(PG_SERVER_URL, name)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, fresh_database_url) -> str:
    """A migrated database per backend, shared by the tests of the run."""
    url = fresh_database_url(request.param)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def pg_database_url(fresh_database_url) -> str:
    """A migrated PostgreSQL database, for what must be proven on PostgreSQL (concurrency)."""
    if not PG_SERVER_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must set COWIN_KIT_TEST_DATABASE_URL")
        pytest.skip("needs COWIN_KIT_TEST_DATABASE_URL (a PostgreSQL server)")
    url = fresh_database_url("postgresql")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": database_url})
    yield app
    _empty_tables(get_database(app).engine)
    get_database(app).dispose()


def _empty_tables(engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "location":
                connection.execute(table.update().values(parent_id=None))
            connection.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db_session(app):
    with app.app_context():
        with get_database(app).session() as session:
            yield session


@pytest.fixture
def india_pack():
    from cowin_kit.config.packs import load_pack

    return load_pack(EXAMPLES / "in")


INIT_ADMIN_PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def init_instance(tmp_path_factory, fresh_database_url):
    """A factory: init_instance(backend) -> an instance folder set up by
    `cowin-kit init --yes` with the India pack and administrator `admin`."""
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


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    """The kit's .mo files, compiled as `cowin-kit i18n compile` does (they are not in
    git), so a fresh checkout's `pytest` sees translations. Rewrites only what changed."""
    from cowin_kit.cli.i18n_cmd import compile_catalogs

    compile_catalogs()
