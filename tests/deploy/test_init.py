"""The setup wizard, driven through its CLI."""

import random

import phonenumbers
import pycountry
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cowin_kit import create_app
from cowin_kit.cli import main
from cowin_kit.config.examples import example_packs
from cowin_kit.config.models import InstalledPack
from cowin_kit.config.packs import validate_pack
from cowin_kit.core.db import get_database
from cowin_kit.geography.models import Location
from cowin_kit.identity.models import RoleGrant, StaffUser
from cowin_kit.testing.seeds import run_seed

# Countries whose phone region phonenumbers knows (a handful of uninhabited territories
# have none) and that have no example pack.
CANDIDATES = sorted(
    c.alpha_2 for c in pycountry.countries
    if c.alpha_2 in phonenumbers.SUPPORTED_REGIONS and c.alpha_2 not in example_packs()
)
SEED = run_seed("INIT_SAMPLE_SEED")
SAMPLE = random.Random(SEED).sample(CANDIDATES, 5)
print(f"init starter-pack sample (INIT_SAMPLE_SEED={SEED}): {SAMPLE}")


def _invoke(args, input=None, env=None):
    return CliRunner().invoke(main, args, input=input, env=env, catch_exceptions=False)


def _instance_app(instance):
    return create_app({"INSTANCE_PATH": str(instance)})


@pytest.mark.parametrize("country", ["KE"] + SAMPLE)
def test_init_generates_a_starter_pack_that_validates_and_installs(country, tmp_path):
    instance, output = tmp_path / "instance", tmp_path / "pack"
    result = _invoke(["init", "--country", country, "--yes", "--output", str(output),
                      "--instance", str(instance)])
    assert result.exit_code == 0, result.output
    assert validate_pack(output) == []
    assert "password (shown once):" in result.output
    if country == "KE":  # Swahili: no catalog of the kit, so the wizard says so
        assert "note: the kit has no catalog for 'sw'" in result.output
        warned = CliRunner().invoke(main, ["pack", "validate", str(output)])
        assert warned.exit_code == 0 and "locales[0]: warning: the kit has no catalog for " \
            "'sw'" in warned.output
    assert (instance / "config.toml").is_file() and (instance / "secret_key").is_file()
    app = _instance_app(instance)  # production settings: secret key from the instance
    assert app.test_client().get("/readyz").status_code == 200
    with app.app_context(), get_database(app).session() as session:
        assert session.scalars(select(InstalledPack.code)).one() == country
        assert session.scalar(select(func.count()).select_from(Location)) >= 1
        admin = session.scalars(select(StaffUser).where(StaffUser.username == "admin")).one()
        grant = session.scalars(select(RoleGrant).where(RoleGrant.user_id == admin.id)).one()
        assert grant.role == "national_admin" and grant.location_id is None
    get_database(app).dispose()


def test_a_starter_pack_says_which_languages_the_pages_speak(tmp_path):
    result = _invoke(["init", "--country", "PE", "--starter", "--yes", "--output",
                      str(tmp_path / "pack"), "--instance", str(tmp_path / "instance")])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "UI languages:" in line)
    assert "es (needs review)" in line
    assert "qu: no catalog, pages in English (`cowin-kit i18n init qu`)" in line


def test_init_with_an_example_pack_and_postgresql(tmp_path, fresh_database_url):
    from cowin_kit.testing import BACKENDS

    for backend in BACKENDS:
        instance = tmp_path / backend
        url = fresh_database_url(backend)
        result = _invoke(["init", "--pack", "IN", "--yes", "--instance", str(instance),
                          "--database-url", url, "--admin-username", "root.admin",
                          "--admin-password", "correct horse battery"])
        assert result.exit_code == 0, result.output
        assert "shown once" not in result.output
        app = _instance_app(instance)
        assert app.test_client().get("/readyz").status_code == 200
        # Running it again changes nothing and keeps the administrator.
        again = _invoke(["init", "--pack", "IN", "--yes", "--instance", str(instance),
                         "--database-url", url, "--admin-username", "root.admin"])
        assert again.exit_code == 0, again.output
        assert "already exists" in again.output and "already up to date" in again.output
        get_database(app).dispose()


def test_interactive_answers_are_re_asked_with_the_reason(tmp_path):
    instance, output = tmp_path / "instance", tmp_path / "pack"
    answers = "\n".join([
        "ZZ",                                   # not a country
        "ke",                                   # Kenya, no example pack: starter
        "mysql://nowhere/db",                   # unsupported database
        "",                                     # default SQLite
        "x",                                    # user name too short
        "kenya.admin",
        "short", "", "",                        # too short; then empty = generate (twice: confirm)
    ]) + "\n"
    result = _invoke(["init", "--output", str(output), "--instance", str(instance)],
                     input=answers)
    assert result.exit_code == 0, result.output
    assert "neither a pack folder nor an ISO 3166-1 country code" in result.output
    assert "supports SQLite and PostgreSQL" in result.output
    assert "User names are" in result.output
    assert "at least 10 characters" in result.output
    assert "created national administrator kenya.admin" in result.output
    assert validate_pack(output) == []


def test_a_failure_leaves_no_pack_folder_and_no_config(tmp_path, monkeypatch):
    instance, output = tmp_path / "instance", tmp_path / "pack"
    from cowin_kit.cli import init_cmd

    def broken_setup(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(init_cmd, "_setup_database", broken_setup)
    result = CliRunner().invoke(main, ["init", "--country", "KE", "--yes", "--output",
                                       str(output), "--instance", str(instance)])
    assert result.exit_code != 0
    assert not output.exists()
    assert not (instance / "config.toml").exists()
    assert not (instance / "secret_key").exists()
    assert not (instance / "encryption_key").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_a_bad_flag_fails_in_one_line_and_writes_nothing(tmp_path):
    instance = tmp_path / "instance"
    result = CliRunner().invoke(main, ["init", "--country", "KE", "--yes", "--output",
                                       str(tmp_path / "pack"), "--instance", str(instance),
                                       "--database-url", "postgresql+psycopg://x@127.0.0.1:1/none"])
    assert result.exit_code == 1
    assert "cannot connect" in result.output
    assert not (tmp_path / "pack").exists() and not (instance / "config.toml").exists()
