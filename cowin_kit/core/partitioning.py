"""Monthly range partitions of the tables that grow without bound (PostgreSQL only).

Three tables are partitioned by their time column (docs/partitioning.md says why these
and not the others): ``audit_event`` by ``occurred_at``, ``message_outbox`` and
``otp_transaction`` by ``created_at``. Partitions cover one calendar month in UTC
(``<table>_p202612``); ``<table>_default`` takes what no partition covers, so a write
never fails when the maintenance job is late.

This module is plain SQL over a SQLAlchemy connection and imports nothing else of the kit:
the Alembic migration 0032 uses it for empty tables (the layout of a fresh install and of a
converted database must be the same), and ``cowin-kit db partition`` for the online
conversion of a populated table:

1. ``prepare``: the partitioned shadow table ``<table>__p`` (same columns, defaults,
   indexes and foreign keys; the primary key becomes (id, time)), monthly partitions from
   the oldest row's month to some months ahead, the default partition, and a trigger on the
   old table that applies every insert, update and delete to the shadow from now on;
2. ``copy_batch`` (repeated): the next rows in id order are copied, ``FOR SHARE`` (a
   concurrent update or delete waits for the batch, then its trigger applies it), with the
   watermark (the last id copied) stored in ``partition_conversion`` in the same
   transaction: a killed conversion resumes after the last committed batch;
3. ``swap``: under a brief ACCESS EXCLUSIVE lock (``lock_timeout``; retried), the last
   rows are copied, the id sequence moves to the shadow, the old table is dropped and the
   shadow takes its name, its indexes' and constraints' names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

SHADOW = "__p"
MONTHS_AHEAD = 3
CONVERSION_TABLE = "partition_conversion"


@dataclass(frozen=True)
class Spec:
    """A partitioned table: its time column (the partition key) and its id column."""
    table: str
    column: str
    key: str = "id"

    @property
    def shadow(self) -> str:
        return self.table + SHADOW

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    def partition(self, month: datetime) -> str:
        return f"{self.table}_p{month:%Y%m}"


SPECS = (Spec("audit_event", "occurred_at"), Spec("message_outbox", "created_at"),
         Spec("otp_transaction", "created_at"))
BY_TABLE = {spec.table: spec for spec in SPECS}


PARTITION_NAME = re.compile(
    "(" + "|".join(re.escape(spec.table) for spec in SPECS) + r")_(p\d{6}|default)$")


def is_partition_name(name: str | None) -> bool:
    """A partition's table name (Alembic's comparisons leave them out: the models describe
    the partitioned table)."""
    return bool(name) and PARTITION_NAME.match(name) is not None


class PartitionError(Exception):
    pass


# --- months ------------------------------------------------------------------------------

def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(timezone.utc) if moment.tzinfo else \
        moment.replace(tzinfo=timezone.utc)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(month: datetime, count: int) -> datetime:
    index = month.year * 12 + month.month - 1 + count
    return month.replace(year=index // 12, month=index % 12 + 1)


def months(first: datetime, last: datetime) -> Iterable[datetime]:
    month = month_start(first)
    while month <= last:
        yield month
        month = add_months(month, 1)


# --- the catalog -------------------------------------------------------------------------

def is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def relkind(connection: Connection, name: str) -> str | None:
    """'r' a plain table, 'p' a partitioned one, None: no such table (current schema)."""
    return connection.scalar(text(
        "SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = :name AND n.nspname = current_schema()"), {"name": name})


def is_partitioned(connection: Connection, table: str) -> bool:
    return is_postgresql(connection) and relkind(connection, table) == "p"


def partitions(connection: Connection, spec: Spec) -> list[tuple[str, datetime]]:
    """The monthly partitions of a partitioned table: (name, first moment), oldest first."""
    names = connection.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE p.relname = :table AND n.nspname = current_schema()"), {"table": spec.table})
    pattern = re.compile(re.escape(spec.table) + r"_p(\d{4})(\d{2})$")
    found = []
    for name in names:
        match = pattern.match(name)
        if match:
            found.append((name, datetime(int(match[1]), int(match[2]), 1, tzinfo=timezone.utc)))
    return sorted(found, key=lambda item: item[1])


def _key_type(connection: Connection, spec: Spec, table: str) -> str:
    return connection.scalar(text(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = CAST(:table AS regclass) AND a.attname = :key"),
        {"table": table, "key": spec.key})


def _indexes(connection: Connection, table: str) -> list[tuple[str, str]]:
    """(name, definition) of a table's indexes other than its primary key's."""
    return list(connection.execute(text(
        "SELECT ic.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
        "JOIN pg_class ic ON ic.oid = x.indexrelid "
        "WHERE x.indrelid = CAST(:table AS regclass) AND NOT x.indisprimary ORDER BY 1"),
        {"table": table}).all())  # type: ignore[arg-type]


def _foreign_keys(connection: Connection, table: str) -> list[tuple[str, str]]:
    return list(connection.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:table AS regclass) AND contype = 'f' ORDER BY 1"),
        {"table": table}).all())


def _referencing(connection: Connection, table: str) -> list[str]:
    """Foreign keys of other tables (or itself) that reference ``table``."""
    return list(connection.scalars(text(
        "SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint "
        "WHERE confrelid = CAST(:table AS regclass) AND contype = 'f'"), {"table": table}))


def _primary_key_name(connection: Connection, table: str) -> str:
    return connection.scalar(text(
        "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:table AS regclass) "
        "AND contype = 'p'"), {"table": table})


def _copy_structure(connection: Connection, spec: Spec, source: str, target: str,
                    key_columns: str, partition_by: str, suffix: str) -> None:
    """``target``: the columns, defaults, primary key, indexes and foreign keys of
    ``source``, every name with ``suffix`` (renamed back by ``_take_names``)."""
    connection.execute(text(
        f'CREATE TABLE "{target}" (LIKE "{source}" INCLUDING DEFAULTS) {partition_by}'))
    pk = _primary_key_name(connection, source)
    connection.execute(text(
        f'ALTER TABLE "{target}" ADD CONSTRAINT "{pk}{suffix}" PRIMARY KEY ({key_columns})'))
    for name, definition in _indexes(connection, source):
        if " UNIQUE " in f" {definition} ":
            raise PartitionError(f"{source}: unique index {name} cannot move to a partitioned "
                                 "table")
        definition = re.sub(r"^CREATE INDEX \S+ ON (ONLY )?\S+ ",
                            f'CREATE INDEX "{name}{suffix}" ON "{target}" ', definition)
        connection.execute(text(definition))
    for name, definition in _foreign_keys(connection, source):
        connection.execute(text(
            f'ALTER TABLE "{target}" ADD CONSTRAINT "{name}{suffix}" {definition}'))


def _take_names(connection: Connection, spec: Spec, old: str, new: str, suffix: str) -> None:
    """Drop ``old`` and give ``new`` its name, its sequence and its objects' names."""
    sequence = connection.scalar(text("SELECT pg_get_serial_sequence(:table, :key)"),
                                 {"table": old, "key": spec.key})
    if sequence:
        connection.execute(text(f'ALTER SEQUENCE {sequence} OWNED BY "{new}"."{spec.key}"'))
    connection.execute(text(f'DROP TABLE "{old}" CASCADE'))
    connection.execute(text(f'ALTER TABLE "{new}" RENAME TO "{spec.table}"'))
    for name, _ in _indexes(connection, spec.table):
        if name.endswith(suffix):
            connection.execute(text(f'ALTER INDEX "{name}" RENAME TO "{name[:-len(suffix)]}"'))
    names = connection.scalars(text(
        "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:table AS regclass) "
        "AND contype IN ('p', 'f')"), {"table": spec.table})
    for name in list(names):
        if name.endswith(suffix):
            connection.execute(text(f'ALTER TABLE "{spec.table}" RENAME CONSTRAINT "{name}" '
                                    f'TO "{name[:-len(suffix)]}"'))


# --- partitions --------------------------------------------------------------------------

def create_partition(connection: Connection, spec: Spec, month: datetime,
                     parent: str | None = None) -> bool:
    """The month's partition, if missing. Rows of that month already in the default
    partition (the maintenance job was late) move into it. True when created."""
    parent = parent or spec.table
    name = spec.partition(month)
    if relkind(connection, name) is not None:
        return False
    start, end = month_start(month), add_months(month_start(month), 1)
    bounds = {"start": start, "end": end}
    has_default = relkind(connection, spec.default) is not None
    moved = False
    if has_default:
        moved = bool(connection.scalar(text(
            f'SELECT EXISTS (SELECT 1 FROM "{spec.default}" WHERE "{spec.column}" >= :start '
            f'AND "{spec.column}" < :end)'), bounds))
        if moved:
            connection.execute(text(
                f'CREATE TEMPORARY TABLE partition_moving ON COMMIT DROP AS '
                f'WITH moved AS (DELETE FROM "{spec.default}" WHERE "{spec.column}" >= :start '
                f'AND "{spec.column}" < :end RETURNING *) SELECT * FROM moved'), bounds)
    connection.execute(text(
        f'CREATE TABLE "{name}" PARTITION OF "{parent}" FOR VALUES FROM '
        f"('{start.isoformat()}') TO ('{end.isoformat()}')"))
    if moved:
        connection.execute(text(f'INSERT INTO "{parent}" SELECT * FROM partition_moving'))
        connection.execute(text("DROP TABLE partition_moving"))
    return True


def ensure_partitions(connection: Connection, now: datetime,
                      ahead: int = MONTHS_AHEAD) -> list[str]:
    """The maintenance job: every partitioned table has its partitions up to ``ahead``
    months after ``now``'s month. Returns the partitions created."""
    created = []
    if not is_postgresql(connection):
        return created
    for spec in SPECS:
        if not is_partitioned(connection, spec.table):
            continue
        current = month_start(now)
        for month in months(current, add_months(current, ahead)):
            if create_partition(connection, spec, month):
                created.append(spec.partition(month))
    return created


def droppable(connection: Connection, spec: Spec, cutoff: datetime) -> list[str]:
    """Partitions whose whole month lies before ``cutoff``."""
    if not is_partitioned(connection, spec.table):
        return []
    return [name for name, month in partitions(connection, spec)
            if add_months(month, 1) <= cutoff]


def drop_partition(connection: Connection, spec: Spec, name: str) -> int:
    """Detach and drop one partition; returns the rows it held."""
    rows = connection.scalar(text(f'SELECT count(*) FROM "{name}"'))
    connection.execute(text(f'ALTER TABLE "{spec.table}" DETACH PARTITION "{name}"'))
    connection.execute(text(f'DROP TABLE "{name}"'))
    return int(rows or 0)


# --- conversion --------------------------------------------------------------------------

def _oldest(connection: Connection, spec: Spec) -> datetime | None:
    return connection.scalar(text(f'SELECT min("{spec.column}") FROM "{spec.table}"'))


def _build_shadow(connection: Connection, spec: Spec, first: datetime, now: datetime,
                  ahead: int) -> None:
    referencing = _referencing(connection, spec.table)
    if referencing:
        raise PartitionError(f"{spec.table} is referenced by {', '.join(referencing)}: a "
                             "partitioned table cannot be (drop those foreign keys first)")
    _copy_structure(connection, spec, spec.table, spec.shadow,
                    f'"{spec.key}", "{spec.column}"',
                    f'PARTITION BY RANGE ("{spec.column}")', SHADOW)
    current = month_start(now)
    for month in months(min(month_start(first), current), add_months(current, ahead)):
        create_partition(connection, spec, month, parent=spec.shadow)
    connection.execute(text(f'CREATE TABLE "{spec.default}" PARTITION OF "{spec.shadow}" DEFAULT'))


def convert_at_once(connection: Connection, spec: Spec, now: datetime,
                    ahead: int = MONTHS_AHEAD) -> None:
    """Partition a table in one transaction (holding its lock throughout): for an empty or
    small table, e.g. in the migration of a fresh install."""
    connection.execute(text(f'LOCK TABLE "{spec.table}" IN ACCESS EXCLUSIVE MODE'))
    _build_shadow(connection, spec, _oldest(connection, spec) or now, now, ahead)
    connection.execute(text(f'INSERT INTO "{spec.shadow}" SELECT * FROM "{spec.table}"'))
    _take_names(connection, spec, spec.table, spec.shadow, SHADOW)


def unpartition(connection: Connection, spec: Spec) -> None:
    """A partitioned table back to a plain one, in one transaction (the downgrade)."""
    plain = spec.table + "__u"
    connection.execute(text(f'LOCK TABLE "{spec.table}" IN ACCESS EXCLUSIVE MODE'))
    _copy_structure(connection, spec, spec.table, plain, f'"{spec.key}"', "", "__u")
    connection.execute(text(f'INSERT INTO "{plain}" SELECT * FROM "{spec.table}"'))
    _take_names(connection, spec, spec.table, plain, "__u")


def abandon(connection: Connection, spec: Spec) -> bool:
    """Remove an unfinished conversion's shadow and trigger (the old table is untouched)."""
    if relkind(connection, spec.shadow) is None:
        return False
    connection.execute(text(f'DROP TRIGGER IF EXISTS "{spec.shadow}_capture" ON "{spec.table}"'))
    connection.execute(text(f'DROP FUNCTION IF EXISTS "{spec.shadow}_capture"()'))
    connection.execute(text(f'DROP TABLE "{spec.shadow}" CASCADE'))
    connection.execute(text(f"DELETE FROM {CONVERSION_TABLE} WHERE table_name = :t"),
                       {"t": spec.table})
    return True


@dataclass
class State:
    table: str
    layout: str               # partitioned | converting | plain | absent
    rows_copied: int = 0
    watermark: str | None = None
    partitions: int = 0


def state(connection: Connection, spec: Spec) -> State:
    kind = relkind(connection, spec.table) if is_postgresql(connection) else "r"
    if kind == "p":
        return State(spec.table, "partitioned", partitions=len(partitions(connection, spec)))
    if kind is None:
        return State(spec.table, "absent")
    if is_postgresql(connection) and relkind(connection, spec.shadow) is not None:
        row = connection.execute(text(
            f"SELECT rows_copied, watermark FROM {CONVERSION_TABLE} WHERE table_name = :t"),
            {"t": spec.table}).first()
        return State(spec.table, "converting", int(row[0]) if row else 0,
                     row[1] if row else None)
    return State(spec.table, "plain")


def prepare(engine: Engine, spec: Spec, now: datetime, ahead: int = MONTHS_AHEAD) -> None:
    """Step 1 (idempotent: a resumed conversion finds the shadow there)."""
    with engine.connect() as connection:
        if relkind(connection, spec.shadow) is not None:
            return
        first = _oldest(connection, spec) or now    # outside the short transaction below
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL lock_timeout = '10s'"))
        _build_shadow(connection, spec, first, now, ahead)
        key, column = f'"{spec.key}"', f'"{spec.column}"'
        connection.execute(text(f"""
            CREATE FUNCTION "{spec.shadow}_capture"() RETURNS trigger LANGUAGE plpgsql AS $f$
            BEGIN
                IF TG_OP IN ('UPDATE', 'DELETE') THEN
                    DELETE FROM "{spec.shadow}" WHERE {key} = OLD.{key} AND {column} = OLD.{column};
                END IF;
                IF TG_OP IN ('INSERT', 'UPDATE') THEN
                    INSERT INTO "{spec.shadow}" VALUES (NEW.*) ON CONFLICT DO NOTHING;
                END IF;
                RETURN NULL;
            END $f$"""))
        connection.execute(text(
            f'CREATE TRIGGER "{spec.shadow}_capture" AFTER INSERT OR UPDATE OR DELETE ON '
            f'"{spec.table}" FOR EACH ROW EXECUTE FUNCTION "{spec.shadow}_capture"()'))
        connection.execute(text(f"DELETE FROM {CONVERSION_TABLE} WHERE table_name = :t"),
                           {"t": spec.table})
        connection.execute(text(
            f"INSERT INTO {CONVERSION_TABLE} (table_name, rows_copied, started_at) "
            "VALUES (:t, 0, :now)"), {"t": spec.table, "now": now})


def _copy(connection: Connection, spec: Spec, batch: int) -> int:
    watermark = connection.scalar(text(
        f"SELECT watermark FROM {CONVERSION_TABLE} WHERE table_name = :t FOR UPDATE"),
        {"t": spec.table})
    after = "" if watermark is None else \
        f'WHERE "{spec.key}" > CAST(:watermark AS {_key_type(connection, spec, spec.table)})'
    count, last = connection.execute(text(f"""
        WITH batch AS (SELECT * FROM "{spec.table}" {after} ORDER BY "{spec.key}"
                       LIMIT :batch FOR SHARE),
             copied AS (INSERT INTO "{spec.shadow}" SELECT * FROM batch ON CONFLICT DO NOTHING)
        SELECT count(*), max("{spec.key}")::text FROM batch"""),
        {"batch": batch, "watermark": watermark}).one()
    if count:
        connection.execute(text(
            f"UPDATE {CONVERSION_TABLE} SET watermark = :last, "
            "rows_copied = rows_copied + :count WHERE table_name = :t"),
            {"last": last, "count": count, "t": spec.table})
    return int(count)


def copy_batch(engine: Engine, spec: Spec, batch: int) -> int:
    """Step 2, once: the next ``batch`` rows after the watermark, in one transaction."""
    with engine.begin() as connection:
        return _copy(connection, spec, batch)


def swap(engine: Engine, spec: Spec, batch: int, now: datetime,
         lock_timeout: str = "5s") -> None:
    """Step 3: in one transaction under the table's lock (``lock_timeout``: a busy table
    raises OperationalError and the caller tries again)."""
    with engine.begin() as connection:
        connection.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
        connection.execute(text(f'LOCK TABLE "{spec.table}" IN ACCESS EXCLUSIVE MODE'))
        while _copy(connection, spec, batch):
            pass
        connection.execute(text(f'DROP TRIGGER "{spec.shadow}_capture" ON "{spec.table}"'))
        connection.execute(text(f'DROP FUNCTION "{spec.shadow}_capture"()'))
        _take_names(connection, spec, spec.table, spec.shadow, SHADOW)
        connection.execute(text(
            f"UPDATE {CONVERSION_TABLE} SET finished_at = :now WHERE table_name = :t"),
            {"now": now, "t": spec.table})


Progress = Callable[[str, State], None]


def convert(engine: Engine, spec: Spec, *, batch: int = 10_000, now: datetime | None = None,
            ahead: int = MONTHS_AHEAD, progress: Progress | None = None,
            max_batches: int | None = None, swap_attempts: int = 20) -> State:
    """The online conversion of one table, resumable: prepare, copy in batches, swap.
    ``max_batches`` stops after that many batches (the tests' interruption)."""
    now = now or datetime.now(timezone.utc)
    with engine.connect() as connection:
        if not is_postgresql(connection):
            raise PartitionError("partitioning needs PostgreSQL")
        current = state(connection, spec)
    if current.layout in ("partitioned", "absent"):
        return current
    prepare(engine, spec, now, ahead)
    done = 0
    while max_batches is None or done < max_batches:
        copied = copy_batch(engine, spec, batch)
        done += 1
        if progress is not None:
            with engine.connect() as connection:
                progress("copy", state(connection, spec))
        if not copied:
            break
    else:
        with engine.connect() as connection:
            return state(connection, spec)
    for attempt in range(swap_attempts):
        try:
            swap(engine, spec, batch, now)
            break
        except OperationalError:  # lock_timeout: busy; the trigger keeps the shadow current
            if attempt == swap_attempts - 1:
                raise
    with engine.connect() as connection:
        result = state(connection, spec)
    if progress is not None:
        progress("swap", result)
    return result
