"""`cowin-kit demo`: a working instance on SQLite with the India example pack."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from cowin_kit.cli import app_context, fail, handle_errors, install_pack_from, print_install_report
from cowin_kit.config.examples import example_packs
from cowin_kit.config.settings import write_instance_keys

DEMO_ACCOUNTS_FILE = "demo-accounts.txt"


@click.command()
@click.option("--pack", "pack_code", default="IN", show_default=True,
              help="Example pack to install (country code).")
@click.option("--instance", type=click.Path(file_okay=False, path_type=Path),
              help="Instance folder (default: $COWIN_KIT_INSTANCE_PATH or ./instance).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set everything up, then exit.")
@handle_errors
def demo(pack_code: str, instance: Path | None, host: str, port: int, no_serve: bool) -> None:
    """Set up a demo instance (SQLite, example pack, facilities, sessions for the next
    14 days, a few hundred past doses, staff accounts) and serve it with the worker
    running in-process. Messages (OTPs) are printed here."""
    from cowin_kit.core import migrate
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.provision.demo import seed_demo

    instance = (instance or Path(os.environ.get("COWIN_KIT_INSTANCE_PATH", "instance"))).resolve()
    packs = example_packs()
    if pack_code.upper() not in packs:
        fail(f"no example pack {pack_code!r} (have: {', '.join(packs) or 'none'})")
    write_instance_keys(instance)
    overrides = {"ENV": "demo", "INSTANCE_PATH": str(instance), "NOTIFIER": "log",
                 "PACK": pack_code.upper()}
    with app_context(overrides) as app:
        database = get_database()
        migrate.upgrade(database.engine)
        print_install_report(install_pack_from(packs[pack_code.upper()]))
        with database.session() as session:
            report = seed_demo(session, active_pack())
        click.echo(f"demo data: {report.facilities} facilities, {report.sessions} sessions")
        if report.doses:
            click.echo(f"demo history: {report.doses} doses given over the last weeks "
                       "(their certificates are issued by the worker as the demo starts)")
        if report.children:
            click.echo(f"routine immunization: {report.children} children with "
                       f"{report.routine_doses} doses, {report.pregnancies} pregnant women "
                       "(each facility has a due list: /vaccinator/due-list)")
        accounts_file = instance / DEMO_ACCOUNTS_FILE
        if report.new_accounts:
            lines = [f"{user}  {password}  ({role})" for user, role, password in report.new_accounts]
            click.echo("demo staff accounts (passwords shown once, also kept in "
                       f"{accounts_file}):")
            for line in lines:
                click.echo("  " + line)
            with accounts_file.open("a", encoding="utf-8") as stream:
                stream.write("\n".join(lines) + "\n")
            accounts_file.chmod(0o600)
        if report.existing_accounts:
            click.echo(f"demo staff accounts kept: {', '.join(report.existing_accounts)} "
                       f"(passwords in {accounts_file})")
        from cowin_kit.certificates.signing import keystore as keystore_module
        from cowin_kit.certificates.services import keystore

        if not keystore().generations():
            pack = active_pack()
            generation = keystore_module.generate(keystore().keys_dir, pack.code, "Demo issuer")
            click.echo(f"generated certificate signing keys {generation.key_id}")
        if no_serve:
            return
        _start_worker(app)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        click.echo(f"serving on http://{host}:{port}/  (Ctrl-C to stop)")
        app.run(host=host, port=port, use_reloader=False, threaded=True)


def _start_worker(app) -> None:
    """The worker (certificates, slot alerts), in-process for the demo; production runs
    `cowin-kit worker`."""
    from cowin_kit.worker import start_in_thread

    start_in_thread(app)
