"""Test databases: SQLite, and PostgreSQL when COWIN_KIT_TEST_DATABASE_URL names a server
(a database is created for the run and dropped afterwards)."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["BACKENDS", "create_database", "drop_database", "empty_tables",
           "postgresql_server_url"]


def postgresql_server_url() -> str:
    """The PostgreSQL server the tests may create databases on ('' for none)."""
    return os.environ.get("COWIN_KIT_TEST_DATABASE_URL", "")


BACKENDS = ["sqlite"] + (["postgresql"] if postgresql_server_url() else [])


def create_database(server_url: str, prefix: str = "cowin_kit_test") -> tuple[str, str]:
    """A new empty database on ``server_url``: (its URL, its name)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server_url).set(database=name)
    return url.render_as_string(hide_password=False), name


def drop_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def empty_tables(engine) -> None:
    """Delete every row of the kit's tables (a shared database between tests)."""
    from cowin_kit.core.db import Base
    import cowin_kit.models  # noqa: F401  (every table in Base.metadata)

    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "location":
                connection.execute(table.update().values(parent_id=None))
            connection.execute(table.delete())
