"""`cowin-kit facilities import FILE` and `cowin-kit sessions import FILE`: bulk CSV loads
(columns in cowin_kit/scheduling/imports.py and the README). A file is imported whole or
not at all: every problem is printed as FILE:LINE: column: message, exit code 1."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from cowin_kit.cli import ProgressBar, app_context, fail, handle_errors


def _run(kind: str, path: Path, check: bool) -> None:
    from cowin_kit.core.db import get_database
    from cowin_kit.scheduling import imports

    importer: Callable[..., imports.ImportReport] = (
        imports.import_facilities if kind == "facilities" else imports.import_sessions)
    with app_context(), get_database().session() as session:
        try:
            report = importer(session, path, file_name=str(path), progress=ProgressBar(),
                              dry_run=check)
        except imports.ImportInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            fail(str(exc.message))
    if check:
        click.echo(f"{path}: valid; would give {report.summary()}")
    else:
        click.echo(f"{kind}: {report.summary()}")


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_CHECK = click.option("--check", is_flag=True,
                      help="Only check the file and count what would change; write nothing.")


@click.group()
def facilities() -> None:
    """Facilities (vaccination centres)."""


@facilities.command("import")
@click.argument("file", type=_FILE)
@_CHECK
@handle_errors
def facilities_import(file: Path, check: bool) -> None:
    """Add or update the facilities of a CSV FILE, matched by code.

    Columns: code, name, location_code (required); address, postal_code, lat, long,
    fee_type (Free|Paid), facility_type (public|private), open, close (HH:MM),
    name_<locale> for the pack's other languages.
    """
    _run("facilities", file, check)


@click.group()
def sessions() -> None:
    """Vaccination sessions of the facilities."""


@sessions.command("import")
@click.argument("file", type=_FILE)
@_CHECK
@handle_errors
def sessions_import(file: Path, check: bool) -> None:
    """Publish or update the sessions of a CSV FILE, matched by facility, date and vaccine.

    Columns: facility_code, date (YYYY-MM-DD), vaccine, slots (09:00-11:00;11:00-13:00),
    capacity_dose1, capacity_dose2, ... (seats per dose; absent = 0); min_age (18),
    max_age, fee. Seats never go below what is already booked.
    """
    _run("sessions", file, check)


@click.group()
def alerts() -> None:
    """Slot alerts citizens subscribed to (the worker sends them every
    SLOT_ALERT_POLL_SECONDS)."""


@alerts.command("dispatch")
@handle_errors
def alerts_dispatch() -> None:
    """Tell subscribers of free seats now, oldest subscription first, each at most once
    per SLOT_ALERT_PERIOD_SECONDS."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.scheduling.alerts import dispatch_slot_alerts

    with app_context() as app, app.test_request_context(), get_database().session() as session:
        sent = dispatch_slot_alerts(session, active_pack())
    click.echo(f"sent {sent} slot alert(s)")
