"""Database plumbing: declarative base, engine, and the session of one request.

No engine is created at import time; ``init_app`` builds it lazily from the settings and
connecting only happens at the first query, so creating the app touches no database.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from datetime import datetime, timezone
from typing import Any, Iterator

from flask import Flask, current_app, g
from sqlalchemy import (
    JSON, BigInteger, DateTime, Engine, Integer, MetaData, TypeDecorator, create_engine, event,
)
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored and returned in UTC, timezone-aware on every backend (SQLite
    itself keeps no offset and would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# JSON documents are JSONB on PostgreSQL (indexable, compact) and JSON text on SQLite.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

# The ids of the tables that grow with people, doses, appointments, messages and events,
# and the columns that hold them: 64-bit. On PostgreSQL ``bigint`` (an ``integer`` ends at
# 2,147,483,647; CoWIN recorded more than 2.2 billion doses); on SQLite ``INTEGER``, which
# is already 64 bits wide and the only type whose primary key is the rowid (numbered by
# SQLite itself). Migration 0033 widened the existing columns (docs/capacity.md).
BigId = BigInteger().with_variant(Integer(), "sqlite")
MAX_ID = 2**63 - 1  # the largest such id: what an id given in a request may be at most


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSONDocument,
        dict[str, str]: JSONDocument,
        list[Any]: JSONDocument,
        list[str]: JSONDocument,
        datetime: UTCDateTime(),
    }


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_uuid() -> str:
    return str(uuid.uuid4())


CONNECT_TIMEOUT_SECONDS = 5
POOL_TIMEOUT_SECONDS = 10


def sqlalchemy_url(url: str) -> str:
    """``url`` for SQLAlchemy: a libpq URL (``postgresql://`` or ``postgres://``, as
    CloudNativePG's and most managed services' secrets give it) is read with psycopg."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def make_engine(url: str, pool_size: int = 10, ping_after_idle_seconds: int = 5) -> Engine:
    url = sqlalchemy_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        return engine
    # A server that does not answer (a host gone in a fail-over) must not hold a request
    # past gunicorn's timeout: connecting gives up after CONNECT_TIMEOUT_SECONDS (unless
    # the URL says otherwise), waiting for a pooled connection after POOL_TIMEOUT_SECONDS;
    # either is answered 503 (cowin_kit.core.problems).
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in make_url(url).query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                           pool_timeout=POOL_TIMEOUT_SECONDS, connect_args=connect_args)
    ping_idle_connections(engine, ping_after_idle_seconds)
    return engine


_IDLE_SINCE = "cowin_kit.idle_since"


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use if it has been idle for more than
    ``idle_seconds`` (0: always), and replace it if the server has closed it (a restart, a
    fail-over, an idle timeout in a proxy). SQLAlchemy's pool_pre_ping checks every time:
    one more round trip per request, about a twentieth of a booking's CPU, to learn that a
    connection returned a millisecond ago is still there. A connection the server closes
    while in use, or between two requests inside the window, fails that one request and
    the pool is renewed (SQLAlchemy invalidates it on a disconnect error)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # record.info lives as long as the DBAPI connection: a new one has no mark
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None:
            return
        if idle_seconds > 0 and time.monotonic() - idle_since <= idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # the pool discards this connection and checks out another (a new one)
            raise DisconnectionError(f"connection found closed after being idle: {exc}") \
                from exc


# How often a process asks the replica how far behind it is; after a failed check the
# replica is left alone for REPLICA_RETRY_SECONDS.
REPLICA_CHECK_SECONDS = 1.0
REPLICA_RETRY_SECONDS = 5.0
# Seconds the replica is behind: 0 when it has replayed all it received (or is not a
# standby at all); the time since its last replayed commit when WAL waits to be replayed;
# "infinitely" behind when no WAL receiver streams from the primary (cut off, or promoted
# away from).
REPLICA_LAG_SQL = """
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN 0
  WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
    THEN 'Infinity'::float8
  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
  ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()),
                'Infinity'::float8)::float8
END"""


class Database:
    """Engine and session factory of one app, created on first use; and, when a replica
    is configured, the replica's, with the check of its lag."""

    def __init__(self, url: str, pool_size: int = 10, ping_after_idle_seconds: int = 5,
                 replica_url: str = "", replica_max_lag_seconds: float = 30.0):
        self.url = url
        self.pool_size = pool_size
        self.ping_after_idle_seconds = ping_after_idle_seconds
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self.replica_url = replica_url if replica_url.startswith("postgresql") else ""
        self.replica_max_lag_seconds = replica_max_lag_seconds
        self._replica_engine: Engine | None = None
        self._replica_factory: sessionmaker[Session] | None = None
        self._replica_lock = threading.Lock()
        self._replica_checked = float("-inf")
        self._replica_usable = False

    def replica_session(self) -> Session | None:
        """A session on the replica if one is configured and it is no more than
        ``replica_max_lag_seconds`` behind the primary (checked at most once a second per
        process; a check in progress elsewhere keeps the last answer), else None."""
        if not self.replica_url:
            return None
        now = time.monotonic()
        if now - self._replica_checked >= REPLICA_CHECK_SECONDS \
                and self._replica_lock.acquire(blocking=False):
            try:
                self._replica_usable = self._check_replica()
            finally:
                self._replica_checked = time.monotonic() + (
                    0 if self._replica_usable else REPLICA_RETRY_SECONDS - REPLICA_CHECK_SECONDS)
                self._replica_lock.release()
        if not self._replica_usable:
            return None
        assert self._replica_factory is not None
        return self._replica_factory()

    def _check_replica(self) -> bool:
        if self._replica_engine is None:
            self._replica_engine = make_engine(self.replica_url, self.pool_size,
                                               self.ping_after_idle_seconds)
            self._replica_factory = sessionmaker(self._replica_engine, expire_on_commit=False)
        try:
            with self._replica_engine.connect() as connection:
                lag = connection.exec_driver_sql(REPLICA_LAG_SQL).scalar()
        except SQLAlchemyError as exc:
            log.warning("replica unreachable (%s): reads go to the primary",
                        type(exc.__cause__ or exc).__name__)
            return False
        usable = lag is not None and float(lag) <= self.replica_max_lag_seconds
        if not usable:
            log.info("replica %.1f s behind (bound %s s): reads go to the primary",
                     float(lag if lag is not None else "inf"), self.replica_max_lag_seconds)
        return usable

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url, self.pool_size, self.ping_after_idle_seconds)
        return self._engine

    @property
    def session_factory(self) -> sessionmaker[Session]:
        if self._factory is None:
            self._factory = sessionmaker(self.engine, expire_on_commit=False)
        return self._factory

    def session(self) -> Session:
        return self.session_factory()

    def dispose(self) -> None:
        for engine in (self._engine, self._replica_engine):
            if engine is not None:
                engine.dispose()


class DriverStatement:
    """A Core statement that runs on PostgreSQL straight through psycopg's cursor, on the
    connection and in the transaction of the SQLAlchemy connection given.

    For the few statements of the hottest request (booking a seat): SQLAlchemy's execution
    of an already compiled statement (parameters, execution context, result objects) costs
    about three times what psycopg itself does (measured: 140 against 35 microseconds of
    CPU per statement). The statement is still written once, as a Core statement, and
    compiled once by SQLAlchemy's PostgreSQL dialect; what SQLAlchemy's types would do per
    value is up to the caller: parameters as psycopg adapts them (aware datetimes; JSON
    parameters are wrapped here), rows as psycopg returns them (plain tuples; timestamps in
    the connection's time zone). Lists are passed as arrays (``= ANY(...)``), not as
    expanding IN parameters. Errors are raised as SQLAlchemy's (IntegrityError...)."""

    def __init__(self, statement: Any):
        self.statement = statement
        self._compiled: tuple[str, dict[str, Any], frozenset[str]] | None = None

    def _compile(self, dialect: Any) -> tuple[str, dict[str, Any], frozenset[str]]:
        compiled = self.statement.compile(dialect=dialect)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("DriverStatement takes no expanding IN parameters: use ANY()")
        # values of the statement's own literals (e.g. literal("member")), by bind name
        fixed = {name: value for name, value in compiled.params.items() if value is not None}
        json_names = frozenset(name for name, bind in compiled.binds.items()
                               if isinstance(bind.type, JSON))
        return compiled.string, fixed, json_names

    def execute(self, connection: Any, values: dict[str, Any]) -> Any:
        """Run on ``connection`` (a SQLAlchemy Connection on PostgreSQL): psycopg's cursor,
        its rows to fetch."""
        from psycopg import Error
        from psycopg.types.json import Jsonb

        if self._compiled is None:
            self._compiled = self._compile(connection.dialect)
        sql, fixed, json_names = self._compiled
        params = {**fixed, **values}
        for name in json_names:
            params[name] = Jsonb(params[name])
        driver = connection.connection.driver_connection
        cursor = driver.cursor()
        try:
            # prepared at once: this statement runs on every booking
            cursor.execute(sql, params, prepare=True)
        except Error as exc:
            # as SQLAlchemy does for its own statements: a connection found closed is
            # dropped (not returned to the pool), and the pool renews the others
            lost = connection.dialect.is_disconnect(exc, driver, cursor)
            if lost:
                connection.invalidate(exc)
            raise DBAPIError.instance(sql, params, exc, Error, hide_parameters=True,
                                      connection_invalidated=lost,
                                      dialect=connection.dialect) from exc
        return cursor


class DriverConnection:
    """A pooled connection lent straight to DriverStatements (see autocommit_connection):
    what DriverStatement.execute uses of a SQLAlchemy Connection (``engine``, ``dialect``,
    ``connection``, ``invalidate``), without a Connection's own work per checkout."""

    __slots__ = ("engine", "dialect", "connection")

    def __init__(self, engine: Engine, pooled: Any):
        self.engine = engine
        self.dialect = engine.dialect
        self.connection = pooled

    def invalidate(self, exception: BaseException | None = None) -> None:
        self.connection.invalidate(exception)


@contextmanager
def autocommit_connection(engine: Engine) -> Iterator[DriverConnection]:
    """A PostgreSQL connection of the engine's pool in autocommit mode, for work whose one
    write is a single statement (all or nothing by itself): no BEGIN and no COMMIT, two
    round trips less. Checked out as any connection (the idle ping included), given back
    to the pool in transaction mode. Only for DriverStatements: it has no SQLAlchemy
    Connection, session or transaction around it."""
    try:
        pooled = engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as exc:
        # as engine.connect() would raise it: SQLAlchemy's error (503 when the server is
        # down, cowin_kit.core.problems), not the driver's
        raise DBAPIError.instance(None, None, exc, engine.dialect.loaded_dbapi.Error,
                                  hide_parameters=True, dialect=engine.dialect) from exc
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        yield DriverConnection(engine, pooled)
    finally:
        try:
            if pooled.is_valid and not driver.closed:
                driver.autocommit = False
        except engine.dialect.loaded_dbapi.Error as exc:  # broken: not back into the pool
            pooled.invalidate(exc)
        finally:
            pooled.close()


def init_app(app: Flask, url: str, pool_size: int, ping_after_idle_seconds: int = 5,
             replica_url: str = "", replica_max_lag_seconds: float = 30.0) -> Database:
    database = Database(url, pool_size, ping_after_idle_seconds, replica_url,
                        replica_max_lag_seconds)
    app.extensions["cowin_kit.core.db"] = database

    @app.teardown_appcontext
    def _close_request_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        # A session that never began a transaction nor holds objects has nothing to give
        # back (a booking's, whose work runs on a connection of its own): closing it
        # still cost about 2 % of the request's CPU.
        if session is not None and (session.in_transaction() or len(session.identity_map)
                                    or session.new):
            session.close()
        replica = g.pop("db_read_session", None)
        if replica is not None:
            replica.close()

    return database


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["cowin_kit.core.db"]


def get_session() -> Session:
    """The session of the current request (or app context), opened on first use."""
    if "db_session" not in g:
        g.db_session = get_database().session()
    return g.db_session


def allow_stale_reads() -> None:
    """Mark the current request as one whose reads may come from the replica (public
    availability answers, which clients and proxies may cache anyway)."""
    g.stale_reads_ok = True


def get_read_session() -> Session:
    """The session for the current request's reads: the replica's when the request allows
    stale reads (allow_stale_reads), a replica is configured (DATABASE_REPLICA_URL) and it
    is within REPLICA_MAX_LAG_SECONDS of the primary; otherwise the request's session."""
    if not g.get("stale_reads_ok"):
        return get_session()
    if "db_read_session" not in g:
        replica = get_database().replica_session()
        if replica is None:
            return get_session()
        g.db_read_session = replica
    return g.db_read_session
