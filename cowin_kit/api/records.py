"""A person's life-long immunization record: for the citizen (their household's members,
/api/v1/beneficiaries/<reference_id>/record...) and for staff whose grants reach the person
(/api/v1/staff/people/<reference_id>/record...): the record as JSON, the printable card
(PDF) and the signed credentials holding every dose (SMART Health Card file, W3C
credential)."""

from __future__ import annotations

import json
from datetime import date
from typing import Callable

from flask import Blueprint, Response, jsonify, request

from cowin_kit.api import citizen, pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.certificates import lifelong
from cowin_kit.certificates.formats import shc
from cowin_kit.certificates.record_pdf import render_record_pdf
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import InvalidInput
from cowin_kit.core.i18n import gettext as _
from cowin_kit.registration.models import Beneficiary
from cowin_kit.scheduling.slip import slip_locale

bp = Blueprint("api_records", __name__)

CITIZEN = "/api/v1/beneficiaries/<reference_id>/record"
STAFF = "/api/v1/staff/people/<reference_id>/record"


def _on() -> date | None:
    text = request.args.get("on")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = _("Give the date as YYYY-MM-DD.")
        raise InvalidInput(message, code="invalid_date", fields={"on": [message]}) from None


def _citizen_person(reference_id: str) -> Beneficiary:
    return lifelong.for_citizen(get_session(), citizen(), reference_id)


def _staff_person(reference_id: str) -> Beneficiary:
    # audited; outside the staff member's area ?reason= says why (else 403 reason_required)
    return lifelong.for_staff(get_session(), staff(), reference_id,
                              reason=request.args.get("reason"), view="api.record")


def _record(find: Callable[[str], Beneficiary], reference_id: str) -> lifelong.LifelongRecord:
    person = find(reference_id)
    active = pack()
    locale = slip_locale(person.account, active, request_locale())
    return lifelong.build(get_session(), active, person, locale=locale, on=_on())


def _download(data: bytes | str, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


def _json(find, reference_id):
    return jsonify(lifelong.as_json(_record(find, reference_id)))


def _pdf(find, reference_id):
    return _download(render_record_pdf(pack(), _record(find, reference_id)),
                     "application/pdf", f"immunization-record-{reference_id}.pdf")


def _shc(find, reference_id):
    jws = lifelong.sign_shc(get_session(), pack(), _record(find, reference_id))
    return _download(shc.card_file([jws]), "application/smart-health-card",
                     f"immunization-record-{reference_id}{shc.FILE_EXTENSION}")


def _vc(find, reference_id):
    signed = lifelong.sign_vc(get_session(), pack(), _record(find, reference_id))
    return _download(json.dumps(signed, ensure_ascii=False), "application/vc+ld+json",
                     f"immunization-record-{reference_id}.vc.json")


@bp.get(CITIZEN)
@doc("My member's life-long immunization record: every dose (all series; routine doses "
     "with the dose they counted as) and the next doses due (?on=YYYY-MM-DD)",
     auth="citizen", tag="records")
def citizen_record(reference_id: str):
    return _json(_citizen_person, reference_id)


@bp.get(CITIZEN + ".pdf")
@doc("My member's immunization record as a printable card (PDF, in my account's "
     "language)", auth="citizen", tag="records", content_type="application/pdf")
def citizen_record_pdf(reference_id: str):
    return _pdf(_citizen_person, reference_id)


@bp.get(CITIZEN + ".smart-health-card")
@doc("My member's immunization record as a SMART Health Card file (one Immunization "
     "entry per dose)", auth="citizen", tag="records",
     content_type="application/smart-health-card")
def citizen_record_shc(reference_id: str):
    return _shc(_citizen_person, reference_id)


@bp.get(CITIZEN + ".vc.json")
@doc("My member's immunization record as a signed W3C credential (one evidence item per "
     "dose)", auth="citizen", tag="records", content_type="application/vc+ld+json")
def citizen_record_vc(reference_id: str):
    return _vc(_citizen_person, reference_id)


@bp.get(STAFF)
@doc("A person's life-long immunization record for staff. Every read is audited; a person "
     "outside my area takes ?reason= (break the glass; 403 reason_required without one)",
     auth="staff", tag="records")
def staff_record(reference_id: str):
    return _json(_staff_person, reference_id)


@bp.get(STAFF + ".pdf")
@doc("A person's immunization record as a printable card (PDF, in the person's account "
     "language)", auth="staff", tag="records", content_type="application/pdf")
def staff_record_pdf(reference_id: str):
    return _pdf(_staff_person, reference_id)


@bp.get(STAFF + ".smart-health-card")
@doc("A person's immunization record as a SMART Health Card file", auth="staff",
     tag="records", content_type="application/smart-health-card")
def staff_record_shc(reference_id: str):
    return _shc(_staff_person, reference_id)


@bp.get(STAFF + ".vc.json")
@doc("A person's immunization record as a signed W3C credential", auth="staff",
     tag="records", content_type="application/vc+ld+json")
def staff_record_vc(reference_id: str):
    return _vc(_staff_person, reference_id)
