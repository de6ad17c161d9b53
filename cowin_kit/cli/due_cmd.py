"""`cowin-kit due-list`: the due list of an area or facility on a day, as CSV (columns
reference_id,external_id,name,birth_date,schedule,dose,earliest,due,latest,status) or as
the printable PDF an outreach team takes to a village; `cowin-kit due-list refresh`: the
full refresh of the pending doses the lists read (cowin_kit.immunization.duestate)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from cowin_kit.cli import ProgressBar, app_context, fail, handle_errors


@click.group("due-list", invoke_without_command=True)
@click.option("--location", "location_code", metavar="CODE",
              help="The area (a location code): its whole subtree.")
@click.option("--facility", "facility_code", metavar="CODE",
              help="The home facility's people only (with --location: both).")
@click.option("--on", "on", metavar="YYYY-MM-DD", help="The day (default: today in the "
              "pack's timezone).")
@click.option("--status", default="", metavar="S1,S2",
              help="Statuses to list, comma-separated (default: due,overdue; defaulters: "
                   "overdue): done, upcoming, due, overdue, missed, not_counted, not_needed.")
@click.option("--list", "kind", type=click.Choice(["due", "zero-dose", "defaulters"]),
              default="due", show_default=True, help="Which list.")
@click.option("--format", "output_format", type=click.Choice(["csv", "pdf"]), default="csv",
              show_default=True)
@click.option("--locale", default=None, help="The PDF's language (default: the pack's).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (a PDF needs one unless standard output is a file).")
@click.pass_context
@handle_errors
def due_list(ctx: click.Context, location_code: str | None, facility_code: str | None,
             on: str | None, status: str, kind: str, output_format: str, locale: str | None,
             output: Path | None) -> None:
    """Print who needs which routine dose in an area or at a facility on a day: the due
    list, the zero-dose children or the defaulters (progress on standard error).
    `due-list refresh` computes again the pending doses the lists read."""
    if ctx.invoked_subcommand is not None:
        return
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.immunization import duelists
    from cowin_kit.immunization.pdf import due_list_pdf

    if not location_code and not facility_code:
        fail("give --location CODE or --facility CODE")
    day = None
    if on:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            fail(f"--on: not a date (YYYY-MM-DD): {on!r}")
    if output_format == "pdf" and output is None and sys.stdout.isatty():
        fail("--format pdf: give --output FILE")
    with app_context() as app, get_database().session() as session:
        pack = active_pack()
        progress = ProgressBar()
        result = duelists.due_list(session, pack, None, on=day or duelists.today_in(pack),
                                   location_code=location_code, facility_code=facility_code,
                                   statuses=status.split(","), kind=kind, progress=progress)
        if output_format == "csv":
            data = duelists.due_list_csv(result).encode("utf-8")
        else:
            language = locale or pack.document.get("default_locale") or "en"
            if language not in pack.locales:
                fail(f"--locale: {language!r} is not a language of the pack "
                     f"({', '.join(pack.locales)})")
            with app.test_request_context():
                data = due_list_pdf(result, pack, language, progress=progress)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        click.echo(f"{output}: {result.people} people, {len(result.rows)} doses", err=True)


@due_list.command("refresh")
@click.option("--location", "location_code", metavar="CODE",
              help="Only the people of this area (its whole subtree).")
@handle_errors
def refresh(location_code: str | None) -> None:
    """Compute again every child's and pregnant woman's pending doses (the table the due
    lists, defaulter lists and reminders read); the worker does it every night, run it
    after installing a pack that changed the routine schedules. Idempotent."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.immunization import duestate

    with app_context(), get_database().session() as session:
        report = duestate.refresh_all(session, active_pack(), location_code=location_code,
                                      progress=ProgressBar())
    rate = report.people / report.seconds if report.seconds else 0.0
    click.echo(f"refreshed {report.people} people, {report.rows} pending doses as of "
               f"{report.as_of} in {report.seconds:.1f} s ({rate:.0f} people/s)", err=True)
