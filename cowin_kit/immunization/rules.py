"""Pure rules of campaigns: the target age band, who is in it on a day, the target
population an area's figures give, and daily progress against a target. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Mapping, Sequence

from cowin_kit.core import durations
from cowin_kit.core.durations import Duration

CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# population.csv bands are whole years, e.g. "0-0", "1-4", "15-17", "60+"
_BAND = re.compile(r"^(\d{1,3})-(\d{1,3})$|^(\d{1,3})\+$")
OPEN_BAND_END = 100  # the upper end taken for an open band such as "60+"


@dataclass(frozen=True)
class AgeRange:
    """From the day a person reaches ``min_age`` to the day before they reach
    ``below_age`` (9m-15y: from 9 months old until the 15th birthday)."""

    min_age: Duration
    below_age: Duration

    def __str__(self) -> str:
        return f"{self.min_age}-{self.below_age}"

    def holds(self, birth_date: date, day: date) -> bool:
        return self.min_age.after(birth_date) <= day < self.below_age.after(birth_date)


def parse_age_range(text: str) -> AgeRange:
    """'9m-15y' -> AgeRange(9m, 15y); ValueError (its message says why) otherwise."""
    low, sep, high = str(text).strip().partition("-")
    if not sep:
        raise ValueError("must be two ages like 9m-15y")
    try:
        band = AgeRange(durations.parse(low.strip()), durations.parse(high.strip()))
    except durations.DurationError as exc:
        raise ValueError(f"must be two ages like 9m-15y ({exc})") from None
    if band.below_age.approx_days() <= band.min_age.approx_days():
        raise ValueError("the upper age must be above the lower one")
    return band


def years(duration: Duration) -> float:
    return {"d": 1 / 365.25, "w": 7 / 365.25, "m": 1 / 12, "y": 1.0}[duration.unit] \
        * duration.amount


def band_years(label: str) -> tuple[int, int] | None:
    """A population band's years as [start, end): '1-4' -> (1, 5); '60+' -> (60, 100)."""
    match = _BAND.match(label.strip())
    if not match:
        return None
    if match.group(3) is not None:
        return int(match.group(3)), max(int(match.group(3)) + 1, OPEN_BAND_END)
    return int(match.group(1)), int(match.group(2)) + 1


def target_from_bands(figures: Iterable[tuple[str, int]], ages: AgeRange) -> int | None:
    """The people of an area in the age range, from its population figures by band: a band
    inside the range counts whole, a band partly inside counts for the share of its years
    inside (people spread evenly over a band's years). None when no band overlaps."""
    low, high = years(ages.min_age), years(ages.below_age)
    total, found = 0.0, False
    for label, count in figures:
        span = band_years(label)
        if span is None:
            continue
        start, end = span
        overlap = min(end, high) - max(start, low)
        if overlap <= 0:
            continue
        found = True
        total += count * overlap / (end - start)
    return round(total) if found else None


def campaign_days(starts_on: date, ends_on: date, today: date) -> list[date]:
    """The campaign's days up to today (none before it starts)."""
    last = min(ends_on, today)
    return [starts_on + timedelta(days=i) for i in range((last - starts_on).days + 1)]


@dataclass(frozen=True)
class DayProgress:
    day: date
    doses: int
    cumulative: int
    percent: float | None   # cumulative of the target


def progress(days: Sequence[date], doses_by_day: Mapping[date, int],
             target: int | None) -> list[DayProgress]:
    out, running = [], 0
    for day in days:
        count = doses_by_day.get(day, 0)
        running += count
        out.append(DayProgress(day, count, running,
                               round(100.0 * running / target, 1) if target else None))
    return out
