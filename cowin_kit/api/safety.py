"""Vaccine safety API, /api/v1: AEFI reports by vaccinators and by citizens (for members
of their own account), serious-case alerts, the investigation steps, signals by lot and
facility, and the CSV export. Routes load with cowin_kit.safety.schemas and call
cowin_kit.safety.services."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cowin_kit.api import citizen, pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.validation import load
from cowin_kit.safety import schemas, services

bp = Blueprint("api_safety", __name__, url_prefix="/api/v1")


def _report_args(data: dict) -> dict:
    return {name: data[name] for name in (
        "onset_at", "symptoms", "seriousness", "outcome", "notes", "reactions",
        "serious_criteria", "died_on", "medical_history")}


def _stage_name(code: str) -> str:
    stage = services.stage_of(pack(), code)
    return stage.name(request_locale()) if stage is not None else code


def _fields(view: services.ReportView) -> dict:
    r = view.report
    return {"id": r.id, "dose_id": r.dose_id, "reference_id": view.reference_id,
            "vaccine": view.vaccine, "lot": view.lot, "facility": view.facility,
            "onset_at": r.onset_at, "reactions": r.reactions or [], "symptoms": r.symptoms,
            "seriousness": r.seriousness, "serious_criteria": r.serious_criteria or [],
            "serious": view.serious, "outcome": r.outcome, "died_on": r.died_on,
            "reporter": r.reporter, "reporter_type": r.reporter_type,
            "reported_at": r.reported_at, "status": r.status, "stage": r.stage,
            "stage_name": _stage_name(r.stage), "causality": r.causality,
            "alert": view.alert is not None}


def _detail(view: services.ReportView) -> dict:
    return schemas.AefiDetailOut().dump({
        **_fields(view), "medical_history": view.report.medical_history,
        "notes": view.report.notes,
        "doses": [{"dose_id": d.dose_id, "vaccine": d.vaccine, "dose": d.dose_number,
                   "lot": d.lot, "administered_at": d.administered_at,
                   "facility": d.facility} for d in view.doses],
        "steps": [{"stage": s.stage, "actor": s.actor, "role": s.role,
                   "findings": s.findings, "causality": s.causality, "outcome": s.outcome,
                   "next_stage": s.next_stage, "status_after": s.status_after,
                   "acted_at": s.acted_at} for s in view.steps]})


# --- staff ---------------------------------------------------------------------------------

@bp.post("/vaccinator/aefi")
@doc("Report an adverse event following immunization (WHO core variables); a serious "
     "case raises an alert to its district", body=schemas.AefiIn,
     response=schemas.AefiDetailOut, status=201, auth="staff", tag="safety")
def report_aefi():
    data = load(schemas.AefiIn())
    session = get_session()
    user = staff()
    report = services.report_by_staff(session, pack(), user, dose_id=data["dose_id"],
                                      **_report_args(data))
    return jsonify(_detail(services.filed_view(session, report))), 201


@bp.get("/admin/aefi")
@doc("AEFI reports in my area, newest first (filters: status, stage, serious)",
     query=schemas.AefiListQuery, response=schemas.AefiListOut, auth="staff", tag="safety")
def list_aefi():
    query = load(schemas.AefiListQuery(), request.args.to_dict())
    views = services.visible_reports(get_session(), staff(), **query)
    return jsonify(schemas.AefiListOut().dump({"reports": [_fields(v) for v in views]}))


@bp.get("/admin/aefi.csv")
@doc("AEFI reports in my area as CSV (WHO core variables; the person by reference ID "
     "and birth year only)", auth="staff", tag="safety", content_type="text/csv")
def aefi_csv():
    text = services.export_csv(get_session(), staff())
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="aefi.csv"'})


@bp.get("/admin/aefi/<int:report_id>")
@doc("One AEFI report with its suspected doses and its investigation's steps",
     response=schemas.AefiDetailOut, auth="staff", tag="safety")
def aefi_detail(report_id: int):
    return jsonify(_detail(services.report_detail(get_session(), staff(), report_id)))


@bp.post("/admin/aefi/<int:report_id>/steps")
@doc("Take the current investigation stage's step (holders of the stage's role): "
     "findings, outcome, WHO causality category; the last stage closes the report",
     body=schemas.AefiStepIn, response=schemas.AefiDetailOut, status=201, auth="staff",
     tag="safety")
def take_step(report_id: int):
    data = load(schemas.AefiStepIn())
    session = get_session()
    user = staff()
    services.take_step(session, pack(), user, report_id, **data)
    return jsonify(_detail(services.report_detail(session, user, report_id))), 201


def _alert_json(alert, view) -> dict:
    return {"id": alert.id, "report_id": alert.report_id,
            "location": services.location_code(get_session(), alert.location_id),
            "raised_at": alert.raised_at, "acknowledged_by": alert.acknowledged_by,
            "acknowledged_at": alert.acknowledged_at, "reference_id": view.reference_id,
            "facility": view.facility,
            "serious_criteria": view.report.serious_criteria or []}


@bp.get("/admin/aefi/alerts")
@doc("Serious-case alerts in my area not yet acknowledged (?all=true: all)",
     query=schemas.AefiAlertQuery, response=schemas.AefiAlertListOut, auth="staff", tag="safety")
def alerts():
    query = load(schemas.AefiAlertQuery(), request.args.to_dict())
    rows = services.open_alerts(get_session(), staff(), include_acknowledged=query["all"])
    return jsonify(schemas.AefiAlertListOut().dump(
        {"alerts": [_alert_json(alert, view) for alert, view in rows]}))


@bp.post("/admin/aefi/alerts/<int:alert_id>/acknowledge")
@doc("Acknowledge a serious-case alert", response=schemas.AefiAlertOut, auth="staff",
     tag="safety")
def acknowledge(alert_id: int):
    session = get_session()
    user = staff()
    alert = services.acknowledge_alert(session, user, alert_id)
    view = services.report_detail(session, user, alert.report_id)
    return jsonify(schemas.AefiAlertOut().dump(_alert_json(alert, view)))


@bp.get("/admin/aefi/signals")
@doc("AEFI reports per 10,000 doses by lot and by facility in my area, flagged above "
     "the pack's threshold", response=schemas.AefiSignalListOut, auth="staff", tag="safety")
def signals():
    settings = pack().safety
    found = services.signals(get_session(), pack(), staff())
    return jsonify(schemas.AefiSignalListOut().dump({
        "threshold_per_10000": settings.signal_per_10000_doses,
        "min_reports": settings.signal_min_reports,
        "signals": [{"kind": s.kind, "key": s.key, "label": s.label, "reports": s.reports,
                     "serious": s.serious, "doses": s.doses, "rate_per_10000": s.rate,
                     "flagged": s.flagged} for s in found]}))


# --- citizens ------------------------------------------------------------------------------

def _citizen_fields(view: services.ReportView) -> dict:
    r = view.report
    return {"id": r.id, "vaccine": view.vaccine, "lot": view.lot, "onset_at": r.onset_at,
            "reactions": r.reactions or [], "symptoms": r.symptoms,
            "seriousness": r.seriousness, "outcome": r.outcome, "reported_at": r.reported_at,
            "status": r.status, "stage_name": _stage_name(r.stage),
            "causality": r.causality if r.status == "closed" else None}


@bp.post("/beneficiaries/<reference_id>/aefi")
@doc("Report a side effect after a vaccination of a member of my account (WHO core "
     "variables; default dose: the latest)", body=schemas.CitizenAefiIn,
     response=schemas.CitizenAefiOut, status=201, auth="citizen", tag="safety")
def citizen_report(reference_id: str):
    data = load(schemas.CitizenAefiIn())
    session = get_session()
    account = citizen()
    report = services.report_by_citizen(session, pack(), account, reference_id,
                                        dose_id=data["dose_id"], **_report_args(data))
    view = services.filed_view(session, report)
    return jsonify(schemas.CitizenAefiOut().dump(_citizen_fields(view))), 201


@bp.get("/beneficiaries/<reference_id>/aefi")
@doc("The side-effect reports of a member of my account and how far each investigation "
     "is", response=schemas.CitizenAefiListOut, auth="citizen", tag="safety")
def citizen_list(reference_id: str):
    views = services.citizen_reports(get_session(), citizen(), reference_id)
    return jsonify(schemas.CitizenAefiListOut().dump(
        {"reports": [_citizen_fields(v) for v in views]}))

