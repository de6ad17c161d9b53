"""Grievances: filed and followed by citizens, answered by staff of the area, with the
queue's service-level ages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.corrections import rules
from cowin_kit.corrections.base import _area_of, _now, _scope
from cowin_kit.corrections.models import GRIEVANCE_CATEGORIES, GRIEVANCE_STATUSES, Grievance
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration.models import Beneficiary, CitizenAccount


def file_grievance(session: Session, account: CitizenAccount, *, category: str,
                   description: str, reference_id: str | None = None) -> Grievance:
    """A citizen's grievance about one of their people (or their account)."""
    bad: dict[str, list[str]] = {}
    if category not in GRIEVANCE_CATEGORIES:
        bad["category"] = [str(_("Choose one of the listed kinds."))]
    text = " ".join(str(description or "").split())
    if not 5 <= len(text) <= 2000:
        bad["description"] = [str(_("Describe the problem in 5 to 2000 characters."))]
    person = None
    if reference_id:
        person = session.scalars(select(Beneficiary).where(
            Beneficiary.reference_id == str(reference_id),
            Beneficiary.account_id == account.id)).first()
        if person is None:
            bad["reference_id"] = [str(_("No such person in this account."))]
    if bad:
        first = next(iter(bad.values()))[0]
        raise InvalidInput(first, code="invalid_grievance", fields=bad)
    location_id, facility_id = _area_of(session, person) if person is not None \
        else (None, None)
    grievance = Grievance(account_id=account.id,
                          beneficiary_id=person.id if person else None,
                          location_id=location_id, facility_id=facility_id,
                          category=category, description=text,
                          status="open")
    session.add(grievance)
    session.flush()
    audit.record(session, "grievance.file", "grievance", grievance.id,
                 place=audit.at(grievance.location_id, grievance.facility_id), category=category)
    session.commit()
    return grievance


def my_grievances(session: Session, account: CitizenAccount) -> list[Grievance]:
    return list(session.scalars(select(Grievance).where(Grievance.account_id == account.id)
                                .order_by(Grievance.created_at.desc(), Grievance.id.desc())))


def my_grievance(session: Session, account: CitizenAccount, grievance_id: int) -> Grievance:
    row = session.get(Grievance, grievance_id)
    if row is None or row.account_id != account.id:
        raise NotFound(_("No such grievance."), code="grievance_not_found")
    return row


@dataclass(frozen=True)
class QueueItem:
    grievance: Grievance
    age_days: int
    overdue: bool
    reference_id: str | None


def grievance_queue(session: Session, pack: ActivePack, actor: StaffUser, *,
                    statuses: tuple[str, ...] = ("open", "in_progress"),
                    now: datetime | None = None, limit: int = 500) -> list[QueueItem]:
    """Open grievances of the areas the actor handles, oldest first, with their age in
    days and whether they are past the service level (the pack's
    ``corrections.grievance_resolve_days``)."""
    within_days = pack.corrections.grievance_resolve_days
    now = now or _now()
    if not access.can(actor, "grievance.handle"):
        raise Forbidden(_("You may not do this there."), code="forbidden")
    rows = session.execute(select(Grievance, Beneficiary.reference_id)
                           .outerjoin(Beneficiary, Beneficiary.id == Grievance.beneficiary_id)
                           .where(Grievance.status.in_(statuses))
                           .order_by(Grievance.created_at, Grievance.id).limit(limit * 4))
    out, scopes = [], {}
    for grievance, reference_id in rows:
        where = (grievance.location_id, grievance.facility_id)
        if where not in scopes:
            scopes[where] = _scope(session, *where)
        if access.can(actor, "grievance.handle", scopes[where]):
            out.append(QueueItem(grievance, rules.age_days(grievance.created_at, now),
                                 rules.overdue(grievance.created_at, now, within_days),
                                 reference_id))
        if len(out) >= limit:
            break
    return out


def answer_grievance(session: Session, actor: StaffUser, grievance_id: int, *,
                     status: str, answer: str = "") -> Grievance:
    """Move a grievance on (in progress, resolved, rejected), with an answer the citizen
    reads (needed to close it)."""
    grievance = session.get(Grievance, grievance_id, with_for_update=True)
    if grievance is None:
        raise NotFound(_("No such grievance."), code="grievance_not_found")
    access.check_access(actor, "grievance.handle",
                        _scope(session, grievance.location_id, grievance.facility_id))
    if status not in GRIEVANCE_STATUSES or status == "open":
        message = _("Choose one of the listed kinds.")
        raise InvalidInput(message, code="invalid_status", fields={"status": [message]})
    if grievance.status in ("resolved", "rejected"):
        raise Conflict(_("This grievance is closed."), code="grievance_closed")
    text = " ".join(str(answer or "").split())[:2000]
    if status in ("resolved", "rejected") and len(text) < 3:
        message = _("Tell the citizen what was done.")
        raise InvalidInput(message, code="answer_required", fields={"answer": [message]})
    now = _now()
    grievance.status, grievance.handled_by, grievance.updated_at = status, actor.username, now
    if text:
        grievance.answer = text
    if status in ("resolved", "rejected"):
        grievance.closed_at = now
    audit.record(session, "grievance.update", "grievance", grievance.id,
                 place=audit.at(grievance.location_id, grievance.facility_id), status=status)
    session.commit()
    return grievance


def grievance_for_staff(session: Session, pack: ActivePack, actor: StaffUser,
                        grievance_id: int, *, now: datetime | None = None) -> QueueItem:
    """One grievance, with its age, for staff handling grievances where it belongs;
    NotFound otherwise."""
    grievance = session.get(Grievance, grievance_id)
    if grievance is None or not access.can(
            actor, "grievance.handle",
            _scope(session, grievance.location_id, grievance.facility_id)):
        raise NotFound(_("No such grievance."), code="grievance_not_found")
    now = now or _now()
    reference_id = session.scalar(select(Beneficiary.reference_id).where(
        Beneficiary.id == grievance.beneficiary_id)) if grievance.beneficiary_id else None
    return QueueItem(grievance, rules.age_days(grievance.created_at, now),
                     rules.overdue(grievance.created_at, now,
                                   pack.corrections.grievance_resolve_days), reference_id)
