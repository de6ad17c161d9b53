"""The review queue of field conflicts: what supervisors (``field.review`` on the
record's facility or area: facility administrators and above) see and decide, and the
outcomes a device collects at its next sync.

Accepting applies the record through the normal services (the device's staff member as
the one who registered or vaccinated, the supervisor as the actor of the audit trail,
the field's own duplicate checks skipped, every service rule still held): a record a
service still refuses cannot be accepted, only rejected. The decision and the service's
changes commit together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, and_, or_, select
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.security import keyring
from cowin_kit.fieldsync import rules
from cowin_kit.fieldsync.apply import apply_record
from cowin_kit.fieldsync.models import FieldReview
from cowin_kit.fieldsync.unit import unit_of_work
from cowin_kit.geography.models import Facility
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser

ACTION = "field.review"
LIST_LIMIT = 500


@dataclass(frozen=True)
class ReviewView:
    review: FieldReview
    facility: str | None


def _scope(session: Session, review: FieldReview) -> access.Scope:
    if review.facility_id is not None:
        return access.scope_for_facility(session, review.facility_id)
    if review.location_id is not None:
        return access.scope_for_location(session, review.location_id)
    return access.COUNTRY


def may_review(session: Session, actor: StaffUser, review: FieldReview) -> bool:
    return access.can(actor, ACTION, _scope(session, review))


def list_reviews(session: Session, actor: StaffUser, status: str = "open") -> list[ReviewView]:
    """The reviews of ``status`` the supervisor may decide, oldest first."""
    access.check_access(actor, ACTION, message=_("You may not review field records."))
    if status not in ("open", "accepted", "rejected"):
        raise InvalidInput(_("Unknown status."), code="invalid_status")
    order = FieldReview.id if status == "open" else FieldReview.decided_at.desc()
    rows = session.scalars(select(FieldReview).where(FieldReview.status == status)
                           .order_by(order).limit(LIST_LIMIT * 4))
    codes: dict[int, str] = {}
    out: list[ReviewView] = []
    for review in rows:
        if not may_review(session, actor, review):
            continue
        code = None
        if review.facility_id is not None:
            if review.facility_id not in codes:
                codes[review.facility_id] = session.get(Facility, review.facility_id).code
            code = codes[review.facility_id]
        out.append(ReviewView(review, code))
        if len(out) >= LIST_LIMIT:
            break
    return out


def get_review(session: Session, actor: StaffUser, review_id: int) -> ReviewView:
    review = session.get(FieldReview, review_id)
    if review is None:
        raise NotFound(_("No such review."), code="review_not_found")
    if not may_review(session, actor, review):
        raise Forbidden(_("You may not review field records."), code="forbidden")
    facility = session.get(Facility, review.facility_id) if review.facility_id else None
    return ReviewView(review, facility.code if facility else None)


def decide(session: Session, pack: ActivePack, actor: StaffUser, review_id: int, *,
           decision: str, note: str = "") -> ReviewView:
    """Accept or reject an open review. Conflict ``review_decided`` when it is decided
    already; an accepted record the services refuse raises their error, nothing
    written."""
    if decision not in ("accept", "reject"):
        raise InvalidInput(_("Decide accept or reject."), code="invalid_decision")
    note = str(note or "").strip()[:2000]
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    session.commit()
    with unit_of_work(engine) as unit:
        work = unit.session
        review = work.scalars(select(FieldReview).where(FieldReview.id == review_id)
                              .with_for_update()).first()
        if review is None:
            raise NotFound(_("No such review."), code="review_not_found")
        supervisor = work.get(StaffUser, actor.id)
        if not may_review(work, supervisor, review):
            raise Forbidden(_("You may not review field records."), code="forbidden")
        if review.status != "open":
            raise Conflict(_("This review is already decided."), code="review_decided")
        outcome: dict[str, Any] = dict(review.outcome or {})
        if decision == "accept":
            worker = work.scalars(select(StaffUser)
                                  .where(StaffUser.username == review.staff)).first() \
                or supervisor
            payload = dict(review.payload)
            payload.pop("id_number_masked", None)
            if review.id_number_encrypted:
                payload["id_number"] = keyring().decrypt(review.id_number_encrypted)
            outcome.update(apply_record(work, pack, worker, kind=review.kind,
                                        payload=payload, client_id=review.client_id,
                                        reviewed=True))
        review.status = "accepted" if decision == "accept" else "rejected"
        review.decided_by = supervisor.username
        review.decided_at = datetime.now(timezone.utc)
        review.note = note
        review.outcome = outcome
        audit.record(work, f"field.review.{decision}", "field_review", review.id,
                     place=audit.at(review.location_id, review.facility_id),
                     client_id=review.client_id, kind=review.kind, reason=review.reason,
                     by=supervisor.username)
        work.flush()
        unit.commit()
    return get_review(session, actor, review_id)


def outcomes(session: Session, actor: StaffUser, *, device_id: str,
             since: str | None) -> tuple[list[FieldReview], str | None]:
    """The decided reviews of the records ``actor`` sent from ``device_id`` after the
    cursor ``since``, in the order they were decided; and the next cursor."""
    try:
        after = rules.decode_cursor(since)
    except ValueError:
        raise InvalidInput(_("This cursor is not one this server gave."),
                           code="invalid_cursor") from None
    query = select(FieldReview).where(FieldReview.device_id == device_id,
                                      FieldReview.staff == actor.username,
                                      FieldReview.status != "open")
    if after is not None:
        moment, row_id = after
        query = query.where(or_(FieldReview.decided_at > moment,
                                and_(FieldReview.decided_at == moment,
                                     FieldReview.id > row_id)))
    rows = list(session.scalars(query.order_by(FieldReview.decided_at, FieldReview.id)
                                .limit(LIST_LIMIT)))
    cursor = rules.encode_cursor(rows[-1].decided_at, rows[-1].id) if rows else since
    return rows, cursor
