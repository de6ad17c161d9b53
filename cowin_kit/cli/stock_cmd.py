"""`cowin-kit stock ...`: the lot register (import, list, recall, recipients), stock
movements at a store (receive, transfer, adjust, count), what the stores hold and the
summary per product and area (services in cowin_kit/stock/). The command line acts for the
whole country. Stores are named national, area:<location code> or facility:<code>."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cowin_kit.cli import ProgressBar, app_context, fail, handle_errors


@click.group()
def stock() -> None:
    """Vaccine stock: lots, stores, the ledger, recalls."""


@stock.group("lots")
def lots() -> None:
    """The lot register."""


@lots.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True,
              help="Only check the file and count what would change; write nothing.")
@handle_errors
def lots_import(file: Path, check: bool) -> None:
    """Register the lots of a CSV FILE (all rows or none).

    Columns: product, lot, expires_on (YYYY-MM-DD); optionally manufacturer,
    doses_per_vial, vvm_stage (1-4), quantity (doses received: a receipt) and store (where
    they were received, default national)."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.stock import imports

    with app_context(), get_database().session() as session:
        try:
            report = imports.import_lots(session, active_pack(), None, file,
                                         file_name=str(file), progress=ProgressBar(),
                                         dry_run=check)
        except imports.ImportInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            fail(str(exc.message))
    if check:
        click.echo(f"{file}: valid; would give {report.summary()}")
    else:
        click.echo(f"lots: {report.summary()}")


@lots.command("list")
@click.option("--product", default=None, help="One product's lots.")
@handle_errors
def lots_list(product: str | None) -> None:
    """Product, lot, expiry, doses per vial, VVM stage and status of every lot."""
    from cowin_kit.core.db import get_database
    from cowin_kit.stock import services

    with app_context(), get_database().session() as session:
        for lot, row in services.list_lots(session, None, product):
            click.echo(f"{row.code}\t{lot.number}\t{lot.expires_on.isoformat()}\t"
                       f"{lot.doses_per_vial}\t{lot.vvm_stage or '-'}\t{lot.status}")


@lots.command("recall")
@click.argument("product")
@click.argument("lot")
@click.option("--reason", required=True, help="Why the lot is recalled.")
@handle_errors
def lots_recall(product: str, lot: str, reason: str) -> None:
    """Recall LOT of PRODUCT: no dose may be given from it any more."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.stock import services

    with app_context(), get_database().session() as session:
        row = services.recall_lot(session, active_pack(), None, product_code=product,
                                  number=lot, reason=reason)
        _p, people = services.lot_recipients(session, active_pack(), None,
                                             product_code=product, number=lot)
        click.echo(f"lot {row.number} of {product} recalled; {len(people)} recipient(s) "
                   f"(cowin-kit stock lots recipients {product} {row.number})")


@lots.command("recipients")
@click.argument("product")
@click.argument("lot")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write CSV here (default: standard output).")
@handle_errors
def lots_recipients(product: str, lot: str, output: Path | None) -> None:
    """Everyone who received LOT of PRODUCT, as CSV (mobile numbers masked)."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.reporting.rules import to_csv
    from cowin_kit.stock import services

    with app_context(), get_database().session() as session:
        _lot, people = services.lot_recipients(session, active_pack(), None,
                                               product_code=product, number=lot)
        text = to_csv(services.RECIPIENT_COLUMNS, services.recipient_rows(people))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{len(people)} recipient(s) written to {output}", err=True)


def _movement(moved) -> None:
    click.echo(f"{moved.store} {moved.product} {moved.lot}: {moved.kind} {moved.quantity:+d}, "
               f"on hand {moved.on_hand}")


@stock.command("receive")
@click.option("--store", default="national", show_default=True)
@click.option("--product", required=True)
@click.option("--lot", required=True)
@click.option("--quantity", type=int, required=True, help="Doses received.")
@handle_errors
def stock_receive(store: str, product: str, lot: str, quantity: int) -> None:
    """Doses of a registered lot received at a store (a shipment)."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.stock import services

    with app_context(), get_database().session() as session:
        _movement(services.receive(session, active_pack(), None, store=store,
                                   product_code=product, number=lot, quantity=quantity))


@stock.command("transfer")
@click.option("--from", "from_store", required=True)
@click.option("--to", "to_store", required=True)
@click.option("--product", required=True)
@click.option("--lot", required=True)
@click.option("--quantity", type=int, required=True)
@handle_errors
def stock_transfer(from_store: str, to_store: str, product: str, lot: str,
                   quantity: int) -> None:
    """Send doses from one store to another."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.stock import services

    with app_context(), get_database().session() as session:
        _movement(services.transfer(session, active_pack(), None, from_store=from_store,
                                    to_store=to_store, product_code=product, number=lot,
                                    quantity=quantity))


@stock.command("adjust")
@click.option("--store", required=True)
@click.option("--product", required=True)
@click.option("--lot", required=True)
@click.option("--quantity", type=int, required=True, help="Doses, negative to take away.")
@click.option("--reason", required=True,
              help="damaged, expired, vvm, frozen, recalled (wastage), found, lost, correction.")
@handle_errors
def stock_adjust(store: str, product: str, lot: str, quantity: int, reason: str) -> None:
    """Change a store's stock with a reason."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.stock import services

    with app_context(), get_database().session() as session:
        _movement(services.adjust(session, active_pack(), None, store=store,
                                  product_code=product, number=lot, quantity=quantity,
                                  reason=reason))


@stock.command("count")
@click.option("--store", required=True)
@click.option("--product", required=True)
@click.option("--lot", required=True)
@click.option("--on-hand", "on_hand", type=int, required=True, help="Doses counted.")
@handle_errors
def stock_count(store: str, product: str, lot: str, on_hand: int) -> None:
    """A physical count: the store holds ON_HAND doses of the lot."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.stock import services

    with app_context(), get_database().session() as session:
        _movement(services.physical_count(session, active_pack(), None, store=store,
                                          product_code=product, number=lot, on_hand=on_hand))


@stock.command("on-hand")
@click.option("--store", default=None, help="One store (default: all).")
@handle_errors
def stock_on_hand(store: str | None) -> None:
    """Doses on hand per store and lot."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.stock import services

    with app_context(), get_database().session() as session:
        for row in services.on_hand(session, active_pack(), None, store=store):
            click.echo(f"{row.store}\t{row.product}\t{row.lot}\t{row.expires_on.isoformat()}\t"
                       f"{row.status}\t{row.on_hand}")


@stock.command("summary")
@click.option("--level", type=click.IntRange(1, 5), default=1, show_default=True,
              help="Hierarchy level of the areas (1: the top level).")
@handle_errors
def stock_summary(level: int) -> None:
    """On hand, given, wasted, vials opened, days of stock and wastage rate per area and
    product (last 28 days), as CSV."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.reporting.rules import to_csv
    from cowin_kit.stock import services

    with app_context(), get_database().session() as session:
        rows = services.summary(session, active_pack(), None, level=level)
        sys.stdout.write(to_csv(services.SUMMARY_COLUMNS, services.summary_rows(rows)))
