"""Recording audit events. Every write of every service calls ``record`` inside its own
transaction, so the event commits (or rolls back) with the change it describes."""

from __future__ import annotations

import getpass
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import insert
from sqlalchemy.orm import Session

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core.db import utcnow


@dataclass(frozen=True)
class Actor:
    type: str  # citizen, staff, partner, cli, system
    id: str
    request_id: str | None = None
    source_ip: str | None = None
    # the door a citizen came through when it is not the web or API ("ussd", "sms"):
    # recorded in each event's details as ``channel`` (the dashboard counts by it)
    channel: str | None = None


@dataclass(frozen=True)
class Place:
    """Where an event happened: the place of its target (a facility's area and the
    facility, a person's area...). Administrators of an area read the events placed
    inside it; ``NATIONAL`` (no place: a citizen's account, a partner key, a pack) is read
    by national auditors only."""

    location_id: int | None = None
    facility_id: int | None = None


NATIONAL = Place()


def at_facility(facility: Any) -> Place:
    """The place of a facility (anything with ``id`` and ``location_id``)."""
    return Place(facility.location_id, facility.id)


def at(location_id: int | None, facility_id: int | None = None) -> Place:
    return Place(location_id, facility_id)


SYSTEM = Actor("system", "system")
_current_actor: ContextVar[Actor] = ContextVar("cowin_kit_actor", default=SYSTEM)


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "unknown"
    return Actor("cli", user)


def current_actor() -> Actor:
    return _current_actor.get()


def set_actor(actor: Actor) -> None:
    """Make ``actor`` the one audit events name for the rest of this context (a request)."""
    _current_actor.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current_actor.set(actor)
    try:
        yield actor
    finally:
        _current_actor.reset(token)


def values(action: str, object_type: str, object_id: Any, *, place: Place,
           **details: Any) -> dict[str, Any]:
    """The columns of the event ``record`` would add, for services that insert their
    audit rows with a Core statement (in the same transaction as the change)."""
    actor = current_actor()
    return {"occurred_at": utcnow(), "actor_type": actor.type, "actor_id": actor.id,
            "action": action, "object_type": object_type, "object_id": str(object_id),
            "request_id": actor.request_id, "source_ip": actor.source_ip,
            "location_id": place.location_id, "facility_id": place.facility_id,
            "details": _with_channel(actor, details)}


def _with_channel(actor: Actor, details: dict[str, Any]) -> dict[str, Any]:
    return {**details, "channel": actor.channel} if actor.channel else details


def record(session: Session, action: str, object_type: str, object_id: Any, *,
           place: Place, **details: Any) -> AuditEvent:
    """Add the event to the session's transaction. ``place``: where it happened (the
    place of its target; ``NATIONAL`` when it belongs to no area): it decides which
    area administrators read it."""
    actor = current_actor()
    event = AuditEvent(
        actor_type=actor.type, actor_id=actor.id, action=action,
        object_type=object_type, object_id=str(object_id),
        request_id=actor.request_id, source_ip=actor.source_ip,
        location_id=place.location_id, facility_id=place.facility_id,
        details=_with_channel(actor, details),
    )
    session.add(event)
    return event


_INSERT_EVENT = insert(AuditEvent.__table__)


def record_now(session: Session, action: str, object_type: str, object_id: Any, *,
               place: Place, **details: Any) -> None:
    """``record``, written at once in the session's transaction with a Core INSERT (the
    columns of ``values``) instead of an ORM object left for the next flush: for a hot
    path that writes its own rows without the unit of work (registration)."""
    session.execute(_INSERT_EVENT, values(action, object_type, object_id, place=place,
                                          **details))
