"""Change requests with maker-checker approval: a staff member proposes a correction of a
person's details, of a dose's facts, a voided dose or a move to another mobile, with a
reason; nothing changes until another staff member holding ``correction.approve`` where
the person lives approves it. Applying it sends ``beneficiary_corrected`` (and
``dose_voided``): certificates revoke the old certificate and queue a new one."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.corrections import rules
from cowin_kit.corrections.base import (
    _check, _has_doses, _local_day, _now, _reason, _reissue, _scope, person_by_reference,
)
from cowin_kit.corrections.dose_records import _take_out
from cowin_kit.corrections.matching import refresh_keys
from cowin_kit.corrections.models import ChangeRequest
from cowin_kit.corrections.moves import _apply_move
from cowin_kit.geography.models import Facility
from cowin_kit.identity import access
from cowin_kit.identity.models import Gender, StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration import rules as registration_rules
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import (
    Beneficiary, BeneficiaryCorrection, CitizenAccount, Dose,
)
from cowin_kit.stock import services as stock
from cowin_kit.vaccination.models import AefiReport


def _person_values(session: Session, person: Beneficiary) -> dict[str, Any]:
    gender = session.get(Gender, person.gender_id)
    return {"name": person.name, "birth_year": person.birth_year,
            "birth_date": person.birth_date.isoformat() if person.birth_date else None,
            "gender": gender.code if gender else None, "guardian_name": person.guardian_name,
            "guardian_relation": person.guardian_relation}


def _dose_values(session: Session, pack: ActivePack, dose: Dose) -> dict[str, Any]:
    product = session.get(VaccineProduct, dose.product_id)
    facility = session.get(Facility, dose.facility_id) if dose.facility_id else None
    return {"dose_number": dose.dose_number, "product": product.code if product else None,
            "lot": dose.lot, "administered_on": _local_day(pack, dose.administered_at)
            .isoformat(), "facility": facility.code if facility else None}


def _fields_error(fields: dict[str, list[str]]) -> InvalidInput:
    first = next(iter(fields.values()))[0]
    return InvalidInput(first, code="invalid_correction", fields=fields)


def _checked_person_changes(session: Session, pack: ActivePack,
                            changes: dict[str, Any]) -> dict[str, Any]:
    """The proposed person changes, each checked now (a proposal that cannot be applied
    is refused when made, not when approved), in their stored form."""
    out: dict[str, Any] = {}
    bad: dict[str, list[str]] = {}
    unknown = sorted(set(changes) - set(rules.PERSON_FIELDS))
    for name in unknown:
        bad[name] = [str(_("This field cannot be corrected here."))]
    for name, value in changes.items():
        if name in unknown:
            continue
        try:
            if name == "name":
                out[name] = registration.clean_name(value)
            elif name == "birth_date":
                day = value if isinstance(value, date) else date.fromisoformat(str(value))
                problem = registration_rules.birth_date_problem(day, _local_day(pack, _now()))
                if problem:
                    raise InvalidInput(problem, code="invalid_birth_date")
                out[name] = day.isoformat()
            elif name == "birth_year":
                problem = registration_rules.birth_year_problem(int(value),
                                                                _local_day(pack, _now()))
                if problem:
                    raise InvalidInput(problem, code="invalid_birth_year")
                out[name] = int(value)
            elif name == "gender":
                if session.scalar(select(Gender.id).where(Gender.code == str(value))) is None:
                    raise InvalidInput(_("Unknown gender."), code="unknown_gender")
                out[name] = str(value)
            else:  # guardian_name, guardian_relation
                text = " ".join(str(value or "").split())
                limit = 200 if name == "guardian_name" else 32
                if len(text) > limit:
                    raise InvalidInput(ngettext("At most %(num)d character.",
                                                "At most %(num)d characters.", limit),
                                       code="too_long")
                out[name] = text or None
        except (InvalidInput, RuleViolation) as exc:
            bad[name] = [exc.message]
        except (TypeError, ValueError):
            bad[name] = [str(_("This value is not valid."))]
    if bad:
        raise _fields_error(bad)
    if not out:
        raise InvalidInput(_("Say what should change."), code="nothing_to_change")
    return out


def _checked_dose_changes(session: Session, pack: ActivePack,
                          changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    bad: dict[str, list[str]] = {}
    for name, value in changes.items():
        try:
            if name == "dose_number":
                number = int(value)
                if not 1 <= number <= 20:
                    raise ValueError
                out[name] = number
            elif name == "product":
                if session.scalar(select(VaccineProduct.id)
                                  .where(VaccineProduct.code == str(value))) is None:
                    raise InvalidInput(_("Unknown vaccine."), code="unknown_vaccine")
                out[name] = str(value)
            elif name == "lot":
                text = str(value or "").strip()
                if not 1 <= len(text) <= 64:
                    raise InvalidInput(_("A lot number of 1 to 64 characters is needed."),
                                       code="invalid_lot")
                out[name] = text
            elif name == "administered_on":
                day = value if isinstance(value, date) else date.fromisoformat(str(value))
                if day > _local_day(pack, _now()):
                    raise InvalidInput(_("The date cannot be in the future."),
                                       code="date_in_future")
                out[name] = day.isoformat()
            elif name == "facility":
                if session.scalar(select(Facility.id)
                                  .where(Facility.code == str(value))) is None:
                    raise InvalidInput(_("No facility with code %(code)s.", code=value),
                                       code="facility_not_found")
                out[name] = str(value)
            else:
                bad[name] = [str(_("This field cannot be corrected here."))]
        except (InvalidInput, RuleViolation) as exc:
            bad[name] = [exc.message]
        except (TypeError, ValueError):
            bad[name] = [str(_("This value is not valid."))]
    if bad:
        raise _fields_error(bad)
    if not out:
        raise InvalidInput(_("Say what should change."), code="nothing_to_change")
    return out


def _new_request(session: Session, actor: StaffUser, kind: str, person: Beneficiary,
                 area: tuple[int | None, int | None], changes: dict[str, Any],
                 before: dict[str, Any],
                 reason: str, dose_id: int | None = None) -> ChangeRequest:
    if not rules.changed_fields(before, changes):
        raise InvalidInput(_("The proposed values are the current ones."),
                           code="nothing_to_change")
    request = ChangeRequest(kind=kind, beneficiary_id=person.id, dose_id=dose_id,
                            location_id=area[0], facility_id=area[1], changes=changes,
                            before=before,
                            reason=reason, maker=actor.username, status="pending")
    session.add(request)
    session.flush()
    audit.record(session, "correction.propose", "change_request", request.id,
                 place=audit.at(request.location_id, request.facility_id), kind=kind,
                 person=person.reference_id, dose=dose_id,
                 fields=rules.changed_fields(before, changes), reason=reason)
    session.commit()
    return request


def _open_request_for(session: Session, person: Beneficiary, dose_id: int | None) -> None:
    clash = session.scalar(select(ChangeRequest.id).where(
        ChangeRequest.beneficiary_id == person.id, ChangeRequest.status == "pending",
        ChangeRequest.dose_id == dose_id if dose_id is not None
        else ChangeRequest.dose_id.is_(None)))
    if clash is not None:
        raise Conflict(_("A correction of this record is already waiting for approval "
                         "(request %(id)d).", id=clash), code="correction_pending")


def propose_person_change(session: Session, pack: ActivePack, actor: StaffUser,
                          reference_id: str, changes: dict[str, Any],
                          reason: str) -> ChangeRequest:
    """Propose new values for a person's details (name, birth date or year, sex,
    guardian); nothing changes until another staff member approves."""
    person = person_by_reference(session, reference_id)
    area = _check(session, actor, "correction.propose", person)
    why = _reason(reason)
    checked = _checked_person_changes(session, pack, changes)
    _open_request_for(session, person, None)
    before = {k: v for k, v in _person_values(session, person).items() if k in checked}
    return _new_request(session, actor, "person", person, area, checked, before, why)


def _dose(session: Session, dose_id: int) -> Dose:
    dose = session.get(Dose, dose_id)
    if dose is None:
        raise NotFound(_("No such dose."), code="dose_not_found")
    return dose


def propose_dose_change(session: Session, pack: ActivePack, actor: StaffUser, dose_id: int,
                        changes: dict[str, Any], reason: str) -> ChangeRequest:
    """Propose new facts of a dose (dose number, vaccine, lot, date, facility)."""
    dose = _dose(session, dose_id)
    person = session.get(Beneficiary, dose.beneficiary_id)
    area = _check(session, actor, "correction.propose", person)
    why = _reason(reason)
    checked = _checked_dose_changes(session, pack, changes)
    _open_request_for(session, person, dose.id)
    before = {k: v for k, v in _dose_values(session, pack, dose).items() if k in checked}
    return _new_request(session, actor, "dose", person, area, checked, before, why,
                        dose_id=dose.id)


def propose_void(session: Session, pack: ActivePack, actor: StaffUser, dose_id: int,
                 reason: str) -> ChangeRequest:
    """Propose that a dose recorded in error be taken out of the person's record."""
    dose = _dose(session, dose_id)
    person = session.get(Beneficiary, dose.beneficiary_id)
    area = _check(session, actor, "correction.propose", person)
    why = _reason(reason)
    _refuse_void_with_aefi(session, dose)
    _open_request_for(session, person, dose.id)
    return _new_request(session, actor, "void_dose", person, area, {"voided": True},
                        {"voided": False, **_dose_values(session, pack, dose)}, why,
                        dose_id=dose.id)


def _refuse_void_with_aefi(session: Session, dose: Dose) -> None:
    if session.scalar(select(AefiReport.id).where(AefiReport.dose_id == dose.id)) is not None:
        raise RuleViolation(_("This dose has an adverse-event report: correct its facts "
                              "instead of voiding it."), code="dose_has_aefi")


def propose_move(session: Session, pack: ActivePack, actor: StaffUser, reference_id: str,
                 mobile: str, reason: str) -> ChangeRequest:
    """Propose moving a person to the account of another mobile number (the number typed
    at registration was wrong)."""
    person = person_by_reference(session, reference_id)
    area = _check(session, actor, "correction.propose", person)
    why = _reason(reason)
    number = registration.parse_mobile(mobile, pack)
    _open_request_for(session, person, None)
    current = session.get(CitizenAccount, person.account_id)
    return _new_request(session, actor, "move", person, area, {"mobile": number},
                        {"mobile": current.mobile if current else None}, why)


def get_request(session: Session, request_id: int) -> ChangeRequest:
    request = session.get(ChangeRequest, request_id)
    if request is None:
        raise NotFound(_("No such change request."), code="change_request_not_found")
    return request


def request_for(session: Session, actor: StaffUser, request_id: int) -> ChangeRequest:
    """A change request as its area's staff see it (``correction.propose`` or
    ``correction.approve`` where the person belongs); NotFound otherwise."""
    request = session.get(ChangeRequest, request_id)
    if request is None or request.status == "awaiting_otp":
        raise NotFound(_("No such change request."), code="change_request_not_found")
    scope = _scope(session, request.location_id, request.facility_id)
    if not (access.can(actor, "correction.approve", scope)
            or access.can(actor, "correction.propose", scope)):
        raise NotFound(_("No such change request."), code="change_request_not_found")
    return request


def _decidable(session: Session, actor: StaffUser, request_id: int) -> ChangeRequest:
    request = session.get(ChangeRequest, request_id, with_for_update=True)
    if request is None or request.status == "awaiting_otp":
        raise NotFound(_("No such change request."), code="change_request_not_found")
    if request.status != "pending":
        raise Conflict(_("This request has already been decided."), code="already_decided")
    person = session.get(Beneficiary, request.beneficiary_id)
    _check(session, actor, "correction.approve", person)
    if request.maker == actor.username:
        raise Forbidden(_("A correction must be approved by someone other than the person "
                          "who proposed it."), code="maker_cannot_approve")
    return request


def approve(session: Session, pack: ActivePack, actor: StaffUser, request_id: int,
            note: str = "") -> ChangeRequest:
    """Approve a pending request and apply it (the record is checked to be as it was when
    proposed); certificates are revoked and reissued where the change shows on them."""
    request = _decidable(session, actor, request_id)
    person = session.get(Beneficiary, request.beneficiary_id)
    try:
        if request.kind == "person":
            _apply_person(session, pack, request, person, actor)
        elif request.kind == "dose":
            _apply_dose(session, pack, request, person, actor)
        elif request.kind == "void_dose":
            _apply_void(session, pack, request, person, actor)
        elif request.kind == "move":
            _apply_move(session, pack, person, request.changes["mobile"],
                        before=request.before.get("mobile"))
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(_("The change clashes with another record (for example a dose with "
                         "that number)."), code="correction_clash") from None
    except Exception:
        session.rollback()
        raise
    request.status, request.checker = "applied", actor.username
    request.decided_at, request.decision_note = _now(), " ".join(note.split())[:500]
    audit.record(session, "correction.approve", "change_request", request.id,
                 place=audit.at(request.location_id, request.facility_id), kind=request.kind, person=person.reference_id, dose=request.dose_id,
                 maker=request.maker, note=request.decision_note)
    session.commit()
    return request


def reject(session: Session, actor: StaffUser, request_id: int, note: str) -> ChangeRequest:
    request = _decidable(session, actor, request_id)
    request.status, request.checker = "rejected", actor.username
    request.decided_at, request.decision_note = _now(), _reason(note)
    audit.record(session, "correction.reject", "change_request", request.id,
                 place=audit.at(request.location_id, request.facility_id), kind=request.kind, maker=request.maker, note=request.decision_note)
    session.commit()
    return request


def _changed_since(current: dict[str, Any], before: dict[str, Any]) -> None:
    if any(current.get(k) != v for k, v in before.items()):
        session_message = _("The record has changed since this correction was proposed; "
                            "reject it and propose it again.")
        raise Conflict(session_message, code="record_changed")


def _apply_person(session: Session, pack: ActivePack, request: ChangeRequest,
                  person: Beneficiary, actor: StaffUser) -> None:
    current = _person_values(session, person)
    _changed_since(current, request.before)
    changes = request.changes
    if "name" in changes:
        person.name = changes["name"]
    if "birth_date" in changes:
        person.birth_date = date.fromisoformat(changes["birth_date"]) \
            if changes["birth_date"] else None
        if person.birth_date is not None:
            person.birth_year = person.birth_date.year
    if "birth_year" in changes:
        person.birth_year = changes["birth_year"]
        if person.birth_date is not None and person.birth_date.year != person.birth_year:
            person.birth_date = None
    if "gender" in changes:
        person.gender_id = session.scalar(select(Gender.id)
                                          .where(Gender.code == changes["gender"]))
    if "guardian_name" in changes:
        person.guardian_name = changes["guardian_name"]
    if "guardian_relation" in changes:
        person.guardian_relation = changes["guardian_relation"]
    for field in rules.changed_fields(request.before, changes):
        session.add(BeneficiaryCorrection(
            beneficiary_id=person.id, field=field[:32],
            old_value=str(request.before.get(field) or "")[:200],
            new_value=str(changes.get(field) or "")[:200], actor=actor.username[:120]))
    refresh_keys(session, person)
    if _has_doses(session, person):
        _reissue(session, person, "correction")


def _apply_dose(session: Session, pack: ActivePack, request: ChangeRequest,
                person: Beneficiary, actor: StaffUser) -> None:
    dose = session.get(Dose, request.dose_id)
    if dose is None or dose.beneficiary_id != person.id:
        raise Conflict(_("The record has changed since this correction was proposed; "
                         "reject it and propose it again."), code="record_changed")
    _changed_since(_dose_values(session, pack, dose), request.before)
    changes = request.changes
    if "dose_number" in changes:
        dose.dose_number = changes["dose_number"]
    if "product" in changes:
        dose.product_id = session.scalar(select(VaccineProduct.id).where(
            VaccineProduct.code == changes["product"]))
    if "lot" in changes:
        dose.lot = changes["lot"]
    if "administered_on" in changes:
        zone = zoneinfo.ZoneInfo(pack.document["timezone"])
        local_time = dose.administered_at.astimezone(zone).time()
        dose.administered_at = datetime.combine(
            date.fromisoformat(changes["administered_on"]), local_time, zone
        ).astimezone(timezone.utc)
    if "facility" in changes:
        dose.facility_id = session.scalar(select(Facility.id).where(
            Facility.code == changes["facility"]))
    session.flush()
    if {"product", "lot", "facility"} & set(changes) and dose.source == "recorded":
        # the stock the dose drew moves to the lot and facility it now names (imported
        # doses drew per facility, lot and day, not per dose: their entries stay)
        stock.reverse_draw(session, dose_id=dose.id, actor=actor.username,
                           reason="dose corrected")
        stock.redraw(session, pack, dose_id=dose.id, product_id=dose.product_id,
                     lot_number=dose.lot, facility_id=dose.facility_id,
                     actor=actor.username, reason="dose corrected")
    _reissue(session, person, "dose_correction")


def _apply_void(session: Session, pack: ActivePack, request: ChangeRequest,
                person: Beneficiary, actor: StaffUser) -> None:
    dose = session.get(Dose, request.dose_id)
    if dose is None or dose.beneficiary_id != person.id:
        raise Conflict(_("The record has changed since this correction was proposed; "
                         "reject it and propose it again."), code="record_changed")
    _refuse_void_with_aefi(session, dose)
    _take_out(session, dose, "void", actor.username, change_request_id=request.id)
    _reissue(session, person, "dose_void")


def list_requests(session: Session, actor: StaffUser, *, status: str = "pending",
                  limit: int = 200) -> list[ChangeRequest]:
    """The change requests of the areas the actor may decide (or propose) in, oldest
    first: the checker's queue."""
    rows = session.scalars(select(ChangeRequest).where(ChangeRequest.status == status)
                           .order_by(ChangeRequest.created_at, ChangeRequest.id)
                           .limit(limit * 4))
    out = []
    scopes: dict[tuple[int | None, int | None], access.Scope] = {}
    for row in rows:
        where = (row.location_id, row.facility_id)
        if where not in scopes:
            scopes[where] = _scope(session, *where)
        scope = scopes[where]
        if access.can(actor, "correction.approve", scope) or \
                access.can(actor, "correction.propose", scope):
            out.append(row)
        if len(out) >= limit:
            break
    return out
