"""Durations as packs write them: ``4d``, ``6w``, ``9m``, ``16y`` (a bare whole number is
years, as schedules wrote ages before units existed).

Days and weeks are exact; months and years are calendar arithmetic, as a health worker
counts them: 9 months after 31 May is 28 (or 29) February, the last day of the month the
count lands in. Pure: no I/O, no settings."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, timedelta

UNITS = ("d", "w", "m", "y")
_PATTERN = re.compile(r"^\s*(\d{1,5})\s*([dwmy])\s*$")


class DurationError(ValueError):
    """The text is not a duration; the message says what is accepted."""


@dataclass(frozen=True, order=False)
class Duration:
    amount: int
    unit: str  # one of UNITS

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise DurationError(f"unknown unit {self.unit!r} (use d, w, m or y)")
        if self.amount < 0:
            raise DurationError("must not be negative")

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def after(self, start: date) -> date:
        """The day this long after ``start`` (calendar months and years)."""
        if self.unit == "d":
            return start + timedelta(days=self.amount)
        if self.unit == "w":
            return start + timedelta(weeks=self.amount)
        months = self.amount * (12 if self.unit == "y" else 1)
        return add_months(start, months)

    def before(self, end: date) -> date:
        """The day this long before ``end`` (calendar months and years)."""
        if self.unit == "d":
            return end - timedelta(days=self.amount)
        if self.unit == "w":
            return end - timedelta(weeks=self.amount)
        months = self.amount * (12 if self.unit == "y" else 1)
        return add_months(end, -months)

    def approx_days(self) -> int:
        """A length in days for comparing durations of different units (a month is 30.44
        days, a year 365.25): good for validating a pack, not for computing a date."""
        per = {"d": 1.0, "w": 7.0, "m": 30.4375, "y": 365.25}[self.unit]
        return round(self.amount * per)


@lru_cache(maxsize=1 << 16)
def add_months(start: date, months: int) -> date:
    """``start`` moved by whole calendar months; a day past the target month's end becomes
    its last day. Remembered: due lists ask for the same birth dates' ages again and again
    (bench/due_list.py)."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(start.day, last))


def parse(value: object) -> Duration:
    """A pack's duration: ``"6w"`` and friends, or a whole number of years (``18``)."""
    if isinstance(value, bool):
        raise DurationError("must be a duration such as 4d, 6w, 9m or 16y")
    if isinstance(value, int):
        return Duration(value, "y")
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return Duration(int(match.group(1)), match.group(2))
        if value.strip().isdigit():
            return Duration(int(value), "y")
    raise DurationError("must be a duration such as 4d, 6w, 9m or 16y")


def parse_optional(value: object) -> Duration | None:
    return None if value is None else parse(value)


def age_reached(birth: date, age: Duration, on: date) -> bool:
    """Whether someone born on ``birth`` has reached ``age`` on the day ``on``."""
    return on >= age.after(birth)


__all__ = ["Duration", "DurationError", "UNITS", "add_months", "age_reached", "parse",
           "parse_optional"]
