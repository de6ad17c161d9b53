"""Pure rules of the campaign reports: age bands, day boundaries in the pack's timezone,
percentages, which dose completes a schedule, and the CSV form of each report."""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Sequence

from cowin_kit.vaccination.rules import total_doses

# Used when the pack has no population.csv (CoWIN reported 18-44, 45-59 and 60+).
DEFAULT_AGE_BANDS = ("0-17", "18-44", "45-59", "60+")
OTHER_BAND = "other"
MAX_DAYS = 366
_BAND = re.compile(r"^(\d{1,3})-(\d{1,3})$|^(\d{1,3})\+$")


@dataclass(frozen=True)
class AgeBand:
    label: str
    low: int
    high: int | None  # None: no upper bound ("60+")


def parse_age_band(label: str) -> AgeBand:
    """'18-44' -> AgeBand('18-44', 18, 44); '60+' -> AgeBand('60+', 60, None)."""
    match = _BAND.match(label.strip())
    if not match:
        raise ValueError(f"{label!r} is not an age band like 18-44 or 60+")
    if match.group(3) is not None:
        return AgeBand(label.strip(), int(match.group(3)), None)
    low, high = int(match.group(1)), int(match.group(2))
    if low > high:
        raise ValueError(f"{label!r} ends before it starts")
    return AgeBand(label.strip(), low, high)


def age_bands(labels: Iterable[str]) -> list[AgeBand]:
    """The distinct bands, youngest first; the defaults when there are none."""
    parsed = {parse_age_band(label) for label in labels} or {
        parse_age_band(label) for label in DEFAULT_AGE_BANDS}
    return sorted(parsed, key=lambda band: (band.low, band.high is None, band.high or 0))


def band_of(age: int, bands: Sequence[AgeBand]) -> str:
    """The label of the first band holding ``age``, or ``OTHER_BAND``."""
    for band in bands:
        if age >= band.low and (band.high is None or age <= band.high):
            return band.label
    return OTHER_BAND


def percent(part: int, whole: int | None) -> float | None:
    """part of whole in per cent with one decimal, or None without a denominator."""
    if not whole:
        return None
    return round(100.0 * part / whole, 1)


def day_bounds(last_day: date, days: int, tz_name: str) -> list[tuple[date, datetime, datetime]]:
    """``days`` local days ending with ``last_day``, each with its [start, end) instants in
    UTC (a day is 23 or 25 hours long where the clocks change)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    tz = zoneinfo.ZoneInfo(tz_name)
    out = []
    for offset in range(days - 1, -1, -1):
        day = last_day - timedelta(days=offset)
        start = datetime.combine(day, time(0), tz).astimezone(timezone.utc)
        end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
        out.append((day, start, end))
    return out


def completing_dose(schedule: Any) -> int:
    """The dose number that completes a schedule's primary series."""
    return total_doses(schedule)


# The series of the doses-per-day plot: dose 1, dose 2, and boosters (dose 3 and later).
DOSE_GROUPS = ("1", "2", "booster")


# --- the figures -------------------------------------------------------------------------


@dataclass
class DailyDoses:
    day: date
    by_group: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_group.values())


@dataclass
class _Coverage:
    """People with a first dose and with the schedule completed, against a population."""

    first_doses: int
    completed: int
    population: int | None

    @property
    def first_percent(self) -> float | None:
        return percent(self.first_doses, self.population)

    @property
    def completed_percent(self) -> float | None:
        return percent(self.completed, self.population)


@dataclass
class RegionCoverage(_Coverage):
    code: str = ""
    name: str = ""


@dataclass
class AgeSexCell(_Coverage):
    age_band: str = ""
    sex: str = ""


@dataclass
class Dropout:
    code: str
    name: str
    due: int        # had dose 1 at least the minimum interval ago
    missing: int    # of those, without dose 2

    @property
    def percent(self) -> float | None:
        return percent(self.missing, self.due)


# --- CSV ---------------------------------------------------------------------------------


def _blank(value: Any) -> Any:
    return "" if value is None else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """RFC 4180 CSV (CRLF line ends); None becomes an empty cell. Cells that a spreadsheet
    would run as a formula are prefixed with a quote (CSV injection)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe_cell(_blank(value)) for value in row])
    return buffer.getvalue()


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def daily_csv(rows: Sequence[DailyDoses]) -> str:
    return to_csv(["date", "dose_1", "dose_2", "booster", "total"],
                  ([r.day.isoformat(), *(r.by_group.get(g, 0) for g in DOSE_GROUPS), r.total]
                   for r in rows))


def coverage_csv(rows: Sequence[RegionCoverage]) -> str:
    return to_csv(["region_code", "region_name", "first_doses", "completed", "population",
                   "first_dose_percent", "completed_percent"],
                  ([r.code, r.name, r.first_doses, r.completed, r.population,
                    r.first_percent, r.completed_percent] for r in rows))


def age_sex_csv(rows: Sequence[AgeSexCell]) -> str:
    return to_csv(["age_band", "sex", "first_doses", "completed", "population",
                   "first_dose_percent"],
                  ([r.age_band, r.sex, r.first_doses, r.completed, r.population,
                    r.first_percent] for r in rows))


def dropout_csv(rows: Sequence[Dropout]) -> str:
    return to_csv(["region_code", "region_name", "dose_1_due_for_dose_2", "without_dose_2",
                   "dropout_percent"],
                  ([r.code, r.name, r.due, r.missing, r.percent] for r in rows))


# --- routine immunization: WHO/UNICEF standard indicators -----------------------------------
#
# WUENIC's indicators (WHO/UNICEF Estimates of National Immunization Coverage): DTP1, DTP3,
# MCV1, MCV2 — the share of a birth cohort that received the first / third dose of a
# DTP-containing vaccine, and the first / second dose of a measles-containing vaccine;
# drop-out DTP1->DTP3 and MCV1->MCV2 = (first - later) / first; zero-dose children = no
# DTP1 (the Immunization Agenda 2030 definition). Sources: WHO, "Immunization Agenda 2030"
# (zero-dose: children who have not received DTP1); WHO/UNICEF, WUENIC methods and the
# "Reaching every district" guide (drop-out rate formula).
#
# A child counts for "DTPn by A" when their n-th dose of any product whose antigens include
# DTP was given before they reached age A (before the first birthday for 12 months).

STANDARD_INDICATORS: tuple[tuple[str, str, int], ...] = (
    ("DTP1", "DTP", 1), ("DTP3", "DTP", 3), ("MCV1", "MCV", 1), ("MCV2", "MCV", 2))
INDICATOR_AGES = ("12m", "24m")
DROPOUTS: tuple[tuple[str, str], ...] = (("DTP1", "DTP3"), ("MCV1", "MCV2"))
ZERO_DOSE_INDICATOR = "DTP1"


def product_antigens(code: str, antigens: Sequence[str] | None) -> tuple[str, ...]:
    """The antigens a product counts for: its own list, or its code when the pack gives
    none."""
    return tuple(antigens) if antigens else (code,)


@dataclass(frozen=True)
class ChildHistory:
    """A registered child and the days of their routine doses, per antigen."""

    birth_date: date
    antigen_days: dict[str, tuple[date, ...]] = field(default_factory=dict)

    @property
    def any_dose(self) -> bool:
        return any(self.antigen_days.values())


def child_history(birth_date: date, doses: Iterable[tuple[date, Sequence[str]]]
                  ) -> ChildHistory:
    """From (day given, antigens of the product) pairs."""
    days: dict[str, list[date]] = {}
    for day, antigens in doses:
        for antigen in antigens:
            days.setdefault(antigen, []).append(day)
    return ChildHistory(birth_date, {a: tuple(sorted(d)) for a, d in days.items()})


def has_dose_by(child: ChildHistory, antigen: str, number: int, age_limit: date) -> bool:
    """Whether the child's ``number``-th dose of ``antigen`` was given before
    ``age_limit`` (the day they reached the indicator's age)."""
    return len([d for d in child.antigen_days.get(antigen, ()) if d < age_limit]) >= number


def dropout_rate(first: int, later: int) -> float | None:
    """(first - later) / first in per cent with one decimal; None without first doses.
    Negative when more children had the later dose (a data-quality signal, kept)."""
    if not first:
        return None
    return round(100.0 * (first - later) / first, 1)


@dataclass
class CohortFigures:
    """One area's indicators for one birth cohort at one age."""

    registered: int = 0       # children of the cohort registered in the area
    eligible: int = 0         # of those, who had reached the age on the report day
    counts: dict[str, int] = field(default_factory=dict)   # indicator -> children
    zero_dose: int = 0        # eligible children without DTP1 by the age
    population: int | None = None  # the pack's figure for the cohort's age, where given
    population_band: str = ""      # the population.csv band that figure is from

    def count(self, indicator: str) -> int:
        return self.counts.get(indicator, 0)

    def coverage(self, indicator: str) -> float | None:
        return percent(self.count(indicator), self.eligible)

    def population_coverage(self, indicator: str) -> float | None:
        return percent(self.count(indicator), self.population)

    def dropout(self, first: str, later: str) -> float | None:
        return dropout_rate(self.count(first), self.count(later))

    @property
    def zero_dose_percent(self) -> float | None:
        return percent(self.zero_dose, self.eligible)


ZERO_DOSE = "zero_dose"  # the measure of a child without DTP1 by the age


def reached(age: Any, birth_date: date, on: date) -> bool:
    """Whether a child born on ``birth_date`` had reached ``age`` on ``on`` (and so counts
    in the indicators at that age)."""
    return age.after(birth_date) <= on


def child_measures(child: ChildHistory, age: Any) -> frozenset[str]:
    """What a child counts for at ``age``: the STANDARD_INDICATORS whose dose they had
    before reaching it, and ZERO_DOSE when they had no DTP1 by then. Fixed once the birth
    date and the doses are (the report day only decides whether the child counts)."""
    limit = age.after(child.birth_date)
    met = {name for name, antigen, number in STANDARD_INDICATORS
           if has_dose_by(child, antigen, number, limit)}
    if ZERO_DOSE_INDICATOR not in met:  # one of the standard indicators
        met.add(ZERO_DOSE)
    return frozenset(met)


def count_children(figures: "CohortFigures", children: int, eligible: bool,
                   measures: Any) -> None:
    """Add ``children`` registered children to ``figures``; when they had reached the age
    (``eligible``), also what they count for (``measures``: measure -> children, of
    child_measures' names)."""
    figures.registered += children
    if not eligible:
        return
    figures.eligible += children
    for measure, n in measures.items():
        if measure == ZERO_DOSE:
            figures.zero_dose += n
        else:
            figures.counts[measure] = figures.counts.get(measure, 0) + n


def new_figures() -> "CohortFigures":
    return CohortFigures(counts={name: 0 for name, _a, _n in STANDARD_INDICATORS})


def cohort_figures(children: Iterable[ChildHistory], *, age: Any, on: date) -> CohortFigures:
    """The indicators of a cohort's children at ``age`` (a core.durations Duration), counted
    among the children who had reached that age by ``on``."""
    figures = new_figures()
    for child in children:
        count_children(figures, 1, reached(age, child.birth_date, on),
                       dict.fromkeys(child_measures(child, age), 1))
    return figures


def never_vaccinated_count(birth_date: date, children: int, with_a_dose: int,
                           zero_dose_age: Any, on: date) -> int:
    """Of ``children`` registered children born on ``birth_date``, ``with_a_dose`` of whom
    had a routine dose: how many are past the pack's ``routine.zero_dose_age`` on ``on``
    with no routine dose at all (the list an outreach team looks for)."""
    return children - with_a_dose if reached(zero_dose_age, birth_date, on) else 0


def never_vaccinated(child: ChildHistory, zero_dose_age: Any, on: date) -> bool:
    """Registered, past the pack's ``routine.zero_dose_age`` on ``on``, and no routine dose
    at all."""
    return never_vaccinated_count(child.birth_date, 1, int(child.any_dose),
                                  zero_dose_age, on) == 1


def population_band(age: Any) -> str:
    """The population.csv age band (whole years) the cohort is in when it reaches ``age``:
    12 months -> '0-0' (infants), 24 months -> '1-1'."""
    years = max(age.approx_days() // 365 - 1, 0)
    return f"{years}-{years}"


@dataclass
class IndicatorRow:
    code: str
    name: str
    cohort: int
    age: str
    figures: CohortFigures


INDICATOR_COLUMNS = (
    "region_code", "region_name", "birth_cohort", "age", "registered", "reached_age",
    "population", "population_band", "dtp1", "dtp1_percent", "dtp3", "dtp3_percent", "mcv1", "mcv1_percent",
    "mcv2", "mcv2_percent", "dropout_dtp1_dtp3_percent", "dropout_mcv1_mcv2_percent",
    "zero_dose", "zero_dose_percent", "never_vaccinated")


def indicator_record(row: IndicatorRow, never: int | None = None) -> dict[str, Any]:
    """One row as the API and CSV give it (percentages of the registered children who had
    reached the age; ``population`` is the pack's figure, shown beside them)."""
    f = row.figures
    record: dict[str, Any] = {
        "region_code": row.code, "region_name": row.name, "birth_cohort": row.cohort,
        "age": row.age, "registered": f.registered, "reached_age": f.eligible,
        "population": f.population, "population_band": f.population_band}
    for name, _antigen, _number in STANDARD_INDICATORS:
        record[name.lower()] = f.count(name)
        record[f"{name.lower()}_percent"] = f.coverage(name)
    for first, later in DROPOUTS:
        record[f"dropout_{first.lower()}_{later.lower()}_percent"] = f.dropout(first, later)
    record["zero_dose"] = f.zero_dose
    record["zero_dose_percent"] = f.zero_dose_percent
    record["never_vaccinated"] = never
    return record


def indicators_csv(records: Sequence[dict[str, Any]]) -> str:
    return to_csv(INDICATOR_COLUMNS, ([r[c] for c in INDICATOR_COLUMNS] for r in records))
