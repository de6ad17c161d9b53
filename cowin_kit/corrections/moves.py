"""Moving a person to the account of another mobile number: by the person (their
reference ID and secret code, then an OTP to the new number), or by staff through a
change request (applied here on approval)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Conflict, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.core.security import keyring
from cowin_kit.corrections.base import _area_of, _now, person_by_reference
from cowin_kit.corrections.models import ChangeRequest
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import Beneficiary, CitizenAccount, OtpTransaction
from cowin_kit.scheduling.models import Appointment
from cowin_kit.geography.places import person_place


SECRET_CODE_MAX_FAILURES = 5
SECRET_CODE_PAUSE = timedelta(hours=1)

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
        audit.record(session, "account.create", "citizen_account", target.id,
                     place=audit.NATIONAL)
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
                 place=person_place(session, person), from_account=old_account, to_account=target.id)
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
                 person.reference_id, place=person_place(session, person))
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
                 place=person_place(session, person), person=person.reference_id)
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
