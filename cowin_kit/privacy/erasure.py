"""Erasure by pseudonymization, where the country's law allows it (ERASURE_ALLOWED): the
person's identity goes, their doses stay and keep counting for coverage by area, age,
sex and product, without identity.

What goes: the name (replaced by ``ERASED_NAME``), the ID document (number, hash, mask),
the register's own number, the guardian, the link to the mother, the secret code, the
exact birth date (kept to its month: ages and birth cohorts still count), the old values
of corrections, free texts of grievances and AEFI reports about the person, the signed
certificate texts (the certificates are revoked), the matching keys and duplicate
candidates. The person is moved to an account of their own without a mobile number; the
account they were on is deleted if nobody else is on it (with its OTPs, PIN, alerts).

What stays: the reference ID (the pseudonym: only papers the person holds link it to
them), year and month of birth, sex, area and home facility, pregnancies' dates, every
dose (product, date, lot, facility, vaccinator), appointments, AEFI coded reactions,
seriousness and outcome, and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.certificates.models import Certificate
from cowin_kit.core.errors import Forbidden, InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.corrections.models import (
    ChangeRequest, DuplicateCandidate, Grievance, PersonMatchKey,
)
from cowin_kit.geography.places import person_place
from cowin_kit.privacy.retention import delete_account
from cowin_kit.registration.models import (
    Beneficiary, BeneficiaryCorrection, CitizenAccount, Dose,
)
from cowin_kit.scheduling.models import Appointment
from cowin_kit.vaccination.models import AefiReport

ERASED_NAME = "—"
ERASED_MOBILE = "erased:{id}"


@dataclass(frozen=True)
class Erased:
    reference_id: str
    doses_kept: int
    certificates_revoked: int
    account_deleted: bool


def erase_person(session: Session, reference_id: str, *, reason: str, allowed: bool,
                 now: datetime | None = None) -> Erased:
    """Pseudonymize one person (see the module docstring); audited as ``person.erase``
    with the reason. Refused unless ``allowed`` (the ERASURE_ALLOWED setting)."""
    if not allowed:
        raise Forbidden(_("Erasure is not allowed on this installation (ERASURE_ALLOWED)."),
                        code="erasure_not_allowed")
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise InvalidInput(_("Give the reason for the erasure (the request and the law)."),
                           code="reason_required", fields={"reason": [_("Required.")]})
    now = now or datetime.now(timezone.utc)
    person = session.scalars(select(Beneficiary).where(
        Beneficiary.reference_id == reference_id.strip()).with_for_update()).first()
    if person is None:
        raise NotFound(_("No person has this reference ID."), code="beneficiary_not_found")
    place = person_place(session, person)  # before anything of theirs changes
    if person.name == ERASED_NAME and person.account.mobile.startswith("erased:"):
        raise InvalidInput(_("This person has already been erased."), code="already_erased")
    old_account = person.account
    placeholder = CitizenAccount(mobile=ERASED_MOBILE.format(id=person.id), locale=None,
                                 reminders_opt_out=True, created_at=now)
    session.add(placeholder)
    session.flush()

    person.account_id = placeholder.id
    person.name = ERASED_NAME
    person.id_type_id = person.id_number_hash = person.id_number_encrypted = None
    person.id_number_last4 = None
    person.external_id = None
    person.guardian_name = person.guardian_relation = None
    person.mother_id = None
    person.secret_code_encrypted = ""
    if person.birth_date is not None:
        person.birth_date = person.birth_date.replace(day=1)
    session.execute(update(Beneficiary).where(Beneficiary.mother_id == person.id)
                    .values(mother_id=None).execution_options(synchronize_session=False))
    session.execute(update(Appointment).where(Appointment.beneficiary_id == person.id)
                    .values(account_id=placeholder.id)
                    .execution_options(synchronize_session=False))
    session.execute(update(Grievance).where(Grievance.beneficiary_id == person.id)
                    .values(account_id=placeholder.id, description="", answer="")
                    .execution_options(synchronize_session=False))
    dose_ids = select(Dose.id).where(Dose.beneficiary_id == person.id)
    session.execute(update(AefiReport).where(AefiReport.dose_id.in_(dose_ids))
                    .values(symptoms=[], medical_history="", notes="",
                            reporter_account_id=None)
                    .execution_options(synchronize_session=False))
    revoked = session.execute(update(Certificate).where(
        Certificate.beneficiary_id == person.id, Certificate.revoked_at.is_(None))
        .values(revoked_at=now, revocation_reason="erased")
        .execution_options(synchronize_session=False)).rowcount or 0
    session.execute(update(Certificate).where(Certificate.beneficiary_id == person.id)
                    .values(dcc=None, shc=None, vc=None)
                    .execution_options(synchronize_session=False))
    session.execute(delete(BeneficiaryCorrection).where(
        BeneficiaryCorrection.beneficiary_id == person.id)
        .execution_options(synchronize_session=False))
    session.execute(update(ChangeRequest).where(ChangeRequest.beneficiary_id == person.id)
                    .values(changes={"erased": True}, before={"erased": True})
                    .execution_options(synchronize_session=False))
    session.execute(delete(PersonMatchKey).where(PersonMatchKey.beneficiary_id == person.id)
                    .execution_options(synchronize_session=False))
    session.execute(delete(DuplicateCandidate).where(or_(
        DuplicateCandidate.low_id == person.id, DuplicateCandidate.high_id == person.id))
        .execution_options(synchronize_session=False))
    session.flush()

    remaining = session.scalar(select(Beneficiary.id).where(
        Beneficiary.account_id == old_account.id).limit(1))
    account_deleted = remaining is None
    if account_deleted:
        delete_account(session, old_account)
    doses = len(session.scalars(dose_ids).all())
    audit.record(session, "person.erase", "beneficiary", person.reference_id,
                 place=place, reason=reason, doses_kept=doses, certificates_revoked=revoked,
                 account_deleted=account_deleted)
    session.commit()
    return Erased(person.reference_id, doses, revoked, account_deleted)
