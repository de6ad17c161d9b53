"""The public dashboard and open data: the programme's figures for everyone, read from the
dose tally (cowin_kit.registration.tally, kept as doses are written), never from the dose
table; small counts suppressed by the pack's rule (``public_data`` in pack.yaml); no
person-level data, no facility figures.

Figures of an area are the sums over its places; a dose counts where it was given (its
facility's place). Imported doses without a facility count in the national figures only.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.geography.models import Facility, Location, PopulationFigure
from cowin_kit.identity.models import Gender
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.audit import services as audit
from cowin_kit.registration import tally
from cowin_kit.registration.tally import DoseTally, DoseTotal
from cowin_kit.reporting import public_rules as pr
from cowin_kit.reporting import rules
from cowin_kit.reporting.areas import latest_population_year, sex_filter
from cowin_kit.reporting.services import _label
from cowin_kit.scheduling.models import VaccinationSession

TREND_DAYS = 30
# The open data's rows are per day, place, product, dose group, sex and age band: a month
# of a whole country is some 150,000 rows (5 MB of CSV); longer spans are asked month by
# month (each answer cached on its own).
MAX_OPEN_DATA_DAYS = 31


@dataclass
class AreaRow:
    code: str
    name: str
    total: int | str
    first: int | str
    completed: int | str
    today: int | str
    drill: bool            # a page of its own (not below the pack's lowest public level)
    sort_value: int        # the exact total, for ranking only (never shown)


@dataclass
class PublicView:
    today: date
    area: pr.Place | None
    path: list[pr.Place]
    level_name: str                   # what the areas below are called ("District")
    below: int                        # the suppression threshold
    doses_today: int | str
    total: int | str
    by_group: dict[str, int | str]
    first_people: int | str
    completed_people: int | str
    areas: list[AreaRow]
    by_age: list[tuple[str, int | str]]
    by_sex: list[tuple[str, int | str]]
    by_product: list[tuple[str, int | str]]
    trend: list[tuple[date, dict[str, int]]]   # exact figures: plotted, suppressed below
    sessions_today: int | str
    sites_today: int | str
    indicators: list[dict[str, Any]] = field(default_factory=list)
    updated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


# --- the places --------------------------------------------------------------------------


def places(session: Session, pack: ActivePack) -> dict[int, pr.Place]:
    """Every place of the hierarchy (remembered for as long as the pack snapshot)."""
    def load() -> dict[int, pr.Place]:
        return {row.id: pr.Place(row.id, row.parent_id, row.level, row.code, row.names or {},
                                 row.name)
                for row in session.execute(select(Location.id, Location.parent_id,
                                                  Location.level, Location.code,
                                                  Location.names, Location.name))}
    return pack.memo(("public-places",), load)


def lowest_level(pack: ActivePack) -> int:
    """The deepest hierarchy level (1 = top) the public figures go down to."""
    keys = [h["key"] for h in pack.document["hierarchy"]]
    wanted = pack.public_data.lowest_level
    return keys.index(wanted) + 1 if wanted in keys else len(keys)


def find_area(session: Session, pack: ActivePack, code: str | None) -> pr.Place | None:
    if not code:
        return None
    by_code = {p.code: p for p in places(session, pack).values()}
    area = by_code.get(code)
    if area is None or area.level > lowest_level(pack):
        raise NotFound(_("No area with code %(code)s.", code=code), code="area_not_found")
    return area


def _path(all_places: dict[int, pr.Place], area: pr.Place | None) -> list[pr.Place]:
    out = []
    while area is not None:
        out.append(area)
        area = all_places.get(area.parent_id) if area.parent_id is not None else None
    return out[::-1]


# --- the figures -------------------------------------------------------------------------


def _local_today(pack: ActivePack, now: datetime | None) -> date:
    return (now or datetime.now(timezone.utc)).astimezone(
        zoneinfo.ZoneInfo(pack.document["timezone"])).date()


def _in_area(ids: set[int] | None, table: Any = DoseTally) -> list[Any]:
    return [] if ids is None else [table.location_id.in_(sorted(ids))]


def _completing(session: Session) -> dict[int, int]:
    """Product id -> the dose number that completes its booked series."""
    from cowin_kit.programme.models import VaccineSchedule
    from cowin_kit.scheduling.rules import schedule_for

    schedules = list(session.scalars(select(VaccineSchedule)))
    out = {}
    for product_id, code in session.execute(select(VaccineProduct.id, VaccineProduct.code)):
        schedule = schedule_for(code, schedules)
        if schedule is not None:
            out[product_id] = rules.completing_dose(schedule)
    return out


def public_figures(session: Session, pack: ActivePack, *, area_code: str | None = None,
                   locale: str = "en", now: datetime | None = None) -> PublicView:
    """The figures of the public page for the country or one area."""
    settings = pack.public_data
    below = settings.suppress_below
    all_places = places(session, pack)
    area = find_area(session, pack, area_code)
    ids = pr.subtree(all_places, area.id) if area is not None else None
    today = _local_today(pack, now)
    lowest = lowest_level(pack)
    completing = _completing(session)

    # all time, by place and series/dose: totals, groups, first/completed, and the areas
    groups: dict[str, int] = dict.fromkeys(pr.DOSE_GROUPS, 0)
    first = completed = total = 0
    child_level = (area.level + 1) if area is not None else 1
    per_place: dict[int, list[int]] = {}   # location id -> [total, first, completed, today]
    for location_id, product_id, series, number, count in session.execute(
            select(DoseTotal.location_id, DoseTotal.product_id, DoseTotal.series,
                   DoseTotal.dose_number, func.sum(DoseTotal.count))
            .where(*_in_area(ids, DoseTotal))
            .group_by(DoseTotal.location_id, DoseTotal.product_id, DoseTotal.series,
                      DoseTotal.dose_number)):
        count = int(count or 0)
        total += count
        groups[pr.dose_group(series, number)] += count
        is_first = not series and number == 1
        is_done = not series and completing.get(product_id) == number
        first += count if is_first else 0
        completed += count if is_done else 0
        cell = per_place.setdefault(location_id, [0, 0, 0, 0])
        cell[0] += count
        cell[1] += count if is_first else 0
        cell[2] += count if is_done else 0
    for location_id, count in session.execute(
            select(DoseTally.location_id, func.sum(DoseTally.count))
            .where(DoseTally.day == today, *_in_area(ids)).group_by(DoseTally.location_id)):
        per_place.setdefault(location_id, [0, 0, 0, 0])[3] += int(count or 0)
    doses_today = sum(cell[3] for cell in per_place.values())

    areas: list[AreaRow] = []
    if child_level <= lowest:
        sums: dict[int, list[int]] = {}
        for location_id, cell in per_place.items():
            at = pr.ancestor_at(all_places, location_id, child_level)
            if at is not None:
                target = sums.setdefault(at, [0, 0, 0, 0])
                for i in range(4):
                    target[i] += cell[i]
        parent_id = area.id if area is not None else None
        for place in all_places.values():
            if place.level == child_level and place.parent_id == parent_id:
                t, f, c, d = sums.get(place.id, [0, 0, 0, 0])
                areas.append(AreaRow(place.code, place.label(locale), pr.shown(t, below),
                                     pr.shown(f, below), pr.shown(c, below),
                                     pr.shown(d, below), child_level <= lowest, t))
        areas.sort(key=lambda row: (-row.sort_value, row.name))

    # by age band, sex and product (all time)
    labels = [b for b in session.scalars(select(PopulationFigure.age_band).distinct())]
    bands = rules.age_bands(labels)
    by_band: dict[str, int] = {b.label: 0 for b in bands}
    by_gender: dict[int, int] = {}
    by_product: dict[int, int] = {}
    for age, gender_id, product_id, count in session.execute(
            select(DoseTotal.age, DoseTotal.gender_id, DoseTotal.product_id,
                   func.sum(DoseTotal.count)).where(*_in_area(ids, DoseTotal))
            .group_by(DoseTotal.age, DoseTotal.gender_id, DoseTotal.product_id)):
        count = int(count or 0)
        band = rules.band_of(int(age), bands)
        by_band[band] = by_band.get(band, 0) + count
        by_gender[gender_id] = by_gender.get(gender_id, 0) + count
        by_product[product_id] = by_product.get(product_id, 0) + count
    genders = list(session.scalars(select(Gender).order_by(Gender.position, Gender.id)))
    products = list(session.scalars(select(VaccineProduct).order_by(VaccineProduct.code)))

    # the last 30 days, by dose group
    start = today - timedelta(days=TREND_DAYS - 1)
    trend_days = {start + timedelta(days=i): dict.fromkeys(pr.DOSE_GROUPS, 0)
                  for i in range(TREND_DAYS)}
    for day, series, number, count in session.execute(
            select(DoseTally.day, DoseTally.series, DoseTally.dose_number,
                   func.sum(DoseTally.count))
            .where(DoseTally.day >= start, DoseTally.day <= today, *_in_area(ids))
            .group_by(DoseTally.day, DoseTally.series, DoseTally.dose_number)):
        trend_days[day][pr.dose_group(series, number)] += int(count or 0)

    # sessions and the sites holding them today
    sessions_query = (select(func.count(VaccinationSession.id),
                             func.count(func.distinct(VaccinationSession.facility_id)))
                      .join(Facility, Facility.id == VaccinationSession.facility_id)
                      .where(VaccinationSession.session_date == today,
                             VaccinationSession.status == "published"))
    if ids is not None:
        sessions_query = sessions_query.where(Facility.location_id.in_(sorted(ids)))
    sessions_today, sites_today = session.execute(sessions_query).one()

    level_keys = pack.document["hierarchy"]
    level_name = ""
    if child_level <= len(level_keys):
        names = level_keys[child_level - 1]["name"]
        level_name = names.get(locale) or names.get(locale.split("_")[0]) or \
            next(iter(names.values()))
    return PublicView(
        today=today, area=area, path=_path(all_places, area), level_name=level_name,
        below=below, doses_today=pr.shown(doses_today, below), total=pr.shown(total, below),
        by_group={g: pr.shown(n, below) for g, n in groups.items()},
        first_people=pr.shown(first, below), completed_people=pr.shown(completed, below),
        areas=areas,
        by_age=[(label, pr.shown(n, below)) for label, n in by_band.items()],
        by_sex=[(_label(g.labels, locale), pr.shown(by_gender.get(g.id, 0), below))
                for g in genders],
        by_product=[(p.code, pr.shown(by_product.get(p.id, 0), below)) for p in products
                    if by_product.get(p.id)],
        trend=sorted(trend_days.items()),
        sessions_today=pr.shown(int(sessions_today or 0), below),
        sites_today=pr.shown(int(sites_today or 0), below),
        indicators=routine_indicators(session, pack, ids, today, below))


# The population band each indicator's children are in (population.csv, whole years):
# DTP1, DTP3 and MCV1 are infants' doses, MCV2 is given in the second year.
INDICATOR_BANDS = {"DTP1": "0-0", "DTP3": "0-0", "MCV1": "0-0", "MCV2": "1-1"}


def routine_indicators(session: Session, pack: ActivePack, ids: set[int] | None,
                       today: date, below: int) -> list[dict[str, Any]]:
    """The WHO/UNICEF indicators as doses administered in the last 12 months (a DTP- or
    measles-containing product recorded as dose n of a routine series), with the
    administrative coverage (those doses over the area's children of the age band,
    population.csv, where the pack gives it) and drop-out (DTP1 to DTP3, MCV1 to MCV2):
    the "Reaching Every District" reading of doses administered; [] when the pack's
    products carry none of the antigens."""
    products = {p.id: rules.product_antigens(p.code, p.antigens)
                for p in session.scalars(select(VaccineProduct))}
    wanted = {(antigen, number): code for code, antigen, number in rules.STANDARD_INDICATORS}
    relevant = sorted(pid for pid, antigens in products.items()
                      if any(a in antigens for a, _n in wanted))
    if not relevant:
        return []
    counts = dict.fromkeys(wanted.values(), 0)
    for product_id, number, count in session.execute(
            select(DoseTally.product_id, DoseTally.dose_number, func.sum(DoseTally.count))
            .where(DoseTally.day > today - timedelta(days=365), DoseTally.day <= today,
                   DoseTally.series != "", DoseTally.product_id.in_(relevant),
                   DoseTally.dose_number.in_(sorted({n for _a, n in wanted})),
                   *_in_area(ids))
            .group_by(DoseTally.product_id, DoseTally.dose_number)):
        for antigen in products.get(product_id, ()):
            code = wanted.get((antigen, number))
            if code is not None:
                counts[code] += int(count or 0)
    population = _indicator_population(session, ids)
    out: list[dict[str, Any]] = []
    for code, n in counts.items():
        children = population.get(INDICATOR_BANDS[code])
        out.append({"code": code, "doses": pr.shown(n, below), "population": children,
                    "coverage_percent": pr.percent(n, children, below)})
    for first, later in rules.DROPOUTS:
        out.append({"code": f"{first}-{later}",
                    "dropout_percent": pr.dropout(counts[first], counts[later], below)})
    return out


def _indicator_population(session: Session, ids: set[int] | None) -> dict[str, int]:
    """Age band -> the area's children of the pack's latest population year (its figures
    by sex when it gives them, else its "all" rows)."""
    year = latest_population_year(session)
    if year is None:
        return {}
    query = (select(PopulationFigure.age_band, func.sum(PopulationFigure.count))
             .where(PopulationFigure.year == year,
                    PopulationFigure.age_band.in_(sorted(set(INDICATOR_BANDS.values()))),
                    sex_filter(session, year)))
    if ids is not None:
        query = query.where(PopulationFigure.location_id.in_(sorted(ids)))
    return {band: int(total) for band, total in
            session.execute(query.group_by(PopulationFigure.age_band)) if total}


# --- open data ---------------------------------------------------------------------------


def parse_range(start: str | None, end: str | None, pack: ActivePack,
                now: datetime | None = None) -> tuple[date, date]:
    """The open data's day range: ``start``..``end`` (YYYY-MM-DD), by default the last 30
    days; at most MAX_OPEN_DATA_DAYS days."""
    today = _local_today(pack, now)
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=TREND_DAYS - 1)
    except ValueError:
        raise InvalidInput(_("Dates are written YYYY-MM-DD."), code="invalid_date") from None
    if first > last:
        raise InvalidInput(_("The start date is after the end date."), code="invalid_range")
    if (last - first).days + 1 > MAX_OPEN_DATA_DAYS:
        raise InvalidInput(ngettext("At most %(num)d day at a time.",
                                    "At most %(num)d days at a time.", MAX_OPEN_DATA_DAYS),
                           code="range_too_long")
    return first, last


def _area_at(level: int, depth: int) -> tuple[Any, list[Any]]:
    """SQL: the id of the place at ``level`` above (or at) a tally row's place, by joining
    the place and its ``depth - 1`` ancestors; (the expression, the joined aliases)."""
    chain = [aliased(Location, name=f"up{i}") for i in range(depth)]
    expression = case(*((place.level == level, place.id) for place in chain), else_=None)
    return expression, chain


def _band_case(bands: list[rules.AgeBand]) -> Any:
    """SQL: the age band label of a tally row's age group (as rules.band_of)."""
    whens = [((DoseTally.age >= b.low) & (DoseTally.age <= b.high)
              if b.high is not None else DoseTally.age >= b.low, b.label) for b in bands]
    return case(*whens, else_=rules.OTHER_BAND)


def _group_case() -> Any:
    """SQL: the dose group of a tally row (as public_rules.dose_group)."""
    return case((DoseTally.series != "", pr.ROUTINE), (DoseTally.dose_number == 1, pr.FIRST),
                (DoseTally.dose_number == 2, pr.SECOND), else_=pr.BOOSTER)


def open_data(session: Session, pack: ActivePack, *, start: date, end: date,
              area_code: str | None = None, level: int | None = None,
              locale: str = "en") -> list[tuple[Any, ...]]:
    """Rows of OPEN_DATA_COLUMNS: doses per day, area (at ``level``, by default the one
    below ``area_code``, or the top level), product, dose group, sex and age band, every
    count suppressed by the pack's rule; rows of zero are left out. Summed in SQL (the
    place at the level, the band and the group as expressions), so the answer costs about
    as much as the rows it returns."""
    below = pack.public_data.suppress_below
    all_places = places(session, pack)
    area = find_area(session, pack, area_code)
    lowest = lowest_level(pack)
    if level is None:
        level = min(lowest, (area.level + 1) if area is not None else 1)
    if not 1 <= level <= lowest or (area is not None and level < area.level):
        raise InvalidInput(_("No such area level here."), code="invalid_level")
    ids = pr.subtree(all_places, area.id) if area is not None else None
    labels = [b for b in session.scalars(select(PopulationFigure.age_band).distinct())]
    band, group = _band_case(rules.age_bands(labels)), _group_case()
    place_at, chain = _area_at(level, len(pack.document["hierarchy"]))
    query = (select(DoseTally.day, place_at, VaccineProduct.code, group, Gender.code, band,
                    func.sum(DoseTally.count))
             .join(chain[0], chain[0].id == DoseTally.location_id)
             .join(VaccineProduct, VaccineProduct.id == DoseTally.product_id)
             .join(Gender, Gender.id == DoseTally.gender_id))
    for child, parent in zip(chain, chain[1:]):
        query = query.outerjoin(parent, parent.id == child.parent_id)
    rows = []
    for day, at, product, dose_group, sex, age_band, count in session.execute(
            query.where(DoseTally.day >= start, DoseTally.day <= end, place_at.is_not(None),
                        *_in_area(ids))
            .group_by(DoseTally.day, place_at, VaccineProduct.code, group, Gender.code, band)
            .having(func.sum(DoseTally.count) != 0)):
        place = all_places[at]
        day = day if isinstance(day, date) else date.fromisoformat(day)
        rows.append((day.isoformat(), place.code, place.label(locale), place.level,
                     product, dose_group, sex, age_band, pr.shown(int(count), below)))
    rows.sort(key=lambda row: row[:2] + row[4:8])
    return rows


def licence(pack: ActivePack) -> dict[str, str]:
    settings = pack.public_data
    return {"name": settings.licence_name, "url": settings.licence_url}


def summary_document(view: PublicView, pack: ActivePack) -> dict[str, Any]:
    """The figures of ``view`` as the open-data JSON document (the page draws the same)."""
    return {
        "date": view.today.isoformat(),
        "area": view.area.code if view.area is not None else None,
        "suppressed_below": view.below,
        "doses_today": view.doses_today, "doses": view.total,
        "doses_by_group": view.by_group,
        "people_first_dose": view.first_people, "people_completed": view.completed_people,
        "sessions_today": view.sessions_today, "sites_today": view.sites_today,
        "areas": [{"code": a.code, "name": a.name, "total": a.total, "first_dose": a.first,
                   "completed": a.completed, "today": a.today} for a in view.areas],
        "by_age_group": dict(view.by_age), "by_sex": dict(view.by_sex),
        "by_product": dict(view.by_product),
        "last_30_days": [{"date": day.isoformat(),
                          **{g: pr.shown(n, view.below) for g, n in groups.items()}}
                         for day, groups in view.trend],
        "routine_indicators": view.indicators,
        "licence": licence(pack),
    }


@dataclass(frozen=True)
class TallyCheck:
    doses: int          # doses counted from the dose table
    rows: int           # tally rows they make
    differences: int    # rows whose stored count differed (before a rebuild)


def check_tally(session: Session, pack: ActivePack, *, rebuild: bool = False,
                progress: Any = None) -> TallyCheck:
    """Compare the stored tally with one computed from the doses; with ``rebuild``,
    replace it (audited, committed). For a database restored from elsewhere, or a check
    that every path that writes doses keeps the tally."""
    zone = zoneinfo.ZoneInfo(pack.document["timezone"])
    computed = tally.tally_from_doses(session, zone, progress)
    differences = 0
    for mine, kept in ((computed, tally.stored(session)),
                       (tally.days_of(computed), tally.stored_days(session)),
                       (tally.totals_of(computed), tally.stored_totals(session))):
        differences += sum(1 for key in set(mine) | set(kept)
                           if mine.get(key, 0) != kept.get(key, 0))
    result = TallyCheck(sum(computed.values()), len(computed), differences)
    if rebuild:
        tally.rebuild(session, zone, counts=computed)
        audit.record(session, "tally.rebuild", "dose_tally", None, place=audit.NATIONAL,
                     doses=result.doses,
                     rows=result.rows, differences=differences)
        session.commit()
    return result
