"""Alembic environment of cowin-kit. Run through `cowin-kit db ...`, which passes the
connection (or URL) in; nothing here reads alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import cowin_kit.models  # noqa: F401  (registers every model on the metadata)
from cowin_kit.core.db import Base, UTCDateTime
from cowin_kit.core.partitioning import is_partition_name, left_out_of_comparison

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj, autogen_context):
    """Migrations must not import the app: write our column types as plain SQLAlchemy."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _include_name(name, type_: str, parent_names) -> bool:
    """Partitions and claim tables (PostgreSQL, docs/partitioning.md) are not in the models:
    their parent is."""
    return not (type_ == "table" and is_partition_name(name))


def _configure(connection) -> None:
    context.configure(
        include_name=_include_name,
        include_object=left_out_of_comparison(connection),
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
