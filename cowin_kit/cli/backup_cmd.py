"""`cowin-kit backup` and `cowin-kit restore` (cowin_kit.provision.backup;
docs/reliability.md)."""

from __future__ import annotations

from pathlib import Path

import click

from cowin_kit.cli import app_context, handle_errors


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def backup(folder: Path) -> None:
    """Back the instance up into FOLDER (new or empty): the database (pg_dump's custom
    format, or a SQLite copy), the secrets that decrypt it, the certificate signing keys,
    and a manifest of row counts and checksums. Keep it as safe as the keys themselves."""
    from cowin_kit.certificates.services import keystore
    from cowin_kit.core.db import get_database
    from cowin_kit.provision.backup import create_backup

    with app_context() as app:
        report = create_backup(get_database().engine, app.config["COWIN_KIT"],
                               keystore().keys_dir, folder)
    click.echo(f"backed up {report.rows} rows of {len(report.tables)} tables "
               f"({report.backend}, revision {', '.join(report.revision) or 'none'}), the "
               f"secrets and {report.key_generations} key generation(s) into {folder}")


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--database-url", help="Restore into this (empty) database instead of "
              "DATABASE_URL's.")
@click.option("--no-secrets", is_flag=True, help="Do not write the instance's key files "
              "(set SECRET_KEY, ENCRYPTION_KEYS and ID_HASH_KEY from the backup's "
              "secrets.toml yourself, e.g. into a Kubernetes Secret).")
@handle_errors
def restore(folder: Path, database_url: str | None, no_secrets: bool) -> None:
    """Restore the backup in FOLDER into an empty database, its secrets into the instance
    folder and its signing keys into the keys folder; the restored rows are compared with
    the backup's manifest. Then run `cowin-kit db upgrade` if this release is newer."""
    from cowin_kit.certificates.services import keystore
    from cowin_kit.core.db import get_database
    from cowin_kit.provision.backup import backup_secrets, read_manifest, restore_backup

    read_manifest(folder)  # a broken backup stops here, before anything is read from it
    overrides = dict(backup_secrets(folder))  # the instance may have no keys yet
    if database_url:
        overrides["DATABASE_URL"] = database_url
    with app_context(overrides) as app:
        settings = app.config["COWIN_KIT"]
        report = restore_backup(folder, get_database().engine, Path(settings["INSTANCE_PATH"]),
                                keystore().keys_dir, write_secrets=not no_secrets)
    click.echo(f"restored {report.rows} rows of {len(report.tables)} tables (counts as in "
               f"the backup), revision {', '.join(report.revision) or 'none'}, "
               f"{report.key_generations} key generation(s)")
    for path in report.secrets_written:
        click.echo(f"  wrote {path}")
