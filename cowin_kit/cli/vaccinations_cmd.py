"""`cowin-kit vaccinations import FILE`: doses given elsewhere or before the kit, from a CSV
file (columns and rules in cowin_kit/vaccination/imports.py). A file is imported whole or
not at all: every problem is printed as FILE:LINE: column: message, exit code 1."""

from __future__ import annotations

from pathlib import Path

import click

from cowin_kit.cli import ProgressBar, app_context, fail, handle_errors


@click.group()
def vaccinations() -> None:
    """Doses (vaccinations) recorded in bulk."""


@vaccinations.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True,
              help="Only check the file and count what would change; write nothing.")
@handle_errors
def vaccinations_import(file: Path, check: bool) -> None:
    """Record the doses of a CSV FILE given elsewhere or before the kit; each dose of an
    appointment-booked (COVID-19) series gets its certificate from the worker.

    Columns: beneficiary_reference_id (or external_id: the person's number in the register
    they were imported from), vaccine, dose, date (YYYY-MM-DD, not in the future), lot,
    facility_code (empty for a dose given abroad or elsewhere), vaccinator, and optionally
    schedule (a routine schedule's code). A row already recorded identically is unchanged;
    the minimum interval between doses is not checked for imported history. Doses of
    routine products (a child's register) go to their routine series as given; the due
    rules judge whether each counts. On PostgreSQL the monthly partitions of the doses'
    months are created first where missing (history of past years included).
    """
    from cowin_kit.core.db import get_database
    from cowin_kit.vaccination import imports

    with app_context(), get_database().session() as session:
        try:
            report = imports.import_vaccinations(session, file, file_name=str(file),
                                                 progress=ProgressBar(), dry_run=check)
        except imports.ImportInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            fail(str(exc.message))
    if check:
        click.echo(f"{file}: valid; would give {report.added} added, "
                   f"{report.unchanged} unchanged")
    else:
        click.echo(f"vaccinations: {report.added} added, {report.unchanged} unchanged")
        if report.partitions:
            click.echo(f"partitions created: {', '.join(report.partitions)}")
