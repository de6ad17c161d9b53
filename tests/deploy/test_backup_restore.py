"""The restore drill (docs/reliability.md): an instance with people, a dose and its
certificate is backed up with `cowin-kit backup`, restored with `cowin-kit restore` into a
new database and a new instance folder; the restored app serves it (the citizen's token
and encrypted ID numbers readable), every table has the same rows, and the certificates
issued before the backup still verify with the restored keys."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cowin_kit import create_app
from cowin_kit.certificates.models import Certificate
from cowin_kit.cli import main
from cowin_kit.config.settings import write_instance_keys
from cowin_kit.core import migrate
from cowin_kit.core.db import get_database, make_engine
from cowin_kit.provision.backup import table_counts
from cowin_kit.provision.installer import install_pack
from cowin_kit.testing import BACKENDS, auth, need_tool, record_first_dose, run_worker

def instance_env(folder, url, env: str = "production") -> dict[str, str]:
    return {"COWIN_KIT_ENV": env, "COWIN_KIT_INSTANCE_PATH": str(folder),
            "COWIN_KIT_DATABASE_URL": url, "COWIN_KIT_OTP_RESEND_COOLDOWN_SECONDS": "0",
            "COWIN_KIT_NOTIFIER": f"file:{folder / 'messages.jsonl'}"}


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return table_counts(connection)
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def source(request, tmp_path, fresh_database_url, india_pack, monkeypatch):
    """A production instance (keys in its folder) with a vaccinated person and the
    certificate of that dose: (instance folder, database URL, citizen token, reference
    id, the certificate's QR texts)."""
    if request.param == "postgresql":
        need_tool("pg_dump", "postgresql-client")
        need_tool("pg_restore", "postgresql-client")
    url = fresh_database_url(request.param)
    folder = tmp_path / "source"
    write_instance_keys(folder)
    # keys from the instance's files as in production; messages sent at commit (test)
    for key, value in instance_env(folder, url, "test").items():
        monkeypatch.setenv(key, value)
    app = create_app()
    app.outbox = folder / "messages.jsonl"
    migrate.upgrade(get_database(app).engine)
    with app.app_context(), get_database(app).session() as session:
        install_pack(session, india_pack)
    result = CliRunner().invoke(main, ["keys", "generate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    client = app.test_client()
    citizen, ref, _recorded = record_first_dose(app, client)
    assert run_worker(app) == 1
    with app.app_context(), get_database(app).session() as session:
        certificate = session.scalars(select(Certificate)).one()
        texts = [certificate.dcc, certificate.vc]
    get_database(app).dispose()
    for key in instance_env(folder, url):
        monkeypatch.delenv(key)
    return folder, url, citizen, ref, texts, request.param


def run(args, env) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_restore_drill(source, tmp_path, fresh_database_url):
    folder, url, citizen, ref, texts, backend = source
    backup = tmp_path / "backup"
    code, output = run(["backup", str(backup)], instance_env(folder, url))
    assert code == 0, output
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["tables"] == counts(url) and manifest["tables"]["certificate"] == 1
    assert (backup / "secrets.toml").stat().st_mode & 0o077 == 0
    assert (backup / "database.dump" if backend == "postgresql"
            else backup / "database.sqlite").is_file()

    # a new database and an instance folder without any key: all comes from the backup
    target_url, target = fresh_database_url(backend), tmp_path / "restored"
    env = instance_env(target, target_url)
    code, output = run(["restore", str(backup)], env)
    assert code == 0, output
    assert "counts as in the backup" in output
    assert counts(target_url) == counts(url)
    for name in ("secret_key", "encryption_key", "id_hash_key"):
        assert (target / name).read_text() == (folder / name).read_text()

    # the restored app serves it: the citizen's token, the member with the dose, the
    # secret code decrypted with the restored encryption key
    app = create_app({"ENV": "production", "INSTANCE_PATH": str(target),
                      "DATABASE_URL": target_url})
    try:
        listing = app.test_client().get("/api/v1/beneficiaries", headers=auth(citizen))
        assert listing.status_code == 200, listing.get_json()
        (person,) = listing.get_json()["beneficiaries"]
        assert person["reference_id"] == ref and len(person["secret_code"]) == 4
        assert app.test_client().get("/readyz").status_code == 200
    finally:
        get_database(app).dispose()
    # the certificates issued before the backup verify with the restored keys
    for text in texts:
        code, output = run(["cert", "verify", "--json", text], env)
        assert code == 0, output

    # a second restore into the same (now full) database is refused, nothing written
    code, output = run(["restore", str(backup)], env)
    assert code == 1 and "not empty" in output
    assert counts(target_url) == counts(url)

    # a backup never overwrites another; a changed backup is refused before anything
    code, output = run(["backup", str(backup)], instance_env(folder, url))
    assert code == 1 and "not empty" in output
    changed = tmp_path / "changed"
    shutil.copytree(backup, changed)
    dump = next(changed.glob("database.*"))
    dump.write_bytes(dump.read_bytes()[:-10])
    other_url, other = fresh_database_url(backend), tmp_path / "other"
    code, output = run(["restore", str(changed)], instance_env(other, other_url))
    assert code == 1 and "changed since the backup" in output
    assert counts(other_url) == {} and not other.exists()
