"""Many plain rows into one table, inside the caller's transaction: PostgreSQL's COPY
(psycopg streams the rows in one command), elsewhere SQLAlchemy's executemany in chunks.

The one fast path for bulk inserts (installing a pack's postal codes, rebuilding the
report aggregates, the CSV imports' rows and scratch tables: ``copy_rows``);
tests/services/test_bulk.py checks that both paths write the same rows
as SQLAlchemy's own INSERT."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import JSON, Table, insert

__all__ = ["CHUNK", "copy_rows", "insert_rows", "is_copy_capable", "json_columns_of"]

CHUNK = 5000  # rows per executemany where there is no COPY


def insert_rows(connection: Any, table: Table, columns: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (tuples of ``columns``' values) into ``table`` on ``connection``
    (a SQLAlchemy Connection, e.g. ``session.connection()``); returns how many."""
    if is_copy_capable(connection):
        return copy_rows(connection, table.name, columns, rows, json_columns_of(table, columns))
    count = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(dict(zip(columns, row)))
        if len(chunk) == CHUNK:
            connection.execute(insert(table), chunk)
            count, chunk = count + len(chunk), []
    if chunk:
        connection.execute(insert(table), chunk)
        count += len(chunk)
    return count


def is_copy_capable(connection: Any) -> bool:
    """Whether ``connection`` (a SQLAlchemy Connection) can take COPY: PostgreSQL through
    psycopg."""
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"


def json_columns_of(table: Table, columns: Sequence[str]) -> tuple[int, ...]:
    """The positions among ``columns`` of ``table``'s JSON columns (their values are
    wrapped for COPY)."""
    return tuple(i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON))


def copy_rows(connection: Any, table_name: str, columns: Sequence[str],
              rows: Iterable[Sequence[Any]], json_columns: Sequence[int] = ()) -> int:
    """COPY ``rows`` into the table named ``table_name`` (quoted here; a scratch table of
    the caller's too) on ``connection``, PostgreSQL with psycopg (is_copy_capable); the
    values at ``json_columns`` are sent as JSON. Returns how many rows."""
    from psycopg.types.json import Jsonb

    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    cursor = connection.connection.driver_connection.cursor()
    count = 0
    with cursor, cursor.copy(f"COPY {quote(table_name)} ({names}) FROM STDIN") as copy:
        for row in rows:
            if json_columns:
                row = list(row)
                for i in json_columns:
                    row[i] = None if row[i] is None else Jsonb(row[i])
            copy.write_row(row)
            count += 1
    return count
