"""`cowin-kit db partition`: the online conversion of the tables that grow without bound
to monthly partitions (PostgreSQL; cowin_kit.core.partitioning, docs/partitioning.md)."""

from __future__ import annotations

import time
import click

from cowin_kit.cli import app_context, fail, handle_errors

TABLES = ("audit_event", "message_outbox", "otp_transaction", "dose", "appointment")


def describe(state) -> str:
    if state.layout == "partitioned":
        return f"{state.table}: partitioned ({state.partitions} monthly partitions)"
    if state.layout == "converting":
        return (f"{state.table}: converting, {state.rows_copied} rows copied "
                f"(up to id {state.watermark or '-'})")
    return f"{state.table}: {state.layout}"


def pending_lines(engine) -> list[str]:
    """For `db upgrade`: the tables still to convert (nothing on SQLite)."""
    from cowin_kit.core import partitioning

    with engine.connect() as connection:
        if not partitioning.is_postgresql(connection):
            return []
        states = [partitioning.state(connection, spec) for spec in partitioning.SPECS]
    return [f"{describe(s)}: run `cowin-kit db partition` to partition it online"
            for s in states if s.layout in ("plain", "converting")]


@click.command("partition")
@click.option("--table", "tables", multiple=True, type=click.Choice(TABLES),
              help="Table to convert or split (repeatable; default: all five).")
@click.option("--batch", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Rows copied per transaction.")
@click.option("--status", is_flag=True, help="Only say where each table is.")
@click.option("--abandon", is_flag=True,
              help="Remove an unfinished conversion's copy (the table itself is untouched).")
@click.option("--split-default", "split", is_flag=True,
              help="On partitioned tables: move the rows of the default partition into "
                   "partitions of their months (created one month per transaction).")
@handle_errors
def db_partition(tables: tuple[str, ...], batch: int, status: bool, abandon: bool,
                 split: bool) -> None:
    """Partition the audit trail, the outbox, the OTPs, the doses and the appointments by
    month, online: the rows are copied in batches while the kit runs (a trigger carries the
    writes made meanwhile), then the tables are swapped under a lock of a moment (the
    foreign keys to doses are validated after it). Interrupted, it resumes where it stopped
    when run again.

    With --split-default, on tables already partitioned: the months of the rows in the
    default partition (history imported before its months existed) get their partitions,
    each month in a transaction of its own that moves its rows; run again, it does
    nothing more."""
    from flask import current_app

    from cowin_kit.audit import services as audit
    from cowin_kit.core import partitioning
    from cowin_kit.core.db import get_database

    with app_context():
        engine = get_database().engine
        specs = [partitioning.BY_TABLE[name] for name in (tables or TABLES)]
        with engine.connect() as connection:
            if not partitioning.is_postgresql(connection):
                fail("partitions need PostgreSQL (SQLite has none; nothing to do)")
        if split:
            if status or abandon:
                fail("--split-default goes alone (without --status or --abandon)")
            for spec in specs:
                split_default(engine, spec)
            return
        if status or abandon:
            with engine.begin() as connection:
                for spec in specs:
                    if abandon and partitioning.abandon(connection, spec):
                        click.echo(f"{spec.table}: unfinished conversion removed")
                    click.echo(describe(partitioning.state(connection, spec)))
            return
        ahead = current_app.config["COWIN_KIT"]["PARTITION_MONTHS_AHEAD"]
        last = [0.0]

        def progress(stage: str, state) -> None:
            if stage == "swap" or time.monotonic() - last[0] >= 5:
                last[0] = time.monotonic()
                click.echo(describe(state))

        for spec in specs:
            started = time.monotonic()
            state = partitioning.convert(engine, spec, batch=batch, ahead=ahead,
                                         progress=progress)
            click.echo(f"{describe(state)} in {time.monotonic() - started:.0f} s")
            with get_database().session() as session:
                audit.record(session, "database.partition", "table", spec.table,
                             place=audit.NATIONAL, rows=state.rows_copied)
                session.commit()


def split_default(engine, spec) -> None:
    """``--split-default`` for one table, with a line per month and the audit event."""
    from sqlalchemy import text

    from cowin_kit.audit import services as audit
    from cowin_kit.core import partition_months, partitioning
    from cowin_kit.core.db import get_database

    with engine.connect() as connection:
        if not partitioning.is_partitioned(connection, spec.table):
            click.echo(f"{describe(partitioning.state(connection, spec))}: not partitioned, "
                       "nothing to split")
            return
    started = time.monotonic()
    click.echo(f"{spec.default}: reading the months of its rows")

    def progress(name: str, moved: int, done: int, total: int) -> None:
        click.echo(f"{spec.table}: {name} created, {moved} rows moved out of {spec.default} "
                   f"({done}/{total} months)")

    result = partition_months.split_default(engine, spec, progress=progress)
    with engine.connect() as connection:
        left = connection.scalar(text(f'SELECT count(*) FROM "{spec.default}"'))
    if result.created:
        with get_database().session() as session:
            audit.record(session, "database.partition", "table", spec.table,
                         place=audit.NATIONAL, split_default=True, rows=result.moved,
                         partitions=result.created, busy=result.busy)
            session.commit()
    click.echo(f"{spec.table}: {len(result.created)} partitions created, {result.moved} rows "
               f"moved, {left} rows left in {spec.default} "
               f"in {time.monotonic() - started:.0f} s")
    if result.busy:
        fail(f"{spec.table}: busy, not created: {', '.join(result.busy)} (run it again)")
