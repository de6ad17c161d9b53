"""cowin-kit plugin ``dhis2``: doses given, aggregated by org unit, day, age band and sex,
as a DHIS2 ``dataValueSet`` — posted to DHIS2's Web API or written to a file.

* ``cowin-kit export dhis2 --from DAY --to DAY`` posts the days' counts to
  ``DHIS2_URL/dataValueSets`` (import strategy CREATE_AND_UPDATE, so resending a day
  replaces its counts);
* ``cowin-kit dhis2 export --from DAY --to DAY [-o FILE]`` writes the dataValueSet JSON
  instead (review it, or import it in DHIS2's Import/Export app).

* ``cowin-kit dhis2 indicators --cohort YEAR [--parent CODE] [--send | -o FILE]`` sends
  (or writes) the routine immunization indicators of a birth cohort per area (the kit's
  /api/v1/reports/immunization): one value per mapped figure
  (``DHIS2_INDICATOR_ELEMENTS``, e.g. ``dtp3=EPI_DTP3``), org unit = the area's location
  code, period = the cohort's year (``YYYY``), category option combo = the age
  (``DHIS2_INDICATOR_AGES``, e.g. ``12m=AGE_12M``).

* ``cowin-kit dhis2 stock [--on DAY] [--level N] [--send | -o FILE]`` sends (or writes) the
  vaccine stock of each area of hierarchy level N (the kit's /api/v1/stock/summary): one
  value per mapped figure (``DHIS2_STOCK_ELEMENTS``, e.g. ``on_hand=EPI_STOCK_ON_HAND``),
  org unit = the area's location code (the national store: ``DHIS2_NATIONAL_ORG_UNIT``,
  left out when empty), period = the day (``YYYYMMDD``), category option combo = the
  product's code. Given, wasted and vials opened count the 28 days up to the day.

Identifiers are DHIS2 *codes* (``dataElementIdScheme=CODE`` etc.), so no UIDs need
copying: the org unit is the facility's code (or its location's, with
``DHIS2_ORG_UNIT=location``), the category option combo is ``<band>_<sex>`` (e.g.
``18-44_FEMALE``), the period is the day (``YYYYMMDD``) in the pack's timezone.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.plugins import HttpError, Plugin, PluginContext, Setting, http_request

ID_SCHEMES = {"dataElementIdScheme": "CODE", "orgUnitIdScheme": "CODE",
              "categoryOptionComboIdScheme": "CODE", "importStrategy": "CREATE_AND_UPDATE"}


class Dhis2Error(RuntimeError):
    """DHIS2 could not be reached or did not import the values."""


@dataclass(frozen=True)
class AgeBand:
    label: str
    low: int
    high: int | None  # inclusive; None: no upper bound

    def holds(self, age: int) -> bool:
        return age >= self.low and (self.high is None or age <= self.high)


def parse_bands(labels: Sequence[str]) -> list[AgeBand]:
    """``["0-17", "18-44", "45-59", "60+"]`` -> bands; they must not overlap."""
    bands = []
    for label in labels:
        try:
            if label.endswith("+"):
                band = AgeBand(label, int(label[:-1]), None)
            else:
                low, high = label.split("-")
                band = AgeBand(label, int(low), int(high))
        except ValueError:
            raise ValueError(f"DHIS2_AGE_BANDS: {label!r} is not like 18-44 or 60+") from None
        if bands and (bands[-1].high is None or band.low <= bands[-1].high):
            raise ValueError(f"DHIS2_AGE_BANDS: {label!r} overlaps the band before it")
        bands.append(band)
    return bands


def parse_pairs(items: Iterable[str], key: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        code, sep, value = item.partition("=")
        if not sep or not code.strip() or not value.strip():
            raise ValueError(f"{key}: {item!r} is not like F=FEMALE")
        pairs[code.strip()] = value.strip()
    return pairs


@dataclass(frozen=True)
class DoseFact:
    """One dose, reduced to what the aggregate needs."""

    org_unit: str
    day: date
    age: int
    sex: str


def aggregate(facts: Iterable[DoseFact], bands: Sequence[AgeBand], data_element: str) -> dict:
    """The dataValueSet: one value per (org unit, day, age band, sex) with at least one dose;
    ages outside every band are counted under ``unknown``."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for fact in facts:
        band = next((b.label for b in bands if b.holds(fact.age)), "unknown")
        counts[(fact.org_unit, fact.day.strftime("%Y%m%d"), f"{band}_{fact.sex}")] += 1
    return {"dataValues": [
        {"dataElement": data_element, "period": period, "orgUnit": org_unit,
         "categoryOptionCombo": combo, "value": str(count)}
        for (org_unit, period, combo), count in sorted(
            counts.items(), key=lambda item: (item[0][1], item[0][0], item[0][2]))]}


def dose_facts(session: Session, start: date, end: date, *, zone: zoneinfo.ZoneInfo,
               sexes: Mapping[str, str], org_unit: str) -> list[DoseFact]:
    from cowin_kit.geography.models import Location
    from cowin_kit.identity.models import Gender
    from cowin_kit.registration.models import Beneficiary
    from cowin_kit.registration.rules import age_on
    from cowin_kit.geography.models import Facility
    from cowin_kit.registration.models import Dose

    since = datetime.combine(start, time(), zone)
    until = datetime.combine(end + timedelta(days=1), time(), zone)
    unit = Location.code if org_unit == "location" else Facility.code
    rows = session.execute(
        select(Dose.administered_at, Beneficiary.birth_year, Beneficiary.birth_date,
               Gender.code, unit)
        .join(Beneficiary, Beneficiary.id == Dose.beneficiary_id)
        .join(Gender, Gender.id == Beneficiary.gender_id)
        .outerjoin(Facility, Facility.id == Dose.facility_id)
        .outerjoin(Location, Location.id == Facility.location_id)
        .where(Dose.administered_at >= since, Dose.administered_at < until))
    facts = []
    for given_at, birth_year, birth_date, gender, code in rows:
        day = given_at.astimezone(zone).date()
        facts.append(DoseFact(org_unit=code or "unknown", day=day,
                              age=age_on(day, birth_year, birth_date),
                              sex=sexes.get(gender, "UNKNOWN")))
    return facts


INDICATOR_FIGURES = ("registered", "reached_age", "dtp1", "dtp3", "mcv1", "mcv2", "zero_dose",
                     "never_vaccinated", "dtp1_percent", "dtp3_percent", "mcv1_percent",
                     "mcv2_percent", "dropout_dtp1_dtp3_percent", "dropout_mcv1_mcv2_percent",
                     "zero_dose_percent", "population")


def _value(number: Any) -> str:
    if isinstance(number, float):
        return f"{number:.1f}"
    return str(number)


def indicator_data_values(records: Iterable[Mapping[str, Any]], elements: Mapping[str, str],
                          ages: Mapping[str, str]) -> dict:
    """The dataValueSet of indicator records (reporting's ``indicator_record`` shape): one
    value per (area, cohort, age) and mapped figure; figures without a value (a percentage
    of nobody) and ages not mapped are left out."""
    values = []
    for record in records:
        combo = ages.get(record["age"])
        if combo is None:
            continue
        for figure, element in elements.items():
            value = record.get(figure)
            if value is None:
                continue
            values.append({"dataElement": element, "period": str(record["birth_cohort"]),
                           "orgUnit": record["region_code"], "categoryOptionCombo": combo,
                           "value": _value(value)})
    values.sort(key=lambda v: (v["period"], v["orgUnit"], v["categoryOptionCombo"],
                               v["dataElement"]))
    return {"dataValues": values}


STOCK_FIGURES = ("on_hand", "given", "wasted", "vials_opened", "days_of_stock",
                 "wastage_rate_percent")


def stock_data_values(rows: Iterable[Mapping[str, Any]], elements: Mapping[str, str], *,
                      period: str, national_org_unit: str = "") -> dict:
    """The dataValueSet of stock summary rows (the kit's ``stock.services.SUMMARY_COLUMNS``
    as a mapping): one value per (area, product) and mapped figure; figures without a
    value (no use in the period) are left out, and so is the national store unless it has
    an org unit."""
    values = []
    for row in rows:
        org_unit = row["area"] if row["area"] != "national" else national_org_unit
        if not org_unit:
            continue
        for figure, element in elements.items():
            value = row.get(figure)
            if value is None or value == "":
                continue
            values.append({"dataElement": element, "period": period, "orgUnit": org_unit,
                           "categoryOptionCombo": row["product"], "value": _value(value)})
    values.sort(key=lambda v: (v["orgUnit"], v["categoryOptionCombo"], v["dataElement"]))
    return {"dataValues": values}


def post_data_value_set(document: dict, url: str, auth_header: str, timeout: float) -> dict:
    query = urllib.parse.urlencode(ID_SCHEMES)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if auth_header:
        name, _, value = auth_header.partition(":")
        headers[name.strip()] = value.strip()
    try:
        answer = json.loads(http_request("POST", f"{url.rstrip('/')}/dataValueSets?{query}",
                                         headers=headers, body=json.dumps(document).encode(),
                                         timeout=timeout).body or b"{}")
    except HttpError as exc:
        if exc.status is None:
            raise Dhis2Error(f"DHIS2 unreachable: {exc.reason}") from None
        try:  # DHIS2 answers a refused import with 409 and the import summary
            refused = json.loads(exc.body)
        except ValueError:
            refused = {}
        raise Dhis2Error(f"DHIS2 answered {exc.reason}{_conflicts(refused)}") from None
    summary = answer.get("response", answer)  # DHIS2 2.38+ wraps the import summary
    if summary.get("status") not in ("SUCCESS", "WARNING", "OK"):
        raise Dhis2Error(f"DHIS2 import {summary.get('status')}{_conflicts(answer)}")
    return summary


def _conflicts(answer: Any) -> str:
    summary = answer.get("response", answer) if isinstance(answer, dict) else {}
    texts = sorted({c.get("value", "") for c in summary.get("conflicts", []) if c.get("value")})
    return ": " + "; ".join(texts) if texts else ""


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization: Basic ...`` header text for DHIS2_AUTH_HEADER."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}"


def register(context: PluginContext) -> None:
    settings = context.settings
    bands = parse_bands(settings["AGE_BANDS"])
    sexes = parse_pairs(settings["SEXES"], "DHIS2_SEXES")
    if settings["ORG_UNIT"] not in ("facility", "location"):
        raise ValueError("DHIS2_ORG_UNIT must be facility or location")
    elements = parse_pairs(settings["INDICATOR_ELEMENTS"], "DHIS2_INDICATOR_ELEMENTS")
    unknown = sorted(set(elements) - set(INDICATOR_FIGURES))
    if unknown:
        raise ValueError(f"DHIS2_INDICATOR_ELEMENTS: unknown figure(s) {', '.join(unknown)} "
                         f"(known: {', '.join(INDICATOR_FIGURES)})")
    indicator_ages = parse_pairs(settings["INDICATOR_AGES"], "DHIS2_INDICATOR_AGES")
    stock_elements = parse_pairs(settings["STOCK_ELEMENTS"], "DHIS2_STOCK_ELEMENTS")
    unknown = sorted(set(stock_elements) - set(STOCK_FIGURES))
    if unknown:
        raise ValueError(f"DHIS2_STOCK_ELEMENTS: unknown figure(s) {', '.join(unknown)} "
                         f"(known: {', '.join(STOCK_FIGURES)})")

    def build(session: Session, start: date, end: date) -> dict:
        from cowin_kit.config.runtime import active_pack

        zone = zoneinfo.ZoneInfo(active_pack().document["timezone"])
        facts = dose_facts(session, start, end, zone=zone, sexes=sexes,
                           org_unit=settings["ORG_UNIT"])
        return aggregate(facts, bands, settings["DATA_ELEMENT"])

    def export_days(session: Session, *, start: date, end: date) -> str:
        if not settings["URL"]:
            raise ValueError("set DHIS2_URL (e.g. https://dhis2.example.org/api)")
        document = build(session, start, end)
        if not document["dataValues"]:
            return f"dhis2: no doses from {start} to {end}; nothing sent"
        summary = post_data_value_set(document, settings["URL"], settings["AUTH_HEADER"],
                                      settings["TIMEOUT_SECONDS"])
        counts = summary.get("importCount", {})
        return (f"dhis2: {len(document['dataValues'])} value(s) from {start} to {end} sent; "
                f"imported {counts.get('imported', 0)}, updated {counts.get('updated', 0)}")

    context.register_exporter("dhis2", export_days)

    @click.group("dhis2")
    def dhis2() -> None:
        """DHIS2 aggregate export (plugin dhis2)."""

    @dhis2.command("export")
    @click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                  help="Write here instead of standard output.")
    def export_command(start: datetime, end: datetime | None, output: Path | None) -> None:
        """Write the dataValueSet JSON of the days --from to --to (nothing is sent)."""
        from cowin_kit.cli import app_context
        from cowin_kit.core.db import get_database

        with app_context(), get_database().session() as session:
            document = build(session, start.date(), (end or start).date())
        text = json.dumps(document, indent=2) + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            click.echo(f"wrote {len(document['dataValues'])} value(s) to {output}")

    @dhis2.command("indicators")
    @click.option("--cohort", type=int, required=True, help="Birth year of the children.")
    @click.option("--parent", default=None,
                  help="Location code: its sub-areas are the org units (default: the "
                       "country's first level).")
    @click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]),
                  help="Report day (default today).")
    @click.option("--send", is_flag=True, help="POST to DHIS2_URL instead of printing.")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                  help="Write here instead of standard output.")
    def indicators_command(cohort: int, parent: str | None, on: datetime | None, send: bool,
                           output: Path | None) -> None:
        """The routine immunization indicators of a birth cohort per area, as a
        dataValueSet (DTP1/DTP3/MCV1/MCV2 by 12 and 24 months, zero-dose...)."""
        from cowin_kit.cli import app_context, fail
        from cowin_kit.config.runtime import active_pack
        from cowin_kit.core.db import get_database
        from cowin_kit.core.errors import DomainError
        from cowin_kit.reporting import services as reports

        with app_context(), get_database().session() as session:
            pack = active_pack()
            try:
                report = reports.immunization_indicators(
                    session, None, cohort=cohort, tz_name=pack.document["timezone"],
                    zero_dose_age=pack.routine.zero_dose_age, parent_code=parent,
                    locale=pack.default_locale, on=on.date() if on else None)
            except DomainError as exc:
                fail(str(exc.message))
            document = indicator_data_values(report.records(), elements, indicator_ages)
        if send:
            if not settings["URL"]:
                fail("set DHIS2_URL (e.g. https://dhis2.example.org/api)")
            try:
                summary = post_data_value_set(document, settings["URL"],
                                              settings["AUTH_HEADER"],
                                              settings["TIMEOUT_SECONDS"])
            except Dhis2Error as exc:
                fail(str(exc))
            counts = summary.get("importCount", {})
            click.echo(f"dhis2: {len(document['dataValues'])} indicator value(s) of cohort "
                       f"{cohort} sent; imported {counts.get('imported', 0)}, updated "
                       f"{counts.get('updated', 0)}")
            return
        text = json.dumps(document, indent=2) + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            click.echo(f"wrote {len(document['dataValues'])} value(s) to {output}")

    @dhis2.command("stock")
    @click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]),
                  help="Report day (default today).")
    @click.option("--level", type=click.IntRange(1, 5), default=1, show_default=True,
                  help="Hierarchy level of the org units (1: the top level).")
    @click.option("--send", is_flag=True, help="POST to DHIS2_URL instead of printing.")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                  help="Write here instead of standard output.")
    def stock_command(on: datetime | None, level: int, send: bool,
                      output: Path | None) -> None:
        """Vaccine stock per area and product as a dataValueSet: on hand, doses given and
        wasted, vials opened, days of stock, wastage rate."""
        from cowin_kit.cli import app_context, fail
        from cowin_kit.config.runtime import active_pack
        from cowin_kit.core.db import get_database
        from cowin_kit.stock import services as stock

        with app_context(), get_database().session() as session:
            pack = active_pack()
            day = on.date() if on else datetime.now(
                zoneinfo.ZoneInfo(pack.document["timezone"])).date()
            rows = stock.summary(session, pack, None, level=level, on=day)
            document = stock_data_values(
                [dict(zip(stock.SUMMARY_COLUMNS, row)) for row in stock.summary_rows(rows)],
                stock_elements, period=day.strftime("%Y%m%d"),
                national_org_unit=settings["NATIONAL_ORG_UNIT"])
        if send:
            if not settings["URL"]:
                fail("set DHIS2_URL (e.g. https://dhis2.example.org/api)")
            try:
                summary = post_data_value_set(document, settings["URL"],
                                              settings["AUTH_HEADER"],
                                              settings["TIMEOUT_SECONDS"])
            except Dhis2Error as exc:
                fail(str(exc))
            counts = summary.get("importCount", {})
            click.echo(f"dhis2: {len(document['dataValues'])} stock value(s) of {day} sent; "
                       f"imported {counts.get('imported', 0)}, updated "
                       f"{counts.get('updated', 0)}")
            return
        text = json.dumps(document, indent=2) + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            click.echo(f"wrote {len(document['dataValues'])} value(s) to {output}")

    context.register_command(dhis2)


plugin = Plugin(register=register, settings=[
    Setting("DHIS2_URL", "str", "", "DHIS2 Web API base, e.g. `https://dhis2.example.org/api`."),
    Setting("DHIS2_AUTH_HEADER", "str", "",
            "One header `Name: value`: `Authorization: ApiToken <token>` (DHIS2 2.37+) or "
            "`Authorization: Basic <base64 user:password>`.", secret=True),
    Setting("DHIS2_DATA_ELEMENT", "str", "COVAC_DOSES_GIVEN",
            "Code of the DHIS2 data element that counts doses given."),
    Setting("DHIS2_AGE_BANDS", "list", ["0-17", "18-44", "45-59", "60+"],
            "Age bands (age on the day of the dose), in order, not overlapping."),
    Setting("DHIS2_SEXES", "list", ["M=MALE", "F=FEMALE", "T=OTHER", "O=OTHER"],
            "Pack gender code = the sex part of the category option combo code."),
    Setting("DHIS2_ORG_UNIT", "str", "facility",
            "Org unit codes are the facilities' codes (`facility`) or the codes of their "
            "locations (`location`, e.g. districts)."),
    Setting("DHIS2_TIMEOUT_SECONDS", "float", 60.0, "Timeout of the request."),
    Setting("DHIS2_INDICATOR_ELEMENTS", "list",
            ["registered=EPI_COHORT_REGISTERED", "reached_age=EPI_COHORT_REACHED_AGE",
             "dtp1=EPI_DTP1", "dtp3=EPI_DTP3", "mcv1=EPI_MCV1", "mcv2=EPI_MCV2",
             "zero_dose=EPI_ZERO_DOSE"],
            "Indicator figure = DHIS2 data element code, for `dhis2 indicators` (figures: "
            "counts such as dtp3, zero_dose, registered; percentages such as dtp3_percent, "
            "dropout_dtp1_dtp3_percent)."),
    Setting("DHIS2_INDICATOR_AGES", "list", ["12m=AGE_12M", "24m=AGE_24M"],
            "Indicator age = DHIS2 category option combo code (an age left out is not sent)."),
    Setting("DHIS2_STOCK_ELEMENTS", "list",
            ["on_hand=EPI_STOCK_ON_HAND", "given=EPI_STOCK_DOSES_GIVEN",
             "wasted=EPI_STOCK_DOSES_WASTED", "vials_opened=EPI_STOCK_VIALS_OPENED"],
            "Stock figure = DHIS2 data element code, for `dhis2 stock` (figures: on_hand, "
            "given, wasted, vials_opened, days_of_stock, wastage_rate_percent); the category "
            "option combo is the product's code."),
    Setting("DHIS2_NATIONAL_ORG_UNIT", "str", "",
            "Org unit code of the national store for `dhis2 stock` (empty: not sent)."),
])
