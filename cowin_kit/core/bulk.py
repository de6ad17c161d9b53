"""Many plain rows into one table, inside the caller's transaction: PostgreSQL's COPY
(psycopg streams the rows in one command), elsewhere SQLAlchemy's executemany in chunks.

The one fast path for bulk inserts (installing a pack's postal codes, rebuilding the
report aggregates); tests/services/test_bulk.py checks that both paths write the same rows
as SQLAlchemy's own INSERT."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import JSON, Table, insert

__all__ = ["CHUNK", "insert_rows"]

CHUNK = 5000  # rows per executemany where there is no COPY


def insert_rows(connection: Any, table: Table, columns: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (tuples of ``columns``' values) into ``table`` on ``connection``
    (a SQLAlchemy Connection, e.g. ``session.connection()``); returns how many."""
    count = 0
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        from psycopg.types.json import Jsonb

        quote = connection.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        cursor = connection.connection.driver_connection.cursor()
        json = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
        with cursor, cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
            for row in rows:
                if json:
                    row = list(row)
                    for i in json:
                        row[i] = None if row[i] is None else Jsonb(row[i])
                copy.write_row(row)
                count += 1
        return count
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
