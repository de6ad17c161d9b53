"""The vaccinator's API: today's sessions and queue, check-in, walk-ins, recording doses,
/api/v1 (AEFI reports: cowin_kit.api.safety)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from cowin_kit.core.validation import load
from cowin_kit.api import pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.registration.models import Beneficiary
from cowin_kit.geography.models import Facility
from cowin_kit.vaccination import queue, schemas, services, visits
from cowin_kit.programme.models import VaccineProduct

bp = Blueprint("api_vaccinator", __name__, url_prefix="/api/v1")


def _label(labels: dict[str, str]) -> str:
    return labels.get(request_locale()) or next(iter(labels.values()), "")


@bp.get("/vaccinator/today")
@doc("Today's sessions at my facility with the queue of people booked", response=schemas.TodayOut,
     auth="staff", tag="vaccinators")
def today():
    query = load(schemas.FacilityQuery(), request.args.to_dict())
    view = queue.todays_queue(get_session(), pack(), staff(), query.get("facility"))
    sessions = [{"session_id": item.session.id, "vaccine": item.product.code,
                 "status": item.session.status,
                 "capacity": {str(n): seats for n, seats in item.capacity.items()},
                 "booked": {str(n): seats for n, seats in item.booked.items()},
                 "queue": [{"reference_id": entry.reference_id, "name": entry.name,
                            "dose": entry.dose, "slot": entry.slot, "status": entry.status}
                           for entry in item.queue]}
                for item in view.sessions]
    return jsonify(schemas.TodayOut().dump({"facility": view.facility.code,
                                            "sessions": sessions}))


@bp.get("/vaccinator/beneficiaries/<reference_id>")
@doc("Check a person in by reference ID (the secret code is never shown here). The read "
     "is audited; a person neither of my area nor booked at my facility takes ?reason= "
     "(403 reason_required without one)", response=schemas.CheckInOut,
     query=schemas.RecordReadQuery, auth="staff", tag="vaccinators")
def check_in(reference_id: str):
    query = load(schemas.RecordReadQuery(), request.args.to_dict())
    person = queue.check_in(get_session(), staff(), reference_id, reason=query.get("reason"))
    beneficiary, booked = person.beneficiary, person.booked
    return jsonify(schemas.CheckInOut().dump({
        "reference_id": beneficiary.reference_id, "name": beneficiary.name,
        "birth_year": beneficiary.birth_year, "gender": _label(person.gender_labels),
        "id_type": _label(person.id_type_labels), "id_number_masked": person.id_number_masked,
        "doses": [{"dose": given.dose.dose_number, "vaccine": given.product.code,
                   "date": pack().day_of(given.dose.administered_at).isoformat(),
                   "lot": given.dose.lot}
                  for given in person.doses],
        "appointment": None if booked is None else {
            "dose": booked.appointment.dose_number, "session_id": booked.session.id,
            "facility": booked.facility.code},
        "secret_code_required": person.secret_code_required,
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
        "facility": facility, "created": recorded.created,
        "warnings": [w.as_dict() for w in recorded.warnings]})


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


def _schedule_name(schedule, locale: str) -> str:
    names = schedule.disease or {}
    return names.get(locale) or names.get(locale.split("_")[0]) or next(
        iter(names.values()), schedule.code)


def _due_json(status, schedule, locale: str) -> dict:
    return {"schedule": status.schedule, "name": _schedule_name(schedule, locale),
            "dose": status.dose, "status": status.status, "earliest": status.earliest,
            "due": status.due, "latest": status.latest,
            "vaccines": list(visits.dose_products(schedule, status.dose))}


@bp.get("/vaccinator/people/<reference_id>/due-today")
@doc("What a person is due today (routine schedules): every dose with its status, and "
     "the doses due or overdue (?on=YYYY-MM-DD: another day; ?reason=: why, for a person "
     "outside my area)", response=schemas.DueTodayOut, query=schemas.DueTodayQuery,
     auth="staff", tag="vaccinators")
def due_today(reference_id: str):
    query = load(schemas.DueTodayQuery(), request.args.to_dict())
    session = get_session()
    found = visits.due_today(session, pack(), staff(), reference_id, on=query.get("on"),
                             reason=query.get("reason"))
    locale = str(request_locale())
    by_code = {row.code: row for row in visits.routine_schedules(session, pack())}
    return jsonify(schemas.DueTodayOut().dump({
        "reference_id": found.person.reference_id, "name": found.person.name,
        "birth_date": found.birth_date, "on": found.on,
        "due": [_due_json(item.status, item.schedule, locale) for item in found.due],
        "statuses": [_due_json(s, by_code[s.schedule], locale) for s in found.statuses],
    }))


@bp.post("/vaccinator/visits")
@doc("Record a visit: several routine doses at once, each with its lot, all or none "
     "(walk-in; idempotent with an Idempotency-Key header)", body=schemas.VisitIn,
     response=schemas.VisitOut, status=201, auth="staff", tag="vaccinators")
def record_visit():
    data = load(schemas.VisitIn())
    key = request.headers.get("Idempotency-Key")
    visit = visits.record_visit(
        get_session(), pack(), staff(), reference_id=data["reference_id"],
        doses=[{"product": d["vaccine"], "lot": d["lot"], "schedule": d.get("schedule")}
               for d in data["doses"]],
        administered_at=data.get("administered_at"), facility_code=data.get("facility"),
        idempotency_key=key[:100] if key else None)
    return jsonify(schemas.VisitOut().dump({
        "reference_id": visit.person.reference_id,
        "facility": visit.facility.code if visit.facility else None,
        "administered_at": visit.doses[0].dose.administered_at, "created": visit.created,
        "doses": [{"dose_id": d.dose.id, "schedule": d.schedule.code,
                   "dose": d.dose.dose_number, "vaccine": d.product.code, "lot": d.dose.lot}
                  for d in visit.doses],
        "warnings": [w.as_dict() for w in visit.warnings]})), 201 if visit.created else 200


@bp.post("/vaccinator/walk-ins")
@doc("Register a person on site (staff check the photo ID). A mobile that already has an "
     "account needs holder_code, the secret code of one of its members (409 "
     "mobile_has_account without it)", body=schemas.WalkInIn,
     response=schemas.WalkInOut, status=201, auth="staff", tag="vaccinators")
def walk_in():
    data = load(schemas.WalkInIn())
    session = get_session()
    user = staff()
    facility = services.staff_facility(session, user, data.pop("facility", None),
                                       action="beneficiary.verify")
    view = services.register_walk_in(session, pack(), user, facility=facility, **data)
    return jsonify(schemas.WalkInOut().dump({"reference_id": view.beneficiary.reference_id,
                                             "name": view.beneficiary.name})), 201
