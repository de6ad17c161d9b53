"""Monthly range partitions of the tables that grow without bound (PostgreSQL only).

Five tables are partitioned by their time column (docs/partitioning.md says why these
and not the others): ``audit_event`` by ``occurred_at``, ``message_outbox``,
``otp_transaction`` and ``appointment`` by ``created_at``, ``dose`` by
``administered_at``. Partitions cover one calendar month in UTC (``<table>_p202612``);
``<table>_default`` takes what no partition covers, so a write never fails when the
maintenance job is late. The unique keys of ``dose`` and ``appointment`` that cannot
include the time are held by plain claim tables (``dose_key``, ``appointment_live``: see
``Claim``) kept in step by a trigger, and the foreign keys to a dose reference
``dose_key``.

This module is plain SQL over a SQLAlchemy connection and imports nothing else of the kit:
the Alembic migrations 0032 and 0034 use it for empty tables (the layout of a fresh
install and of a converted database must be the same), the worker's hourly job for the
months ahead (``ensure_partitions``), the bulk imports for the past months of the rows
they write (``ensure_months``, before their write transaction), ``cowin-kit db partition
--split-default`` to move the rows of a default partition into their months
(``split_default``), and ``cowin-kit db partition`` for the online conversion of a
populated table:

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
   shadow takes its name, its indexes' and constraints' names; the foreign keys that
   referenced the old table are added again on the claim table NOT VALID, and validated
   after the commit.
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
class Claim:
    """The unique keys of a partitioned table that cannot include its time column, held by
    a plain table (``dose_key``) that a trigger on the partitioned table keeps in step in
    the same statement: a row's id and the claimed columns, with the unique constraints
    (or, for a claim of the rows where ``live`` holds only, unique indexes) under the names
    they had on the plain table. A duplicate raises the same unique violation, and two
    concurrent duplicates wait for each other as on a unique index. The foreign keys that
    referenced the table's id reference the claim's ``key``."""
    table: str
    key: str
    columns: tuple[str, ...]
    uniques: tuple[tuple[str, tuple[str, ...]], ...]
    live: tuple[str, str] | None = None     # (column, value): only those rows are claimed

    @property
    def function(self) -> str:
        return f"{self.table}_maintain"


@dataclass(frozen=True)
class Spec:
    """A partitioned table: its time column (the partition key) and its id column; its
    claim table if it has unique keys without the time."""
    table: str
    column: str
    key: str = "id"
    claim: Claim | None = None
    droppable: bool = True        # months may be dropped by retention (never: records of care)

    @property
    def shadow(self) -> str:
        return self.table + SHADOW

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    def partition(self, month: datetime) -> str:
        return f"{self.table}_p{month:%Y%m}"


DOSE_KEY = Claim(
    "dose_key", "dose_id", ("beneficiary_id", "series", "dose_number", "idempotency_key"),
    (("uq_dose_beneficiary_id_series_dose_number", ("beneficiary_id", "series", "dose_number")),
     ("uq_dose_idempotency_key", ("idempotency_key",))))
APPOINTMENT_LIVE = Claim(
    "appointment_live", "appointment_id", ("beneficiary_id", "dose_number"),
    (("uq_appointment_live_dose", ("beneficiary_id", "dose_number")),), live=("status", "booked"))

SPECS = (Spec("audit_event", "occurred_at"), Spec("message_outbox", "created_at"),
         Spec("otp_transaction", "created_at"),
         Spec("dose", "administered_at", claim=DOSE_KEY, droppable=False),
         Spec("appointment", "created_at", claim=APPOINTMENT_LIVE, droppable=False))
BY_TABLE = {spec.table: spec for spec in SPECS}
CLAIM_TABLES = frozenset(spec.claim.table for spec in SPECS if spec.claim)


PARTITION_NAME = re.compile(
    "(" + "|".join(re.escape(spec.table) for spec in SPECS) + r")_(p\d{6}|default)$")


def is_partition_name(name: str | None) -> bool:
    """A partition's or a claim table's name (Alembic's comparisons leave them out: the
    models describe the logical table)."""
    return bool(name) and (PARTITION_NAME.match(name) is not None or name in CLAIM_TABLES)


def dose_reference(connection: Connection) -> tuple[str, str]:
    """(table, column) that a foreign key to a dose references: ``("dose_key", "dose_id")``
    on PostgreSQL when ``dose`` is partitioned, else ``("dose", "id")``."""
    if is_partitioned(connection, "dose"):
        claim = BY_TABLE["dose"].claim
        assert claim is not None
        return claim.table, claim.key
    return "dose", "id"


def left_out_of_comparison(connection: Connection) -> Callable[..., bool]:
    """Alembic's ``include_object``: on a database whose ``dose``/``appointment`` are
    partitioned, their claimed unique keys (on the claim tables) and the foreign keys that
    reference the claim tables instead of the table are what the models' keys became."""
    claimed = {spec.table: spec.claim for spec in SPECS if spec.claim
               and is_partitioned(connection, spec.table)}
    names = {name for claim in claimed.values() for name, _ in claim.uniques}
    referenced = set(claimed) | {claim.table for claim in claimed.values()}

    def include(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table":
            return not is_partition_name(name)
        if type_ in ("unique_constraint", "index") and name in names:
            return False
        if type_ == "foreign_key_constraint" and \
                getattr(obj, "referred_table", None) is not None and \
                obj.referred_table.name in referenced:
            return False
        return True
    return include


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
    claimed = {name for name, _ in spec.claim.uniques} if spec.claim else set()
    for name, definition in _indexes(connection, source):
        if name in claimed:
            continue        # held by the claim table (partitioned) or added by _restore_uniques
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


# --- claims ------------------------------------------------------------------------------

MOVING = "cowin_kit.moving_rows"   # set while the maintenance job moves rows between partitions


def _column_types(connection: Connection, table: str) -> dict[str, tuple[str, bool]]:
    rows = connection.execute(text(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
        "WHERE attrelid = CAST(:table AS regclass) AND attnum > 0 AND NOT attisdropped"),
        {"table": table})
    return {name: (kind, notnull) for name, kind, notnull in rows}


def _create_claim(connection: Connection, spec: Spec, source: str, suffix: str) -> None:
    """The claim table (empty), its unique keys named with ``suffix``."""
    claim = spec.claim
    assert claim is not None
    types = _column_types(connection, source)
    columns = [f'"{claim.key}" {types[spec.key][0]} NOT NULL'] + [
        f'"{name}" {types[name][0]}{" NOT NULL" if types[name][1] else ""}'
        for name in claim.columns]
    connection.execute(text(
        f'CREATE TABLE "{claim.table}" ({", ".join(columns)}, CONSTRAINT '
        f'"pk_{claim.table}{suffix}" PRIMARY KEY ("{claim.key}"))'))
    for name, keys in claim.uniques:
        listed = ", ".join(f'"{k}"' for k in keys)
        if claim.live:   # a partial unique index on the plain table: an index here too
            connection.execute(text(
                f'CREATE UNIQUE INDEX "{name}{suffix}" ON "{claim.table}" ({listed})'))
        else:
            connection.execute(text(
                f'ALTER TABLE "{claim.table}" ADD CONSTRAINT "{name}{suffix}" UNIQUE ({listed})'))


def _claim_function(connection: Connection, spec: Spec, parent: str) -> None:
    """The trigger function of the partitioned table ``parent`` that keeps its claim table
    in step (created again under the final name at the swap: it names ``parent``).

    A row that moves to another partition (its time changed) is deleted from one partition
    and inserted into the other: the delete keeps the claim (the row is still there), the
    insert finds it and updates it; a second row with an id already claimed is refused."""
    claim = spec.claim
    assert claim is not None
    key, ckey = f'"{spec.key}"', f'"{claim.key}"'
    names = ", ".join([ckey] + [f'"{c}"' for c in claim.columns])
    values = ", ".join([f"NEW.{key}"] + [f'NEW."{c}"' for c in claim.columns])
    if claim.live:
        live_new = f"NEW.\"{claim.live[0]}\" = '{claim.live[1]}'"
        live_old = f"OLD.\"{claim.live[0]}\" = '{claim.live[1]}'"
    else:
        live_new = live_old = "TRUE"
    changed = " OR ".join(f'OLD."{c}" IS DISTINCT FROM NEW."{c}"'
                          for c in (spec.key,) + claim.columns)
    connection.execute(text(f"""
        CREATE OR REPLACE FUNCTION "{claim.function}"() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            IF current_setting('{MOVING}', true) = 'on' THEN
                RETURN NULL;
            END IF;
            IF TG_OP = 'INSERT' THEN
                IF {live_new} THEN
                    INSERT INTO "{claim.table}" ({names}) VALUES ({values})
                        ON CONFLICT ({ckey}) DO NOTHING;
                    IF NOT FOUND THEN
                        IF (SELECT count(*) FROM "{parent}" WHERE {key} = NEW.{key}) > 1 THEN
                            RAISE unique_violation USING
                                MESSAGE = 'duplicate key value violates unique constraint '
                                          '"pk_{claim.table}"',
                                CONSTRAINT = 'pk_{claim.table}', TABLE = '{claim.table}';
                        END IF;
                        UPDATE "{claim.table}" SET ({names}) = ROW({values})
                            WHERE {ckey} = NEW.{key};
                    END IF;
                ELSE
                    DELETE FROM "{claim.table}" WHERE {ckey} = NEW.{key};
                END IF;
            ELSIF TG_OP = 'UPDATE' THEN
                IF {live_new} THEN
                    IF NOT ({live_old}) OR {changed} THEN
                        UPDATE "{claim.table}" SET ({names}) = ROW({values})
                            WHERE {ckey} = OLD.{key};
                        IF NOT FOUND THEN
                            INSERT INTO "{claim.table}" ({names}) VALUES ({values});
                        END IF;
                    END IF;
                ELSIF {live_old} THEN
                    DELETE FROM "{claim.table}" WHERE {ckey} = OLD.{key};
                END IF;
            ELSIF {live_old} THEN
                DELETE FROM "{claim.table}" WHERE {ckey} = OLD.{key}
                    AND NOT EXISTS (SELECT 1 FROM "{parent}" WHERE {key} = OLD.{key});
            END IF;
            RETURN NULL;
        END $f$"""))


def _claim(connection: Connection, spec: Spec, parent: str, suffix: str) -> None:
    """Claim table, function and trigger of the partitioned ``parent`` (being built)."""
    claim = spec.claim
    assert claim is not None
    _create_claim(connection, spec, spec.table, suffix)
    _claim_function(connection, spec, parent)
    connection.execute(text(
        f'CREATE TRIGGER "{claim.function}" AFTER INSERT OR UPDATE OR DELETE ON "{parent}" '
        f'FOR EACH ROW EXECUTE FUNCTION "{claim.function}"()'))


def _referencing_keys(connection: Connection, table: str) -> list[tuple[str, str, str]]:
    """(table, name, definition) of the foreign keys of other tables that reference
    ``table``."""
    return list(connection.execute(text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE confrelid = CAST(:table AS regclass) AND contype = 'f' "
        "AND conrelid <> confrelid ORDER BY 1, 2"), {"table": table}).all())  # type: ignore


def _point_keys(connection: Connection, keys: list[tuple[str, str, str]], target: str,
                column: str, valid: bool) -> list[tuple[str, str]]:
    """Add the foreign keys ``keys`` (dropped with the table they referenced) again,
    referencing ``target(column)``; NOT VALID unless ``valid`` (then VALIDATE them
    afterwards, out of the lock: ``validate_keys``)."""
    added = []
    for table, name, definition in keys:
        definition = re.sub(r"REFERENCES \S+\(\S+\)", f'REFERENCES "{target}"("{column}")',
                            definition.replace(" NOT VALID", ""), count=1)
        connection.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                                f'{"" if valid else " NOT VALID"}'))
        added.append((table, name))
    return added


def validate_keys(engine: Engine, keys: list[tuple[str, str]]) -> None:
    """VALIDATE the foreign keys added NOT VALID, each in its own transaction (a share
    update exclusive lock: writes go on)."""
    for table, name in keys:
        with engine.begin() as connection:
            connection.execute(text(f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"'))


def _finish_claim(connection: Connection, spec: Spec, keys: list[tuple[str, str, str]],
                  suffix: str, valid: bool) -> list[tuple[str, str]]:
    """After the partitioned table took the name: the claim's keys take their names, the
    function names the table, the foreign keys reference the claim."""
    claim = spec.claim
    assert claim is not None
    for name in list(connection.scalars(text(
            "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:table AS regclass) "
            "AND contype IN ('p', 'u')"), {"table": claim.table})):
        if name.endswith(suffix):
            connection.execute(text(f'ALTER TABLE "{claim.table}" RENAME CONSTRAINT "{name}" '
                                    f'TO "{name[:-len(suffix)]}"'))
    for name, _ in _indexes(connection, claim.table):
        if name.endswith(suffix):
            connection.execute(text(f'ALTER INDEX "{name}" RENAME TO "{name[:-len(suffix)]}"'))
    _claim_function(connection, spec, spec.table)
    return _point_keys(connection, keys, claim.table, claim.key, valid)


def _restore_uniques(connection: Connection, spec: Spec, table: str, suffix: str) -> None:
    """The claimed unique keys back on a plain ``table`` (the downgrade)."""
    claim = spec.claim
    assert claim is not None
    for name, keys in claim.uniques:
        listed = ", ".join(f'"{k}"' for k in keys)
        if claim.live:
            connection.execute(text(
                f'CREATE UNIQUE INDEX "{name}{suffix}" ON "{table}" ({listed}) '
                f"WHERE \"{claim.live[0]}\" = '{claim.live[1]}'"))
        else:
            connection.execute(text(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}{suffix}" UNIQUE ({listed})'))


# --- partitions --------------------------------------------------------------------------

def create_partition(connection: Connection, spec: Spec, month: datetime,
                     parent: str | None = None) -> bool:
    """The month's partition, if missing. Rows of that month already in the default
    partition (the maintenance job was late) move into it. True when created."""
    return add_partition(connection, spec, month, parent) is not None


def add_partition(connection: Connection, spec: Spec, month: datetime,
                      parent: str | None = None) -> int | None:
    """``create_partition``, saying more: the rows moved out of the default partition, None
    when the partition was there already."""
    parent = parent or spec.table
    name = spec.partition(month)
    if relkind(connection, name) is not None:
        return None
    start, end = month_start(month), add_months(month_start(month), 1)
    bounds = {"start": start, "end": end}
    has_default = relkind(connection, spec.default) is not None
    moved = False
    if has_default:
        moved = bool(connection.scalar(text(
            f'SELECT EXISTS (SELECT 1 FROM "{spec.default}" WHERE "{spec.column}" >= :start '
            f'AND "{spec.column}" < :end)'), bounds))
        if moved:
            if spec.claim:   # the same rows come back: their claims stay as they are
                connection.execute(text(f"SELECT set_config('{MOVING}', 'on', true)"))
            connection.execute(text(
                f'CREATE TEMPORARY TABLE partition_moving ON COMMIT DROP AS '
                f'WITH moved AS (DELETE FROM "{spec.default}" WHERE "{spec.column}" >= :start '
                f'AND "{spec.column}" < :end RETURNING *) SELECT * FROM moved'), bounds)
    connection.execute(text(
        f'CREATE TABLE "{name}" PARTITION OF "{parent}" FOR VALUES FROM '
        f"('{start.isoformat()}') TO ('{end.isoformat()}')"))
    count = 0
    if moved:
        count = connection.execute(text(
            f'INSERT INTO "{parent}" SELECT * FROM partition_moving')).rowcount
        connection.execute(text("DROP TABLE partition_moving"))
        if spec.claim:
            connection.execute(text(f"SELECT set_config('{MOVING}', 'off', true)"))
    return count


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
    """Partitions whose whole month lies before ``cutoff`` (none of a table of records of
    care: doses and appointments are kept)."""
    if not spec.droppable or not is_partitioned(connection, spec.table):
        return []
    return [name for name, month in partitions(connection, spec)
            if add_months(month, 1) <= cutoff]


def drop_partition(connection: Connection, spec: Spec, name: str) -> int:
    """Detach and drop one partition; returns the rows it held."""
    if not spec.droppable:
        raise PartitionError(f"{spec.table}: records kept, months are never dropped")
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
    if referencing and not spec.claim:
        raise PartitionError(f"{spec.table} is referenced by {', '.join(referencing)}: a "
                             "partitioned table cannot be (drop those foreign keys first)")
    _copy_structure(connection, spec, spec.table, spec.shadow,
                    f'"{spec.key}", "{spec.column}"',
                    f'PARTITION BY RANGE ("{spec.column}")', SHADOW)
    current = month_start(now)
    for month in months(min(month_start(first), current), add_months(current, ahead)):
        create_partition(connection, spec, month, parent=spec.shadow)
    connection.execute(text(f'CREATE TABLE "{spec.default}" PARTITION OF "{spec.shadow}" DEFAULT'))
    if spec.claim:
        _claim(connection, spec, spec.shadow, SHADOW)


def convert_at_once(connection: Connection, spec: Spec, now: datetime,
                    ahead: int = MONTHS_AHEAD) -> None:
    """Partition a table in one transaction (holding its lock throughout): for an empty or
    small table, e.g. in the migration of a fresh install."""
    connection.execute(text(f'LOCK TABLE "{spec.table}" IN ACCESS EXCLUSIVE MODE'))
    _build_shadow(connection, spec, _oldest(connection, spec) or now, now, ahead)
    connection.execute(text(f'INSERT INTO "{spec.shadow}" SELECT * FROM "{spec.table}"'))
    keys = _referencing_keys(connection, spec.table) if spec.claim else []
    _take_names(connection, spec, spec.table, spec.shadow, SHADOW)
    if spec.claim:
        _finish_claim(connection, spec, keys, SHADOW, valid=True)


def partition_if_empty(connection: Connection, tables: Iterable[str], now: datetime) -> None:
    """What the migrations that introduce partitions do (0032, 0034), on PostgreSQL: each
    of ``tables`` that is empty is partitioned at once (a fresh install); one with rows is
    left plain, with a line saying how to convert it online."""
    if not is_postgresql(connection):
        return
    for spec in (BY_TABLE[t] for t in tables):
        if connection.scalar(text(f'SELECT EXISTS (SELECT 1 FROM "{spec.table}")')):
            print(f"{spec.table} has rows: partition it online with "
                  f"`cowin-kit db partition --table {spec.table}`")
        else:
            convert_at_once(connection, spec, now)


def unpartition_all(connection: Connection, tables: Iterable[str]) -> None:
    """Their downgrades, on PostgreSQL: an unfinished conversion's copy dropped and each of
    ``tables`` that is partitioned made plain again (offline: one transaction)."""
    if not is_postgresql(connection):
        return
    for spec in (BY_TABLE[t] for t in tables):
        abandon(connection, spec)
        if is_partitioned(connection, spec.table):
            unpartition(connection, spec)


def unpartition(connection: Connection, spec: Spec) -> None:
    """A partitioned table back to a plain one, in one transaction (the downgrade): its
    claim table's unique keys and the foreign keys referencing the claim come back to it."""
    plain = spec.table + "__u"
    connection.execute(text(f'LOCK TABLE "{spec.table}" IN ACCESS EXCLUSIVE MODE'))
    _copy_structure(connection, spec, spec.table, plain, f'"{spec.key}"', "", "__u")
    connection.execute(text(f'INSERT INTO "{plain}" SELECT * FROM "{spec.table}"'))
    keys: list[tuple[str, str, str]] = []
    if spec.claim:
        _restore_uniques(connection, spec, plain, "__u")
        keys = _referencing_keys(connection, spec.claim.table)
        connection.execute(text(f'DROP TABLE "{spec.claim.table}" CASCADE'))
    _take_names(connection, spec, spec.table, plain, "__u")
    if spec.claim:
        connection.execute(text(f'DROP FUNCTION IF EXISTS "{spec.claim.function}"()'))
        _point_keys(connection, keys, spec.table, spec.key, valid=True)


def abandon(connection: Connection, spec: Spec) -> bool:
    """Remove an unfinished conversion's shadow and trigger (the old table is untouched)."""
    if relkind(connection, spec.shadow) is None:
        return False
    connection.execute(text(f'DROP TRIGGER IF EXISTS "{spec.shadow}_capture" ON "{spec.table}"'))
    connection.execute(text(f'DROP FUNCTION IF EXISTS "{spec.shadow}_capture"()'))
    connection.execute(text(f'DROP TABLE "{spec.shadow}" CASCADE'))
    if spec.claim:
        connection.execute(text(f'DROP TABLE IF EXISTS "{spec.claim.table}"'))
        connection.execute(text(f'DROP FUNCTION IF EXISTS "{spec.claim.function}"()'))
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
    raises OperationalError and the caller tries again). The foreign keys referencing the
    table are added again referencing its claim table, NOT VALID (no scan under the lock),
    and validated after the swap, writes going on."""
    with engine.begin() as connection:
        connection.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
        connection.execute(text(f'LOCK TABLE "{spec.table}" IN ACCESS EXCLUSIVE MODE'))
        while _copy(connection, spec, batch):
            pass
        connection.execute(text(f'DROP TRIGGER "{spec.shadow}_capture" ON "{spec.table}"'))
        connection.execute(text(f'DROP FUNCTION "{spec.shadow}_capture"()'))
        keys = _referencing_keys(connection, spec.table) if spec.claim else []
        _take_names(connection, spec, spec.table, spec.shadow, SHADOW)
        added = _finish_claim(connection, spec, keys, SHADOW, valid=False) \
            if spec.claim else []
        connection.execute(text(
            f"UPDATE {CONVERSION_TABLE} SET finished_at = :now WHERE table_name = :t"),
            {"now": now, "t": spec.table})
    validate_keys(engine, added)


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
    if current.layout == "partitioned" and spec.claim:   # a swap whose validation was cut
        with engine.connect() as connection:
            pending = list(connection.execute(text(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE confrelid "
                "= CAST(:claim AS regclass) AND contype = 'f' AND NOT convalidated"),
                {"claim": spec.claim.table}).all())
        validate_keys(engine, pending)   # type: ignore[arg-type]
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
