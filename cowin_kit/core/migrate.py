"""Schema migrations (Alembic, shipped inside the package) as plain functions."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url",
                           engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def _run(engine: Engine, action, *args) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, *args)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, command.downgrade, revision)


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


def head_revisions() -> tuple[str, ...]:
    return tuple(_script().get_heads())


def all_revisions() -> list[str]:
    """Revisions from the first to the head."""
    return [rev.revision for rev in reversed(list(_script().walk_revisions()))]


def current_revisions(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def is_at_head(engine: Engine) -> bool:
    return set(current_revisions(engine)) == set(head_revisions())


# --- plugins' migrations: each plugin its own revisions and its own version table ----------

def _plugin_script(migrations_dir: Path) -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))  # the kit's file template
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(migrations_dir))
    return ScriptDirectory.from_config(config)


def upgrade_plugin(engine: Engine, migrations_dir: Path, version_table: str,
                   revision: str = "head") -> None:
    """Apply a plugin's Alembic revisions (files in ``migrations_dir``) up to ``revision``,
    tracked in ``version_table``; run after the kit's own upgrade."""
    from alembic.runtime.environment import EnvironmentContext

    config = Config()
    script = _plugin_script(migrations_dir)

    def steps(current, _context):
        return script._upgrade_revs(revision, current)

    with engine.begin() as connection, EnvironmentContext(
            config, script, fn=steps, destination_rev=revision) as environment:
        environment.configure(connection=connection, version_table=version_table,
                              render_as_batch=connection.dialect.name == "sqlite")
        with environment.begin_transaction():
            environment.run_migrations()


def plugin_current_revisions(engine: Engine, version_table: str) -> tuple[str, ...]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": version_table})
        return tuple(context.get_current_heads())


def upgrade_plugins(engine: Engine, plugins) -> list[str]:
    """Upgrade every enabled plugin that ships migrations (``LoadedPlugin`` list), in order;
    returns one ``name at revision`` line per plugin."""
    lines = []
    for plugin in plugins:
        if plugin.migrations_dir is None:
            continue
        upgrade_plugin(engine, plugin.migrations_dir, plugin.version_table)
        heads = plugin_current_revisions(engine, plugin.version_table)
        lines.append(f"plugin {plugin.name} at {', '.join(heads) or 'base'}")
    return lines
