"""Routine doses due: one person's (GET /api/v1/people/<reference_id>/due, for the citizen
whose account holds the person or a health worker of the person's area) and the due lists
of an area or facility (GET /api/v1/staff/due-list, JSON, CSV or PDF)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cowin_kit.api import bearer_token, citizen, pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.validation import load
from cowin_kit.identity import services as identity
from cowin_kit.immunization import duelists, reminders, schemas
from cowin_kit.immunization.pdf import due_list_pdf

bp = Blueprint("api_due", __name__, url_prefix="/api/v1")


def person_due_json(found: duelists.PersonDue, locale: str) -> dict:
    person, routine = found.person, found.routine
    return schemas.PersonDueOut().dump({
        "reference_id": person.reference_id, "external_id": person.external_id,
        "name": person.name, "birth_date": person.birth_date, "on": found.on,
        "summary": duelists.rules.summary(found.doses),
        "doses": [{"schedule": s.schedule, "schedule_name": routine.schedule_name(s.schedule,
                                                                                 locale),
                   "dose": s.dose, "status": s.status, "earliest": s.earliest, "due": s.due,
                   "latest": s.latest, "given_on": s.given.day if s.given else None,
                   "given_product": s.given.product if s.given else None,
                   "booster": s.booster,
                   "pregnancy_start": s.pregnancy.start if s.pregnancy else None}
                  for s in found.doses]})


@bp.get("/people/<reference_id>/due")
@doc("A person's routine doses with their status and earliest, due and latest dates on a "
     "day (query: on, YYYY-MM-DD, default today): for the citizen whose account holds "
     "the person, or a health worker of the person's area", response=schemas.PersonDueOut,
     auth="citizen|staff", tag="routine immunization")
def person_due(reference_id: str):
    query = load(schemas.PersonDueQuery(), request.args.to_dict())
    session, active = get_session(), pack()
    on = query["on"] or duelists.today_in(active)
    if identity.staff_from_token(session, bearer_token()) is not None:
        found = duelists.person_due(session, active, reference_id, on, staff=staff())
    else:
        found = duelists.person_due(session, active, reference_id, on, account=citizen())
    return jsonify(person_due_json(found, request_locale()))


def _wants(query: dict) -> str:
    if query.get("format"):
        return query["format"]
    best = request.accept_mimetypes.best_match(["application/json", "text/csv",
                                                "application/pdf"], default="application/json")
    return {"text/csv": "csv", "application/pdf": "pdf"}.get(best, "json")


@bp.get("/staff/due-list")
@doc("The due list of an area or facility on a day (query: location, facility, on, status "
     "= comma-separated statuses, list = due | zero-dose | defaulters, format = json | csv "
     "| pdf; or Accept: text/csv, application/pdf)", response=schemas.DueListOut,
     auth="staff", tag="routine immunization")
def due_list():
    query = load(schemas.DueListQuery(), request.args.to_dict())
    session, active, user = get_session(), pack(), staff()
    location, facility = query.get("location"), query.get("facility")
    if not location and not facility:
        location, facility = duelists.default_place(session, user)
    result = duelists.due_list(
        session, active, user, on=query["on"] or duelists.today_in(active),
        location_code=location, facility_code=facility,
        statuses=query["status"].split(","), kind=query["list"])
    wanted = _wants(query)
    name = f"due-list-{query['list']}-{result.on.isoformat()}"
    if wanted == "csv":
        return Response(duelists.due_list_csv(result), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"'})
    if wanted == "pdf":
        return Response(due_list_pdf(result, active, request_locale()),
                        mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})
    locale = request_locale()
    routine = result.routine
    assert routine is not None
    return jsonify(schemas.DueListOut().dump({
        "on": result.on, "list": result.kind, "statuses": list(result.statuses),
        "location": result.location.code if result.location else None,
        "facility": result.facility.code if result.facility else None,
        "people": result.people,
        "rows": [{**{c: getattr(r, c) for c in duelists.COLUMNS},
                  "schedule_name": routine.schedule_name(r.schedule, locale)}
                 for r in result.rows]}))


@bp.put("/account/reminders")
@doc("Routine dose reminders for the people of my account: on (opt_out false) or off",
     body=schemas.RemindersIn, response=schemas.RemindersIn, auth="citizen",
     tag="routine immunization")
def set_reminders():
    data = load(schemas.RemindersIn())
    account = reminders.set_opt_out(get_session(), citizen(), data["opt_out"])
    return jsonify(opt_out=account.reminders_opt_out)


@bp.get("/account/reminders")
@doc("Whether my account gets routine dose reminders", response=schemas.RemindersIn,
     auth="citizen", tag="routine immunization")
def get_reminders():
    return jsonify(opt_out=citizen().reminders_opt_out)
