"""Corrections through the API: change requests with maker-checker approval
(/api/v1/staff/corrections), duplicate people and merges (/api/v1/staff/duplicates,
/api/v1/staff/merges), grievances (/api/v1/staff/grievances for staff, /api/v1/grievances
for citizens) and a person's own move to another mobile (/api/v1/people-moves)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from cowin_kit.api import citizen, pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import InvalidInput
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.validation import load
from cowin_kit.corrections import schemas, services
from cowin_kit.corrections.models import ChangeRequest, DuplicateCandidate, Grievance, PersonMerge
from cowin_kit.geography.models import Facility
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, CitizenAccount

bp = Blueprint("api_corrections", __name__)

STAFF = "/api/v1/staff"


def _reference(session, beneficiary_id: int | None) -> str | None:
    if beneficiary_id is None:
        return None
    return session.scalar(select(Beneficiary.reference_id).where(
        Beneficiary.id == beneficiary_id))


def request_json(session, row: ChangeRequest) -> dict:
    changes = {k: v for k, v in row.changes.items() if k != "transaction"}
    return {"id": row.id, "kind": row.kind, "reference_id": _reference(session,
                                                                       row.beneficiary_id),
            "dose_id": row.dose_id, "changes": changes, "before": row.before,
            "reason": row.reason, "status": row.status, "maker": row.maker,
            "checker": row.checker, "decision_note": row.decision_note,
            "created_at": row.created_at, "decided_at": row.decided_at}


def candidate_json(session, row: DuplicateCandidate) -> dict:
    return {"id": row.id, "first": _reference(session, row.low_id),
            "second": _reference(session, row.high_id), "score": row.score,
            "reasons": row.reasons, "status": row.status, "found_by": row.found_by}


def merge_json(session, row: PersonMerge) -> dict:
    return {"id": row.id, "kept": _reference(session, row.kept_id),
            "merged": _reference(session, row.merged_id), "merged_by": row.merged_by,
            "merged_at": row.merged_at, "undone_by": row.undone_by,
            "undone_at": row.undone_at}


def grievance_json(session, row: Grievance, item: services.QueueItem | None = None) -> dict:
    out = {"id": row.id, "category": row.category, "description": row.description,
           "reference_id": _reference(session, row.beneficiary_id), "status": row.status,
           "answer": row.answer, "created_at": row.created_at, "updated_at": row.updated_at,
           "closed_at": row.closed_at}
    if item is not None:
        out.update(age_days=item.age_days, overdue=item.overdue)
    return out


# --- change requests ---------------------------------------------------------------------

@bp.post(f"{STAFF}/corrections")
@doc("Propose a correction (a person's details, a dose's facts, a voided dose, a move to "
     "another mobile) with its reason; it is applied only when another staff member "
     "approves it", body=schemas.ChangeRequestIn, response=schemas.ChangeRequestOut,
     status=201, auth="staff", tag="corrections")
def propose():
    data = load(schemas.ChangeRequestIn())
    session, actor, active = get_session(), staff(), pack()
    kind = data["kind"]
    needs = {"person": "reference_id", "move": "reference_id", "dose": "dose_id",
             "void_dose": "dose_id"}[kind]
    if data[needs] is None or (kind == "move" and not data["mobile"]):
        field = "mobile" if data[needs] is not None else needs
        message = _("Missing data for required field.")
        raise InvalidInput(message, code="invalid_input", fields={field: [message]})
    if kind == "person":
        row = services.propose_person_change(session, active, actor, data["reference_id"],
                                             data["changes"], data["reason"])
    elif kind == "dose":
        row = services.propose_dose_change(session, active, actor, data["dose_id"],
                                           data["changes"], data["reason"])
    elif kind == "void_dose":
        row = services.propose_void(session, active, actor, data["dose_id"], data["reason"])
    else:
        row = services.propose_move(session, active, actor, data["reference_id"],
                                    data["mobile"], data["reason"])
    return jsonify(schemas.ChangeRequestOut().dump(request_json(session, row))), 201


@bp.get(f"{STAFF}/corrections")
@doc("The change requests of my areas (query: status, default pending), oldest first",
     query=schemas.StatusQuery, response=schemas.ChangeRequestListOut, auth="staff",
     tag="corrections")
def queue():
    query = load(schemas.StatusQuery(), request.args.to_dict())
    session = get_session()
    rows = services.list_requests(session, staff(), status=query["status"] or "pending")
    return jsonify(schemas.ChangeRequestListOut().dump(
        {"requests": [request_json(session, r) for r in rows]}))


@bp.post(f"{STAFF}/corrections/<int:request_id>/approve")
@doc("Approve and apply a change request (not one's own); certificates are revoked and "
     "reissued where the change shows on them", body=schemas.DecisionIn,
     response=schemas.ChangeRequestOut, auth="staff", tag="corrections")
def approve(request_id: int):
    data = load(schemas.DecisionIn())
    session = get_session()
    row = services.approve(session, pack(), staff(), request_id, data["note"])
    return jsonify(schemas.ChangeRequestOut().dump(request_json(session, row)))


@bp.post(f"{STAFF}/corrections/<int:request_id>/reject")
@doc("Reject a change request, saying why", body=schemas.UndoIn,
     response=schemas.ChangeRequestOut, auth="staff", tag="corrections")
def reject(request_id: int):
    data = load(schemas.UndoIn())
    session = get_session()
    row = services.reject(session, staff(), request_id, data["reason"])
    return jsonify(schemas.ChangeRequestOut().dump(request_json(session, row)))


@bp.get(f"{STAFF}/corrections/people/<reference_id>")
@doc("A person's record as corrections see it: doses (with their ids), possible "
     "duplicates, merges and change requests", response=schemas.PersonRecordOut,
     auth="staff", tag="corrections")
def person_record(reference_id: str):
    session = get_session()
    record = services.person_record(session, staff(), reference_id)
    person = record.person
    products = dict(session.execute(select(VaccineProduct.id, VaccineProduct.code)).all())
    facilities = dict(session.execute(select(Facility.id, Facility.code)).all())
    body = {
        "reference_id": person.reference_id, "name": person.name,
        "birth_year": person.birth_year, "birth_date": person.birth_date,
        "merged_into": _reference(session, person.merged_into_id),
        "doses": [{"id": d.id, "series": d.series, "dose_number": d.dose_number,
                   "product": products.get(d.product_id, ""), "lot": d.lot,
                   "administered_at": d.administered_at,
                   "facility": facilities.get(d.facility_id)} for d in record.doses],
        "candidates": [candidate_json(session, c) for c in record.candidates],
        "merges": [merge_json(session, m) for m in record.merges],
        "requests": [request_json(session, r) for r in record.requests]}
    return jsonify(schemas.PersonRecordOut().dump(body))


# --- duplicates and merges -----------------------------------------------------------------

@bp.get(f"{STAFF}/duplicates")
@doc("Possible duplicate people of my areas (query: status, default open), best score "
     "first", query=schemas.StatusQuery, response=schemas.CandidateListOut, auth="staff",
     tag="corrections")
def duplicates():
    query = load(schemas.StatusQuery(), request.args.to_dict())
    session = get_session()
    rows = services.list_candidates(session, staff(), status=query["status"] or "open")
    return jsonify(schemas.CandidateListOut().dump(
        {"candidates": [candidate_json(session, r) for r in rows]}))


@bp.post(f"{STAFF}/duplicates/<int:candidate_id>/distinct")
@doc("Mark a candidate pair as two different people", body=schemas.DecisionIn,
     response=schemas.CandidateOut, auth="staff", tag="corrections")
def distinct(candidate_id: int):
    data = load(schemas.DecisionIn())
    session = get_session()
    row = services.mark_distinct(session, staff(), candidate_id, data["note"])
    return jsonify(schemas.CandidateOut().dump(candidate_json(session, row)))


@bp.post(f"{STAFF}/merges")
@doc("Merge the second record into the first (doses, appointments, pregnancies and "
     "children move; each dose kept once; certificates reissued)", body=schemas.MergeIn,
     response=schemas.MergeOut, status=201, auth="staff", tag="corrections")
def merge():
    data = load(schemas.MergeIn())
    session = get_session()
    row = services.merge(session, staff(), data["kept"], data["merged"],
                         reason=data["reason"], candidate_id=data["candidate_id"])
    return jsonify(schemas.MergeOut().dump(merge_json(session, row))), 201


@bp.post(f"{STAFF}/merges/<int:merge_id>/undo")
@doc("Undo a merge: both records as they were", body=schemas.UndoIn,
     response=schemas.MergeOut, auth="staff", tag="corrections")
def undo(merge_id: int):
    data = load(schemas.UndoIn())
    session = get_session()
    row = services.undo_merge(session, staff(), merge_id, reason=data["reason"])
    return jsonify(schemas.MergeOut().dump(merge_json(session, row)))


# --- grievances ----------------------------------------------------------------------------

@bp.get(f"{STAFF}/grievances")
@doc("Open grievances of my areas, oldest first, with their age in days and whether they "
     "are past the service level", response=schemas.GrievanceListOut, auth="staff",
     tag="corrections")
def grievance_queue():
    session = get_session()
    items = services.grievance_queue(session, pack(), staff())
    return jsonify(schemas.GrievanceListOut().dump(
        {"grievances": [grievance_json(session, i.grievance, i) for i in items]}))


@bp.post(f"{STAFF}/grievances/<int:grievance_id>")
@doc("Move a grievance on (in_progress, resolved, rejected) with an answer for the citizen",
     body=schemas.GrievanceAnswerIn, response=schemas.GrievanceOut, auth="staff",
     tag="corrections")
def grievance_answer(grievance_id: int):
    data = load(schemas.GrievanceAnswerIn())
    session = get_session()
    row = services.answer_grievance(session, staff(), grievance_id, **data)
    return jsonify(schemas.GrievanceOut().dump(grievance_json(session, row)))


@bp.post("/api/v1/grievances")
@doc("File a grievance (wrong details, missing dose, certificate problem, other) about "
     "one of my people", body=schemas.GrievanceIn, response=schemas.GrievanceOut,
     status=201, auth="citizen")
def file_grievance():
    data = load(schemas.GrievanceIn())
    session = get_session()
    row = services.file_grievance(session, citizen(), **data)
    return jsonify(schemas.GrievanceOut().dump(grievance_json(session, row))), 201


@bp.get("/api/v1/grievances")
@doc("My grievances and their status, newest first", response=schemas.GrievanceListOut,
     auth="citizen")
def my_grievances():
    session = get_session()
    rows = services.my_grievances(session, citizen())
    return jsonify(schemas.GrievanceListOut().dump(
        {"grievances": [grievance_json(session, r) for r in rows]}))


@bp.get("/api/v1/grievances/<int:grievance_id>")
@doc("One of my grievances", response=schemas.GrievanceOut, auth="citizen")
def my_grievance(grievance_id: int):
    session = get_session()
    row = services.my_grievance(session, citizen(), grievance_id)
    return jsonify(schemas.GrievanceOut().dump(grievance_json(session, row)))


# --- a person's own move to another mobile ------------------------------------------------

@bp.post("/api/v1/people-moves")
@doc("Move a person to my own mobile: their reference ID and secret code, and the new "
     "number, which gets an OTP", body=schemas.MoveStartIn, response=schemas.MoveStartOut,
     status=201)
def start_move():
    data = load(schemas.MoveStartIn())
    started = services.start_citizen_move(get_session(), pack(), data["reference_id"],
                                          data["secret_code"], data["mobile"],
                                          locale=request_locale())
    return jsonify(schemas.MoveStartOut().dump(
        {"move_id": started.move_id, "txn_id": started.transaction_id})), 201


@bp.post("/api/v1/people-moves/<int:move_id>/confirm")
@doc("Confirm a move with the OTP sent to the new number; the person is then in that "
     "number's account", body=schemas.MoveConfirmIn, response=schemas.MoveDoneOut)
def confirm_move(move_id: int):
    data = load(schemas.MoveConfirmIn())
    session = get_session()
    person = services.confirm_citizen_move(session, pack(), move_id, str(data["txn_id"]),
                                           data["otp"])
    mobile = session.scalar(select(CitizenAccount.mobile).where(
        CitizenAccount.id == person.account_id))
    return jsonify(schemas.MoveDoneOut().dump(
        {"reference_id": person.reference_id,
         "mobile_masked": "*" * max(len(mobile) - 4, 0) + mobile[-4:]}))
