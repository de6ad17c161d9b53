"""What an administrator's report covers and how it is broken down, shared by the two ways
the reports are computed (cowin_kit.reporting.services live from the doses,
cowin_kit.reporting.aggregated from the counts kept as doses are written): the user's
scope (``report.read`` grants), the regions a report is broken down by, the population
figures beside them, and which dose completes each product's schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

from sqlalchemy import case, false, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from cowin_kit.core import durations
from cowin_kit.core.errors import Forbidden, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Facility, Location, PopulationFigure
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule
from cowin_kit.registration.models import Dose
from cowin_kit.reporting import rules
from cowin_kit.reporting.rules import RegionCoverage
from cowin_kit.scheduling.rules import schedule_for


@dataclass(frozen=True)
class ReportScope:
    """What a user may report on: the whole country, or location subtrees and facilities."""

    country: bool
    location_ids: frozenset[int] = frozenset()
    facility_ids: frozenset[int] = frozenset()


def report_scope(user: StaffUser | None, action: str = "report.read") -> ReportScope:
    """The union of the user's grants carrying ``action``; Forbidden without any. None is
    the operator at the command line or a plugin's export (the whole country)."""
    if user is None:
        return ReportScope(True)
    grants = access.grants_carrying(user, action)
    if not grants:
        raise Forbidden(_("You may not read reports."), code="forbidden")
    if any(g.location_id is None and g.facility_id is None for g in grants):
        return ReportScope(True)
    return ReportScope(False,
                       frozenset(g.location_id for g in grants if g.location_id is not None),
                       frozenset(g.facility_id for g in grants if g.facility_id is not None))


def subtree(location_ids: Sequence[int], name: str):
    """A recursive CTE of the given locations and everything below them (column ``id``)."""
    anchor = select(Location.id).where(Location.id.in_(list(location_ids))).cte(
        name, recursive=True)
    child = aliased(Location)
    return anchor.union_all(select(child.id).join(anchor, child.parent_id == anchor.c.id))


def facility_visible(scope: ReportScope) -> ColumnElement[bool]:
    """A condition on Facility: inside the scope."""
    if scope.country:
        return true()
    parts: list[ColumnElement[bool]] = []
    if scope.location_ids:
        tree = subtree(sorted(scope.location_ids), "visible_location")
        parts.append(Facility.location_id.in_(select(tree.c.id)))
    if scope.facility_ids:
        parts.append(Facility.id.in_(sorted(scope.facility_ids)))
    return or_(*parts) if parts else false()


def location_visible(scope: ReportScope, column) -> ColumnElement[bool]:
    """A condition on a location id column: inside the scope's location subtrees. Facility
    grants alone cover no place's population."""
    if scope.country:
        return true()
    if not scope.location_ids:
        return false()
    tree = subtree(sorted(scope.location_ids), "visible_population")
    return column.in_(select(tree.c.id))


def dose_visible(session: Session, scope: ReportScope, dose=Dose) -> ColumnElement[bool]:
    if scope.country:
        return true()
    return dose.facility_id.in_(select(Facility.id).where(facility_visible(scope)))


# --- regions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Regions:
    """The places a report is broken down by: the children of ``parent`` (the country's
    first level when None), or the parent itself when it has none."""

    parent: Location | None
    regions: list[Location]


def ancestors(session: Session, location_id: int) -> tuple[int, ...]:
    return access.scope_for_location(session, location_id).location_path


def regions_for(session: Session, scope: ReportScope, parent_code: str | None = None) -> Regions:
    parent: Location | None = None
    if parent_code:
        parent = session.scalars(select(Location).where(Location.code == parent_code)).first()
        if parent is None:
            raise NotFound(_("No location with code %(code)s.", code=parent_code),
                           code="location_not_found")
        if not scope.country:
            path = ancestors(session, parent.id)
            inside = any(i in scope.location_ids for i in path)
            above = any(parent.id in ancestors(session, loc) for loc in scope.location_ids) \
                or any(parent.id in ancestors(session, loc) for loc in facility_places(
                    session, scope))
            if not (inside or above):
                raise Forbidden(_("You may not read reports there."), code="forbidden")
    elif not scope.country:
        places = sorted(scope.location_ids) or facility_places(session, scope)
        if len(set(places)) == 1:
            parent = session.get(Location, places[0])
    if parent is None:
        query = select(Location).where(Location.parent_id.is_(None))
        if not scope.country:
            tops = {ancestors(session, loc)[0] for loc in
                    [*scope.location_ids, *facility_places(session, scope)]}
            query = query.where(Location.id.in_(sorted(tops)))
        regions = list(session.scalars(query.order_by(Location.name)))
    else:
        regions = list(session.scalars(select(Location).where(Location.parent_id == parent.id)
                                       .order_by(Location.name))) or [parent]
    return Regions(parent, regions)


def facility_places(session: Session, scope: ReportScope) -> list[int]:
    if not scope.facility_ids:
        return []
    return list(session.scalars(select(Facility.location_id)
                                .where(Facility.id.in_(sorted(scope.facility_ids)))))


def region_tree(regions: Sequence[Location]):
    """A recursive CTE mapping every location under the regions (``id``) to its region
    (``region_id``)."""
    anchor = select(Location.id.label("id"), Location.id.label("region_id")).where(
        Location.id.in_([r.id for r in regions])).cte("region_tree", recursive=True)
    child = aliased(Location)
    return anchor.union_all(select(child.id, anchor.c.region_id)
                            .join(anchor, child.parent_id == anchor.c.id))


# --- schedules ---------------------------------------------------------------------------


def products(session: Session) -> dict[int, str]:
    rows = session.execute(select(VaccineProduct.id, VaccineProduct.code))
    return {product_id: code for product_id, code in rows}


def completing_case(session: Session, dose=Dose):
    """SQL: the dose number that completes the primary series of the dose's product."""
    schedules = list(session.scalars(select(VaccineSchedule)))
    whens = []
    for product_id, code in products(session).items():
        schedule = schedule_for(code, schedules)
        if schedule is not None:
            whens.append((dose.product_id == product_id, rules.completing_dose(schedule)))
    return case(*whens, else_=literal(-1)) if whens else literal(-1)


def latest_population_year(session: Session) -> int | None:
    return session.scalar(select(func.max(PopulationFigure.year)))


def sex_filter(session: Session, year: int) -> ColumnElement[bool]:
    """Figures by sex when the pack gives them, else its 'all' rows (never both: that
    would count people twice)."""
    by_sex = session.scalar(select(func.count()).select_from(PopulationFigure).where(
        PopulationFigure.year == year, PopulationFigure.sex != "all"))
    return PopulationFigure.sex != "all" if by_sex else PopulationFigure.sex == "all"


def region_coverage(session: Session, scope: ReportScope, regions: Regions, tree,
                    counts: dict[int, tuple[int, int]], locale: str) -> list[RegionCoverage]:
    """The coverage rows of ``regions`` from (first doses, completed) per region id, with
    each region's population (the latest year's figures)."""
    population: dict[int, int] = {}
    year = latest_population_year(session)
    if year is not None:
        population = {region_id: total for region_id, total in session.execute(
            select(tree.c.region_id, func.sum(PopulationFigure.count))
            .select_from(PopulationFigure)
            .join(tree, tree.c.id == PopulationFigure.location_id)
            .where(PopulationFigure.year == year, sex_filter(session, year),
                   location_visible(scope, PopulationFigure.location_id))
            .group_by(tree.c.region_id))}
    out = []
    for region in regions.regions:
        first, done = counts.get(region.id, (0, 0))
        pop = population.get(region.id)
        out.append(RegionCoverage(code=region.code, name=region.localized_name(locale),
                                  first_doses=int(first), completed=int(done),
                                  population=int(pop) if pop else None))
    return out


@dataclass(frozen=True)
class IndicatorReport:
    regions: Regions
    cohort: int
    on: date
    rows: list[rules.IndicatorRow]
    never_vaccinated: dict[str, int]   # region code -> registered, past zero_dose_age, no dose

    def records(self) -> list[dict]:
        return [rules.indicator_record(row, self.never_vaccinated.get(row.code, 0))
                for row in self.rows]


def cohort_population(session: Session, scope: ReportScope, tree,
                       ages: Sequence[durations.Duration]) -> dict[tuple[int, str], int]:
    """(region id, one-year band) -> the pack's population figure (latest year)."""
    year = latest_population_year(session)
    if year is None:
        return {}
    bands = sorted({rules.population_band(age) for age in ages})
    return {(region_id, band): int(total) for region_id, band, total in session.execute(
        select(tree.c.region_id, PopulationFigure.age_band, func.sum(PopulationFigure.count))
        .select_from(PopulationFigure)
        .join(tree, tree.c.id == PopulationFigure.location_id)
        .where(PopulationFigure.year == year, PopulationFigure.age_band.in_(bands),
               sex_filter(session, year),
               location_visible(scope, PopulationFigure.location_id))
        .group_by(tree.c.region_id, PopulationFigure.age_band)) if total}
