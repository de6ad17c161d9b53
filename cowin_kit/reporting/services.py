"""Campaign reports for administrators: doses per day, coverage by region against the
pack's population figures, first doses and completed schedules by age band and sex, and
dose-2 drop-out — each limited to the part of the hierarchy the user may report on
(``report.read`` grants) and computed by SQL aggregates (SQLite and PostgreSQL alike).

A dose counts where it was given: at its facility's place in the hierarchy. Imported doses
without a facility are in the national figures only.

The ``*_live`` functions compute each report from the dose table: the reference. The
functions the pages, the API and plugins call (doses_per_day, coverage_by_region,
dose2_dropout, immunization_indicators) answer from the counts kept as doses are written
(cowin_kit.reporting.aggregated) wherever those can, the same figures without scanning the
doses. The scope and the regions are in cowin_kit.reporting.areas."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Sequence

from sqlalchemy import and_, case, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core import durations
from cowin_kit.geography.models import Facility, Location, PopulationFigure
from cowin_kit.identity.models import Gender, StaffUser
from cowin_kit.immunization.models import CAMPAIGN_SERIES_PREFIX
from cowin_kit.registration.models import BOOKED_SERIES, Beneficiary, Dose
from cowin_kit.reporting import aggregated, rules
from cowin_kit.reporting.areas import (  # noqa: F401 (ReportScope, Regions: names callers use)
    IndicatorReport, Regions, ReportScope, cohort_population, completing_case, dose_visible,
    facility_visible, latest_population_year, location_visible, products, region_coverage,
    region_tree, regions_for, report_scope, subtree,
)
from cowin_kit.reporting.rules import AgeSexCell, DailyDoses, Dropout, RegionCoverage
from cowin_kit.scheduling.rules import schedule_for
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule


# --- reports -----------------------------------------------------------------------------


def _bucket(column, starts: Sequence[datetime], low: int = 0, high: int | None = None):
    """SQL: the index i with starts[i] <= column < starts[i + 1] (the last bucket open
    ended; the caller bounds the range), as a balanced tree of CASEs: about log2(n)
    comparisons a row instead of n, and exact across clock changes."""
    high = len(starts) if high is None else high
    if high - low == 1:
        return literal(low)
    middle = (low + high) // 2
    return case((column < starts[middle], _bucket(column, starts, low, middle)),
                else_=_bucket(column, starts, middle, high))


def doses_per_day_live(session: Session, user: StaffUser, *, tz_name: str, days: int = 30,
                       last_day: date | None = None) -> list[DailyDoses]:
    """Doses given on each local day (first, second, boosters), oldest first."""
    scope = report_scope(user)
    last = last_day or datetime.now(zoneinfo.ZoneInfo(tz_name)).date()
    bounds = rules.day_bounds(last, days, tz_name)
    day_index = _bucket(Dose.administered_at, [start for _day, start, _end in bounds])
    group = case((Dose.dose_number == 1, "1"), (Dose.dose_number == 2, "2"), else_="booster")
    rows = session.execute(
        select(day_index.label("day"), group.label("grp"), func.count(Dose.id))
        .where(Dose.series == BOOKED_SERIES,
               Dose.administered_at >= bounds[0][1], Dose.administered_at < bounds[-1][2],
               dose_visible(session, scope))
        .group_by(day_index, group))
    out = [DailyDoses(day) for day, _s, _e in bounds]
    for index, grp, count in rows:
        if 0 <= index < len(out):
            out[index].by_group[grp] = out[index].by_group.get(grp, 0) + count
    return out


def coverage_by_region_live(session: Session, user: StaffUser, *,
                            parent_code: str | None = None, locale: str = "en"
                            ) -> tuple[Regions, list[RegionCoverage]]:
    """People with a first dose and with a completed primary series, per region, with the
    region's population (None where the pack has no figure)."""
    scope = report_scope(user)
    regions = regions_for(session, scope, parent_code)
    if not regions.regions:
        return regions, []
    tree = region_tree(regions.regions)
    completing = completing_case(session)
    counts = {region_id: (first or 0, done or 0) for region_id, first, done in session.execute(
        select(tree.c.region_id,
               func.sum(case((Dose.dose_number == 1, 1), else_=0)),
               func.sum(case((Dose.dose_number == completing, 1), else_=0)))
        .select_from(Dose)
        .join(Facility, Facility.id == Dose.facility_id)
        .join(tree, tree.c.id == Facility.location_id)
        .where(facility_visible(scope), Dose.series == BOOKED_SERIES)
        .group_by(tree.c.region_id))}
    return regions, region_coverage(session, scope, regions, tree, counts, locale)


@dataclass(frozen=True)
class AgeSexReport:
    bands: list[str]            # youngest first, then "other" if anyone falls outside
    sexes: list[tuple[str, str]]  # (code, label)
    cells: list[AgeSexCell]


def _label(labels: dict[str, str], locale: str) -> str:
    return labels.get(locale) or labels.get(locale.split("_")[0]) or next(iter(labels.values()), "")


def by_age_band_and_sex(session: Session, user: StaffUser, *, locale: str = "en") -> AgeSexReport:
    """First doses and completed series by age (at the dose) band and sex, with the
    population of each band and sex where the pack gives it."""
    scope = report_scope(user)
    year = latest_population_year(session)
    labels = list(session.scalars(select(PopulationFigure.age_band).distinct()
                                  .where(PopulationFigure.year == year))) if year else []
    bands = rules.age_bands(labels)
    # Grouped in SQL by age at the dose and gender (a few hundred rows whatever the number
    # of doses); the bands are then summed here with the pure rule.
    age = (func.extract("year", Dose.administered_at) - Beneficiary.birth_year).label("age")
    completing = completing_case(session)
    counts: dict[tuple[str, int], tuple[int, int]] = {}
    for age_value, gender_id, first, done in session.execute(
            select(age, Beneficiary.gender_id,
                   func.sum(case((Dose.dose_number == 1, 1), else_=0)),
                   func.sum(case((Dose.dose_number == completing, 1), else_=0)))
            .select_from(Dose)
            .join(Beneficiary, Beneficiary.id == Dose.beneficiary_id)
            .where(dose_visible(session, scope), Dose.series == BOOKED_SERIES)
            .group_by(age, Beneficiary.gender_id)):
        key = (rules.band_of(int(age_value), bands), gender_id)
        before = counts.get(key, (0, 0))
        counts[key] = (before[0] + int(first or 0), before[1] + int(done or 0))
    population: dict[tuple[str, str], int] = {}
    if year is not None:
        for band_label, sex, count in session.execute(
                select(PopulationFigure.age_band, PopulationFigure.sex,
                       func.sum(PopulationFigure.count))
                .where(PopulationFigure.year == year,
                       location_visible(scope, PopulationFigure.location_id))
                .group_by(PopulationFigure.age_band, PopulationFigure.sex)):
            population[(band_label, sex)] = int(count)
    genders = list(session.scalars(select(Gender).order_by(Gender.position, Gender.id)))
    sexes = [(g.code, _label(g.labels, locale)) for g in genders]
    band_labels = [b.label for b in bands]
    if any(b == rules.OTHER_BAND for b, _g in counts):
        band_labels.append(rules.OTHER_BAND)
    cells = []
    for band_label in band_labels:
        for gender in genders:
            code = gender.code
            first, done = counts.get((band_label, gender.id), (0, 0))
            cells.append(AgeSexCell(age_band=band_label, sex=code, first_doses=first,
                                    completed=done,
                                    population=population.get((band_label, code))))
    return AgeSexReport(band_labels, sexes, cells)


def dose2_dropout_live(session: Session, user: StaffUser, *, parent_code: str | None = None,
                       locale: str = "en", now: datetime | None = None
                       ) -> tuple[Regions, list[Dropout]]:
    """Per region: people whose first dose was given at least the schedule's minimum
    interval ago ("due"), and how many of them have no second dose."""
    scope = report_scope(user)
    regions = regions_for(session, scope, parent_code)
    moment = now or datetime.now(timezone.utc)
    schedules = list(session.scalars(select(VaccineSchedule)))
    due_conditions = []
    first, second = aliased(Dose), aliased(Dose)
    for product_id, code in products(session).items():
        schedule = schedule_for(code, schedules)
        if schedule is None or rules.completing_dose(schedule) < 2:
            continue
        interval = schedule.doses[1].get("min_interval_days") or 0
        due_conditions.append(and_(first.series == BOOKED_SERIES, first.product_id == product_id,
                                   first.administered_at <= moment - timedelta(days=interval)))
    counts: dict[int, tuple[int, int]] = {}
    if regions.regions and due_conditions:
        tree = region_tree(regions.regions)
        for region_id, due, missing in session.execute(
                select(tree.c.region_id, func.count(first.id),
                       func.sum(case((second.id.is_(None), 1), else_=0)))
                .select_from(first)
                .join(Facility, Facility.id == first.facility_id)
                .join(tree, tree.c.id == Facility.location_id)
                .outerjoin(second, and_(second.beneficiary_id == first.beneficiary_id,
                                        second.series == BOOKED_SERIES,
                                        second.dose_number == 2))
                .where(first.dose_number == 1, or_(*due_conditions), facility_visible(scope))
                .group_by(tree.c.region_id)):
            counts[region_id] = (int(due or 0), int(missing or 0))
    return regions, [Dropout(r.code, r.localized_name(locale), *counts.get(r.id, (0, 0)))
                     for r in regions.regions]


# --- the audit trail ---------------------------------------------------------------------


def audit_events_visible_to(session: Session, user: StaffUser, *, limit: int = 50,
                            before_id: int | None = None, action: str | None = None
                            ) -> list[AuditEvent]:
    """Newest first. National auditors read everything; an area's administrators read the
    events placed inside their area (whoever acted: a national administrator's act in the
    district too) and their own acts; events of no area (citizens' accounts, partner
    keys, packs, staff holding roles beyond the area) stay national."""
    scope = report_scope(user, "audit.read")
    query = select(AuditEvent)
    if not scope.country:
        parts: list[ColumnElement[bool]] = [
            and_(AuditEvent.actor_type == "staff", AuditEvent.actor_id == user.username)]
        if scope.location_ids:
            tree = subtree(sorted(scope.location_ids), "audit_area")
            parts.append(AuditEvent.location_id.in_(select(tree.c.id)))
        if scope.facility_ids:
            parts.append(AuditEvent.facility_id.in_(sorted(scope.facility_ids)))
        query = query.where(or_(*parts))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    if action:
        query = query.where(AuditEvent.action == action)
    query = query.order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 500)))
    return list(session.scalars(query))


def recent_lots(session: Session, facility_id: int, product_id: int | None = None,
                limit: int = 10) -> list[str]:
    """Lots used at a facility, most recently used first (what the vaccinator picks from)."""
    query = select(Dose.lot, func.max(Dose.administered_at).label("last")).where(
        Dose.facility_id == facility_id)
    if product_id is not None:
        query = query.where(Dose.product_id == product_id)
    rows = session.execute(query.group_by(Dose.lot)
                           .order_by(func.max(Dose.administered_at).desc()).limit(limit))
    return [lot for lot, _last in rows]


def scope_summary(session: Session, user: StaffUser, locale: str = "en") -> list[str]:
    """The names of the places a user reports on (for a page heading)."""
    scope = report_scope(user)
    if scope.country:
        return []
    names = [session.get(Location, i).localized_name(locale) for i in sorted(scope.location_ids)]
    names += [f.name for f in session.scalars(select(Facility).where(
        Facility.id.in_(sorted(scope.facility_ids))))]
    return names



# --- routine immunization: WHO/UNICEF standard indicators -----------------------------------


def routine_dose() -> ColumnElement[bool]:
    """SQL: a routine dose (a schedule's code as series; neither the appointment-booked
    series nor a campaign's)."""
    return and_(Dose.series != BOOKED_SERIES,
                ~Dose.series.startswith(CAMPAIGN_SERIES_PREFIX, autoescape=True))


def _child_visible(scope: ReportScope) -> ColumnElement[bool]:
    """Children in the scope: living in its location subtrees, or with a home facility the
    scope holds."""
    if scope.country:
        return true()
    parts = [location_visible(scope, Beneficiary.location_id)]
    if scope.facility_ids:
        parts.append(Beneficiary.facility_id.in_(sorted(scope.facility_ids)))
    return or_(*parts)


def immunization_indicators_live(session: Session, user: StaffUser | None, *, cohort: int,
                                 tz_name: str, zero_dose_age: durations.Duration,
                                 parent_code: str | None = None, locale: str = "en",
                                 on: date | None = None) -> IndicatorReport:
    """DTP1, DTP3, MCV1, MCV2 by 12 and 24 months, drop-out and zero-dose children of the
    birth cohort ``cohort`` (children born that year), per region (a location subtree,
    by the child's area): the denominator is the registered children of the cohort who had
    reached the age on ``on``; the pack's population figure of the matching one-year band
    is given beside it where the pack has one."""
    scope = report_scope(user)
    zone = zoneinfo.ZoneInfo(tz_name)
    on = on or datetime.now(zone).date()
    regions = regions_for(session, scope, parent_code)
    ages = [durations.parse(a) for a in rules.INDICATOR_AGES]
    if not regions.regions:
        return IndicatorReport(regions, cohort, on, [], {})
    tree = region_tree(regions.regions)
    children = (select(Beneficiary.id.label("id"), Beneficiary.birth_date.label("birth_date"),
                       tree.c.region_id.label("region_id"))
                .join(tree, tree.c.id == Beneficiary.location_id)
                .where(Beneficiary.birth_date >= date(cohort, 1, 1),
                       Beneficiary.birth_date <= date(cohort, 12, 31), _child_visible(scope))
                .subquery("cohort_children"))
    born: dict[int, tuple[date, int]] = {
        child_id: (birth, region_id) for child_id, birth, region_id in session.execute(
            select(children.c.id, children.c.birth_date, children.c.region_id))}
    doses: dict[int, list[tuple[date, tuple[str, ...]]]] = {}
    for child_id, given_at, code, antigens in session.execute(
            select(Dose.beneficiary_id, Dose.administered_at, VaccineProduct.code,
                   VaccineProduct.antigens)
            .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
            .where(Dose.beneficiary_id.in_(select(children.c.id)), routine_dose())):
        doses.setdefault(child_id, []).append(
            (given_at.astimezone(zone).date(), rules.product_antigens(code, antigens)))
    histories: dict[int, list[rules.ChildHistory]] = {}
    for child_id, (birth, region_id) in born.items():
        histories.setdefault(region_id, []).append(
            rules.child_history(birth, doses.get(child_id, ())))
    population = cohort_population(session, scope, tree, ages)
    rows, never = [], {}
    for region in regions.regions:
        kids = histories.get(region.id, [])
        never[region.code] = sum(1 for child in kids
                                 if rules.never_vaccinated(child, zero_dose_age, on))
        for age in ages:
            figures = rules.cohort_figures(kids, age=age, on=on)
            band = rules.population_band(age)
            figures.population = population.get((region.id, band))
            figures.population_band = band if figures.population else ""
            rows.append(rules.IndicatorRow(region.code, region.localized_name(locale), cohort,
                                           str(age), figures))
    return IndicatorReport(regions, cohort, on, rows, never)


# --- the reports as served: from the aggregates where they can answer ----------------------
#
# Each report has one definition of what it counts (the rules, and the live computation
# above, which reads the doses: the reference); cowin_kit.reporting.aggregated answers the
# same from the dose tally and the person summary (kept as doses are written) whenever it
# can: a scope of whole places (not single facilities), the pack's time zone, and a
# summary that is not waiting for its first rebuild. Elsewhere the live computation answers.


def doses_per_day(session: Session, user: StaffUser, *, tz_name: str, days: int = 30,
                  last_day: date | None = None) -> list[DailyDoses]:
    """Doses given on each local day (first, second, boosters), oldest first."""
    scope = report_scope(user)
    if aggregated.answers(session, scope, tz_name, people=False):
        return aggregated.doses_per_day(session, scope, tz_name=tz_name, days=days,
                                        last_day=last_day)
    return doses_per_day_live(session, user, tz_name=tz_name, days=days, last_day=last_day)


def coverage_by_region(session: Session, user: StaffUser, *, parent_code: str | None = None,
                       locale: str = "en") -> tuple[Regions, list[RegionCoverage]]:
    """People with a first dose and with a completed primary series, per region, with the
    region's population (None where the pack has no figure)."""
    scope = report_scope(user)
    if aggregated.answers(session, scope, None, people=False):
        return aggregated.coverage_by_region(session, scope, parent_code=parent_code,
                                             locale=locale)
    return coverage_by_region_live(session, user, parent_code=parent_code, locale=locale)


def dose2_dropout(session: Session, user: StaffUser, *, parent_code: str | None = None,
                  locale: str = "en", now: datetime | None = None
                  ) -> tuple[Regions, list[Dropout]]:
    """Per region: people whose first dose was given at least the schedule's minimum
    interval ago ("due"), and how many of them have no second dose."""
    scope = report_scope(user)
    if aggregated.answers(session, scope, None, people=True):
        return aggregated.dose2_dropout(session, scope, parent_code=parent_code,
                                        locale=locale, now=now)
    return dose2_dropout_live(session, user, parent_code=parent_code, locale=locale, now=now)


def immunization_indicators(session: Session, user: StaffUser | None, *, cohort: int,
                            tz_name: str, zero_dose_age: durations.Duration,
                            parent_code: str | None = None, locale: str = "en",
                            on: date | None = None) -> IndicatorReport:
    """DTP1, DTP3, MCV1, MCV2 by 12 and 24 months, drop-out and zero-dose children of the
    birth cohort ``cohort`` per region (see immunization_indicators_live)."""
    scope = report_scope(user)
    if aggregated.answers(session, scope, tz_name, people=True):
        return aggregated.immunization_indicators(
            session, scope, cohort=cohort, tz_name=tz_name, zero_dose_age=zero_dose_age,
            parent_code=parent_code, locale=locale, on=on)
    return immunization_indicators_live(
        session, user, cohort=cohort, tz_name=tz_name, zero_dose_age=zero_dose_age,
        parent_code=parent_code, locale=locale, on=on)


# --- registrations and bookings by channel ---------------------------------------------------

CHANNELS = ("web", "ussd", "sms", "health_worker")
CHANNEL_ACTIONS = {"beneficiary.create": "registrations", "person.register": "registrations",
                   "appointment.book": "bookings"}


def by_channel(session: Session, user: StaffUser, *, days: int = 30,
               now: datetime | None = None) -> dict[str, dict[str, int]] | None:
    """Registrations and bookings of the last ``days`` days by the door they came through
    (the audit trail: ``channel`` in an event's details, "health_worker" for staff, else
    "web", the pages and the API): {"registrations": {channel: n}, "bookings": {...}}.
    Country-wide figures (audit events carry no place): None below national scope."""
    scope = report_scope(user)
    if not scope.country:
        return None
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    channel = AuditEvent.details["channel"].as_string()
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.actor_type, channel, func.count())
        .where(AuditEvent.action.in_(sorted(CHANNEL_ACTIONS)),
               AuditEvent.occurred_at >= since)
        .group_by(AuditEvent.action, AuditEvent.actor_type, channel))
    out: dict[str, dict[str, int]] = {"registrations": {c: 0 for c in CHANNELS},
                                      "bookings": {c: 0 for c in CHANNELS}}
    for action, actor_type, via, count in rows:
        name = via if via in CHANNELS else "health_worker" if actor_type == "staff" else "web"
        out[CHANNEL_ACTIONS[action]][name] += count
    return out

