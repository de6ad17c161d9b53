"""Use cases of corrections. Each function owns its transaction: it checks access
(``cowin_kit.identity.access``), audits every write, commits on success and writes nothing
on a domain error.

- Change requests (maker-checker): a staff member proposes a correction of a person's
  details, of a dose's facts, a voided dose or a move to another mobile, with a reason;
  nothing changes until another staff member holding ``correction.approve`` where the
  person lives approves it. Applying it sends ``beneficiary_corrected`` (and
  ``dose_voided``): certificates revoke the old certificate and queue a new one.
- Duplicates: matching keys and candidate pairs (live at registration through the
  ``person_registered`` signal, and as a batch), merging two records, undoing a merge,
  marking two records distinct.
- Moving a person to another mobile: by the person (secret code, then an OTP to the new
  number) or by staff through a change request.
- Grievances: filed and followed by citizens, answered by staff of the area.
"""

from __future__ import annotations

import hmac
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core import signals
from cowin_kit.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.core.security import keyring
from cowin_kit.corrections import rules
from cowin_kit.corrections.models import (
    GRIEVANCE_CATEGORIES, GRIEVANCE_STATUSES, ChangeRequest, DuplicateCandidate, Grievance,
    PersonMatchKey, PersonMerge, SetAsideDose,
)
from cowin_kit.geography.models import Facility, Location
from cowin_kit.identity import access
from cowin_kit.identity.models import Gender, StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration import rules as registration_rules
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import (
    Beneficiary, BeneficiaryCorrection, CitizenAccount, Dose, OtpTransaction, Pregnancy,
)
from cowin_kit.scheduling.models import Appointment
from cowin_kit.vaccination.models import AefiReport, CertificateDue

SECRET_CODE_MAX_FAILURES = 5
SECRET_CODE_PAUSE = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- people, places and access ----------------------------------------------------------

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
    facility, else the facility of their latest dose and its location."""
    if person.location_id is not None:
        return person.location_id, person.facility_id
    facility_id = person.facility_id or session.scalar(
        select(Dose.facility_id).where(Dose.beneficiary_id == person.id,
                                       Dose.facility_id.is_not(None))
        .order_by(Dose.administered_at.desc()).limit(1))
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


# --- change requests (maker-checker) ---------------------------------------------------

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


def _local_day(pack: ActivePack, moment: datetime) -> date:
    return moment.astimezone(zoneinfo.ZoneInfo(pack.document["timezone"])).date()


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
    audit.record(session, "correction.propose", "change_request", request.id, kind=kind,
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
            _apply_dose(session, pack, request, person)
        elif request.kind == "void_dose":
            _apply_void(session, pack, request, person)
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
                 kind=request.kind, person=person.reference_id, dose=request.dose_id,
                 maker=request.maker, note=request.decision_note)
    session.commit()
    return request


def reject(session: Session, actor: StaffUser, request_id: int, note: str) -> ChangeRequest:
    request = _decidable(session, actor, request_id)
    request.status, request.checker = "rejected", actor.username
    request.decided_at, request.decision_note = _now(), _reason(note)
    audit.record(session, "correction.reject", "change_request", request.id,
                 kind=request.kind, maker=request.maker, note=request.decision_note)
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
                person: Beneficiary) -> None:
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
    _reissue(session, person, "dose_correction")


def _dose_row(dose: Dose) -> dict[str, Any]:
    """Every column of a dose, JSON-ready (dates as ISO text)."""
    row: dict[str, Any] = {}
    for column in Dose.__table__.columns:
        value = getattr(dose, column.key)
        row[column.key] = value.isoformat() if isinstance(value, (datetime, date)) else value
    return row


def _restore_dose(session: Session, row: dict[str, Any]) -> None:
    values = dict(row)
    for key in ("administered_at", "recorded_at"):
        if values.get(key):
            values[key] = datetime.fromisoformat(values[key])
    session.execute(insert(Dose.__table__).values(**values))


def _take_out(session: Session, dose: Dose, why: str, **link: Any) -> None:
    """Keep the dose whole, let its certificates go, delete it and its pending
    certificate."""
    session.add(SetAsideDose(dose_id=dose.id, beneficiary_id=dose.beneficiary_id, why=why,
                             row=_dose_row(dose), **link))
    signals.dose_voided.send(session, dose=dose, reason="void" if why == "void" else "merge")
    session.execute(delete(CertificateDue).where(CertificateDue.dose_id == dose.id))
    session.delete(dose)
    session.flush()


def _apply_void(session: Session, pack: ActivePack, request: ChangeRequest,
                person: Beneficiary) -> None:
    dose = session.get(Dose, request.dose_id)
    if dose is None or dose.beneficiary_id != person.id:
        raise Conflict(_("The record has changed since this correction was proposed; "
                         "reject it and propose it again."), code="record_changed")
    _refuse_void_with_aefi(session, dose)
    _take_out(session, dose, "void", change_request_id=request.id)
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


# --- moving a person to another account ------------------------------------------------

def _apply_move(session: Session, pack: ActivePack, person: Beneficiary, mobile: str, *,
                before: str | None = None) -> CitizenAccount:
    current = session.get(CitizenAccount, person.account_id)
    if before is not None and current is not None and current.mobile != before:
        raise Conflict(_("The record has changed since this correction was proposed; "
                         "reject it and propose it again."), code="record_changed")
    if current is not None and current.mobile == mobile:
        raise Conflict(_("The person is already under this number."), code="same_mobile")
    target = session.scalars(select(CitizenAccount).where(CitizenAccount.mobile == mobile)
                             .with_for_update()).first()
    if target is None:
        target = CitizenAccount(mobile=mobile, locale=current.locale if current else None)
        session.add(target)
        session.flush()
        audit.record(session, "account.create", "citizen_account", target.id)
    limit = pack.routine.household_limit
    members = session.scalar(select(func.count()).select_from(Beneficiary).where(
        Beneficiary.account_id == target.id, Beneficiary.merged_into_id.is_(None)))
    if members + 1 > limit:
        raise RuleViolation(ngettext("An account can register at most %(num)d person.",
                                     "An account can register at most %(num)d people.", limit),
                            code="household_limit_reached")
    old_account = person.account_id
    person.account_id = target.id
    session.execute(update(Appointment).where(Appointment.beneficiary_id == person.id,
                                              Appointment.status == "booked")
                    .values(account_id=target.id))
    audit.record(session, "person.move", "beneficiary", person.reference_id,
                 from_account=old_account, to_account=target.id)
    return target


@dataclass(frozen=True)
class MoveStarted:
    move_id: int
    transaction_id: str


def _check_secret_code(session: Session, person: Beneficiary, code: str,
                       now: datetime) -> None:
    if person.secret_code_paused_until is not None and person.secret_code_paused_until > now:
        raise RuleViolation(_("Too many wrong secret codes; try again later."),
                            code="secret_code_paused")
    expected = keyring().decrypt(person.secret_code_encrypted)
    if hmac.compare_digest(str(code).strip().encode(), expected.encode()):
        person.secret_code_failures = 0
        return
    person.secret_code_failures += 1
    if person.secret_code_failures >= SECRET_CODE_MAX_FAILURES:
        person.secret_code_failures = 0
        person.secret_code_paused_until = now + SECRET_CODE_PAUSE
    audit.record(session, "person.move_secret_code_failed", "beneficiary",
                 person.reference_id)
    session.commit()  # the counted failure sticks
    raise RuleViolation(_("The secret code is not correct."), code="secret_code_invalid")


def start_citizen_move(session: Session, pack: ActivePack, reference_id: str,
                       secret_code: str, mobile: str, *, locale: str,
                       now: datetime | None = None) -> MoveStarted:
    """The person asks to be moved to their own number: their reference ID and secret
    code (on their slip) prove who they are; an OTP sent to the new number proves they
    hold it (``confirm_citizen_move``)."""
    now = now or _now()
    person = person_by_reference(session, reference_id)
    if person.merged_into_id is not None:
        raise NotFound(_("No person with this reference ID."), code="beneficiary_not_found")
    number = registration.parse_mobile(mobile, pack)
    _check_secret_code(session, person, secret_code, now)
    current = session.get(CitizenAccount, person.account_id)
    if current is not None and current.mobile == number:
        raise Conflict(_("The person is already under this number."), code="same_mobile")
    location_id, facility_id = _area_of(session, person)
    request = ChangeRequest(kind="move", beneficiary_id=person.id, location_id=location_id,
                            facility_id=facility_id,
                            changes={"mobile": number}, before={"mobile": current.mobile
                                                                 if current else None},
                            reason="requested by the person", maker="citizen",
                            status="awaiting_otp")
    session.add(request)
    session.flush()
    audit.record(session, "person.move_request", "change_request", request.id,
                 person=person.reference_id)
    transaction = registration.request_otp(session, pack, number, locale=locale,
                                           purpose="move_person", now=now)  # commits
    request.changes = {"mobile": number, "transaction": transaction.id}
    session.commit()
    return MoveStarted(request.id, transaction.id)


def confirm_citizen_move(session: Session, pack: ActivePack, move_id: int,
                         transaction_id: str, otp: str, *,
                         now: datetime | None = None) -> Beneficiary:
    """The OTP sent to the new number, given back: the person moves to that number's
    account (opened if new)."""
    request = session.get(ChangeRequest, move_id)
    if request is None or request.status != "awaiting_otp" or \
            request.changes.get("transaction") != transaction_id:
        raise NotFound(_("No such change request."), code="change_request_not_found")
    transaction: OtpTransaction = registration.verify_otp(
        session, transaction_id, otp, purpose="move_person", now=now)
    if transaction.mobile != request.changes["mobile"]:
        raise NotFound(_("No such change request."), code="change_request_not_found")
    person = session.get(Beneficiary, request.beneficiary_id)
    try:
        _apply_move(session, pack, person, request.changes["mobile"],
                    before=request.before.get("mobile"))
    except Exception:
        session.rollback()
        raise
    request.status, request.decided_at = "applied", now or _now()
    request.checker = "otp"
    session.commit()
    return person


# --- matching keys and duplicate candidates -------------------------------------------

def facts_of(person: Beneficiary) -> rules.PersonFacts:
    return rules.PersonFacts(person.id, person.name, person.birth_year, person.birth_date,
                             person.gender_id, person.account_id, person.guardian_name,
                             person.id_type_id, person.id_number_hash)


_FACT_COLUMNS = (Beneficiary.id, Beneficiary.name, Beneficiary.birth_year,
                 Beneficiary.birth_date, Beneficiary.gender_id, Beneficiary.account_id,
                 Beneficiary.guardian_name, Beneficiary.id_type_id, Beneficiary.id_number_hash)


def refresh_keys(session: Session, person: Beneficiary) -> None:
    """Write the person's matching keys anew (after registration or a correction)."""
    session.execute(delete(PersonMatchKey).where(PersonMatchKey.beneficiary_id == person.id))
    if person.merged_into_id is None:
        keys = rules.match_keys(facts_of(person))
        if keys:
            session.execute(insert(PersonMatchKey.__table__),
                            [{"key": k, "beneficiary_id": person.id} for k in sorted(keys)])


@dataclass(frozen=True)
class Candidate:
    other_id: int
    score: float
    reasons: tuple[str, ...]


def _score_against(session: Session, person: rules.PersonFacts,
                   other_ids: Iterable[int]) -> list[Candidate]:
    ids = sorted(set(other_ids) - {person.id})
    out: list[Candidate] = []
    for start in range(0, len(ids), 500):
        for row in session.execute(select(*_FACT_COLUMNS).where(
                Beneficiary.id.in_(ids[start:start + 500]),
                Beneficiary.merged_into_id.is_(None))):
            match = rules.score(person, rules.PersonFacts(*row))
            if match.score >= rules.THRESHOLD:
                out.append(Candidate(row.id, match.score, match.reasons))
    return sorted(out, key=lambda c: (-c.score, c.other_id))


def find_candidates(session: Session, person: Beneficiary) -> list[Candidate]:
    """Records that may be this person, best first: those sharing a matching key, and the
    other members of their account."""
    facts = facts_of(person)
    keys = sorted(rules.match_keys(facts))
    others = set(session.scalars(select(PersonMatchKey.beneficiary_id).where(
        PersonMatchKey.key.in_(keys)))) if keys else set()
    others |= set(session.scalars(select(Beneficiary.id).where(
        Beneficiary.account_id == person.account_id)))
    return _score_against(session, facts, others)


def _note_candidates(session: Session, person: Beneficiary, found: list[Candidate],
                     found_by: str) -> int:
    """Store new candidate pairs (a pair already known, open or decided, is kept as it
    is); how many were new."""
    if not found:
        return 0
    location_id = person.location_id
    new = 0
    for candidate in found:
        low, high = sorted((person.id, candidate.other_id))
        exists = session.scalar(select(DuplicateCandidate.id).where(
            DuplicateCandidate.low_id == low, DuplicateCandidate.high_id == high))
        if exists is not None:
            continue
        session.add(DuplicateCandidate(low_id=low, high_id=high, score=candidate.score,
                                       reasons=list(candidate.reasons),
                                       location_id=location_id, found_by=found_by))
        new += 1
    session.flush()
    return new


def check_new_person(session: Session, person: Beneficiary) -> int:
    """At registration (the ``person_registered`` receiver; the caller commits): the
    person's keys are written and possible duplicates noted; how many."""
    refresh_keys(session, person)
    return _note_candidates(session, person, find_candidates(session, person), "live")


def open_candidates_of(session: Session, person: Beneficiary) -> list[DuplicateCandidate]:
    return list(session.scalars(select(DuplicateCandidate).where(
        or_(DuplicateCandidate.low_id == person.id, DuplicateCandidate.high_id == person.id),
        DuplicateCandidate.status == "open").order_by(DuplicateCandidate.score.desc())))


@dataclass
class ScanResult:
    people: int = 0
    keyed: int = 0
    pairs: int = 0
    new_candidates: int = 0


def _area_ids(session: Session, location_code: str) -> list[int]:
    root = session.scalar(select(Location.id).where(Location.code == location_code))
    if root is None:
        raise NotFound(_("No location with code %(code)s.", code=location_code),
                       code="location_not_found")
    children: dict[int | None, list[int]] = {}
    for lid, parent in session.execute(select(Location.id, Location.parent_id)):
        children.setdefault(parent, []).append(lid)
    out, todo = [], [root]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def scan(session: Session, *, location: str | None = None, chunk: int = 20000,
         progress: Callable[[str, int, int], None] | None = None) -> ScanResult:
    """The batch search: every person (of ``location``'s area, or everyone) gets their
    matching keys if they have none, then each pair sharing a key or an account is scored
    once and the likely ones are stored as candidates. Works in chunks of person ids,
    committing each; ``progress(stage, done, total)`` after each chunk (stages "keys" and
    "pairs")."""
    result = ScanResult()
    people = select(Beneficiary.id).where(Beneficiary.merged_into_id.is_(None))
    if location is not None:
        people = people.where(Beneficiary.location_id.in_(_area_ids(session, location)))
    ids = list(session.scalars(people.order_by(Beneficiary.id)))
    result.people = len(ids)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        lo, hi = part[0], part[-1]
        in_part = and_(Beneficiary.id >= lo, Beneficiary.id <= hi,
                       Beneficiary.merged_into_id.is_(None))
        # 1. keys for people without any
        keyed = session.scalars(select(PersonMatchKey.beneficiary_id).distinct().where(
            PersonMatchKey.beneficiary_id.between(lo, hi)))
        have = set(keyed)
        rows = []
        part_set = set(part)
        for row in session.execute(select(*_FACT_COLUMNS).where(in_part)):
            if row.id in part_set and row.id not in have:
                rows.extend({"key": k, "beneficiary_id": row.id}
                            for k in rules.match_keys(rules.PersonFacts(*row)))
                result.keyed += 1
        if rows:
            session.execute(insert(PersonMatchKey.__table__), rows)
        session.commit()
        if progress is not None:
            progress("keys", min(start + chunk, len(ids)), len(ids))
    # 2. every block (people sharing a key, or an account) read once, in key order;
    #    each pair in a block scored once, however many keys it shares
    area = set(ids) if location is not None else None
    seen: set[int] = set()
    pending: list[tuple[int, int]] = []
    total = session.scalar(select(func.count()).select_from(PersonMatchKey)) or 0
    read = [0]

    def flush_pairs() -> None:
        if pending:
            result.new_candidates += _score_pairs(session, pending)
            result.pairs += len(pending)
            pending.clear()
            session.commit()

    statements = (
        select(PersonMatchKey.key, PersonMatchKey.beneficiary_id)
        .order_by(PersonMatchKey.key, PersonMatchKey.beneficiary_id),
        select(Beneficiary.account_id, Beneficiary.id)
        .where(Beneficiary.merged_into_id.is_(None))
        .order_by(Beneficiary.account_id, Beneficiary.id))
    # PostgreSQL: streamed on a connection of its own (committing the scored pairs does
    # not end the read); SQLite (small instances): read whole, as its file lock would
    # keep the writes waiting for the reader
    streaming = session.get_bind().dialect.name == "postgresql"
    reader = Session(bind=session.get_bind()) if streaming else session
    try:
        for statement in statements:
            rows = reader.execute(statement.execution_options(
                stream_results=True, yield_per=50000)) if streaming \
                else session.execute(statement).all()
            for members in _blocks(rows, read):
                for i, x in enumerate(members):
                    for y in members[i + 1:]:
                        if area is not None and x not in area and y not in area:
                            continue
                        code = x << 32 | y
                        if code in seen:
                            continue
                        seen.add(code)
                        pending.append((x, y))
                if len(pending) >= 20000:
                    flush_pairs()
                    if progress is not None:
                        progress("pairs", min(read[0], total), total)
    finally:
        if streaming:
            reader.close()
    flush_pairs()
    if progress is not None:
        progress("pairs", total, total)
    audit.record(session, "duplicates.scan", "location", location or "*",
                 people=result.people, pairs=result.pairs, new=result.new_candidates)
    session.commit()
    return result


def _blocks(rows: Iterable[Any], counter: list[int]) -> Iterable[list[int]]:
    """The groups of ids sharing the first column of ``rows`` (ordered by it);
    ``counter[0]`` counts the rows read."""
    current, members = None, []
    for block_key, member in rows:
        counter[0] += 1
        if block_key != current:
            if len(members) > 1:
                yield members
            current, members = block_key, []
        members.append(member)
    if len(members) > 1:
        yield members


def _score_pairs(session: Session, pairs: list[tuple[int, int]]) -> int:
    """Score the pairs (low id first, none known yet) and store the likely ones; how
    many were stored."""
    involved = sorted({x for pair in pairs for x in pair})
    facts: dict[int, rules.PersonFacts] = {}
    locations: dict[int, int | None] = {}
    for begin in range(0, len(involved), 5000):
        for row in session.execute(select(*_FACT_COLUMNS, Beneficiary.location_id).where(
                Beneficiary.id.in_(involved[begin:begin + 5000]),
                Beneficiary.merged_into_id.is_(None))):
            facts[row[0]] = rules.PersonFacts(*row[:9])
            locations[row[0]] = row[9]
    likely = []
    for x, y in pairs:
        if x not in facts or y not in facts:
            continue
        match = rules.score(facts[x], facts[y])
        if match.score >= rules.THRESHOLD:
            likely.append((x, y, match))
    if not likely:
        return 0
    lows = sorted({x for x, _y, _m in likely})
    known = set()
    for begin in range(0, len(lows), 5000):
        known |= {(x, y) for x, y in session.execute(select(
            DuplicateCandidate.low_id, DuplicateCandidate.high_id).where(
            DuplicateCandidate.low_id.in_(lows[begin:begin + 5000])))}
    now = _now()
    rows = [{"low_id": x, "high_id": y, "score": m.score, "reasons": list(m.reasons),
             "location_id": locations[x], "status": "open", "found_by": "batch",
             "found_at": now} for x, y, m in likely if (x, y) not in known]
    if rows:
        session.execute(insert(DuplicateCandidate.__table__), rows)
    return len(rows)


def list_candidates(session: Session, actor: StaffUser, *, status: str = "open",
                    limit: int = 200) -> list[DuplicateCandidate]:
    """Candidate pairs of the areas the actor reviews, best first."""
    rows = session.scalars(select(DuplicateCandidate).where(DuplicateCandidate.status == status)
                           .order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
                           .limit(limit * 4))
    out, scopes = [], {}
    for row in rows:
        if row.location_id not in scopes:
            scopes[row.location_id] = _scope(session, row.location_id)
        if access.can(actor, "duplicate.review", scopes[row.location_id]):
            out.append(row)
        if len(out) >= limit:
            break
    return out


def _candidate(session: Session, candidate_id: int) -> DuplicateCandidate:
    row = session.get(DuplicateCandidate, candidate_id, with_for_update=True)
    if row is None:
        raise NotFound(_("No such duplicate candidate."), code="candidate_not_found")
    return row


def mark_distinct(session: Session, actor: StaffUser, candidate_id: int,
                  note: str = "") -> DuplicateCandidate:
    """Two records are two people: the pair is not proposed again."""
    row = _candidate(session, candidate_id)
    for person_id in (row.low_id, row.high_id):
        _check(session, actor, "duplicate.review", session.get(Beneficiary, person_id))
    if row.status != "open":
        raise Conflict(_("This pair has already been decided."), code="already_decided")
    row.status, row.decided_by, row.decided_at = "distinct", actor.username, _now()
    audit.record(session, "duplicates.distinct", "duplicate_candidate", row.id,
                 low=row.low_id, high=row.high_id, note=" ".join(note.split())[:500])
    session.commit()
    return row


# --- merging and undoing ---------------------------------------------------------------

def _dose_rows(session: Session, person_id: int) -> list[Dose]:
    return list(session.scalars(select(Dose).where(Dose.beneficiary_id == person_id)
                                .order_by(Dose.id)))


def merge(session: Session, actor: StaffUser, kept_reference: str, merged_reference: str,
          *, reason: str, candidate_id: int | None = None) -> PersonMerge:
    """Merge the second record into the first: its doses (each dose once: a second copy
    of a dose the kept record holds is set aside), appointments, pregnancies and children
    move to the kept person, whose doses are numbered anew by date in each series; the
    merged record is marked merged into the kept one. Both records' certificates are
    revoked and the kept person's reissued. ``undo_merge`` puts everything back."""
    why = _reason(reason)
    kept = person_by_reference(session, kept_reference)
    gone = person_by_reference(session, merged_reference)
    if kept.id == gone.id:
        raise InvalidInput(_("Choose two different records."), code="same_person")
    if kept.merged_into_id is not None or gone.merged_into_id is not None:
        raise Conflict(_("One of these records has already been merged."),
                       code="already_merged")
    for person in (kept, gone):
        _check(session, actor, "duplicate.review", person)
    kept_live = set(session.scalars(select(Appointment.dose_number).where(
        Appointment.beneficiary_id == kept.id, Appointment.status == "booked")))
    gone_appointments = list(session.scalars(select(Appointment).where(
        Appointment.beneficiary_id == gone.id)))
    if any(a.status == "booked" and a.dose_number in kept_live for a in gone_appointments):
        raise Conflict(_("Both records have an appointment booked for the same dose: "
                         "cancel one first."), code="appointments_clash")
    kept_doses, gone_doses = _dose_rows(session, kept.id), _dose_rows(session, gone.id)
    plan = rules.plan_merge(
        [rules.DoseRow(d.id, d.series, d.dose_number, d.product_id, d.administered_at)
         for d in kept_doses],
        [rules.DoseRow(d.id, d.series, d.dose_number, d.product_id, d.administered_at)
         for d in gone_doses])
    undo = {
        "doses": [[d.id, d.beneficiary_id, d.dose_number] for d in kept_doses + gone_doses
                  if d.id not in plan.set_aside],
        "appointments": [[a.id, a.account_id] for a in gone_appointments],
        "pregnancies": list(session.scalars(select(Pregnancy.id).where(
            Pregnancy.beneficiary_id == gone.id))),
        "children": list(session.scalars(select(Beneficiary.id).where(
            Beneficiary.mother_id == gone.id))),
        "keys": sorted(session.scalars(select(PersonMatchKey.key).where(
            PersonMatchKey.beneficiary_id == gone.id))),
    }
    record = PersonMerge(kept_id=kept.id, merged_id=gone.id, candidate_id=candidate_id,
                         undo=undo, reason=why, merged_by=actor.username)
    session.add(record)
    session.flush()
    for dose in gone_doses:
        if dose.id in plan.set_aside:
            _take_out(session, dose, "merge", merge_id=record.id)
    moving = [d for d in kept_doses + gone_doses if d.id not in plan.set_aside]
    for dose in moving:  # first out of the way of the unique (person, series, number)
        dose.dose_number = -dose.id
    session.flush()
    for dose in moving:
        dose.beneficiary_id, dose.dose_number = kept.id, plan.numbers[dose.id]
    for appointment in gone_appointments:
        appointment.beneficiary_id, appointment.account_id = kept.id, kept.account_id
    session.execute(update(Pregnancy).where(Pregnancy.beneficiary_id == gone.id)
                    .values(beneficiary_id=kept.id))
    session.execute(update(Beneficiary).where(Beneficiary.mother_id == gone.id)
                    .values(mother_id=kept.id))
    session.execute(delete(PersonMatchKey).where(PersonMatchKey.beneficiary_id == gone.id))
    gone.merged_into_id = kept.id
    session.flush()
    _close_candidates(session, kept.id, gone.id, "merged", actor, candidate_id)
    audit.record(session, "duplicates.merge", "person_merge", record.id,
                 kept=kept.reference_id, merged=gone.reference_id,
                 doses_moved=len(gone_doses) - len(plan.set_aside),
                 doses_set_aside=len(plan.set_aside), reason=why)
    _reissue(session, gone, "merge")
    _reissue(session, kept, "merge")
    session.commit()
    return record


def _close_candidates(session: Session, x: int, y: int, status: str, actor: StaffUser,
                      candidate_id: int | None) -> None:
    low, high = sorted((x, y))
    row = session.scalars(select(DuplicateCandidate).where(
        DuplicateCandidate.low_id == low, DuplicateCandidate.high_id == high)).first()
    if row is None:
        row = DuplicateCandidate(low_id=low, high_id=high, score=1.0, reasons=["reviewer"],
                                 found_by="reviewer")
        session.add(row)
    row.status, row.decided_by, row.decided_at = status, actor.username, _now()


def undo_merge(session: Session, actor: StaffUser, merge_id: int, *,
               reason: str) -> PersonMerge:
    """Put two merged records back as they were: every dose (set-aside copies included),
    appointment, pregnancy and child returns to its record with its number; the pair is
    open for review again. Refused when the kept person has doses recorded since."""
    why = _reason(reason)
    record = session.get(PersonMerge, merge_id, with_for_update=True)
    if record is None:
        raise NotFound(_("No such merge."), code="merge_not_found")
    if record.undone_at is not None:
        raise Conflict(_("This merge has already been undone."), code="merge_undone")
    kept, gone = session.get(Beneficiary, record.kept_id), session.get(Beneficiary,
                                                                       record.merged_id)
    for person in (kept, gone):
        _check(session, actor, "duplicate.review", person)
    undo = record.undo
    before = {dose_id: (owner, number) for dose_id, owner, number in undo["doses"]}
    now_doses = _dose_rows(session, kept.id)
    if any(d.id not in before for d in now_doses) or len(now_doses) != len(before):
        raise Conflict(_("Doses of this person changed after the merge: correct the record "
                         "instead."), code="merge_changed")
    for dose in now_doses:
        dose.dose_number = -dose.id
    session.flush()
    for dose in now_doses:
        dose.beneficiary_id, dose.dose_number = before[dose.id]
    session.flush()
    for aside in session.scalars(select(SetAsideDose).where(SetAsideDose.merge_id == record.id)):
        _restore_dose(session, aside.row)
        session.delete(aside)
    for appointment_id, account_id in undo["appointments"]:
        session.execute(update(Appointment).where(Appointment.id == appointment_id)
                        .values(beneficiary_id=gone.id, account_id=account_id))
    if undo["pregnancies"]:
        session.execute(update(Pregnancy).where(Pregnancy.id.in_(undo["pregnancies"]))
                        .values(beneficiary_id=gone.id))
    if undo["children"]:
        session.execute(update(Beneficiary).where(Beneficiary.id.in_(undo["children"]))
                        .values(mother_id=gone.id))
    gone.merged_into_id = None
    session.flush()
    if undo["keys"]:
        session.execute(insert(PersonMatchKey.__table__),
                        [{"key": k, "beneficiary_id": gone.id} for k in undo["keys"]])
    low, high = sorted((kept.id, gone.id))
    session.execute(update(DuplicateCandidate).where(
        DuplicateCandidate.low_id == low, DuplicateCandidate.high_id == high)
        .values(status="open", decided_by=None, decided_at=None))
    record.undone_by, record.undone_at = actor.username, _now()
    audit.record(session, "duplicates.undo_merge", "person_merge", record.id,
                 kept=kept.reference_id, merged=gone.reference_id, reason=why)
    _reissue(session, kept, "merge_undone")
    _reissue(session, gone, "merge_undone")
    session.commit()
    return record


def merges_of(session: Session, person: Beneficiary) -> list[PersonMerge]:
    return list(session.scalars(select(PersonMerge).where(
        or_(PersonMerge.kept_id == person.id, PersonMerge.merged_id == person.id))
        .order_by(PersonMerge.id)))


@dataclass(frozen=True)
class PersonRecord:
    person: Beneficiary
    doses: list[Dose]
    candidates: list[DuplicateCandidate]
    merges: list[PersonMerge]
    requests: list[ChangeRequest]


def person_record(session: Session, actor: StaffUser, reference_id: str) -> PersonRecord:
    """What a corrections officer sees of a person (any of the corrections grants where
    the person belongs)."""
    person = person_by_reference(session, reference_id)
    location_id, facility_id = _area_of(session, person)
    scope = _scope(session, location_id, facility_id)
    if not any(access.can(actor, action, scope) for action in (
            "correction.propose", "correction.approve", "duplicate.review")):
        raise Forbidden(_("You may not do this for people of this area."), code="forbidden")
    return PersonRecord(
        person, _dose_rows(session, person.id), open_candidates_of(session, person),
        merges_of(session, person),
        list(session.scalars(select(ChangeRequest).where(
            ChangeRequest.beneficiary_id == person.id, ChangeRequest.status != "awaiting_otp")
            .order_by(ChangeRequest.id))))


@dataclass(frozen=True)
class PossibleDuplicate:
    reference_id: str
    name: str
    score: float
    reasons: list[str]


def possible_duplicates(session: Session, person: Beneficiary) -> list[PossibleDuplicate]:
    """The open candidates of a person, as a registration warning: the other record's
    reference ID and name (no ID number), best first."""
    out = []
    for row in open_candidates_of(session, person):
        other = session.get(Beneficiary, row.high_id if row.low_id == person.id
                            else row.low_id)
        out.append(PossibleDuplicate(other.reference_id, other.name, row.score,
                                     list(row.reasons)))
    return out


# --- grievances -----------------------------------------------------------------------

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
    audit.record(session, "grievance.file", "grievance", grievance.id, category=category)
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


def grievance_queue(session: Session, actor: StaffUser, *, statuses: tuple[str, ...] =
                    ("open", "in_progress"), within_days: int = rules.DEFAULT_RESOLVE_DAYS,
                    now: datetime | None = None, limit: int = 500) -> list[QueueItem]:
    """Open grievances of the areas the actor handles, oldest first, with their age in
    days and whether they are past the service level (``within_days``)."""
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
    audit.record(session, "grievance.update", "grievance", grievance.id, status=status)
    session.commit()
    return grievance
