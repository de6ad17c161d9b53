"""Pure rules of the public dashboard and open data: small-count suppression, rolling
places up the hierarchy, the groups figures are published by, and their CSV form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from cowin_kit.reporting.rules import to_csv

# How doses are grouped on the public page (as the campaign reports' plot): dose 1,
# dose 2, and every later dose of a booked series as a booster; doses of routine series
# are counted apart.
FIRST, SECOND, BOOSTER, ROUTINE = "dose1", "dose2", "booster", "routine"
DOSE_GROUPS = (FIRST, SECOND, BOOSTER, ROUTINE)


def dose_group(series: str, dose_number: int) -> str:
    if series:
        return ROUTINE
    return FIRST if dose_number == 1 else SECOND if dose_number == 2 else BOOSTER


def suppressed(count: int, below: int) -> bool:
    """A count from 1 to ``below - 1`` is not published (0 and larger counts are)."""
    return 0 < count < below


def shown(count: int, below: int) -> int | str:
    """The published form of a count: the number, or "<N" when suppressed."""
    return f"<{below}" if suppressed(count, below) else count


def percent(part: int, whole: int | None, below: int) -> float | None:
    """A published percentage: none without a denominator or when the count itself is
    suppressed (it would reveal it)."""
    if not whole or suppressed(part, below):
        return None
    return round(100.0 * part / whole, 1)


def dropout(first: int, later: int, below: int) -> float | None:
    """(first - later) / first in per cent; none when either count is suppressed."""
    if not first or suppressed(first, below) or suppressed(later, below):
        return None
    return round(100.0 * (first - later) / first, 1)


@dataclass(frozen=True)
class Place:
    id: int
    parent_id: int | None
    level: int
    code: str
    names: Mapping[str, str]
    name: str

    def label(self, locale: str) -> str:
        return (self.names.get(locale) or self.names.get(locale.split("_")[0])
                or self.name)


def ancestor_at(places: Mapping[int, Place], location_id: int, level: int) -> int | None:
    """The id of the place at ``level`` above (or equal to) ``location_id``; None when the
    place lies above that level or is unknown."""
    place = places.get(location_id)
    while place is not None and place.level > level:
        place = places.get(place.parent_id) if place.parent_id is not None else None
    return place.id if place is not None and place.level == level else None


def subtree(places: Mapping[int, Place], root: int) -> set[int]:
    """``root`` and every place below it."""
    children: dict[int, list[int]] = {}
    for place in places.values():
        if place.parent_id is not None:
            children.setdefault(place.parent_id, []).append(place.id)
    out, todo = set(), [root]
    while todo:
        current = todo.pop()
        out.add(current)
        todo.extend(children.get(current, ()))
    return out


def roll_up(counts: Iterable[tuple[int, int]], places: Mapping[int, Place],
            level: int) -> dict[int, int]:
    """(location id, count) pairs summed by their place at ``level``; counts of places
    above that level (or of no place) are left out."""
    out: dict[int, int] = {}
    for location_id, count in counts:
        at = ancestor_at(places, location_id, level)
        if at is not None:
            out[at] = out.get(at, 0) + count
    return out


# --- open data ---------------------------------------------------------------------------

# The columns of the open data, in order (docs/open-data.md describes each).
OPEN_DATA_COLUMNS = ("date", "area_code", "area_name", "area_level", "product", "dose_group",
                     "sex", "age_group", "doses")


def open_data_csv(rows: Sequence[Sequence[Any]]) -> str:
    return to_csv(OPEN_DATA_COLUMNS, rows)
