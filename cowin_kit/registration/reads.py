"""Staff reads of a person's record, audited ("who looked at whom").

Every page and API answer that shows staff a person's record (the vaccinator's check-in
and due-today lookups by reference ID, the immunization record) calls
:func:`record_staff_read` once: one audit event, placed at the person's place (so the
person's area administrators read it). Inside the staff member's area the read is
``record.read``. Outside it ("break the glass": a person booked or living elsewhere who
walks in, a colleague's case) it takes a reason, stored with the event as
``record.read_outside_area``; without one the answer is Forbidden ``reason_required``
(an unknown reference ID stays NotFound: reference IDs are 14 random digits, not personal
data, and a typing mistake must not read as "outside your area").
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.core.errors import Forbidden, InvalidInput
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.geography.places import person_place
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration.models import Beneficiary, Dose

REASON_MAX_LENGTH = 200


def person_scopes(session: Session, person: Beneficiary) -> list[access.Scope]:
    """Where a person belongs: their area (with their home facility), else their home
    facility, and every facility that gave them a dose."""
    scopes = []
    if person.location_id is not None:
        scopes.append(access.scope_for_location(session, person.location_id,
                                                person.facility_id))
    elif person.facility_id is not None:
        scopes.append(access.scope_for_facility(session, person.facility_id))
    for facility_id in session.scalars(select(Dose.facility_id).distinct().where(
            Dose.beneficiary_id == person.id, Dose.facility_id.is_not(None))):
        scopes.append(access.scope_for_facility(session, facility_id))
    return scopes


def within_area(session: Session, actor: StaffUser, person: Beneficiary,
                actions: Iterable[str], also: Iterable[access.Scope] = ()) -> bool:
    """Whether one of ``actions`` of the actor reaches the person (or one of ``also``:
    say the facility of their appointment). A national grant needs no query."""
    actions = tuple(actions)
    if any(access.can(actor, action, access.COUNTRY) for action in actions):
        return True
    scopes = [*also, *person_scopes(session, person)]
    return any(access.can(actor, action, scope) for scope in scopes for action in actions)


def clean_reason(reason: str | None) -> str:
    """The reason as stored: spaces collapsed; InvalidInput past REASON_MAX_LENGTH."""
    text = " ".join((reason or "").split())
    if len(text) > REASON_MAX_LENGTH:
        message = ngettext("Give the reason in at most %(num)d character.",
                           "Give the reason in at most %(num)d characters.", REASON_MAX_LENGTH)
        raise InvalidInput(message, code="invalid_reason", fields={"reason": [message]})
    return text


def reason_required() -> Forbidden:
    return Forbidden(_("This person is not in your area. Give a reason to open their "
                       "record: the reading is recorded with it."), code="reason_required")


def record_staff_read(session: Session, actor: StaffUser, person: Beneficiary, *,
                      actions: Iterable[str], view: str, reason: str | None = None,
                      also: Iterable[access.Scope] = ()) -> None:
    """Audit the actor's read of the person's record (``view`` names the page or answer)
    and commit it; outside the actor's area, Forbidden ``reason_required`` without a
    reason."""
    text = clean_reason(reason)
    inside = within_area(session, actor, person, actions, also)
    if not inside and not text:
        raise reason_required()
    place = person_place(session, person)
    if inside:
        audit.record(session, "record.read", "beneficiary", person.reference_id,
                     place=place, view=view)
    else:
        audit.record(session, "record.read_outside_area", "beneficiary",
                     person.reference_id, place=place, view=view, reason=text)
    session.commit()
