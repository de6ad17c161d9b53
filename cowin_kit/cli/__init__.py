"""The `cowin-kit` command: thin click wrappers over the same services the web uses."""

from __future__ import annotations

import functools
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from cowin_kit.config.settings import SettingsError, configuration_markdown, load_settings
from cowin_kit.core.errors import DomainError


def fail(message: str) -> None:
    """One line on stderr, exit code 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SettingsError as exc:
            fail(str(exc).replace("\n  ", " | "))
        except DomainError as exc:
            fail(f"{exc.message} [{exc.code}]")
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            fail(f"database error: {reason}")
    return wrapper


@contextmanager
def app_context(overrides: dict[str, Any] | None = None) -> Iterator[Flask]:
    from cowin_kit.app import create_app
    from cowin_kit.audit.services import acting_as, cli_actor

    from cowin_kit.core.db import get_database

    app = create_app(overrides)
    try:
        with app.app_context(), acting_as(cli_actor()):
            yield app
    finally:
        get_database(app).dispose()


class ProgressBar:
    """Adapter from the services' progress(stage, done, total) callbacks to click."""

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}
        self._done: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total < 5000:  # small files finish before a bar is worth drawing
            return
        if stage not in self._bars:
            bar = click.progressbar(length=total, label=f"  {stage}", file=sys.stderr)
            bar.__enter__()
            self._bars[stage] = bar
            self._done[stage] = 0
        self._bars[stage].update(done - self._done[stage])
        self._done[stage] = done
        if done >= total:
            self._bars.pop(stage).__exit__(None, None, None)


class KitGroup(click.Group):
    """The `cowin-kit` group, with the commands of the enabled plugins (read per run)."""

    def _plugin_commands(self, strict: bool) -> dict[str, click.Command]:
        from cowin_kit.cli.plugin_cmd import plugin_commands

        try:
            return plugin_commands(self)
        except SettingsError as exc:
            if strict:
                fail(str(exc).replace("\n  ", " | "))
            return {}  # `--help` still works; a real command reports the settings error

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands(strict=False)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            command = self._plugin_commands(strict=True).get(cmd_name)
        return command


@click.group(cls=KitGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="cowin-kit")
def main() -> None:
    """cowin-kit: run a national vaccination programme (registration, appointments,
    certificates) configured for your country by a country pack.

    Settings come from COWIN_KIT_* environment variables and the instance folder's
    config.toml (see `cowin-kit config doc`). Start with `cowin-kit init`, or
    `cowin-kit demo` to try it.
    """


# --- config -------------------------------------------------------------------------------

@main.group()
def config() -> None:
    """Show the settings in force or document them."""


@config.command("show")
@handle_errors
def config_show() -> None:
    """Print every setting, its value (secrets masked) and where it came from."""
    settings = load_settings()
    width = max(len(key) for key in settings)
    for key, value, source in settings.masked():
        click.echo(f"{key.ljust(width)}  {value}  ({source})")


@config.command("doc")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
def config_doc(output: Path | None) -> None:
    """Generate docs/configuration.md from the settings declarations."""
    text = configuration_markdown()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")


# --- db -----------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema migrations (Alembic, shipped with the kit)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@handle_errors
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    from cowin_kit.core import migrate
    from cowin_kit.core.db import get_database

    with app_context():
        engine = get_database().engine
        migrate.upgrade(engine, revision)
        click.echo(f"database at {', '.join(migrate.current_revisions(engine)) or 'base'}")
        if revision == "head":  # then the enabled plugins' own migrations
            from cowin_kit.plugins import enabled_plugins

            for line in migrate.upgrade_plugins(engine, enabled_plugins()):
                click.echo(line)
            from cowin_kit.cli.partition_cmd import pending_lines

            for line in pending_lines(engine):
                click.echo(line)


@db.command("downgrade")
@click.argument("revision")
@handle_errors
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (`base` removes every table)."""
    from cowin_kit.core import migrate
    from cowin_kit.core.db import get_database

    with app_context():
        engine = get_database().engine
        migrate.downgrade(engine, revision)
        click.echo(f"database at {', '.join(migrate.current_revisions(engine)) or 'base'}")


@db.command("current")
@handle_errors
def db_current() -> None:
    """Print the database's revision and whether it is the newest."""
    from cowin_kit.core import migrate
    from cowin_kit.core.db import get_database

    with app_context():
        current = migrate.current_revisions(get_database().engine)
        heads = migrate.head_revisions()
        state = "(head)" if set(current) == set(heads) else f"(newest is {', '.join(heads)})"
        click.echo(f"{', '.join(current) or 'base'} {state}")


# --- pack ---------------------------------------------------------------------------------

@main.group()
def pack() -> None:
    """Country packs: validate and install."""


@pack.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
def pack_validate(path: Path) -> None:
    """Check every file of the pack at PATH; one line per problem, exit 1 if any.
    Warnings (e.g. a language the kit has no translation for) are printed too but do not
    fail the check."""
    from cowin_kit.config.packs import pack_warnings, validate_pack
    from cowin_kit.plugins import load_plugins

    try:  # ID validators of the enabled plugins (`validator: plugin:<name>`)
        load_plugins(load_settings(require_secrets=False))
    except SettingsError:
        pass  # settings that do not parse: plugin validators stay unknown
    problems = validate_pack(path)
    for warning in pack_warnings(path):
        click.echo(f"{path / warning.file}:{warning.line}: {warning.field}: {warning.message}",
                   err=True)
    for problem in problems:
        click.echo(f"{path / problem.file}:{problem.line}: {problem.field}: {problem.message}")
    if problems:
        click.echo(f"{len(problems)} problem(s) in {path}", err=True)
        sys.exit(1)
    click.echo(f"{path}: valid")


@pack.command("install")
@click.argument("path", type=click.Path(path_type=Path))
@handle_errors
def pack_install(path: Path) -> None:
    """Install or update the pack at PATH (idempotent; refuses to delete what is in use)."""
    with app_context():
        report = install_pack_from(path)
    print_install_report(report)


def install_pack_from(path: Path):
    """Validate, migrate-check and install a pack inside the current app context."""
    from cowin_kit.provision.installer import install_pack
    from cowin_kit.config.packs import PackInvalid, load_pack
    from cowin_kit.config.runtime import forget_active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.core import migrate

    try:
        loaded = load_pack(path)
    except PackInvalid as exc:
        for problem in exc.problems:
            click.echo(f"{path / problem.file}:{problem.line}: {problem.field}: {problem.message}",
                       err=True)
        fail(f"{len(exc.problems)} problem(s) in {path}; nothing was installed")
    database = get_database()
    if not migrate.is_at_head(database.engine):
        fail("the database schema is not at the newest revision; run `cowin-kit db upgrade`")
    with database.session() as session:
        report = install_pack(session, loaded, progress=ProgressBar())
    forget_active_pack()
    return report


def print_install_report(report) -> None:
    state = " (already up to date)" if report.unchanged else ""
    click.echo(f"installed pack {report.pack_code} {report.version} "
               f"[{report.content_hash[:12]}]{state}")
    for kind, counts in report.counts.items():
        click.echo(f"  {kind}: {counts['added']} added, {counts['updated']} updated, "
                   f"{counts['deleted']} deleted")


def _register_subcommands() -> None:
    from cowin_kit.cli import demo_cmd, init_cmd, users_cmd
    from cowin_kit.cli.partition_cmd import db_partition

    db.add_command(db_partition)
    main.add_command(init_cmd.init)
    main.add_command(demo_cmd.demo)
    main.add_command(users_cmd.users)
    main.add_command(users_cmd.partners)
    from cowin_kit.cli.i18n_cmd import i18n
    main.add_command(i18n)
    from cowin_kit.cli.scheduling_cmd import alerts, facilities, sessions
    main.add_command(facilities)
    main.add_command(sessions)
    main.add_command(alerts)
    from cowin_kit.cli.channels_cmd import channels
    main.add_command(channels)
    from cowin_kit.cli.privacy_cmd import privacy
    main.add_command(privacy)
    from cowin_kit.cli.vaccinations_cmd import vaccinations
    main.add_command(vaccinations)
    from cowin_kit.cli.people_cmd import people
    main.add_command(people)
    from cowin_kit.cli.due_cmd import due_list
    main.add_command(due_list)
    from cowin_kit.cli.campaigns_cmd import campaigns
    main.add_command(campaigns)
    from cowin_kit.cli.reports_cmd import reports
    main.add_command(reports)
    from cowin_kit.cli.stock_cmd import stock
    main.add_command(stock)
    from cowin_kit.cli.certificates_cmd import cert, keys, worker
    main.add_command(keys)
    main.add_command(worker)
    main.add_command(cert)
    from cowin_kit.cli.backup_cmd import backup, restore
    main.add_command(backup)
    main.add_command(restore)
    from cowin_kit.cli.plugin_cmd import export, plugin
    main.add_command(plugin)
    main.add_command(export)


_register_subcommands()
