"""The administrators' reports answered from counts kept as doses are written, never from the
dose table: doses per day and coverage from the dose tally (cowin_kit.registration.tally),
dose-2 drop-out and the routine immunization indicators from the person summary
(cowin_kit.reporting.summary). Each answers exactly what the live computation of
cowin_kit.reporting.services does (``*_live``, the reference; tests compare them on random
data), applying the same rules to counts instead of rows; services chooses which one
answers (:func:`answers`). Every query here reads a number of rows that grows with the
places and days asked for, not with the doses."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from cowin_kit.core import durations
from cowin_kit.registration.models import BOOKED_SERIES
from cowin_kit.registration.tally import DoseDay, DoseTotal
from cowin_kit.reporting import rules, summary
from cowin_kit.reporting.rules import DailyDoses, Dropout, RegionCoverage
from cowin_kit.reporting.areas import (
    IndicatorReport, Regions, ReportScope, cohort_population, completing_case,
    location_visible, products, region_tree, region_coverage, regions_for,
)
from cowin_kit.programme.models import VaccineSchedule
from cowin_kit.scheduling.rules import schedule_for


def answers(session: Session, scope: ReportScope, tz_name: str | None, *,
            people: bool) -> bool:
    """Whether the counts can answer for ``scope``: they are kept by place, so not for a
    scope holding single facilities; by day in the pack's time zone, so not for another
    zone; and (``people``: the person summary) not before the summary's first rebuild."""
    if scope.facility_ids:
        return False
    if tz_name is not None and tz_name != summary.pack_zone().key:
        return False
    return not (people and summary.is_stale(session))


def doses_per_day(session: Session, scope: ReportScope, *, tz_name: str, days: int = 30,
                  last_day: date | None = None) -> list[DailyDoses]:
    """As services.doses_per_day_live, from the tally's day sums (dose_day)."""
    last = last_day or datetime.now(zoneinfo.ZoneInfo(tz_name)).date()
    bounds = rules.day_bounds(last, days, tz_name)
    group = case((DoseDay.dose_number == 1, "1"), (DoseDay.dose_number == 2, "2"),
                 else_="booster")
    rows = session.execute(
        select(DoseDay.day, group.label("grp"), func.sum(DoseDay.count))
        .where(DoseDay.series == BOOKED_SERIES, DoseDay.day >= bounds[0][0],
               DoseDay.day <= bounds[-1][0],
               location_visible(scope, DoseDay.location_id))
        .group_by(DoseDay.day, group))
    out = [DailyDoses(day) for day, _s, _e in bounds]
    index = {day: i for i, (day, _s, _e) in enumerate(bounds)}
    for day, grp, count in rows:
        if count:
            out[index[day]].by_group[grp] = out[index[day]].by_group.get(grp, 0) + int(count)
    return out


def coverage_by_region(session: Session, scope: ReportScope, *,
                       parent_code: str | None = None, locale: str = "en"
                       ) -> tuple[Regions, list[RegionCoverage]]:
    """As services.coverage_by_region_live, from the tally's totals."""
    regions = regions_for(session, scope, parent_code)
    if not regions.regions:
        return regions, []
    tree = region_tree(regions.regions)
    completing = completing_case(session, DoseTotal)
    counts = {region_id: (first or 0, done or 0) for region_id, first, done in session.execute(
        select(tree.c.region_id,
               func.sum(case((DoseTotal.dose_number == 1, DoseTotal.count), else_=0)),
               func.sum(case((DoseTotal.dose_number == completing, DoseTotal.count),
                             else_=0)))
        .select_from(DoseTotal)
        .join(tree, tree.c.id == DoseTotal.location_id)
        .where(DoseTotal.series == BOOKED_SERIES,
               location_visible(scope, DoseTotal.location_id))
        .group_by(tree.c.region_id))}
    return regions, region_coverage(session, scope, regions, tree, counts, locale)


def dose2_dropout(session: Session, scope: ReportScope, *, parent_code: str | None = None,
                  locale: str = "en", now: datetime | None = None
                  ) -> tuple[Regions, list[Dropout]]:
    """As services.dose2_dropout_live, from the first doses counted by product and UTC day:
    all of a product's first doses, less those of the days from the cut-off's (now less
    the schedule's interval), plus those of the cut-off's day up to it (the summary rows
    of that one day, by their index)."""
    regions = regions_for(session, scope, parent_code)
    moment = now or datetime.now(timezone.utc)
    schedules = list(session.scalars(select(VaccineSchedule)))
    cutoffs: dict[int, datetime] = {}
    for product_id, code in products(session).items():
        schedule = schedule_for(code, schedules)
        if schedule is None or rules.completing_dose(schedule) < 2:
            continue
        interval = schedule.doses[1].get("min_interval_days") or 0
        cutoffs[product_id] = moment - timedelta(days=interval)
    counts: dict[int, list[int]] = {}
    if regions.regions and cutoffs:
        tree = region_tree(regions.regions)
        day, total = summary.report_dropout_day, summary.report_dropout_total
        person = summary.ReportPerson
        days = {p: cut.astimezone(timezone.utc).date() for p, cut in cutoffs.items()}
        parts = (  # three queries whatever the number of products
            (1, select(tree.c.region_id, total.c.dose2, func.sum(total.c.count))
             .join(tree, tree.c.id == total.c.location_id)
             .where(total.c.product_id.in_(sorted(cutoffs)),
                    location_visible(scope, total.c.location_id))
             .group_by(tree.c.region_id, total.c.dose2)),
            (-1, select(tree.c.region_id, day.c.dose2, func.sum(day.c.count))
             .join(tree, tree.c.id == day.c.location_id)
             .where(day.c.day >= min(days.values()),
                    or_(*(and_(day.c.product_id == p, day.c.day >= d)
                          for p, d in sorted(days.items()))),
                    location_visible(scope, day.c.location_id))
             .group_by(tree.c.region_id, day.c.dose2)),
            (1, select(tree.c.region_id, person.dose2, func.count())
             .join(tree, tree.c.id == person.dose1_location_id)
             .where(person.dose1_at >= datetime.combine(min(days.values()), time(0),
                                                        timezone.utc),
                    or_(*(and_(person.dose1_product_id == p,
                               person.dose1_at >= datetime.combine(days[p], time(0),
                                                                   timezone.utc),
                               person.dose1_at <= cut)
                          for p, cut in sorted(cutoffs.items()))),
                    location_visible(scope, person.dose1_location_id))
             .group_by(tree.c.region_id, person.dose2)))
        for sign, query in parts:
            for region_id, dose2, n in session.execute(query):
                cell = counts.setdefault(region_id, [0, 0])
                cell[0] += sign * int(n or 0)
                if not dose2:
                    cell[1] += sign * int(n or 0)
    return regions, [Dropout(r.code, r.localized_name(locale), *counts.get(r.id, (0, 0)))
                     for r in regions.regions]


def immunization_indicators(session: Session, scope: ReportScope, *, cohort: int,
                            tz_name: str, zero_dose_age: durations.Duration,
                            parent_code: str | None = None, locale: str = "en",
                            on: date | None = None) -> IndicatorReport:
    """As services.immunization_indicators_live, from the children counted by birth date,
    area and measure. Whether a birth date's children had reached an age on ``on`` is the
    rule's (rules.reached), asked of every day of the cohort's year; as a later birth
    reaches an age no sooner, the days that had are the year's first ones, up to a last
    day, and one SQL query sums each region's children born up to that day and after it."""
    on = on or datetime.now(zoneinfo.ZoneInfo(tz_name)).date()
    regions = regions_for(session, scope, parent_code)
    ages = [(text, durations.parse(text)) for text in rules.INDICATOR_AGES]
    if not regions.regions:
        return IndicatorReport(regions, cohort, on, [], {})
    first, last = date(cohort, 1, 1), date(cohort, 12, 31)
    year = [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def last_reached(age: durations.Duration) -> date:
        """The last birth date of the year that had reached ``age`` (the day before the
        year when none had)."""
        reached = [day for day in year if rules.reached(age, day, on)]
        return reached[-1] if reached else first - timedelta(days=1)

    tree = region_tree(regions.regions)
    table = summary.report_cohort
    limits = {text: last_reached(age) for text, age in ages}
    never_limit = last_reached(zero_dose_age)
    columns = [func.sum(table.c.children), func.sum(table.c.any_dose),
               func.sum(case((table.c.birth_date <= never_limit, table.c.children), else_=0)),
               func.sum(case((table.c.birth_date <= never_limit, table.c.any_dose), else_=0))]
    names = []
    for text, _age in ages:
        for name in ("children", *(summary.measure_column(text, m) for m in summary.MEASURES)):
            names.append((text, name))
            columns.append(func.sum(case((table.c.birth_date <= limits[text], table.c[name]),
                                         else_=0)))
    rows = session.execute(
        select(tree.c.region_id, *columns)
        .join(tree, tree.c.id == table.c.location_id)
        .where(table.c.birth_date >= first, table.c.birth_date <= last,
               location_visible(scope, table.c.location_id))
        .group_by(tree.c.region_id))
    figures = {(region.id, text): rules.new_figures() for region in regions.regions
               for text, _age in ages}
    never: dict[int, int] = {}
    for region_id, children, _any, old_children, old_with_dose, *sums in rows:
        reached_counts: dict[str, dict[str, int]] = {}
        for (text, name), n in zip(names, sums):
            reached_counts.setdefault(text, {})[name] = int(n or 0)
        if never_limit >= first:
            never[region_id] = rules.never_vaccinated_count(
                never_limit, int(old_children or 0), int(old_with_dose or 0), zero_dose_age, on)
        for text, _age in ages:
            cell = reached_counts[text]
            eligible = cell.pop("children")
            rules.count_children(figures[(region_id, text)], int(children or 0) - eligible,
                                 False, {})
            rules.count_children(figures[(region_id, text)], eligible, True,
                                 {m: cell[summary.measure_column(text, m)]
                                  for m in summary.MEASURES})
    population = cohort_population(session, scope, tree, [age for _t, age in ages])
    out = []
    for region in regions.regions:
        for text, age in ages:
            found = figures[(region.id, text)]
            band = rules.population_band(age)
            found.population = population.get((region.id, band))
            found.population_band = band if found.population else ""
            out.append(rules.IndicatorRow(region.code, region.localized_name(locale), cohort,
                                          str(age), found))
    return IndicatorReport(regions, cohort, on, out,
                           {r.code: never.get(r.id, 0) for r in regions.regions})
