"""Pooled PostgreSQL connections the server has closed (a restart, a fail-over, a proxy's
idle timeout): checked before use once idle for DATABASE_PING_AFTER_IDLE_SECONDS."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from cowin_kit import create_app
from cowin_kit.core.db import get_database, make_engine


def _close_from_the_server(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as connection:  # returned to the pool afterwards
        return connection.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_closed_while_idle_is_replaced_before_use(pg_database_url):
    engine = make_engine(pg_database_url, pool_size=1, ping_after_idle_seconds=0)
    try:
        closed = _backend_pid(engine)
        _close_from_the_server(pg_database_url, closed)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT 1")) == 1
            assert connection.scalar(text("SELECT pg_backend_pid()")) != closed
    finally:
        engine.dispose()


def test_inside_the_idle_window_no_check_one_request_fails_then_the_pool_recovers(
        pg_database_url):
    engine = make_engine(pg_database_url, pool_size=1, ping_after_idle_seconds=3600)
    try:
        closed = _backend_pid(engine)
        _close_from_the_server(pg_database_url, closed)
        with pytest.raises(OperationalError):
            with engine.connect() as connection:
                connection.scalar(text("SELECT 1"))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) != closed
    finally:
        engine.dispose()


def test_the_app_takes_the_window_from_its_setting(pg_database_url, tmp_path):
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": pg_database_url, "DATABASE_POOL_SIZE": 1,
                      "DATABASE_PING_AFTER_IDLE_SECONDS": 0})
    engine = get_database(app).engine
    try:
        closed = _backend_pid(engine)
        _close_from_the_server(pg_database_url, closed)
        with app.test_client() as client:
            assert client.get("/readyz").status_code == 200
        assert _backend_pid(engine) != closed
    finally:
        engine.dispose()


def test_a_driver_statement_on_a_closed_connection_drops_it_and_the_next_works(
        pg_database_url):
    """The booking's statements run through psycopg (DriverStatement): a connection the
    server closed fails that statement as SQLAlchemy's disconnect error and is not
    returned to the pool; the next checkout gets a working connection."""
    from sqlalchemy import literal, select

    from cowin_kit.core.db import DriverStatement

    statement = DriverStatement(select(literal(1)))
    engine = make_engine(pg_database_url, pool_size=1, ping_after_idle_seconds=3600)
    try:
        with engine.connect() as connection:
            assert statement.execute(connection, {}).fetchone() == (1,)
            closed = connection.scalar(text("SELECT pg_backend_pid()"))
            connection.rollback()
        _close_from_the_server(pg_database_url, closed)
        with pytest.raises(OperationalError) as failed:
            with engine.connect() as connection:
                statement.execute(connection, {})
        assert failed.value.connection_invalidated
        with engine.connect() as connection:
            assert statement.execute(connection, {}).fetchone() == (1,)
            assert connection.scalar(text("SELECT pg_backend_pid()")) != closed
    finally:
        engine.dispose()


def test_an_autocommit_connection_commits_each_statement_and_goes_back_in_transaction_mode(
        pg_database_url):
    """autocommit_connection (a one-member booking): each statement is committed by
    itself, no transaction is left open, the connection returns to the pool as a normal
    one (the next user's statements are in a transaction again), and one the server
    closed is dropped, not returned."""
    from cowin_kit.core.db import DriverStatement, autocommit_connection

    engine = make_engine(pg_database_url, pool_size=1, ping_after_idle_seconds=3600)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE seen (n integer)"))
        insert = DriverStatement(text("INSERT INTO seen VALUES (:n) RETURNING n"))
        with autocommit_connection(engine) as lent:
            assert insert.execute(lent, {"n": 1}).fetchone() == (1,)
            lent_pid = lent.connection.driver_connection.info.backend_pid
            # committed already: another connection sees the row while this one is lent
            other = create_engine(pg_database_url)
            with other.connect() as watcher:
                assert watcher.scalar(text("SELECT count(*) FROM seen")) == 1
            other.dispose()
            assert lent.connection.driver_connection.info.transaction_status == 0  # IDLE
        with engine.connect() as connection:  # the same pooled connection, in a transaction
            assert connection.scalar(text("SELECT pg_backend_pid()")) == lent_pid
            connection.execute(text("INSERT INTO seen VALUES (2)"))
            connection.rollback()
            assert connection.scalar(text("SELECT count(*) FROM seen")) == 1
            connection.rollback()
        _close_from_the_server(pg_database_url, lent_pid)
        with pytest.raises(OperationalError) as failed:
            with autocommit_connection(engine) as lent:
                insert.execute(lent, {"n": 3})
        assert failed.value.connection_invalidated
        with autocommit_connection(engine) as lent:
            assert insert.execute(lent, {"n": 4}).fetchone() == (4,)
            assert lent.connection.driver_connection.info.backend_pid != lent_pid
    finally:
        engine.dispose()
