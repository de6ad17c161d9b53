"""`cowin-kit init`: the setup wizard.

It asks everything first (each question is also a flag; `--yes` takes the defaults), then
does the work: the starter pack (if one is generated), the database schema, the pack,
the first national administrator and, last, the instance config and secret key. If
anything fails or Ctrl-C is pressed, the files it created are removed again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import click
import pycountry
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cowin_kit.cli import app_context, fail, handle_errors, install_pack_from, print_install_report
from cowin_kit.config.examples import example_packs
from cowin_kit.config.settings import (
    CONFIG_FILE_NAME, render_config_file, write_instance_keys,
)


def _ask(value: Any, prompt: str, assume_yes: bool, default: Any,
         check: Callable[[str], Any], hide: bool = False) -> Any:
    """A flag's value (checked), else the default under --yes, else an interactive prompt
    that re-asks with the reason until the answer passes ``check``."""
    if value is not None:
        try:
            return check(value)
        except click.BadParameter as exc:
            fail(f"{prompt}: {exc.message}")
    if assume_yes:
        return check(default) if default is not None else None
    return click.prompt(prompt, default=default, value_proc=check, hide_input=hide,
                        show_default=not hide)


def _check_pack_choice(answer: str) -> tuple[str, Any]:
    answer = str(answer).strip()
    examples = example_packs()
    if Path(answer).is_dir() and (Path(answer) / "pack.yaml").is_file():
        return "path", Path(answer)
    code = answer.upper()
    if code in examples:
        return "example", code
    if len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None:
        return "starter", code
    raise click.BadParameter(
        f"{answer!r} is neither a pack folder nor an ISO 3166-1 country code "
        f"(examples: {', '.join(examples) or 'none found'})"
    )


def _check_database_url(answer: str) -> str:
    try:
        url = make_url(str(answer).strip())
    except ArgumentError as exc:
        raise click.BadParameter(f"not a database URL: {exc}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise click.BadParameter("cowin-kit supports SQLite and PostgreSQL")
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    from cowin_kit.core.db import make_engine

    engine = make_engine(str(answer).strip(), pool_size=1)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        raise click.BadParameter(f"cannot connect: {reason}") from None
    finally:
        engine.dispose()
    return str(answer).strip()


def _check_username(answer: str) -> str:
    from cowin_kit.identity.rules import username_problem

    problem = username_problem(str(answer).strip())
    if problem:
        raise click.BadParameter(str(problem))
    return str(answer).strip()


def _check_password(answer: str) -> str:
    from cowin_kit.identity.rules import password_problem

    if answer == "":
        return ""
    problem = password_problem(answer)
    if problem:
        raise click.BadParameter(str(problem))
    return answer


@click.command()
@click.option("--pack", "pack_choice", metavar="PATH|CODE",
              help="A pack folder, an example pack's country code, or any ISO 3166-1 code "
                   "(a starter pack is then generated).")
@click.option("--country", metavar="CODE", help="Same as --pack CODE.")
@click.option("--starter", is_flag=True,
              help="Generate a starter pack even when an example pack exists.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for a generated starter pack (default: ./packs/<code>).")
@click.option("--instance", type=click.Path(file_okay=False, path_type=Path),
              help="Instance folder (default: $COWIN_KIT_INSTANCE_PATH or ./instance).")
@click.option("--database-url", help="Database URL (default: SQLite in the instance folder).")
@click.option("--admin-username", help="First national administrator (default: admin).")
@click.option("--admin-password", help="Their password (default: generated and printed once).")
@click.option("--yes", "-y", "assume_yes", is_flag=True,
              help="Do not ask: unanswered questions take their defaults.")
@handle_errors
def init(pack_choice: str | None, country: str | None, starter: bool, output: Path | None,
         instance: Path | None, database_url: str | None, admin_username: str | None,
         admin_password: str | None, assume_yes: bool) -> None:
    """Set up an instance: country pack, database, first administrator, config."""
    from cowin_kit.cli.i18n_cmd import ui_languages
    from cowin_kit.config.starter import starter_facts, write_starter_pack

    instance = (instance or Path(os.environ.get("COWIN_KIT_INSTANCE_PATH", "instance"))).resolve()
    kind, choice = _ask(pack_choice or country, "Country pack (folder, or ISO country code)",
                        assume_yes, "IN", _check_pack_choice)
    if kind == "example" and starter:
        kind = "starter"
    if kind == "starter":
        facts = starter_facts(choice)
        output = (output or Path("packs") / choice.lower()).resolve()
        click.echo(f"Starter pack for {facts.name} ({facts.code}): locales "
                   f"{', '.join(facts.locales)}; timezone {facts.timezone}; "
                   f"{facts.subdivision_count} level-1 places; ID validators: "
                   f"{', '.join(facts.id_validators) or 'none known, passport only'}")
        click.echo(f"  UI languages: {ui_languages(facts.locales)}")
        click.echo(f"  it will be written to {output}; review it before going live.")
        from cowin_kit.config.site import untranslated_locales, untranslated_message

        for locale in untranslated_locales(list(facts.locales)):
            click.echo(f"  note: {untranslated_message(locale)}")
        if output.exists() and any(output.iterdir()):
            fail(f"{output} exists and is not empty; choose another --output")
    default_url = f"sqlite:///{instance / 'cowin-kit.db'}"
    database_url = _ask(database_url, "Database URL", assume_yes, default_url,
                        _check_database_url)
    username = _ask(admin_username, "First national administrator's user name", assume_yes,
                    "admin", _check_username)
    if admin_password is None and not assume_yes:
        admin_password = click.prompt("Their password (empty: generate one)", default="",
                                      hide_input=True, confirmation_prompt=True,
                                      value_proc=_check_password, show_default=False)
    password = _check_password(admin_password or "")

    created: list[Path] = []
    try:
        if kind == "starter":
            pack_path = write_starter_pack(choice, output)
            created.append(pack_path)
            click.echo(f"wrote starter pack {pack_path}")
        elif kind == "example":
            pack_path = example_packs()[choice]
        else:
            pack_path = choice
        created += write_instance_keys(instance)
        _setup_database(instance, database_url, pack_path, username, password)
        _write_config(instance, {"DATABASE_URL": database_url,
                                 "PACK": _pack_code(pack_path)})
    except BaseException:
        for path in reversed(created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    click.echo(f"instance ready in {instance}: start it with "
               f"`COWIN_KIT_INSTANCE_PATH={instance} gunicorn cowin_kit.wsgi:app`")


def _pack_code(pack_path: Path) -> str:
    from cowin_kit.config.packs import load_pack

    return load_pack(pack_path).code


def _setup_database(instance: Path, database_url: str, pack_path: Path, username: str,
                    password: str) -> None:
    from cowin_kit.core import migrate
    from cowin_kit.core.db import get_database
    from cowin_kit.identity import services as identity

    overrides = {"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url}
    with app_context(overrides):
        database = get_database()
        migrate.upgrade(database.engine)
        click.echo("database schema up to date")
        print_install_report(install_pack_from(pack_path))
        with database.session() as session:
            if identity.find_staff_user(session, username) is not None:
                click.echo(f"administrator {username} already exists; left unchanged")
                return
            generated = not password
            password = password or identity.generate_password()
            identity.add_staff_user(session, username, password,
                                    display_name="National administrator", role="national_admin")
        click.echo(f"created national administrator {username}")
        if generated:
            click.echo(f"  password (shown once): {password}")


def _write_config(instance: Path, values: dict[str, str]) -> None:
    """Write config.toml atomically, keeping other settings an existing file has."""
    import tomllib

    path = instance / CONFIG_FILE_NAME
    merged: dict[str, Any] = {}
    if path.is_file():
        merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
    merged.update(values)
    handle, temp_name = tempfile.mkstemp(dir=instance, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(render_config_file(merged))
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    click.echo(f"wrote {path}")
