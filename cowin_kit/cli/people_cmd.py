"""`cowin-kit people import FILE`: people from an existing register (paper registers,
DHIS2 exports), from a CSV file (columns and rules in cowin_kit/registration/imports.py).
A file is imported whole or not at all: every problem is printed as FILE:LINE: column:
message, exit code 1.

`cowin-kit people duplicates [--location CODE]`: the batch search for records that may be
one person (cowin_kit/corrections), kept as candidates for a reviewer."""

from __future__ import annotations

from pathlib import Path

import click

from cowin_kit.cli import ProgressBar, app_context, fail, handle_errors


@click.group()
def people() -> None:
    """People (newborns, children, pregnant women) registered in bulk; duplicate records."""


@people.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True,
              help="Only check the file and count what would change; write nothing.")
@handle_errors
def people_import(file: Path, check: bool) -> None:
    """Register the people of a CSV FILE taken from an existing register.

    Columns: external_id, name, birth_date (YYYY-MM-DD), sex (a gender code or label of the
    pack), location_code, guardian_name, guardian_relation, mobile (the account), and
    optionally id_type, id_number, facility_code. Below the pack's id_exempt_below age the
    ID may be empty (the guardian is then required). A row whose external_id is already
    registered with the same details is unchanged.
    """
    from cowin_kit.core.db import get_database
    from cowin_kit.registration import imports

    with app_context(), get_database().session() as session:
        try:
            report = imports.import_people(session, file, file_name=str(file),
                                           progress=ProgressBar(), dry_run=check)
        except imports.ImportInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            fail(str(exc.message))
    if check:
        click.echo(f"{file}: valid; would give {report.added} added, "
                   f"{report.unchanged} unchanged")
    else:
        click.echo(f"people: {report.added} added, {report.unchanged} unchanged")


@people.command("duplicates")
@click.option("--location", metavar="CODE", default=None,
              help="Only the people of this location's area (default: everyone).")
@handle_errors
def people_duplicates(location: str | None) -> None:
    """Find records that may be the same person: people sharing a matching key (similar
    name words with the birth year, the birth date with an initial) or a mobile are
    scored (name, birth date or year, sex, mobile, guardian, ID) and likely pairs are
    kept as candidates for a reviewer (staff pages and API). Pairs already found or
    decided are not proposed again."""
    from cowin_kit.core.db import get_database
    from cowin_kit.corrections import services

    with app_context(), get_database().session() as session:
        result = services.scan(session, location=location, progress=ProgressBar())
    click.echo(f"duplicates: {result.people} people, {result.keyed} newly keyed, "
               f"{result.pairs} pairs compared, {result.new_candidates} new candidates")
