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
