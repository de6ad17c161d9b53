"""Test databases: SQLite, and PostgreSQL when COWIN_KIT_TEST_DATABASE_URL names a server
(a database is created for the run and dropped afterwards)."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["BACKENDS", "create_database", "drop_database", "empty_tables",
           "forget_kept_places", "kept_places", "postgresql_server_url"]


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
    for url in list(_KEPT_PLACES):  # nothing is left to empty there
        if make_url(url).database == name:
            del _KEPT_PLACES[url]
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# The tables of a pack's places (and the installed pack's row, which tells the installer
# that the postal-code directory is the pack's): the India pack's are about 800 places and
# 21,000 PIN rows, whose install took 0.2 s (SQLite) to 0.5 s (PostgreSQL) per test. A
# test app closed with close_reg_app leaves them for the next test's app of the same pack,
# whose install then changes nothing (and puts back whatever the test changed); any other
# test starts from an empty database (forget_kept_places, called by the cowin_kit.testing
# plugin).
PLACE_TABLES = frozenset({"location", "postal_code", "population_figure", "installed_pack"})
_KEPT_PLACES: dict[str, str] = {}  # database URL -> content hash of the pack left there


def _key(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def empty_tables(engine, keep_places_of: str | None = None) -> None:
    """Delete every row of the kit's tables (a shared database between tests); with
    ``keep_places_of`` (a pack's content hash) all but the places that pack installed."""
    from cowin_kit.core.db import Base
    import cowin_kit.models  # noqa: F401  (every table in Base.metadata)

    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if keep_places_of and table.name in PLACE_TABLES:
                continue
            if table.name == "location":
                connection.execute(table.update().values(parent_id=None))
            connection.execute(table.delete())
    if keep_places_of:
        _KEPT_PLACES[_key(engine)] = keep_places_of
    else:
        _KEPT_PLACES.pop(_key(engine), None)


def kept_places(engine) -> str | None:
    """The content hash of the pack whose places were left in this database, if any."""
    return _KEPT_PLACES.get(_key(engine))


def forget_kept_places() -> None:
    """Empty every database that still has a closed app's places (a test that does not
    start with the same pack's app expects an empty database)."""
    for url in list(_KEPT_PLACES):
        database = make_url(url)
        if database.get_backend_name() == "sqlite" and not os.path.exists(database.database or ""):
            del _KEPT_PLACES[url]  # a test's own database file, gone with its folder
            continue
        engine = create_engine(url)
        try:
            empty_tables(engine)
        finally:
            engine.dispose()
        _KEPT_PLACES.pop(url, None)
