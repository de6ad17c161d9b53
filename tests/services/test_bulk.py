"""core.bulk.insert_rows (COPY on PostgreSQL, chunked executemany elsewhere) writes the
same rows as SQLAlchemy's own INSERT, with every kind of value the kit bulk-writes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String, Table,
    create_engine, insert, select,
)

from cowin_kit.core import bulk
from cowin_kit.testing import BACKENDS

COLUMNS = ("id", "name", "day", "at", "flag", "count", "doc")


def _table(metadata: MetaData, name: str) -> Table:
    return Table(name, metadata, Column("id", BigInteger().with_variant(Integer(), "sqlite"),
                                        primary_key=True),
                 Column("name", String(40)), Column("day", Date), Column("at", DateTime(True)),
                 Column("flag", Boolean), Column("count", Integer), Column("doc", JSON))


def _rows(n: int) -> list[tuple]:
    start = datetime(2026, 1, 1, 6, 30, tzinfo=timezone.utc)
    return [(3_000_000_000 + i, None if i % 7 == 0 else f"row\t{i} 'quoted' \\ \u0928",
             date(2026, 1, 1) + timedelta(days=i % 400), start + timedelta(minutes=i),
             i % 2 == 0, -i, None if i % 5 == 0 else {"i": i, "list": [1, "two"]})
            for i in range(n)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_insert_rows_writes_what_sqlalchemy_writes(fresh_database_url, backend):
    engine = create_engine(fresh_database_url(backend))
    metadata = MetaData()
    fast, plain = _table(metadata, "bulk_fast"), _table(metadata, "bulk_plain")
    metadata.create_all(engine)
    rows = _rows(bulk.CHUNK + 3)  # over a chunk: the last one is short
    with engine.begin() as connection:
        assert bulk.insert_rows(connection, fast, COLUMNS, iter(rows)) == len(rows)
        connection.execute(insert(plain), [dict(zip(COLUMNS, row)) for row in rows])
        assert bulk.insert_rows(connection, fast, COLUMNS, []) == 0
    with engine.connect() as connection:
        written = connection.execute(select(fast).order_by(fast.c.id)).all()
        expected = connection.execute(select(plain).order_by(plain.c.id)).all()
    assert written == expected and len(written) == len(rows)
    assert written[1].doc == {"i": 1, "list": [1, "two"]} and written[0].doc is None
    engine.dispose()
