"""Every migration walks up and down on every backend, and the models match the schema."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from cowin_kit.core import migrate
from cowin_kit.core.db import Base, make_engine
from cowin_kit.core.partitioning import is_partition_name, left_out_of_comparison

from cowin_kit.testing import BACKENDS
import pytest


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_migration_up_and_down(backend, fresh_database_url):
    engine = make_engine(fresh_database_url(backend))
    try:
        revisions = migrate.all_revisions()
        assert revisions, "no migrations found"
        for revision in revisions:
            migrate.upgrade(engine, revision)
            assert migrate.current_revisions(engine) == (revision,)
        assert migrate.is_at_head(engine)
        for index in range(len(revisions) - 1, -1, -1):
            target = revisions[index - 1] if index else "base"
            migrate.downgrade(engine, target)
            assert migrate.current_revisions(engine) == (() if target == "base" else (target,))
        leftover = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert leftover == set()
        migrate.upgrade(engine)
        assert migrate.is_at_head(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_models_match_the_migrated_schema(backend, fresh_database_url):
    engine = make_engine(fresh_database_url(backend))
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True,
                # the monthly partitions and claim tables are PostgreSQL's; the models
                # name their parent, and the keys the claim tables hold
                "include_name": lambda name, type_, parents:
                    not (type_ == "table" and is_partition_name(name)),
                "include_object": left_out_of_comparison(connection)})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        engine.dispose()
