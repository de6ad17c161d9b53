"""Facilities and sessions managed on behalf of a signed-in administrator: the access check
on the place, the change and its commit, in one call per use case (the admin API's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import NotFound
from cowin_kit.geography.models import Facility, Location
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.scheduling import sessions
from cowin_kit.scheduling.models import VaccinationSession


def _require(actor: StaffUser, action: str, scope: access.Scope) -> None:
    access.check_access(actor, action, scope, message=_("You may not do this there."))


def admin_upsert_facility(session: Session, actor: StaffUser, *, code: str,
                          location_code: str, **fields: Any) -> Facility:
    """Create or update a facility (``sessions.upsert_facility``'s fields) where the actor
    manages facilities: an existing one (matched by code) both where it is and, when it
    moves, where it goes (as the CSV import)."""
    location_id = session.scalar(select(Location.id).where(Location.code == location_code))
    if location_id is None:
        raise NotFound(_("No location with code %(code)s.", code=location_code),
                       code="location_not_found")
    current = session.execute(select(Facility.id, Facility.location_id)
                              .where(Facility.code == code)).first()
    if current is not None:
        _require(actor, "facility.manage", access.scope_for_facility(session, current.id))
    if current is None or current.location_id != location_id:
        _require(actor, "facility.manage", access.scope_for_location(session, location_id))
    facility = sessions.upsert_facility(session, code=code, location_code=location_code,
                                        **fields)
    session.commit()
    return facility


def admin_publish_session(session: Session, actor: StaffUser, *, facility_code: str,
                          **fields: Any) -> VaccinationSession:
    """Publish a session (``sessions.publish_session``'s fields) at a facility where the
    actor publishes sessions."""
    facility = session.scalars(select(Facility).where(Facility.code == facility_code)).first()
    if facility is None:
        raise NotFound(_("No facility with code %(code)s.", code=facility_code),
                       code="facility_not_found")
    _require(actor, "session.publish", access.scope_for_facility(session, facility.id))
    published = sessions.publish_session(session, facility=facility, **fields)
    session.commit()
    return published


def _managed_session(session: Session, actor: StaffUser, session_id: str) -> VaccinationSession:
    vaccination_session = sessions.published_session(session, session_id)
    _require(actor, "session.publish",
             access.scope_for_facility(session, vaccination_session.facility_id))
    return vaccination_session


def admin_change_capacity(session: Session, actor: StaffUser, session_id: str,
                          capacity_by_dose: dict[int, int]) -> VaccinationSession:
    """Change a session's seats (``sessions.change_capacity``, which commits)."""
    vaccination_session = _managed_session(session, actor, session_id)
    sessions.change_capacity(session, vaccination_session.id, capacity_by_dose)
    return vaccination_session


def admin_cancel_session(session: Session, pack: ActivePack, actor: StaffUser,
                         session_id: str) -> VaccinationSession:
    """Cancel a session (``sessions.cancel_session``, which commits with the messages to
    the people who were booked)."""
    vaccination_session = _managed_session(session, actor, session_id)
    sessions.cancel_session(session, pack, vaccination_session.id)
    return vaccination_session
