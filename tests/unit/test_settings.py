from pathlib import Path

import pytest
from click.testing import CliRunner

from cowin_kit.cli import main
from cowin_kit.config.settings import (
    SettingsError, configuration_markdown, load_settings, write_instance_keys,
)

REPO = Path(__file__).resolve().parents[2]


def test_defaults_put_sqlite_in_the_instance_folder(tmp_path):
    settings = load_settings(environ={"COWIN_KIT_INSTANCE_PATH": str(tmp_path),
                                      "COWIN_KIT_ENV": "dev"})
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'cowin-kit.db'}"
    assert settings["NOTIFIER"] == "log"
    assert settings.sources["NOTIFIER"] == "default"


def test_unknown_environment_key_is_an_error_naming_it(tmp_path):
    with pytest.raises(SettingsError, match="COWIN_KIT_DATABSE_URL: unknown setting"):
        load_settings(environ={"COWIN_KIT_DATABSE_URL": "x", "COWIN_KIT_ENV": "dev",
                               "COWIN_KIT_INSTANCE_PATH": str(tmp_path)})


def test_wrong_type_is_an_error_naming_the_key(tmp_path):
    with pytest.raises(SettingsError, match="DATABASE_POOL_SIZE: expected a whole number"):
        load_settings(environ={"COWIN_KIT_DATABASE_POOL_SIZE": "ten", "COWIN_KIT_ENV": "dev",
                               "COWIN_KIT_INSTANCE_PATH": str(tmp_path)})


def test_choice_is_enforced(tmp_path):
    with pytest.raises(SettingsError, match="ENV: must be one of"):
        load_settings({"ENV": "staging", "INSTANCE_PATH": str(tmp_path)}, environ={})


def test_config_file_is_read_and_checked(tmp_path):
    (tmp_path / "config.toml").write_text('ENV = "dev"\nDATABASE_POOL_SIZE = 3\n')
    settings = load_settings(environ={"COWIN_KIT_INSTANCE_PATH": str(tmp_path)})
    assert settings["DATABASE_POOL_SIZE"] == 3
    assert settings.sources["DATABASE_POOL_SIZE"] == "config file"
    (tmp_path / "config.toml").write_text('ENV = "dev"\nPOOL = 3\n')
    with pytest.raises(SettingsError, match="POOL: unknown setting"):
        load_settings(environ={"COWIN_KIT_INSTANCE_PATH": str(tmp_path)})


def test_precedence_override_then_environment_then_file(tmp_path):
    (tmp_path / "config.toml").write_text('ENV = "dev"\nNOTIFIER = "file:/a"\n')
    env = {"COWIN_KIT_INSTANCE_PATH": str(tmp_path), "COWIN_KIT_NOTIFIER": "file:/b"}
    assert load_settings(environ=env)["NOTIFIER"] == "file:/b"
    assert load_settings({"NOTIFIER": "file:/c"}, environ=env)["NOTIFIER"] == "file:/c"


def test_secret_key_required_in_production(tmp_path):
    with pytest.raises(SettingsError, match="SECRET_KEY: required"):
        load_settings(environ={"COWIN_KIT_INSTANCE_PATH": str(tmp_path)})
    (tmp_path / "secret_key").write_text("from-the-file\n")
    with pytest.raises(SettingsError, match="ENCRYPTION_KEYS: required"):
        load_settings(environ={"COWIN_KIT_INSTANCE_PATH": str(tmp_path)})
    write_instance_keys(tmp_path)
    settings = load_settings(environ={"COWIN_KIT_INSTANCE_PATH": str(tmp_path)})
    assert settings["SECRET_KEY"] == "from-the-file"
    assert len(settings["ENCRYPTION_KEYS"]) == 1 and settings["ID_HASH_KEY"]


def test_config_show_masks_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("COWIN_KIT_ENV", "dev")
    monkeypatch.setenv("COWIN_KIT_SECRET_KEY", "very-secret-value")
    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", "postgresql+psycopg://u:hunter2@db/cowin")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "very-secret-value" not in result.output and "hunter2" not in result.output
    assert "SECRET_KEY" in result.output and "********" in result.output
    assert "(environment)" in result.output


def test_config_show_reports_a_bad_setting_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("COWIN_KIT_ENV", "dev")
    monkeypatch.setenv("COWIN_KIT_NOTIFIR", "log")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "COWIN_KIT_NOTIFIR" in result.output


def test_configuration_doc_is_generated_from_the_declarations():
    assert (REPO / "docs" / "configuration.md").read_text(encoding="utf-8") == configuration_markdown()
    result = CliRunner().invoke(main, ["config", "doc"])
    assert result.output == configuration_markdown()
