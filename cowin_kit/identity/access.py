"""Who may do what, where: the one place that answers it.

A staff user's role grants each cover a part of the hierarchy (the whole country, a
location's subtree, or one facility). An action is allowed when one grant both carries the
action and reaches the target. Targets are described by a ``Scope`` built once from the
database (``scope_for_location``), so the rule itself needs no I/O. Routes, pages, services
and the CLI all ask through ``check_access`` (Forbidden when refused) or ``can`` (to branch),
never by reading ``ROLE_ACTIONS`` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.core.errors import Forbidden, NotFound
from cowin_kit.geography.models import Facility, Location
from cowin_kit.core.i18n import _
from cowin_kit.identity.models import StaffUser

ACTIONS = (
    "facility.manage",      # create and edit facilities
    "session.publish",      # publish and change vaccination sessions
    "staff.manage",         # create staff accounts, grant and revoke roles
    "partner_key.manage",   # issue and revoke partner API keys
    "audit.read",           # read the audit trail
    "dose.record",          # record an administered dose
    "beneficiary.verify",   # check a beneficiary's ID and secret code at the facility
    "certificate.verify",   # check a certificate presented to a verifier
    "report.read",          # coverage and operational reports
    "aefi.read",            # adverse events following immunisation
    "aefi.investigate",     # act in an AEFI investigation stage whose role one holds
    "people.register",      # register newborns, children and pregnant women, and their
                            # pregnancies' outcomes, in the area (or facility) of the grant
    "due_list.read",        # read who is due or overdue for routine doses (due lists,
                            # zero-dose children, defaulters) in the area of the grant
    "campaign.manage",      # plan campaigns (areas, ages, dates, targets) in the grant's area
    "field.review",         # decide the field app's sync conflicts (the review queue)
    "stock.manage",         # receive, send, adjust and count vaccine stock at the grant's
                            # stores; nationally also the lot register and recalls
    "stock.read",           # see stock on hand, ledgers and stock alerts in the grant's area
    "messages.manage",      # see messages that failed to send or be delivered (reminders...)
                            # and send them again or take them over (channels)
    "correction.propose",   # propose a correction of a person's details or a dose, a voided
                            # dose or a move to another mobile (applied only once approved)
    "correction.approve",   # approve or reject another staff member's proposed correction
    "duplicate.review",     # merge two records of one person, mark them distinct, undo a merge
    "grievance.handle",     # answer citizens' grievances in the area of the grant
    "person.export",        # export everything held about a person, on their request
                            # (docs/privacy.md), for people of the grant's area
)

# Administrators of a state or district run everything inside it except partner keys,
# which reach the whole country's data and are therefore national only. They do not
# vaccinate or verify: those are separate grants, so every dose names its vaccinator.
_AREA_ADMIN = frozenset({"facility.manage", "session.publish", "staff.manage", "audit.read",
                         "report.read", "aefi.read", "aefi.investigate", "people.register",
                         "campaign.manage", "due_list.read", "field.review",
                         "stock.manage", "stock.read", "correction.propose",
                         "correction.approve", "duplicate.review", "grievance.handle",
                         "person.export"})

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "national_admin": frozenset(ACTIONS),
    "state_admin": _AREA_ADMIN,
    "district_admin": _AREA_ADMIN,
    "facility_admin": frozenset({"facility.manage", "session.publish", "report.read",
                                 "people.register", "due_list.read", "field.review",
                                 "stock.manage", "stock.read", "correction.propose",
                                 "grievance.handle"}),
    # the vaccinator is also the ANM / health worker who registers the people of the area
    "vaccinator": frozenset({"dose.record", "beneficiary.verify", "people.register",
                             "due_list.read", "stock.read", "correction.propose"}),
    "verifier": frozenset({"certificate.verify"}),
}

# Lower is higher in the hierarchy; an administrator grants only roles of a larger rank.
ROLE_RANK: dict[str, int] = {
    "national_admin": 0,
    "state_admin": 1,
    "district_admin": 2,
    "facility_admin": 3,
    "vaccinator": 4,
    "verifier": 4,
}

class GrantLike(Protocol):
    """What the rule reads of a grant (a RoleGrant row, or anything shaped like one)."""

    @property
    def role(self) -> str: ...
    @property
    def location_id(self) -> int | None: ...
    @property
    def facility_id(self) -> int | None: ...


@dataclass(frozen=True)
class Scope:
    """Where a target sits: the location ids from the level-1 ancestor down to the target's
    own location (empty for the whole country) and, for a facility's things, the facility."""

    location_path: tuple[int, ...] = ()
    facility_id: int | None = None


COUNTRY = Scope()


def reaches(grant: GrantLike, target: Scope) -> bool:
    """A facility grant reaches that facility only; a location grant its subtree; a grant
    without either the whole country."""
    if grant.facility_id is not None:
        return target.facility_id == grant.facility_id
    if grant.location_id is not None:
        return grant.location_id in target.location_path
    return True


def nearness(grant: GrantLike, target: Scope) -> int:
    """How close a grant that reaches ``target`` sits to it: a facility grant nearest, then
    a location grant the deeper its place, the whole country farthest (0)."""
    if grant.facility_id is not None:
        return len(target.location_path) + 2
    if grant.location_id is not None and grant.location_id in target.location_path:
        return target.location_path.index(grant.location_id) + 1
    return 0


def _check_action(action: str) -> None:
    # A misspelt action would otherwise be silently denied everywhere.
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")


def grants_allow(grants: Iterable[GrantLike], action: str, target: Scope | None = None) -> bool:
    """The pure rule: whether one of the grants carries ``action`` and reaches ``target``
    (None: anywhere, i.e. on some part of the hierarchy)."""
    _check_action(action)
    return any(action in ROLE_ACTIONS.get(grant.role, ())
               and (target is None or reaches(grant, target)) for grant in grants)


def grants_carrying(actor: StaffUser, action: str) -> list[GrantLike]:
    """The actor's grants that carry ``action`` (none for a deactivated account), for
    callers that need the area they cover (reports)."""
    _check_action(action)
    if not actor.active:
        return []
    return [grant for grant in actor.grants if action in ROLE_ACTIONS.get(grant.role, ())]


def can(actor: StaffUser, action: str, target: Scope | None = None) -> bool:
    """Whether the actor may do ``action`` on ``target`` (None: somewhere, as for menus and
    page guards; the target's own scope is then checked where it is known). A deactivated
    account may do nothing."""
    if not actor.active:
        _check_action(action)  # a misspelt action fails loudly for everyone
        return False
    return grants_allow(actor.grants, action, target)


def can_as(actor: StaffUser, role: str, action: str, target: Scope | None = None) -> bool:
    """``can``, through a grant of ``role`` only (an AEFI investigation stage belongs to
    one role: a district administrator may not act in the national committee's)."""
    _check_action(action)
    return actor.active and any(grant.role == role for grant in actor.grants
                                if action in ROLE_ACTIONS.get(grant.role, ())
                                and (target is None or reaches(grant, target)))


def check_access(actor: StaffUser, action: str, target: Scope | None = None, *,
                 message: Any = None) -> None:
    """``can``, or Forbidden (code ``forbidden``) with ``message`` (a translated text)."""
    if not can(actor, action, target):
        raise Forbidden(message if message is not None else _("You may not do this there."),
                        code="forbidden")


def can_grant(grants: Iterable[GrantLike], role: str, target: Scope) -> bool:
    """Whether the grants allow granting (or revoking) ``role`` on ``target``: it takes a
    grant that manages staff there and ranks strictly above ``role``; national
    administrators may grant anything, including another national administrator."""
    if role not in ROLE_RANK:
        return False
    for grant in grants:
        if "staff.manage" not in ROLE_ACTIONS.get(grant.role, ()) or not reaches(grant, target):
            continue
        if grant.role == "national_admin" or ROLE_RANK[grant.role] < ROLE_RANK[role]:
            return True
    return False


# The deepest hierarchy a pack may declare is far below this; it only stops a corrupt
# parent cycle from looping forever.
_MAX_DEPTH = 32


def scope_for_location(session: Session, location_id: int,
                       facility_id: int | None = None) -> Scope:
    """The scope of a location (or of a facility at that location): walks the parents up
    to level 1, one small query per level."""
    path: list[int] = []
    current: int | None = location_id
    while current is not None:
        if current in path or len(path) >= _MAX_DEPTH:
            raise ValueError(f"location {location_id} has a cyclic or too deep parent chain")
        row = session.execute(select(Location.id, Location.parent_id)
                              .where(Location.id == current)).first()
        if row is None:
            raise NotFound(_("No location with id %(id)s.", id=current),
                           code="location_not_found")
        path.append(row.id)
        current = row.parent_id
    return Scope(tuple(reversed(path)), facility_id)


def scope_for_facility(session: Session, facility_id: int) -> Scope:
    location_id = session.scalar(select(Facility.location_id).where(Facility.id == facility_id))
    if location_id is None:
        raise NotFound(_("No facility with id %(id)s.", id=facility_id),
                       code="facility_not_found")
    return scope_for_location(session, location_id, facility_id)


def scope_of_grant(session: Session, grant: GrantLike) -> Scope:
    """The part of the hierarchy a grant covers, as a target (for ``can_grant``)."""
    if grant.facility_id is not None:
        return scope_for_facility(session, grant.facility_id)
    if grant.location_id is not None:
        return scope_for_location(session, grant.location_id)
    return COUNTRY
