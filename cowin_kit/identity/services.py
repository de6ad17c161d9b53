"""Staff accounts, their sign-in and role grants, and partner API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from cowin_kit.audit import services as audit
from cowin_kit.core import ratelimit
from cowin_kit.core.db import utcnow
from cowin_kit.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from cowin_kit.geography.models import Facility, Location
from cowin_kit.core.i18n import _
from cowin_kit.core.security import keyring
from cowin_kit.identity import access, rules
from cowin_kit.identity.models import PartnerApiKey, RoleGrant, StaffUser

_hasher = PasswordHasher()

# Failed sign-ins allowed from one source (client address) for one user name, per window;
# past them that source is refused for that name, whether it exists or not, until the
# window ends. No account is ever locked: nobody can lock a colleague out.
SIGN_IN_ATTEMPTS_PER_SOURCE = 10
SIGN_IN_WINDOW = "15minute"


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def clean_contact(region: str | None, mobile: str | None,
                  email: str | None) -> tuple[str | None, str | None]:
    """A staff contact as stored: the mobile in E.164 (of the pack's phone ``region``) and
    the e-mail address, each None when empty; InvalidInput naming the field."""
    mobile_text = " ".join(str(mobile or "").split())
    email_text = str(email or "").strip()
    bad: dict[str, list[str]] = {}
    number = None
    if mobile_text:
        try:
            number = rules.normalize_mobile(mobile_text, region)
        except rules.InvalidMobile as exc:
            bad["mobile"] = [str(exc)]
    if email_text and rules.email_problem(email_text):
        bad["email"] = [str(rules.email_problem(email_text))]
    if bad:
        first = next(iter(bad.values()))[0]
        raise InvalidInput(first, code="invalid_contact", fields=bad)
    return number, email_text or None


def create_staff_user(session: Session, username: str, password: str,
                      display_name: str = "", *, mobile: str | None = None,
                      email: str | None = None) -> StaffUser:
    """A new account; ``mobile``/``email`` as cleaned by :func:`clean_contact`."""
    username = username.strip()
    problem = rules.username_problem(username) or rules.password_problem(password)
    if problem:
        raise InvalidInput(problem)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise Conflict(_("A staff user named %(name)s already exists.", name=username),
                       code="staff_user_exists")
    user = StaffUser(username=username, display_name=display_name or username,
                     password_hash=_hasher.hash(password), mobile=mobile, email=email)
    session.add(user)
    session.flush()
    # no grants yet: no area's (the creating administrator still reads their own act)
    audit.record(session, "staff_user.create", "staff_user", user.id, place=audit.NATIONAL,
                 username=username, contact=_contact_audit(user))
    return user


def _contact_audit(user: StaffUser) -> dict[str, bool]:
    # whether a contact is set, not the number or address itself
    return {"mobile": user.mobile is not None, "email": user.email is not None}


def _set_contact(session: Session, user: StaffUser, mobile: str | None,
                 email: str | None) -> None:
    user.mobile, user.email = mobile, email
    audit.record(session, "staff_user.contact", "staff_user", user.id,
                 place=staff_place(session, user), username=user.username, contact=_contact_audit(user))


def alert_recipients(session: Session, action: str,
                     target: access.Scope) -> list[StaffUser]:
    """Whom an alert about a place is sent to: the active staff with a mobile number
    holding ``action`` on a grant that reaches ``target``, the nearest of them only (the
    facility's own staff before the district's, the district's before the state's; the
    national administrators when nobody closer has a mobile)."""
    users = session.scalars(select(StaffUser).where(
        StaffUser.active.is_(True), StaffUser.mobile.is_not(None))
        .options(selectinload(StaffUser.grants)).order_by(StaffUser.id))
    ranked: list[tuple[int, StaffUser]] = []
    for user in users:
        reaching = [grant for grant in access.grants_carrying(user, action)
                    if access.reaches(grant, target)]
        if reaching:
            ranked.append((max(access.nearness(g, target) for g in reaching), user))
    nearest = max((rank for rank, _user in ranked), default=0)
    return [user for rank, user in ranked if rank == nearest]


def _resolve_scope(session: Session, location_code: str | None,
                   facility_code: str | None) -> tuple[int | None, int | None]:
    """Location and facility ids for the codes a grant is given with."""
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
    return location_id, facility_id


def _matching_grants(session: Session, user: StaffUser, role: str, location_id: int | None,
                     facility_id: int | None) -> list[RoleGrant]:
    return list(session.scalars(select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == role,
        RoleGrant.location_id.is_(None) if location_id is None
        else RoleGrant.location_id == location_id,
        RoleGrant.facility_id.is_(None) if facility_id is None
        else RoleGrant.facility_id == facility_id,
    )))


def grant_role(session: Session, user: StaffUser, role: str,
               location_code: str | None = None,
               facility_code: str | None = None) -> RoleGrant:
    if role not in rules.STAFF_ROLES:
        raise InvalidInput(_("Unknown role %(role)s.", role=role), code="unknown_role")
    location_id, facility_id = _resolve_scope(session, location_code, facility_code)
    problem = rules.scope_problem(role, has_location=location_id is not None,
                                  has_facility=facility_id is not None)
    if problem:
        raise InvalidInput(problem, code="invalid_role_scope")
    # Duplicates would make a later revoke look ineffective.
    if _matching_grants(session, user, role, location_id, facility_id):
        raise Conflict(_("%(user)s already holds %(role)s there.", user=user.username,
                         role=role), code="role_already_granted")
    grant = RoleGrant(user_id=user.id, role=role, location_id=location_id,
                      facility_id=facility_id)
    session.add(grant)
    session.flush()
    session.expire(user, ["grants"])
    audit.record(session, "role.grant", "staff_user", user.id, place=staff_place(session, user),
                 role=role,
                 location=location_code, facility=facility_code)
    return grant


def revoke_role(session: Session, user: StaffUser, role: str,
                location_code: str | None = None,
                facility_code: str | None = None) -> None:
    """Remove the grant of ``role`` on exactly that scope (a district grant is not removed
    by revoking the state)."""
    location_id, facility_id = _resolve_scope(session, location_code, facility_code)
    grants = _matching_grants(session, user, role, location_id, facility_id)
    if not grants:
        raise NotFound(_("%(user)s does not hold %(role)s there.", user=user.username,
                         role=role), code="grant_not_found")
    for grant in grants:
        session.delete(grant)
    session.flush()
    session.expire(user, ["grants"])
    audit.record(session, "role.revoke", "staff_user", user.id,
                 place=_smallest_common_place(session, [*user.grants, *grants]), role=role,
                 location=location_code, facility=facility_code)


def _smallest_common_place(session: Session, grants: list[RoleGrant]) -> audit.Place:
    """The smallest part of the hierarchy covering every grant: their facility when they
    all name one, else the deepest location all their areas lie in; national when one
    covers the country (or there are none)."""
    scopes = [access.scope_of_grant(session, grant) for grant in grants]
    if not scopes or any(not scope.location_path for scope in scopes):
        return audit.NATIONAL
    common: list[int] = []
    for ids in zip(*(scope.location_path for scope in scopes)):
        if len(set(ids)) != 1:
            break
        common.append(ids[0])
    if not common:
        return audit.NATIONAL
    facilities = {scope.facility_id for scope in scopes}
    facility = facilities.pop() if len(facilities) == 1 else None
    if facility is not None and len(common) == len(scopes[0].location_path):
        return audit.Place(common[-1], facility)
    return audit.Place(common[-1])


def staff_place(session: Session, user: StaffUser) -> audit.Place:
    """Where the events about a staff account happen (its sign-ins, password, roles): the
    smallest area covering all of its grants, so that an administrator reads them only
    when the whole account lies in their area."""
    return _smallest_common_place(session, list(user.grants))


def find_staff_user(session: Session, username: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.username == username)).first()


def get_staff_user(session: Session, username: str) -> StaffUser:
    user = find_staff_user(session, username)
    if user is None:
        raise NotFound(_("No staff user named %(name)s.", name=username),
                       code="staff_user_not_found")
    return user


def list_staff(session: Session) -> list[StaffUser]:
    """Every staff account by user name, grants (with their places) loaded."""
    return list(session.scalars(
        select(StaffUser).order_by(StaffUser.username).options(
            selectinload(StaffUser.grants).selectinload(RoleGrant.location),
            selectinload(StaffUser.grants).selectinload(RoleGrant.facility),
        )
    ))


def set_password(session: Session, user: StaffUser, password: str) -> None:
    """A new password also lifts a lockout: an administrator resetting it has verified
    the person by other means."""
    problem = rules.password_problem(password)
    if problem:
        raise InvalidInput(problem, code="weak_password")
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.token_epoch += 1
    audit.record(session, "staff_user.set_password", "staff_user", user.id,
                 place=staff_place(session, user), username=user.username)


def deactivate_user(session: Session, user: StaffUser) -> None:
    """Accounts are deactivated, never deleted, so the audit trail and the doses they
    recorded keep pointing at them. Commits."""
    if not user.active:
        return
    user.active = False
    user.token_epoch += 1
    audit.record(session, "staff_user.deactivate", "staff_user", user.id,
                 place=staff_place(session, user), username=user.username)
    session.commit()


# --- tokens -----------------------------------------------------------------------------

def issue_staff_token(user: StaffUser) -> str:
    """A signed token for the API and the pages, valid for STAFF_TOKEN_TTL_SECONDS."""
    return keyring().issue_staff_token(user.id, user.password_hash, user.token_epoch)


def staff_from_token(session: Session, token: str | None) -> StaffUser | None:
    """The active staff member a token names, or None: also when it has expired, the
    password has changed or the user signed out since it was issued (older tokens,
    without an epoch, count as epoch 0)."""
    ttl = current_app.config["COWIN_KIT"]["STAFF_TOKEN_TTL_SECONDS"]
    data = keyring().read_staff_token(token, ttl) if token else None
    user = session.get(StaffUser, data["s"]) if data else None
    if (user is None or not user.active or user.password_hash[-12:] != data["p"]
            or user.token_epoch != data.get("e", 0)):
        return None
    return user


def sign_out_staff(session: Session, user: StaffUser) -> None:
    """End every token of this user, on every device (the epoch they carry is raised).
    Commits."""
    user.token_epoch += 1
    audit.record(session, "staff_user.sign_out", "staff_user", user.id,
                 place=staff_place(session, user), username=user.username)
    session.commit()


# --- the system's own use cases (the CLI, `init`, the demo): no acting staff member, and
# each commits. Staff acting through the API and pages use the admin_* ones below.

def add_staff_user(session: Session, username: str, password: str, display_name: str = "",
                   *, role: str | None = None, location_code: str | None = None,
                   facility_code: str | None = None, region: str | None = None,
                   mobile: str | None = None, email: str | None = None) -> StaffUser:
    """Create a staff account, with one role if ``role`` is given and a contact if
    ``mobile``/``email`` are (the mobile read in the phone ``region``)."""
    mobile, email = clean_contact(region, mobile, email)
    user = create_staff_user(session, username, password, display_name, mobile=mobile,
                             email=email)
    if role:
        grant_role(session, user, role, location_code=location_code,
                   facility_code=facility_code)
    session.commit()
    return user


def set_contact(session: Session, username: str, *, region: str | None,
                mobile: str | None, email: str | None) -> StaffUser:
    """Set (or, given empty, clear) the account's mobile number and e-mail address."""
    user = get_staff_user(session, username)
    _set_contact(session, user, *clean_contact(region, mobile, email))
    session.commit()
    return user


def change_role(session: Session, username: str, role: str, *, grant: bool,
                location_code: str | None = None, facility_code: str | None = None) -> StaffUser:
    """Grant or revoke ``role`` on exactly that scope (the country when neither code)."""
    user = get_staff_user(session, username)
    (grant_role if grant else revoke_role)(session, user, role, location_code=location_code,
                                           facility_code=facility_code)
    session.commit()
    return user


# --- sign-in ----------------------------------------------------------------------------

def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def is_locked(user: StaffUser, now: datetime | None = None) -> bool:
    now = _as_utc(now or utcnow())
    return user.locked_until is not None and _as_utc(user.locked_until) > now


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """A hash to verify against when the user does not exist, so that an unknown name costs
    as much time as a wrong password and response times do not reveal which names exist."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _count_failure(session: Session, user: StaffUser) -> None:
    """Count one failure in a single UPDATE (parallel attempts cannot overwrite each
    other's count): failed sign-ins in a row, for the audit trail."""
    session.execute(
        update(StaffUser).where(StaffUser.id == user.id).values(
            failed_logins=StaffUser.failed_logins + 1,
        ).execution_options(synchronize_session=False)
    )
    session.refresh(user, ["failed_logins"])


def _refuse(session: Session, user: StaffUser | None, reason: str,
            **details: object) -> None:
    """Audit a refused sign-in and commit it (the caller rolls back on the error raised
    next, and neither the failure count nor the audit row may go with it)."""
    audit.record(session, "staff.sign_in_failed", "staff_user",
                 user.id if user is not None else "-",
                 place=staff_place(session, user) if user is not None else audit.NATIONAL,
                 # An unknown name may be a password typed into the wrong field: not kept.
                 username=user.username if user is not None else None,
                 reason=reason, **details)
    session.commit()


def authenticate_staff(session: Session, username: str, password: str, *,
                       source: str = "-", now: datetime | None = None) -> StaffUser:
    """Check a staff member's user name and password and return the account.

    Refusals are the same whatever the name: ``too_many_requests`` (429) once ``source``
    (the client's address) has failed SIGN_IN_ATTEMPTS_PER_SOURCE times at this name in
    the window (successful sign-ins are not counted), else Unauthorized ``invalid_credentials`` (unknown name, wrong password or
    deactivated account), with a password hash verified either way. The outcome is
    audited and committed here, success included: a sign-in is a unit of work of its own.
    ``now`` is for tests.
    """
    now = _as_utc(now or utcnow())
    username = username.strip()
    user = find_staff_user(session, username)
    limits = f"{SIGN_IN_ATTEMPTS_PER_SOURCE}/{SIGN_IN_WINDOW}"
    throttle_key = f"{source}|{username.casefold()}"
    wait = ratelimit.failures_refused(limits, "staff-sign-in-source", throttle_key)
    if wait is not None:
        _refuse(session, user, "throttled", source=source)
        raise ratelimit.refusal(wait)
    if user is None or not user.active:
        _password_matches(_decoy_hash(), password)
        ratelimit.count_failure(limits, "staff-sign-in-source", throttle_key)
        _refuse(session, user, "unknown_user" if user is None else "inactive")
        raise _invalid_credentials()
    if not _password_matches(user.password_hash, password):
        ratelimit.count_failure(limits, "staff-sign-in-source", throttle_key)
        _count_failure(session, user)
        _refuse(session, user, "wrong_password", failed_logins=user.failed_logins)
        raise _invalid_credentials()
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(session, "staff.sign_in", "staff_user", user.id,
                 place=staff_place(session, user), username=user.username)
    session.commit()
    return user


def _invalid_credentials() -> Unauthorized:
    return Unauthorized(_("Unknown user name or wrong password."), code="invalid_credentials")


# --- partner API keys -------------------------------------------------------------------

PARTNER_KEY_PREFIX = "ck_"


def _key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def create_partner_key(session: Session, creator: StaffUser, name: str,
                       rate_limit_per_minute: int = 600) -> tuple[PartnerApiKey, str]:
    """Issue a key; the plaintext is returned this once and never stored."""
    access.check_access(creator, "partner_key.manage", access.COUNTRY,
                        message=_("Only national administrators may issue partner API keys."))
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput(_("A partner key needs a name of 1-200 characters."),
                           code="invalid_name")
    if rate_limit_per_minute < 1:
        raise InvalidInput(_("The rate limit must be at least one call a minute."),
                           code="invalid_rate_limit")
    raw_key = PARTNER_KEY_PREFIX + secrets.token_urlsafe(32)
    key = PartnerApiKey(name=name, key_prefix=raw_key[:8], key_hash=_key_hash(raw_key),
                        created_by=creator.id, rate_limit_per_minute=rate_limit_per_minute)
    session.add(key)
    session.flush()
    audit.record(session, "partner_key.create", "partner_api_key", key.id,
                 place=audit.NATIONAL, name=name,
                 key_prefix=key.key_prefix, rate_limit_per_minute=rate_limit_per_minute,
                 created_by=creator.username)
    session.commit()
    return key, raw_key


def list_partner_keys(session: Session) -> list[PartnerApiKey]:
    return list(session.scalars(select(PartnerApiKey).order_by(PartnerApiKey.id)
                                .options(selectinload(PartnerApiKey.creator))))


def revoke_partner_key(session: Session, key_id: int,
                       now: datetime | None = None) -> PartnerApiKey:
    """Revoking twice keeps the first revocation time."""
    # Ids beyond a 32-bit integer cannot exist and would overflow some databases' drivers.
    key = session.get(PartnerApiKey, key_id) if 0 < key_id < 2**31 else None
    if key is None:
        raise NotFound(_("No partner key with id %(id)s.", id=key_id),
                       code="partner_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = _as_utc(now or utcnow())
        audit.record(session, "partner_key.revoke", "partner_api_key", key.id,
                     place=audit.NATIONAL, name=key.name,
                     key_prefix=key.key_prefix)
        session.commit()
    return key


def authenticate_partner(session: Session, raw_key: str) -> PartnerApiKey:
    """The key's row for an X-Api-Key header. Looked up by hash, so no timing-safe compare
    is needed: the response time depends on the hash, not on how much of a key matches."""
    key = None
    if raw_key.startswith(PARTNER_KEY_PREFIX):
        key = session.scalars(select(PartnerApiKey)
                              .where(PartnerApiKey.key_hash == _key_hash(raw_key))).first()
    if key is None or key.revoked_at is not None:
        raise Unauthorized(_("Unknown or revoked API key."), code="invalid_api_key")
    return key


# --- the same operations on behalf of a signed-in administrator (API and web) -------------

def _scope_of_codes(session: Session, location_code: str | None,
                    facility_code: str | None) -> access.Scope:
    location_id, facility_id = _resolve_scope(session, location_code, facility_code)
    if facility_id is not None:
        return access.scope_for_facility(session, facility_id)
    if location_id is not None:
        return access.scope_for_location(session, location_id)
    return access.COUNTRY


def _require_grant_right(session: Session, actor: StaffUser, role: str,
                         location_code: str | None, facility_code: str | None) -> None:
    target = _scope_of_codes(session, location_code, facility_code)
    if not actor.active or not access.can_grant(actor.grants, role, target):
        raise Forbidden(_("You may not grant or revoke %(role)s there.", role=role),
                        code="forbidden")


def _within_reach(session: Session, actor: StaffUser, user: StaffUser) -> bool:
    """Whether every grant the user holds lies inside the actor's ``staff.manage`` area
    (a user without grants is nobody's area's)."""
    return bool(user.grants) and all(
        access.can(actor, "staff.manage", access.scope_of_grant(session, grant))
        for grant in user.grants)


def staff_visible_to(session: Session, actor: StaffUser) -> list[StaffUser]:
    """Accounts an administrator may see: everyone for a national administrator, else
    those whose every grant lies inside the administrator's area (one role inside it does
    not bring a person from outside, a national administrator say, into view)."""
    if access.can(actor, "staff.manage", access.COUNTRY):
        return list_staff(session)
    return [user for user in list_staff(session) if _within_reach(session, actor, user)]


def _require_user_in_reach(session: Session, actor: StaffUser, user: StaffUser) -> None:
    """Roles of someone holding a grant the actor could not have given (above them, or
    outside their area) are not the actor's to change."""
    for grant in user.grants:
        if not access.can_grant(actor.grants, grant.role, access.scope_of_grant(session, grant)):
            raise Forbidden(_("%(user)s holds roles beyond yours: you may not change their "
                              "roles.", user=user.username), code="forbidden")


def admin_create_staff(session: Session, actor: StaffUser, username: str,
                       password: str | None, display_name: str = "", *,
                       region: str | None = None, mobile: str | None = None,
                       email: str | None = None) -> tuple[StaffUser, str | None]:
    """Create an account (without roles); returns the generated password, if any, once."""
    access.check_access(actor, "staff.manage", message=_("You may not manage staff accounts."))
    mobile, email = clean_contact(region, mobile, email)
    generated = None if password else generate_password()
    user = create_staff_user(session, username, password or generated, display_name,
                             mobile=mobile, email=email)
    session.commit()
    return user, generated


def admin_grant_role(session: Session, actor: StaffUser, username: str, role: str,
                     location_code: str | None = None,
                     facility_code: str | None = None) -> RoleGrant:
    user = get_staff_user(session, username)
    _require_grant_right(session, actor, role, location_code, facility_code)
    _require_user_in_reach(session, actor, user)
    grant = grant_role(session, user, role, location_code=location_code,
                       facility_code=facility_code)
    session.commit()
    return grant


def admin_revoke_role(session: Session, actor: StaffUser, username: str, role: str,
                      location_code: str | None = None,
                      facility_code: str | None = None) -> None:
    user = get_staff_user(session, username)
    _require_grant_right(session, actor, role, location_code, facility_code)
    _require_user_in_reach(session, actor, user)
    revoke_role(session, user, role, location_code=location_code, facility_code=facility_code)
    session.commit()


def admin_set_contact(session: Session, actor: StaffUser, username: str, *,
                      region: str | None, mobile: str | None,
                      email: str | None) -> StaffUser:
    """An administrator sets (or clears) the contact of an account in their area (one
    whose every grant they could have given), or the account sets its own."""
    user = get_staff_user(session, username)
    if user.id != actor.id:
        access.check_access(actor, "staff.manage",
                            message=_("You may not manage staff accounts."))
        if user.grants:
            _require_user_in_reach(session, actor, user)
    _set_contact(session, user, *clean_contact(region, mobile, email))
    session.commit()
    return user
