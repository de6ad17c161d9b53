"""The administrative tree as the due rules see it: each place with the codes of itself and
every place above it (a schedule limited to areas applies below any of them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.geography.models import Location


def place_paths(session: Session, pack: ActivePack | None) -> dict[int, tuple[str, ...]]:
    """Location id -> (its code, its parent's code, ... up to the top level), for every
    place of the pack: read once per snapshot of the installed pack (places change only
    with it)."""
    def load() -> dict[int, tuple[str, ...]] | None:
        rows = {lid: (code, parent) for lid, code, parent in
                session.execute(select(Location.id, Location.code, Location.parent_id))}
        paths: dict[int, tuple[str, ...]] = {}

        def path(lid: int) -> tuple[str, ...]:
            known = paths.get(lid)
            if known is not None:
                return known
            trail, at = [], lid
            while at is not None and at in rows and len(trail) <= len(rows):
                trail.append(at)
                at = rows[at][1]
            codes = tuple(rows[i][0] for i in trail)
            for offset, i in enumerate(trail):
                paths.setdefault(i, codes[offset:])
            return codes

        for lid in rows:
            path(lid)
        return paths or None

    if pack is None:
        return load() or {}
    return pack.memo(("geography", "place-paths"), load) or {}


def area_codes(session: Session, pack: ActivePack | None,
               location_id: int | None) -> tuple[str, ...]:
    """The codes of a person's place and every place above it; () when unknown."""
    if location_id is None:
        return ()
    return place_paths(session, pack).get(location_id, ())
