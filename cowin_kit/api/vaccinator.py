"""The vaccinator's API: today's sessions and queue, check-in, walk-ins, recording doses,
AEFI reports, /api/v1."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from cowin_kit.validation import load
from cowin_kit.api import pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.apidoc import doc
from cowin_kit.db import get_session
from cowin_kit.errors import Forbidden, NotFound
from cowin_kit.i18n import gettext as _
from cowin_kit.identity import access
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.idnumbers import mask_id_number
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.scheduling.models import (
    Appointment, SessionDoseCapacity, SessionSlot, VaccinationSession,
)
from cowin_kit.geography.models import Facility
from cowin_kit.vaccination import schemas, services
from cowin_kit.programme.models import VaccineProduct

bp = Blueprint("api_vaccinator", __name__, url_prefix="/api/v1")


def _label(labels: dict[str, str]) -> str:
    return labels.get(request_locale()) or next(iter(labels.values()))


@bp.get("/vaccinator/today")
@doc("Today's sessions at my facility with the queue of people booked", response=schemas.TodayOut,
     auth="staff", tag="vaccinators")
def today():
    query = load(schemas.FacilityQuery(), request.args.to_dict())
    session = get_session()
    facility = services.staff_facility(session, staff(), query.get("facility"),
                                       action="beneficiary.verify")
    out = []
    for item in services.todays_sessions(session, pack(), facility):
        caps = list(session.scalars(select(SessionDoseCapacity)
                                    .where(SessionDoseCapacity.session_id == item.id)))
        queue = []
        for appointment, beneficiary, slot in session.execute(
                select(Appointment, Beneficiary, SessionSlot)
                .join(Beneficiary, Beneficiary.id == Appointment.beneficiary_id)
                .join(SessionSlot, SessionSlot.id == Appointment.slot_id)
                .where(Appointment.session_id == item.id,
                       Appointment.status.in_(["booked", "completed"]))
                .order_by(SessionSlot.starts_at, Appointment.created_at)):
            queue.append({"reference_id": beneficiary.reference_id, "name": beneficiary.name,
                          "dose": appointment.dose_number, "slot": slot.label,
                          "status": appointment.status})
        out.append({"session_id": item.id,
                    "vaccine": session.get(VaccineProduct, item.product_id).code,
                    "status": item.status,
                    "capacity": {str(c.dose_number): c.capacity for c in caps},
                    "booked": {str(c.dose_number): c.booked for c in caps}, "queue": queue})
    return jsonify(schemas.TodayOut().dump({"facility": facility.code, "sessions": out}))


@bp.get("/vaccinator/beneficiaries/<reference_id>")
@doc("Check a person in by reference ID (the secret code is never shown here)",
     response=schemas.CheckInOut, auth="staff", tag="vaccinators")
def check_in(reference_id: str):
    session = get_session()
    user = staff()
    if not any(g.role == "vaccinator" or "beneficiary.verify" in access.ROLE_ACTIONS.get(g.role, ())
               for g in user.grants) or not user.active:
        raise Forbidden(_("You may not check people in."), code="forbidden")
    beneficiary = services._beneficiary(session, reference_id)
    doses = [{"dose": d.dose_number, "vaccine": session.get(VaccineProduct, d.product_id).code,
              "date": d.administered_at.date().isoformat(), "lot": d.lot}
             for d in session.scalars(select(Dose).where(Dose.beneficiary_id == beneficiary.id)
                                      .order_by(Dose.dose_number))]
    appointment = services._live_appointment(session, beneficiary.id)
    booked = None
    if appointment is not None:
        vaccination_session = session.get(VaccinationSession, appointment.session_id)
        facility_code = session.get(Facility, vaccination_session.facility_id).code
        booked = {"dose": appointment.dose_number, "session_id": appointment.session_id,
                  "facility": facility_code}
    return jsonify(schemas.CheckInOut().dump({
        "reference_id": beneficiary.reference_id, "name": beneficiary.name,
        "birth_year": beneficiary.birth_year,
        "gender": _label(session.get(Gender, beneficiary.gender_id).labels),
        "id_type": _label(session.get(IdDocumentType, beneficiary.id_type_id).labels),
        "id_number_masked": mask_id_number("0" * 8 + beneficiary.id_number_last4),
        "doses": doses, "appointment": booked, "secret_code_required": appointment is not None,
    }))


def _dose_json(recorded: services.RecordedDose) -> dict:
    session = get_session()
    dose = recorded.dose
    if recorded.reference_id is not None:  # just recorded: the service knows the codes
        reference_id, vaccine, facility = recorded.reference_id, recorded.vaccine, recorded.facility
    else:
        place = session.get(Facility, dose.facility_id) if dose.facility_id else None
        reference_id = session.get(Beneficiary, dose.beneficiary_id).reference_id
        vaccine = session.get(VaccineProduct, dose.product_id).code
        facility = place.code if place else None
    return schemas.RecordedDoseOut().dump({
        "dose_id": dose.id, "reference_id": reference_id, "dose": dose.dose_number,
        "vaccine": vaccine, "lot": dose.lot, "administered_at": dose.administered_at,
        "facility": facility, "created": recorded.created})


@bp.post("/vaccinator/doses")
@doc("Record a dose (idempotent: Idempotency-Key header, or the same person and dose)",
     body=schemas.DoseIn, response=schemas.RecordedDoseOut, status=201, auth="staff", tag="vaccinators")
def record_dose():
    data = load(schemas.DoseIn())
    session = get_session()
    user = staff()
    facility = services.staff_facility(session, user, data.get("facility"))
    key = request.headers.get("Idempotency-Key")
    recorded = services.record_dose(
        session, pack(), user, facility=facility, reference_id=data["reference_id"],
        product_code=data["vaccine"], lot=data["lot"], secret_code=data.get("secret_code"),
        administered_at=data.get("administered_at"), dose_number=data.get("dose"),
        idempotency_key=key[:100] if key else None)
    return jsonify(_dose_json(recorded)), 201 if recorded.created else 200


@bp.post("/vaccinator/walk-ins")
@doc("Register a person on site (staff check the photo ID)", body=schemas.WalkInIn,
     response=schemas.WalkInOut, status=201, auth="staff", tag="vaccinators")
def walk_in():
    data = load(schemas.WalkInIn())
    session = get_session()
    user = staff()
    services.staff_facility(session, user, data.pop("facility", None),
                            action="beneficiary.verify")
    view = services.register_walk_in(session, pack(), user, **data)
    return jsonify(schemas.WalkInOut().dump({"reference_id": view.beneficiary.reference_id,
                                             "name": view.beneficiary.name})), 201


@bp.post("/vaccinator/aefi")
@doc("Report an adverse event following immunization", body=schemas.AefiIn,
     response=schemas.AefiOut, status=201, auth="staff", tag="vaccinators")
def report_aefi():
    data = load(schemas.AefiIn())
    session = get_session()
    user = staff()
    dose = session.get(Dose, data["dose_id"])
    if dose is None:
        raise NotFound(_("No such dose."), code="dose_not_found")
    allowed = access.user_can(user, "dose.record", access.scope_for_facility(session, dose.facility_id)) \
        if dose.facility_id else False
    if not (allowed or access.user_can(user, "aefi.read", access.COUNTRY)):
        raise Forbidden(_("You may not report for this dose."), code="forbidden")
    report = services.report_aefi(session, user, dose=dose, onset_at=data["onset_at"],
                                  symptoms=data["symptoms"], seriousness=data["seriousness"],
                                  outcome=data["outcome"], notes=data["notes"])
    return jsonify(_aefi_json(report, dose,
                              session.get(Beneficiary, dose.beneficiary_id).reference_id)), 201


def _aefi_json(report, dose, reference_id) -> dict:
    return schemas.AefiOut().dump(_aefi_fields(report, dose, reference_id))


def _aefi_fields(report, dose, reference_id) -> dict:
    return ({
        "id": report.id, "dose_id": dose.id, "reference_id": reference_id, "lot": dose.lot,
        "onset_at": report.onset_at, "symptoms": report.symptoms,
        "seriousness": report.seriousness, "outcome": report.outcome,
        "reporter": report.reporter})


@bp.get("/admin/aefi")
@doc("AEFI reports in my area (district administrators and above)", response=schemas.AefiListOut,
     auth="staff", tag="vaccinators")
def list_aefi():
    rows = services.aefi_visible_to(get_session(), staff())
    return jsonify(schemas.AefiListOut().dump(
        {"reports": [_aefi_fields(r, d, ref) for r, d, ref in rows]}))
