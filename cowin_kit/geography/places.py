"""The place of what an audit event names: a facility's area, a person's area."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.audit.services import NATIONAL, Place
from cowin_kit.geography.models import Facility


def facility_place(session: Session, facility_id: int | None) -> Place:
    """A facility's place (its location and itself); ``NATIONAL`` for none. One small
    query: callers holding the Facility row use ``audit.at_facility`` instead."""
    if facility_id is None:
        return NATIONAL
    location_id = session.scalar(select(Facility.location_id).where(Facility.id == facility_id))
    return Place(location_id, facility_id)


def facility_places(session: Session, facility_ids: Iterable[int | None]
                    ) -> Callable[[int | None], Place]:
    """The places of many facilities read in one query per thousand (imports): a lookup
    from a facility id (None: ``NATIONAL``)."""
    wanted = sorted({i for i in facility_ids if i is not None})
    locations: dict[int, int] = {}
    for start in range(0, len(wanted), 1000):
        locations.update(session.execute(select(Facility.id, Facility.location_id).where(
            Facility.id.in_(wanted[start:start + 1000]))).all())
    return lambda facility_id: NATIONAL if facility_id is None \
        else Place(locations.get(facility_id), facility_id)


def person_place(session: Session, person: Any) -> Place:
    """A person's place: the area they live in (and their home facility), else their home
    facility's; ``NATIONAL`` for a person of no area (registered online, not yet seen)."""
    if person.location_id is not None:
        return Place(person.location_id, person.facility_id)
    return facility_place(session, person.facility_id)
