"""Monthly partitions for given months, made outside the writes that need them
(PostgreSQL only): a history import's past months before it writes (``ensure_months``),
and the months of the rows that landed in a default partition (``split_default``, the
``cowin-kit db partition --split-default`` command). Each month is made in a short
transaction of its own with a lock timeout; the layout itself is
``cowin_kit.core.partitioning``'s (docs/partitioning.md)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Iterator

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from cowin_kit.core import partitioning


@dataclass
class Months:
    """What ``ensure_months`` did: the partitions created, the rows they took out of the
    default partition, and the months left to the default partition because the table
    stayed busy (its lock not had within the timeout, every attempt)."""
    created: list[str]
    moved: int = 0
    busy: list[str] = field(default_factory=list)


LOCK_NOT_AVAILABLE = "55P03"   # PostgreSQL's error when lock_timeout ran out
MonthProgress = Callable[[str, int, int, int], None]   # (partition, rows moved, done, total)


def missing_months(connection: Connection, spec: partitioning.Spec | str,
                   moments: Iterable[datetime]) -> list[datetime]:
    """The months of ``moments`` (first moments, oldest first) that a partitioned table has
    no partition for; none on SQLite or for a plain table. Reads the catalog only (no lock
    on the table)."""
    spec = partitioning.BY_TABLE[spec] if isinstance(spec, str) else spec
    wanted = sorted({partitioning.month_start(moment) for moment in moments})
    if not wanted or not partitioning.is_partitioned(connection, spec.table):
        return []
    have = {month for _, month in partitioning.partitions(connection, spec)}
    return [month for month in wanted if month not in have]


def ensure_months(bind: Engine | Connection, spec: partitioning.Spec | str,
                  moments: Iterable[datetime],
                  *, lock_timeout: str = "5s", attempts: int = 3,
                  progress: MonthProgress | None = None) -> Months:
    """The monthly partitions of ``spec``'s table for the months of ``moments`` (any
    moments: each counts for its month, in UTC), created where missing, **each month in
    its own short transaction**: the table's ACCESS EXCLUSIVE lock (which a partition's
    creation takes on the parent) is asked for first, with ``lock_timeout``, and held only
    while that month is made, with the rows of the month already in the default partition
    moved into it (``create_partition``). A busy table (the lock not had in time) is tried
    ``attempts`` times per month; then the month is left out (``Months.busy``): its rows
    go to the default partition, from which ``split_default`` or a later call moves them.

    ``bind``: an Engine, or a Connection not in a transaction (each month commits on it).
    Nothing on SQLite or on a plain (unpartitioned) table. The caller must hold no lock on
    the table in another transaction (e.g. an open session that has read it): the DDL would
    wait for it until the timeout."""
    spec = partitioning.BY_TABLE[spec] if isinstance(spec, str) else spec
    with _transaction(bind) as connection:
        if not partitioning.is_postgresql(connection):
            return Months([])
        todo = missing_months(connection, spec, moments)
    done = Months([])
    for index, month in enumerate(todo, 1):
        moved: int | None = None
        for attempt in range(1, max(attempts, 1) + 1):
            try:
                with _transaction(bind) as connection:
                    connection.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
                    # the lock first, so that two callers (or the hourly job) take turns and
                    # the second finds the partition made (ONLY: the parent's lock is what
                    # every read and write of the table takes first)
                    connection.execute(text(
                        f'LOCK TABLE ONLY "{spec.table}" IN ACCESS EXCLUSIVE MODE'))
                    moved = partitioning.add_partition(connection, spec, month)
                break
            except OperationalError as exc:
                code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
                if code != LOCK_NOT_AVAILABLE:
                    raise
                if attempt >= attempts:   # lock_timeout every time: the table is busy
                    done.busy.append(spec.partition(month))
        if moved is not None:
            done.created.append(spec.partition(month))
            done.moved += moved
            if progress is not None:
                progress(spec.partition(month), moved, index, len(todo))
    return done


def default_months(connection: Connection, spec: partitioning.Spec | str) -> list[datetime]:
    """The months of the rows in a partitioned table's default partition (one scan of it),
    oldest first; none on SQLite or for a plain table."""
    spec = partitioning.BY_TABLE[spec] if isinstance(spec, str) else spec
    if not partitioning.is_partitioned(connection, spec.table) or \
            partitioning.relkind(connection, spec.default) is None:
        return []
    found = connection.scalars(text(
        f'SELECT DISTINCT date_trunc(\'month\', "{spec.column}" AT TIME ZONE \'UTC\') '
        f'FROM "{spec.default}" WHERE "{spec.column}" IS NOT NULL'))
    return sorted(partitioning.month_start(moment) for moment in found)


def split_default(engine: Engine, spec: partitioning.Spec | str, *,
                  lock_timeout: str = "5s",
                  attempts: int = 20, progress: MonthProgress | None = None) -> Months:
    """Move the rows of a partitioned table's default partition into monthly partitions:
    the months present there are read (one scan, outside any lock), then each month's
    partition is created in its own transaction (``ensure_months``), taking that month's
    rows out of the default partition. Run again, it finds nothing left to do; interrupted,
    the months done stay done.

    Each month's transaction holds the table's lock while it moves the month's rows and
    while PostgreSQL checks that the default partition holds no row of the new partition
    (a scan of the default partition): seconds for a month of a large default partition."""
    spec = partitioning.BY_TABLE[spec] if isinstance(spec, str) else spec
    with engine.connect() as connection:
        found = default_months(connection, spec)
    return ensure_months(engine, spec, found, lock_timeout=lock_timeout, attempts=attempts,
                         progress=progress)


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            yield connection
        return
    if bind.in_transaction():
        raise partitioning.PartitionError(
            "ensure_months commits each month: give it a connection that is not in a "
            "transaction, or an engine")
    with bind.begin():
        yield bind
