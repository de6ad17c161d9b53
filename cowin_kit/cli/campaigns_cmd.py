"""`cowin-kit campaigns create|list|targets|progress`: campaigns (supplementary
immunization activities) planned, their micro-plan targets, and their daily progress
(services in cowin_kit/immunization/campaigns.py). The command line acts for the whole
country."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from cowin_kit.cli import app_context, fail, handle_errors


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        locale, sep, name = value.partition("=")
        if not sep or not locale.strip() or not name.strip():
            raise click.BadParameter(f"{value!r} is not like en=Measles-rubella catch-up",
                                     param_hint="--name")
        out[locale.strip()] = name.strip()
    return out


def _codes(text: str) -> list[str]:
    return [code.strip() for code in text.split(",") if code.strip()]


@click.group()
def campaigns() -> None:
    """Campaigns: an age band vaccinated in chosen areas between two dates."""


@campaigns.command("create")
@click.option("--code", required=True, help="Campaign code, e.g. MR-2026.")
@click.option("--name", "names", multiple=True, required=True,
              help="LOCALE=NAME, once per pack language (the default one is required).")
@click.option("--products", required=True, help="Vaccine codes, comma-separated, e.g. MR.")
@click.option("--ages", required=True,
              help="From-until ages, e.g. 9m-15y (from 9 months until the 15th birthday).")
@click.option("--sex", default=None, help="A pack gender code when only one sex is targeted.")
@click.option("--areas", required=True, help="Location codes, comma-separated.")
@click.option("--from", "starts_on", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "ends_on", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--doses", "doses_per_person", type=int, default=1, show_default=True,
              help="Doses a person may get in the campaign.")
@handle_errors
def campaigns_create(code: str, names: tuple[str, ...], products: str, ages: str,
                     sex: str | None, areas: str, starts_on: datetime, ends_on: datetime,
                     doses_per_person: int) -> None:
    """Plan a campaign; each area's target comes from the pack's population figures where
    they cover the ages (set the others with `campaigns targets`)."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.immunization import campaigns as service

    plan = service.CampaignPlan(code=code, names=_pairs(names), products=_codes(products),
                                ages=ages, areas=_codes(areas), starts_on=starts_on.date(),
                                ends_on=ends_on.date(), sex=sex,
                                doses_per_person=doses_per_person)
    with app_context(), get_database().session() as session:
        campaign = service.create_campaign(session, active_pack(), None, plan)
        without = sum(1 for a in campaign.areas if a.target is None)
        click.echo(f"campaign {campaign.code}: {len(campaign.areas)} area(s), "
                   f"{without} without a target")


@campaigns.command("list")
@handle_errors
def campaigns_list() -> None:
    """Code, dates, ages, products and areas of every campaign."""
    from cowin_kit.core.db import get_database
    from cowin_kit.geography.models import Location
    from cowin_kit.immunization import campaigns as service

    with app_context(), get_database().session() as session:
        for c in service.list_campaigns(session, None):
            places = ",".join(session.get(Location, a.location_id).code for a in c.areas)
            click.echo(f"{c.code}\t{c.starts_on}..{c.ends_on}\t{c.min_age}-{c.below_age}"
                       f"\t{c.sex or 'all'}\t{','.join(c.products)}\t{places}")


@campaigns.command("targets")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@handle_errors
def campaigns_targets(file: Path) -> None:
    """Set area targets from a micro-plan CSV FILE (columns campaign_code, location_code,
    target); all rows or none, every problem as FILE:LINE: column: message."""
    from cowin_kit.core.db import get_database
    from cowin_kit.csvimport import ImportInvalid
    from cowin_kit.immunization import campaigns as service

    with app_context(), get_database().session() as session:
        try:
            n = service.import_targets(session, None, file, file_name=str(file))
        except ImportInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            fail(str(exc.message))
    click.echo(f"targets: {n} area(s) set")


@campaigns.command("progress")
@click.argument("code")
@click.option("--format", "output_format", type=click.Choice(["text", "csv"]), default="text",
              show_default=True)
@handle_errors
def campaigns_progress(code: str, output_format: str) -> None:
    """Doses per day, cumulative and per cent of target per area of campaign CODE."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.immunization import campaigns as service
    from cowin_kit.reporting.rules import to_csv

    with app_context(), get_database().session() as session:
        pack = active_pack()
        report = service.campaign_progress(session, pack, None, code,
                                           locale=pack.default_locale)
        if output_format == "csv":
            click.echo(to_csv(service.PROGRESS_COLUMNS, service.progress_csv_rows(report)),
                       nl=False)
            return
        for area in report.areas:
            share = f"{area.percent}%" if area.percent is not None else "no target"
            click.echo(f"{area.code}\t{area.doses} of {area.target or '-'}\t{share}")
