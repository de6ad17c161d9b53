"""Helpers for the tests of country plugins (and the kit's example plugins).

Import the fixture into a test module (``from cowin_kit.testing import database_url``) or a
``conftest.py`` and ask for it:

- ``database_url``: an empty database for one test: SQLite in the test's folder, and also
  (the test runs twice) a fresh PostgreSQL database when ``COWIN_KIT_TEST_DATABASE_URL``
  names a server, dropped afterwards.
- :func:`example_pack` gives the path of one of the kit's example country packs; where the
  kit is installed without them, the test is skipped, or fails under ``CI=true`` (a CI run
  must not pass by skipping).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cowin_kit.config.examples import example_packs

__all__ = ["database_url", "example_pack", "postgresql_server_url"]


def postgresql_server_url() -> str:
    """The PostgreSQL server the tests may create databases on ('' for none)."""
    return os.environ.get("COWIN_KIT_TEST_DATABASE_URL", "")


@pytest.fixture(params=["sqlite"] + (["postgresql"] if postgresql_server_url() else []))
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty database: SQLite, and PostgreSQL when COWIN_KIT_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kit.db'}"
        return
    server = postgresql_server_url()
    name = f"cowin_kit_plugin_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def example_pack(code: str) -> Path:
    """The folder of the kit's example pack ``code`` (e.g. "IN"); skips the test where the
    example packs are not installed, fails it under CI=true."""
    packs = example_packs()
    if code not in packs:
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(
            f"the example country pack {code} of the cowin-kit repository is needed")
    return packs[code]
