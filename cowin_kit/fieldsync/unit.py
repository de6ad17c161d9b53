"""One unit of work whose services commit inside it: a connection's transaction, and a
Session joined to it with ``join_transaction_mode="create_savepoint"``, so that a
service's ``commit()`` releases a savepoint and its ``rollback()`` returns to one, and
only :meth:`Unit.commit` makes the whole unit (the service's rows and the field's own
bookkeeping) durable at once: a process that dies in between leaves neither."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session


class Unit:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transaction = connection.begin()
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The services' session (opened on first use: after the unit's first statement,
        so that on SQLite the transaction has begun before the first savepoint)."""
        if self._session is None:
            self._session = Session(bind=self.connection, expire_on_commit=False,
                                    join_transaction_mode="create_savepoint")
        return self._session

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()
            self._session.close()
            self._session = None
        self.transaction.commit()

    def rollback(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        if self.transaction.is_active:
            self.transaction.rollback()


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Unit]:
    """A Unit on a connection of ``engine``; rolled back unless committed."""
    with engine.connect() as connection:
        unit = Unit(connection)
        try:
            yield unit
        finally:
            unit.rollback()
