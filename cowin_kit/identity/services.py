"""Staff accounts and role grants."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.errors import Conflict, InvalidInput, NotFound
from cowin_kit.geography.models import Location
from cowin_kit.i18n import _
from cowin_kit.identity import rules
from cowin_kit.identity.models import RoleGrant, StaffUser
from cowin_kit.scheduling.models import Facility

_hasher = PasswordHasher()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_staff_user(session: Session, username: str, password: str,
                      display_name: str = "") -> StaffUser:
    username = username.strip()
    problem = rules.username_problem(username) or rules.password_problem(password)
    if problem:
        raise InvalidInput(problem)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise Conflict(_("A staff user named %(name)s already exists.", name=username),
                       code="staff_user_exists")
    user = StaffUser(username=username, display_name=display_name or username,
                     password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    audit.record(session, "staff_user.create", "staff_user", user.id, username=username)
    return user


def grant_role(session: Session, user: StaffUser, role: str,
               location_code: str | None = None,
               facility_code: str | None = None) -> RoleGrant:
    if role not in rules.STAFF_ROLES:
        raise InvalidInput(_("Unknown role %(role)s.", role=role), code="unknown_role")
    location_id = None
    if location_code:
        location_id = session.scalar(select(Location.id).where(Location.code == location_code))
        if location_id is None:
            raise NotFound(_("No location with code %(code)s.", code=location_code),
                           code="location_not_found")
    facility_id = None
    if facility_code:
        facility_id = session.scalar(select(Facility.id).where(Facility.code == facility_code))
        if facility_id is None:
            raise NotFound(_("No facility with code %(code)s.", code=facility_code),
                           code="facility_not_found")
    problem = rules.scope_problem(role, has_location=location_id is not None,
                                  has_facility=facility_id is not None)
    if problem:
        raise InvalidInput(problem, code="invalid_role_scope")
    grant = RoleGrant(user_id=user.id, role=role, location_id=location_id,
                      facility_id=facility_id)
    session.add(grant)
    session.flush()
    audit.record(session, "role.grant", "staff_user", user.id, role=role,
                 location=location_code, facility=facility_code)
    return grant


def find_staff_user(session: Session, username: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
