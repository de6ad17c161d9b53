"""People registered by health workers (newborns, children, pregnant women), their
pregnancies and outcomes, /api/v1/staff/people (staff token; the ``people.register``
action on the person's area or facility)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from cowin_kit.api import pack
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.validation import load
from cowin_kit.corrections import services as corrections
from cowin_kit.registration import people, schemas
from cowin_kit.registration.models import Pregnancy

bp = Blueprint("api_people", __name__, url_prefix="/api/v1/staff/people")


def _pregnancy_json(pregnancy: Pregnancy) -> dict:
    return {"id": pregnancy.id, "registered_on": pregnancy.registered_on,
            "lmp": pregnancy.lmp, "edd": pregnancy.edd, "outcome": pregnancy.outcome,
            "outcome_date": pregnancy.outcome_date}


def _person_json(view: people.PersonView) -> dict:
    b = view.beneficiary
    return {"reference_id": b.reference_id, "external_id": b.external_id, "name": b.name,
            "birth_date": b.birth_date, "birth_year": b.birth_year, "gender": view.gender,
            "id_type": view.id_type, "id_number_masked": view.masked_id_number,
            "mobile_masked": view.masked_mobile, "guardian_name": b.guardian_name,
            "guardian_relation": b.guardian_relation, "location": view.location,
            "facility": view.facility, "mother_reference_id": view.mother_reference_id,
            "children": view.children,
            "pregnancies": [_pregnancy_json(p) for p in view.pregnancies],
            "registered_by": b.registered_by, "created": view.created}


@bp.post("")
@doc("Register a newborn, a child (without an ID document below the pack's age, with a "
     "guardian) or a pregnant woman; idempotent on external_id",
     body=schemas.PersonIn, response=schemas.PersonOut, status=201, auth="staff",
     tag="health workers")
def register():
    data = load(schemas.PersonIn())
    pregnancy = data.pop("pregnancy")
    session = get_session()
    view = people.register_person(
        session, pack(), staff(),
        pregnancy=people.PregnancyFacts(**pregnancy) if pregnancy else None, **data)
    body = _person_json(view)
    body["possible_duplicates"] = [
        {"reference_id": d.reference_id, "name": d.name, "score": d.score,
         "reasons": d.reasons}
        for d in corrections.possible_duplicates(session, view.beneficiary)]
    return jsonify(schemas.PersonOut().dump(body)), 201 if view.created else 200


@bp.get("/<reference_id>")
@doc("A person registered in my area, with their pregnancies and children",
     response=schemas.PersonOut, auth="staff", tag="health workers")
def show(reference_id: str):
    view = people.get_person(get_session(), staff(), reference_id)
    return jsonify(schemas.PersonOut().dump(_person_json(view)))


@bp.post("/<reference_id>/pregnancies")
@doc("Register a pregnancy of a registered woman", body=schemas.PregnancyIn,
     response=schemas.PregnancyOut, status=201, auth="staff", tag="health workers")
def add_pregnancy(reference_id: str):
    data = load(schemas.PregnancyIn())
    pregnancy = people.register_pregnancy(get_session(), pack(), staff(), reference_id,
                                          **data)
    return jsonify(schemas.PregnancyOut().dump(_pregnancy_json(pregnancy))), 201


@bp.post("/<reference_id>/pregnancies/<int:pregnancy_id>/outcome")
@doc("Record a pregnancy's outcome; a live birth registers its newborns linked to the "
     "mother (the same outcome again answers the first)", body=schemas.OutcomeIn,
     response=schemas.OutcomeOut, status=201, auth="staff", tag="health workers")
def outcome(reference_id: str, pregnancy_id: int):
    data = load(schemas.OutcomeIn())
    result = people.record_pregnancy_outcome(
        get_session(), pack(), staff(), reference_id, pregnancy_id, outcome=data["outcome"],
        outcome_date=data["outcome_date"], newborns=data["newborns"])
    body = schemas.OutcomeOut().dump({
        "pregnancy": _pregnancy_json(result.pregnancy),
        "newborns": [_person_json(v) for v in result.newborns], "created": result.created})
    return jsonify(body), 201 if result.created else 200
