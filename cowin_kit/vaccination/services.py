"""Recording doses at the facility, walk-in registration, and AEFI reports.

Recording writes the dose and its "certificate due" outbox row in one transaction, so a
process that dies after the commit still leaves the certificate to the worker."""

from __future__ import annotations

import hmac
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import and_, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit import metrics
from cowin_kit import plugins
from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from cowin_kit.i18n import gettext as _
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.registration.rules import age_on
from cowin_kit.scheduling.models import Appointment, Facility, VaccinationSession
from cowin_kit.scheduling.rules import BookingRefused, GivenDose
from cowin_kit.scheduling.services import _pack_rows
from cowin_kit.security import keyring
from cowin_kit.vaccination import rules
from cowin_kit.vaccination.models import (
    AefiReport, CertificateDue, Dose, VaccineProduct, VaccineSchedule,
)


def staff_facility(session: Session, user: StaffUser, facility_code: str | None,
                   action: str = "dose.record") -> Facility:
    """The facility the staff member works at for this action (named, or their only one)."""
    if facility_code:
        facility = session.scalars(select(Facility).where(Facility.code == facility_code)).first()
        if facility is None:
            raise NotFound(_("No facility with code %(code)s.", code=facility_code),
                           code="facility_not_found")
    else:
        ids = {g.facility_id for g in user.grants if g.facility_id is not None}
        if len(ids) != 1:
            raise InvalidInput(_("Name the facility."), code="facility_required")
        facility = session.get(Facility, ids.pop())
    if not access.user_can(user, action, access.scope_for_facility(session, facility.id)):
        raise Forbidden(_("You may not do this at this facility."), code="forbidden")
    return facility


def todays_sessions(session: Session, pack: ActivePack, facility: Facility) -> list[VaccinationSession]:
    today = datetime.now(zoneinfo.ZoneInfo(pack.document["timezone"])).date()
    return list(session.scalars(select(VaccinationSession).where(
        VaccinationSession.facility_id == facility.id, VaccinationSession.session_date == today)
        .order_by(VaccinationSession.id)))


def _beneficiary(session: Session, reference_id: str) -> Beneficiary:
    from cowin_kit.registration.rules import is_reference_id

    found = None
    if is_reference_id(str(reference_id)):
        found = session.scalars(select(Beneficiary)
                                .where(Beneficiary.reference_id == str(reference_id))).first()
    if found is None:
        raise NotFound(_("No one is registered with this reference ID."),
                       code="beneficiary_not_found")
    return found


_PERSON_FOR_DOSE = (
    select(Beneficiary, Appointment, Dose.dose_number, Dose.product_id, Dose.administered_at)
    .outerjoin(Appointment, and_(Appointment.beneficiary_id == Beneficiary.id,
                                 Appointment.status == "booked"))
    .outerjoin(Dose, Dose.beneficiary_id == Beneficiary.id)
    .where(Beneficiary.reference_id == bindparam("reference_id")))


def _person_for_dose(session: Session, pack: ActivePack, reference_id: str
                     ) -> tuple[Beneficiary, Appointment | None, list[GivenDose]]:
    """The person, their live appointment (the lowest dose's) and the doses they were
    given, in one query (a row per booked appointment and dose: a handful)."""
    from cowin_kit.registration.rules import is_reference_id

    rows = []
    if is_reference_id(str(reference_id)):
        rows = session.execute(_PERSON_FOR_DOSE, {"reference_id": str(reference_id)}).all()
    if not rows:
        raise NotFound(_("No one is registered with this reference ID."),
                       code="beneficiary_not_found")
    appointments = {row[1] for row in rows if row[1] is not None}
    appointment = min(appointments, key=lambda a: a.dose_number, default=None)
    given = sorted({(number, product_id, at) for _b, _a, number, product_id, at in rows
                    if number is not None})
    return rows[0][0], appointment, [
        GivenDose(number, vaccine_product(session, pack, product_id=product_id).code, at.date())
        for number, product_id, at in given]


def vaccine_product(session: Session, pack: ActivePack | None, *, code: str | None = None,
                    product_id: int | None = None) -> VaccineProduct | None:
    """The vaccine product with this code (or id): pack-installed rows, read once per
    snapshot of the pack (copies outside every session); one installed since is read
    from the database."""
    for product in _pack_rows(session, pack, ("scheduling", "products"), select(VaccineProduct)):
        if (product.code == code) if code is not None else (product.id == product_id):
            return product
    return session.scalars(select(VaccineProduct).where(
        (VaccineProduct.code == code) if code is not None
        else (VaccineProduct.id == product_id))).first()


def vaccine_schedules(session: Session, pack: ActivePack | None) -> list[VaccineSchedule]:
    """Every vaccine schedule, read once per snapshot of the pack (copies)."""
    return list(_pack_rows(session, pack, ("scheduling", "schedules"), select(VaccineSchedule)))


def _live_appointment(session: Session, beneficiary_id: int) -> Appointment | None:
    return session.scalars(select(Appointment).where(
        Appointment.beneficiary_id == beneficiary_id, Appointment.status == "booked")
        .order_by(Appointment.dose_number)).first()


@dataclass
class RecordedDose:
    dose: Dose
    created: bool


def record_dose(session: Session, pack: ActivePack, vaccinator: StaffUser, *,
                facility: Facility, reference_id: str, product_code: str, lot: str,
                secret_code: str | None = None, administered_at: datetime | None = None,
                dose_number: int | None = None,
                idempotency_key: str | None = None) -> RecordedDose:
    if idempotency_key:
        existing = session.scalars(select(Dose).where(Dose.idempotency_key == idempotency_key)).first()
        if existing is not None:
            if session.get(Beneficiary, existing.beneficiary_id).reference_id != str(reference_id):
                raise Conflict(_("This Idempotency-Key was used for another dose."),
                               code="idempotency_key_reused")
            return RecordedDose(existing, False)
    beneficiary, appointment, given = _person_for_dose(session, pack, reference_id)
    if appointment is not None:
        # Booked online: the person proves it is them with the code only they were given.
        expected = keyring().decrypt(beneficiary.secret_code_encrypted)
        if secret_code is None or not hmac.compare_digest(str(secret_code), expected):
            raise RuleViolation(_("The 4-digit secret code is not correct."),
                                code="secret_code_invalid")
    product = vaccine_product(session, pack, code=str(product_code))
    if product is None:
        raise NotFound(_("No vaccine with code %(code)s.", code=product_code),
                       code="vaccine_not_found")
    lot = " ".join(str(lot).split())
    if not 1 <= len(lot) <= 64:
        raise InvalidInput(_("Give the lot (batch) number."), code="invalid_lot",
                           fields={"lot": [_("Give the lot (batch) number.")]})
    moment = administered_at or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise InvalidInput(_("Give the time with its UTC offset."), code="invalid_time")
    if moment > datetime.now(timezone.utc):
        raise InvalidInput(_("A dose cannot be given in the future."), code="invalid_time")
    day = moment.astimezone(zoneinfo.ZoneInfo(pack.document["timezone"])).date()
    if dose_number is not None and any(d.number == dose_number for d in given):
        same = session.scalars(select(Dose).where(Dose.beneficiary_id == beneficiary.id,
                                                  Dose.dose_number == dose_number)).one()
        if same.product_id == product.id and same.lot == lot:
            return RecordedDose(same, False)  # the same dose sent again: nothing new
    try:
        number = rules.check_dose(given=given, product_code=product.code, day=day,
                                  age=age_on(day, beneficiary.birth_year, beneficiary.birth_date),
                                  schedules=vaccine_schedules(session, pack),
                                  dose_number=dose_number)
    except BookingRefused as exc:
        raise RuleViolation(str(exc), code=exc.code) from None
    dose = Dose(beneficiary_id=beneficiary.id, dose_number=number, product_id=product.id,
                administered_at=moment, lot=lot, facility_id=facility.id,
                vaccinator=vaccinator.username, idempotency_key=idempotency_key)
    session.add(dose)
    try:
        session.flush()
    except IntegrityError:  # the same dose recorded at the same moment by another request
        session.rollback()
        raise Conflict(_("This dose was just recorded."), code="dose_already_recorded") from None
    if appointment is not None and appointment.dose_number == number:
        appointment.status = "completed"
    session.add(CertificateDue(dose_id=dose.id))
    audit.record(session, "dose.record", "dose", dose.id, beneficiary=beneficiary.reference_id,
                 dose=number, vaccine=product.code, lot=lot, facility=facility.code)
    plugins.queue_hook(session, "dose_recorded", dose_id=dose.id,
                       reference_id=beneficiary.reference_id, dose_number=number,
                       vaccine=product.code, lot=lot, administered_at=moment,
                       facility_code=facility.code)
    session.commit()
    metrics.DOSES_RECORDED.inc()
    return RecordedDose(dose, True)


def register_walk_in(session: Session, pack: ActivePack, staff: StaffUser, *, mobile: str,
                     **member) -> registration.BeneficiaryView:
    """On-site registration by staff, who check the photo ID in person (no OTP)."""
    number = registration.parse_mobile(mobile, pack)
    account = session.scalars(select(CitizenAccount).where(CitizenAccount.mobile == number)).first()
    if account is None:
        account = CitizenAccount(mobile=number, locale=pack.default_locale)
        session.add(account)
        session.flush()
        audit.record(session, "account.create", "citizen_account", account.id, walk_in=True,
                     by=staff.username)
    return registration.add_beneficiary(session, pack, account, **member)


def report_aefi(session: Session, reporter: StaffUser, *, dose: Dose, onset_at: datetime,
                symptoms: list[str], seriousness: str, outcome: str,
                notes: str = "") -> AefiReport:
    if seriousness not in rules.SERIOUSNESS:
        raise InvalidInput(_("Unknown seriousness."), code="invalid_seriousness")
    if outcome not in rules.OUTCOMES:
        raise InvalidInput(_("Unknown outcome."), code="invalid_outcome")
    if onset_at < dose.administered_at:
        raise InvalidInput(_("The onset cannot be before the dose."), code="invalid_onset")
    report = AefiReport(dose_id=dose.id, onset_at=onset_at, symptoms=symptoms,
                        seriousness=seriousness, outcome=outcome, reporter=reporter.username,
                        notes=notes)
    session.add(report)
    session.flush()
    audit.record(session, "aefi.report", "aefi_report", report.id, dose=dose.id,
                 seriousness=seriousness)
    plugins.queue_hook(session, "aefi_reported", report_id=report.id, dose_id=dose.id,
                       seriousness=seriousness, outcome=outcome, onset_at=onset_at)
    session.commit()
    return report


def aefi_visible_to(session: Session, staff: StaffUser) -> list[tuple[AefiReport, Dose, str]]:
    """Reports at facilities within the staff member's aefi.read area, with the lot."""
    out = []
    for report, dose in session.execute(select(AefiReport, Dose).join(Dose, Dose.id == AefiReport.dose_id)
                                        .order_by(AefiReport.id)):
        if dose.facility_id is None:
            visible = access.user_can(staff, "aefi.read", access.COUNTRY)
        else:
            visible = access.user_can(staff, "aefi.read",
                                      access.scope_for_facility(session, dose.facility_id))
        if visible:
            out.append((report, dose, session.get(Beneficiary, dose.beneficiary_id).reference_id))
    return out
