"""What every corrections use case shares: the person by reference ID, the area a person
belongs to and the access check there, the reason given, and the reissue of a person's
certificates after a change."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core import signals
from cowin_kit.core.errors import InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Facility
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration import rules as registration_rules
from cowin_kit.registration.models import Beneficiary, Dose


def _now() -> datetime:
    return datetime.now(timezone.utc)

def person_by_reference(session: Session, reference_id: str) -> Beneficiary:
    person = None
    if registration_rules.is_reference_id(str(reference_id)):
        person = session.scalars(select(Beneficiary).where(
            Beneficiary.reference_id == str(reference_id))).first()
    if person is None:
        raise NotFound(_("No person with this reference ID."), code="beneficiary_not_found")
    return person


def _area_of(session: Session, person: Beneficiary) -> tuple[int | None, int | None]:
    """(location id, facility id) a person belongs to: their registered area and home
    facility, else the facility of their latest dose and its location; a record merged
    into another (its doses gone with the merge) belongs where the kept record does."""
    if person.location_id is not None:
        return person.location_id, person.facility_id
    facility_id = person.facility_id or session.scalar(
        select(Dose.facility_id).where(Dose.beneficiary_id == person.id,
                                       Dose.facility_id.is_not(None))
        .order_by(Dose.administered_at.desc()).limit(1))
    if facility_id is None and person.merged_into_id is not None:
        return _area_of(session, session.get(Beneficiary, person.merged_into_id))
    if facility_id is None:
        return None, None
    return session.scalar(select(Facility.location_id).where(Facility.id == facility_id)), \
        facility_id


def _scope(session: Session, location_id: int | None,
           facility_id: int | None = None) -> access.Scope:
    if location_id is None:
        return access.COUNTRY
    return access.scope_for_location(session, location_id, facility_id)


def _check(session: Session, actor: StaffUser, action: str,
           person: Beneficiary) -> tuple[int | None, int | None]:
    """Access to ``action`` where the person belongs; their (location id, facility id)."""
    location_id, facility_id = _area_of(session, person)
    access.check_access(actor, action, _scope(session, location_id, facility_id),
                        message=_("You may not do this for people of this area."))
    return location_id, facility_id


def _reason(text: str | None) -> str:
    cleaned = " ".join(str(text or "").split())
    if not 3 <= len(cleaned) <= 500:
        message = _("Give the reason, in 3 to 500 characters.")
        raise InvalidInput(message, code="reason_required", fields={"reason": [message]})
    return cleaned


def _has_doses(session: Session, person: Beneficiary) -> bool:
    return session.scalar(select(Dose.id).where(Dose.beneficiary_id == person.id)
                          .limit(1)) is not None


def _reissue(session: Session, person: Beneficiary, reason: str) -> None:
    """The person's certificates carry what changed: certificates revoke and reissue; the
    routine due state is computed again from the doses and facts that remain."""
    signals.beneficiary_corrected.send(session, beneficiary=person, reason=reason)
    session.flush()
    signals.due_facts_changed.send(session, pack=None, person_ids=[person.id], products=None)


def _local_day(pack: ActivePack, moment: datetime) -> date:
    return pack.day_of(moment)
