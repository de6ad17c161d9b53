"""`cowin-kit reports tally [--rebuild]`: the dose tally behind the public dashboard and
open data (docs/open-data.md); `cowin-kit reports aggregates [--rebuild]`: it and the
person summary behind the administrators' reports; each checked against the dose table or
computed again."""

from __future__ import annotations

import click

from cowin_kit.cli import ProgressBar, app_context, fail, handle_errors


@click.group()
def reports() -> None:
    """Reports: the figures the public dashboard and open data are read from."""


@reports.command("tally")
@click.option("--rebuild", is_flag=True,
              help="Replace the tally with the one computed from the doses.")
@handle_errors
def reports_tally(rebuild: bool) -> None:
    """Count the doses again and compare with the dose tally (kept as doses are written);
    exit 1 when they differ, unless --rebuild replaced it."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.reporting import public

    with app_context(), get_database().session() as session:
        result = public.check_tally(session, active_pack(), rebuild=rebuild,
                                    progress=ProgressBar())
    click.echo(f"tally: {result.doses} doses in {result.rows} rows; "
               f"{result.differences} rows differed" + ("; rebuilt" if rebuild else ""))
    if result.differences and not rebuild:
        fail("the tally differs from the doses: run `cowin-kit reports tally --rebuild`")


@reports.command("aggregates")
@click.option("--rebuild", is_flag=True,
              help="Replace the dose tally and the person summary with ones computed from "
                   "the doses.")
@handle_errors
def reports_aggregates(rebuild: bool) -> None:
    """Check (or with --rebuild compute again) every aggregate the reports read: the dose
    tally and the person summary (drop-out, routine indicators); exit 1 when they differ
    from the doses, unless --rebuild replaced them. Run it after upgrading a database with
    people in it (the reports are computed live until then), restoring one, moving a
    facility to another place or changing a product's antigens."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.reporting import public, summary

    with app_context(), get_database().session() as session:
        progress = ProgressBar()
        counted = public.check_tally(session, active_pack(), rebuild=rebuild,
                                     progress=progress)
        kept = summary.check(session, rebuild=rebuild, progress=progress)
    click.echo(f"tally: {counted.doses} doses in {counted.rows} rows; "
               f"{counted.differences} rows differed" + ("; rebuilt" if rebuild else ""))
    if rebuild:
        click.echo(f"person summary: {kept.people} people summarized; rebuilt")
        return
    click.echo(f"person summary: {kept.differences} count rows differed"
               + ("; waiting for its first rebuild (reports computed live)"
                  if kept.stale else ""))
    if counted.differences or kept.differences or kept.stale:
        fail("the aggregates differ from the doses: run "
             "`cowin-kit reports aggregates --rebuild`")
