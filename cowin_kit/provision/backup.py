"""Backups of an instance and their restore (``cowin-kit backup`` / ``cowin-kit restore``,
docs/reliability.md).

A backup is a folder (owner-only) holding everything an instance needs besides the code:

    database.dump     PostgreSQL: pg_dump's custom format (pg_restore reads it)
    database.sqlite   SQLite: a copy made with SQLite's online backup
    secrets.toml      SECRET_KEY, ENCRYPTION_KEYS, ID_HASH_KEY as the instance uses them
                      (ID numbers and secret codes cannot be read without them)
    keys/             the certificate signing keys, every generation (CERT_KEYS_DIR)
    manifest.json     when, which schema revision, the rows of every table, each file's
                      SHA-256

On PostgreSQL the rows are counted in the very snapshot pg_dump copies (an exported
snapshot), so the counts hold for the dump even while the instance takes writes. A restore
goes into an empty database only, checks every file against the manifest first, and
compares the restored rows with the manifest's counts."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import Engine, func, inspect, select, table, text
from sqlalchemy.engine import Connection, make_url

from cowin_kit.config.settings import INSTANCE_KEY_FILES, render_config_file
from cowin_kit.core.errors import Conflict, InvalidInput
from cowin_kit.core.i18n import gettext as _, ngettext

FORMAT = 1
MANIFEST = "manifest.json"
SECRETS = "secrets.toml"
SECRET_SETTINGS = tuple(INSTANCE_KEY_FILES)  # SECRET_KEY, ENCRYPTION_KEYS, ID_HASH_KEY


@dataclass
class BackupReport:
    folder: Path
    backend: str
    revision: list[str]
    tables: dict[str, int]
    key_generations: int

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass
class RestoreReport:
    backend: str
    revision: list[str]
    tables: dict[str, int]
    secrets_written: list[Path]
    key_generations: int

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


# --- PostgreSQL's own tools -------------------------------------------------------------------

def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL as libpq's connection string for pg_dump/pg_restore
    (several hosts too) and the environment carrying its password (never a command-line
    argument, which other users of the machine could read)."""
    from psycopg.conninfo import make_conninfo

    parsed = make_url(url)
    params: dict[str, Any] = {"dbname": parsed.database, "user": parsed.username}
    hosts = parsed.query.get("host")
    if hosts:  # ?host=a:5432&host=b:5433 (SQLAlchemy's several hosts)
        pairs = [h.rsplit(":", 1) if ":" in h else (h, "") for h in
                 ((hosts,) if isinstance(hosts, str) else hosts)]
        params["host"] = ",".join(host for host, _port in pairs)
        if any(port for _host, port in pairs):
            params["port"] = ",".join(port or "5432" for _host, port in pairs)
    else:
        params["host"] = parsed.host
        params["port"] = parsed.port
    for key, value in parsed.query.items():
        if key != "host":
            params[key] = value if isinstance(value, str) else ",".join(value)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    return make_conninfo(**{k: v for k, v in params.items() if v not in (None, "")}), env


def _run(command: list[str], env: Mapping[str, str]) -> None:
    if shutil.which(command[0]) is None:
        raise InvalidInput(_("%(tool)s is not installed (Debian: postgresql-client).",
                             tool=command[0]), code="tool_missing")
    done = subprocess.run(command, env=dict(env), capture_output=True, text=True)
    if done.returncode != 0:
        raise InvalidInput(f"{command[0]} failed: {done.stderr.strip()[-800:]}",
                           code="backup_failed")


# --- counting ---------------------------------------------------------------------------------

def table_counts(connection: Connection) -> dict[str, int]:
    """Rows of every table in the database: the kit's, the plugins', Alembic's."""
    return {name: connection.scalar(select(func.count()).select_from(table(name)))
            for name in sorted(inspect(connection).get_table_names())}


def _revision(connection: Connection) -> list[str]:
    if "alembic_version" not in inspect(connection).get_table_names():
        return []
    return sorted(connection.scalars(text("SELECT version_num FROM alembic_version")))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- backup -----------------------------------------------------------------------------------

def create_backup(engine: Engine, settings: Mapping[str, Any], keys_dir: Path,
                  folder: Path) -> BackupReport:
    """Write a backup of the instance (database, secrets, signing keys) into ``folder``,
    which must not exist yet or be empty."""
    if folder.exists() and any(folder.iterdir()):
        raise Conflict(_("%(folder)s is not empty: a backup goes into a new folder.",
                         folder=folder), code="backup_folder_not_empty")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    backend = engine.dialect.name
    if backend == "postgresql":
        with engine.connect() as connection:
            # one snapshot for the counts and for pg_dump: they describe the same data
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, "
                                    "READ ONLY"))
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
            tables, revision = table_counts(connection), _revision(connection)
            target, env = libpq_target(engine.url.render_as_string(hide_password=False))
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                  f"--snapshot={snapshot}", f"--file={folder / 'database.dump'}",
                  f"--dbname={target}"], env)
            connection.rollback()
    elif backend == "sqlite":
        source_path = engine.url.database
        if not source_path or source_path == ":memory:":
            raise InvalidInput(_("An in-memory SQLite database cannot be backed up."),
                               code="backup_failed")
        source, copy = sqlite3.connect(source_path), sqlite3.connect(folder / "database.sqlite")
        try:
            source.backup(copy)  # consistent even while the instance writes
        finally:
            source.close()
            copy.close()
        copy_engine_url = f"sqlite:///{folder / 'database.sqlite'}"
        from sqlalchemy import create_engine

        copied = create_engine(copy_engine_url)
        with copied.connect() as connection:
            tables, revision = table_counts(connection), _revision(connection)
        copied.dispose()
    else:  # pragma: no cover - the kit runs on these two
        raise InvalidInput(_("No backup for %(backend)s.", backend=backend),
                           code="backup_failed")

    secrets = folder / SECRETS
    fd = os.open(secrets, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(render_config_file({key: settings[key] for key in SECRET_SETTINGS}))
    generations = 0
    if keys_dir.is_dir():
        shutil.copytree(keys_dir, folder / "keys")
        generations = sum(1 for p in (folder / "keys").iterdir() if p.is_dir())
    files = {str(path.relative_to(folder)): _sha256(path)
             for path in sorted(folder.rglob("*")) if path.is_file()}
    manifest = {"format": FORMAT, "created_at": datetime.now(timezone.utc).isoformat(),
                "backend": backend, "revision": revision, "tables": tables,
                "key_generations": generations, "files": files}
    fd = os.open(folder / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        json.dump(manifest, stream, indent=2)
        stream.write("\n")
    return BackupReport(folder, backend, revision, tables, generations)


# --- restore ----------------------------------------------------------------------------------

def read_manifest(folder: Path) -> dict[str, Any]:
    """The backup's manifest, after checking every file it lists."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(_("%(path)s: not a cowin-kit backup (%(error)s).", path=path,
                             error=exc), code="backup_invalid")
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"{path}: backup format {manifest.get('format')} is not "
                           f"{FORMAT}", code="backup_invalid")
    for name, digest in manifest["files"].items():
        file = folder / name
        if not file.is_file() or _sha256(file) != digest:
            raise InvalidInput(_("%(file)s: missing or changed since the backup was made.",
                                 file=file), code="backup_invalid")
    return manifest


def backup_secrets(folder: Path) -> dict[str, Any]:
    """SECRET_KEY, ENCRYPTION_KEYS and ID_HASH_KEY of the backup, as settings values."""
    from cowin_kit.config.settings import BY_KEY

    raw = tomllib.loads((folder / SECRETS).read_text(encoding="utf-8"))
    return {key: BY_KEY[key].parse(raw[key]) for key in SECRET_SETTINGS}


def _secret_text(key: str, value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def restore_backup(folder: Path, engine: Engine, instance_path: Path, keys_dir: Path, *,
                   write_secrets: bool = True) -> RestoreReport:
    """Restore the backup in ``folder`` into the empty database of ``engine``; the secrets
    into the instance folder's key files (unless ``write_secrets`` is false: e.g. they go
    into a Kubernetes Secret) and the signing keys into ``keys_dir``. Nothing is written
    when a check fails: a changed file, a database that is not empty, a key file or key
    generation that exists with other contents."""
    manifest = read_manifest(folder)
    backend = engine.dialect.name
    if backend != manifest["backend"]:
        raise InvalidInput(_("The backup is of a %(source)s database, the target is "
                             "%(target)s.", source=manifest["backend"], target=backend),
                           code="backup_invalid")
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
    if present:
        raise Conflict(ngettext("The target database is not empty (%(num)d table): "
                                "restore into a new database.",
                                "The target database is not empty (%(num)d tables): "
                                "restore into a new database.", len(present)),
                       code="database_not_empty")
    secrets = backup_secrets(folder)
    to_write: list[tuple[Path, str]] = []
    if write_secrets:
        for key, file_name in INSTANCE_KEY_FILES.items():
            path = instance_path / file_name
            wanted = _secret_text(key, secrets[key])
            if path.exists():
                if path.read_text(encoding="utf-8").strip() != wanted:
                    raise Conflict(_("%(path)s exists with another key: move it away first.",
                                     path=path), code="key_exists")
                continue
            to_write.append((path, wanted))
    generations = sorted(p for p in (folder / "keys").iterdir() if p.is_dir()) \
        if (folder / "keys").is_dir() else []
    for generation in generations:
        existing = keys_dir / generation.name
        if existing.exists() and any(
                not (existing / f.name).is_file()
                or (existing / f.name).read_bytes() != f.read_bytes()
                for f in generation.iterdir() if f.is_file()):
            raise Conflict(_("%(path)s exists with other keys.", path=existing),
                           code="key_exists")

    if backend == "postgresql":
        target, env = libpq_target(engine.url.render_as_string(hide_password=False))
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
              "--single-transaction", f"--dbname={target}", str(folder / "database.dump")], env)
    else:
        database = engine.url.database
        engine.dispose()
        source, copy = sqlite3.connect(folder / "database.sqlite"), sqlite3.connect(database)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()

    written = []
    if to_write:
        instance_path.mkdir(parents=True, exist_ok=True)
        for path, value in to_write:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(value + "\n")
            written.append(path)
    for generation in generations:
        if not (keys_dir / generation.name).exists():
            keys_dir.mkdir(parents=True, exist_ok=True)
            shutil.copytree(generation, keys_dir / generation.name)
            os.chmod(keys_dir / generation.name, 0o700)

    with engine.connect() as connection:
        tables, revision = table_counts(connection), _revision(connection)
    if tables != manifest["tables"] or revision != manifest["revision"]:
        differ = sorted(name for name in set(tables) | set(manifest["tables"])
                        if tables.get(name) != manifest["tables"].get(name))
        raise Conflict("the restored database differs from the backup's manifest: "
                       + ", ".join(differ or ["schema revision"]), code="restore_mismatch")
    return RestoreReport(backend, revision, tables, written, len(generations))
