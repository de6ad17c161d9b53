"""`cowin-kit plugin new|list`, `cowin-kit export NAME`, and the enabled plugins' commands."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import click


def plugin_commands(group: click.Group) -> dict[str, click.Command]:
    """The click commands the enabled plugins register for the `cowin-kit` group
    (raises SettingsError when the settings or a plugin are wrong)."""
    from cowin_kit.config.settings import SettingsError, load_settings
    from cowin_kit.plugins import load_plugins

    registry = load_plugins(load_settings(require_secrets=False))
    for name in registry.commands:
        if name in group.commands:
            owner = registry.owners[("command", name)]
            raise SettingsError(f"invalid settings:\n  PLUGINS: plugin {owner!r} registers the "
                                f"command {name!r}, which cowin-kit already has")
    return dict(registry.commands)


# --- plugin -------------------------------------------------------------------------------

@click.group()
def plugin() -> None:
    """Plugins: list those installed and enabled, scaffold a new one."""


@plugin.command("list")
def plugin_list() -> None:
    """Installed plugins, and which are enabled (in order) by the PLUGINS setting."""
    from cowin_kit.cli import handle_errors
    from cowin_kit.config.settings import SettingsError, load_settings
    from cowin_kit.plugins import installed_plugins

    @handle_errors
    def run() -> None:
        installed = installed_plugins()
        try:
            settings = load_settings(require_secrets=False)  # local: no instance needed
            enabled, problem = list(settings.get("PLUGINS") or []), None
        except SettingsError as exc:  # still show what is installed, then the problem
            enabled, problem = [], exc
        if not installed:
            click.echo("no plugins installed")
        for name, entry_point in sorted(installed.items()):
            dist = entry_point.dist
            where = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "?"
            state = f"enabled #{enabled.index(name) + 1}" if name in enabled else "installed"
            click.echo(f"{name}  {where}  [{state}]")
        if problem is not None:
            raise problem

    run()


_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


@plugin.command("new")
@click.argument("name")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True,
              help="Folder in which the plugin's folder cowin-kit-NAME is created.")
def plugin_new(name: str, output: Path) -> None:
    """Scaffold an installable plugin NAME (lower-case, dashes): package, entry point, a
    hook receiver, a setting and a test. `pip install -e` it, then add NAME to PLUGINS."""
    from cowin_kit.cli import fail

    if not _NAME.match(name):
        fail(f"{name!r}: a plugin name is lower-case letters, digits and dashes, "
             f"like sms-gateway")
    target = output / f"cowin-kit-{name}"
    if target.exists():
        fail(f"{target} already exists")
    for relative, text in scaffold(name).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    click.echo(f"created {target}")
    click.echo(f"  pip install -e {target}  then  COWIN_KIT_PLUGINS={name}")


def scaffold(name: str) -> dict[str, str]:
    """The files of a new plugin distribution: relative path -> text."""
    from cowin_kit import __version__
    from cowin_kit.plugins import setting_prefix

    package = "cowin_kit_" + name.replace("-", "_")
    prefix = setting_prefix(name)
    major = __version__.split(".")[0]
    minor = __version__.split(".")[1]
    return {
        "pyproject.toml": f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "cowin-kit-{name}"
version = "0.1.0"
description = "A cowin-kit plugin: {name}"
requires-python = ">=3.11"
dependencies = ["cowin-kit>={major}.{minor}"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points."cowin_kit.plugins"]
{name} = "{package}:plugin"

[tool.setuptools]
packages = ["{package}"]
''',
        "README.md": f'''# cowin-kit-{name}

A cowin-kit plugin. Install it next to cowin-kit (a checkout, a wheel or your index)
and enable it:

    pip install -e .                      # or: python -m build; pip install dist/*.whl
    export COWIN_KIT_PLUGINS={name}
    export COWIN_KIT_{prefix}GREETING="Thank you"
    cowin-kit plugin list                 # {name}  cowin-kit-{name} 0.1.0  [enabled #1]

Its test records a dose through the kit's API and sees the plugin's receiver run. It uses
the kit's test fixtures (`cowin_kit.testing`) and the kit's example India pack: run it
from a cowin-kit checkout, or point `COWIN_KIT_EXAMPLES_DIR` at a copy of the kit's
`examples/countries`:

    pip install -e ".[test]"
    pytest tests

See cowin-kit's docs/plugins.md for the plugin API.
''',
        "tests/conftest.py": '''"""The kit's fixtures (databases, apps, the example pack) for this plugin's tests."""

pytest_plugins = ["cowin_kit.testing"]
''',
        f"{package}/__init__.py": f'''"""cowin-kit plugin {name}: logs every recorded dose (a starting point)."""

from __future__ import annotations

import logging

from cowin_kit.plugins import Plugin, PluginContext, Setting

log = logging.getLogger(__name__)

#: what the receiver saw, newest last (kept small; for the test and for debugging)
SEEN: list[dict] = []


def register(context: PluginContext) -> None:
    greeting = context.settings["GREETING"]

    def on_dose_recorded(*, dose_id, reference_id, dose_number, vaccine, **_):
        SEEN.append({{"dose_id": dose_id, "dose_number": dose_number, "vaccine": vaccine}})
        del SEEN[:-100]
        log.info("%s: dose %d of %s recorded", greeting, dose_number, vaccine)

    context.connect("dose_recorded", on_dose_recorded)


plugin = Plugin(
    register=register,
    settings=[
        Setting("{prefix}GREETING", "str", "Thank you",
                "Word logged with every recorded dose."),
    ],
)
''',
        "tests/test_plugin.py": f'''"""Runs against the installed plugin and kit: `pip install -e ".[test]"`, `pytest tests`."""

import pytest
from cowin_kit import plugins
from cowin_kit.config.packs import load_pack
from cowin_kit.testing import close_reg_app, example_pack, make_reg_app, record_first_dose

import {package}


@pytest.fixture
def plugin_app(migrated_database_url, tmp_path):
    """The kit with the example India pack installed and this plugin enabled."""
    app = make_reg_app(migrated_database_url, tmp_path, load_pack(example_pack("IN")),
                       PLUGINS=["{name}"], {prefix}GREETING="Merci")
    yield app
    close_reg_app(app)


def test_a_dose_recorded_through_the_api_reaches_the_plugin(plugin_app):
    with plugin_app.app_context():
        assert [p.name for p in plugins.enabled_plugins()] == ["{name}"]
    seen_before = len({package}.SEEN)
    client = plugin_app.test_client()
    _citizen, _reference_id, recorded = record_first_dose(plugin_app, client)
    assert len({package}.SEEN) == seen_before + 1
    assert {package}.SEEN[-1] == {{"dose_id": recorded.get_json()["dose_id"],
                                  "dose_number": 1, "vaccine": "COVISHIELD"}}
''',
    }


# --- export -------------------------------------------------------------------------------

@click.command()
@click.argument("name")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="First day (YYYY-MM-DD).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day, included (default: the first day).")
def export(name: str, start, end) -> None:
    """Run the exporter NAME of an enabled plugin for the days --from to --to."""
    from cowin_kit.cli import app_context, fail, handle_errors
    from cowin_kit.core.db import get_database
    from cowin_kit.plugins import exporters

    @handle_errors
    def run() -> None:
        with app_context():
            found = exporters()
            exporter = found.get(name)
            if exporter is None:
                fail(f"no enabled plugin provides the exporter {name!r} "
                     f"(enabled exporters: {', '.join(sorted(found)) or 'none'})")
            first: date = start.date()
            last: date = end.date() if end is not None else first
            if last < first:
                fail("--to is before --from")
            with get_database().session() as session:
                try:
                    summary = exporter(session, start=first, end=last)
                except (OSError, ValueError, RuntimeError) as exc:
                    fail(f"export {name} failed: {exc}")
            click.echo(summary)

    run()
