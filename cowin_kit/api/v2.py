"""CoWIN v2 compatibility, /api/v2: the paths, field names, types and error bodies of
the Co-WIN public and protected APIs, so that applications written for CoWIN work by
changing their base URL. Every route calls the same services as /api/v1."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from cowin_kit.api import citizen, pack, request_locale
from cowin_kit.core.validation import load
from cowin_kit.api.v1 import otp_limited
from cowin_kit.api.v2_appointments import appointments_of
from cowin_kit.api.v2_blueprint import LOCATION_TTL_HOURS, bp
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import InvalidInput, NotFound
from cowin_kit.geography.models import Location
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.registration import services
from cowin_kit.registration.rules import national_digits
from cowin_kit.programme.models import VaccineProduct

class GenerateOtpIn(Schema):
    mobile = fields.String(required=True, validate=validate.Length(min=4, max=20))
    secret = fields.String()  # sent by CoWIN's own apps; not needed here


class ConfirmOtpIn(Schema):
    otp = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"))
    txnId = fields.UUID(required=True)


class NewBeneficiaryIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    birth_year = fields.Raw(required=True)  # CoWIN clients send it as a string or a number
    # ids of the lists the CoWIN API gives (a database integer at the most)
    gender_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    photo_id_type = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    photo_id_number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    comorbidity_ind = fields.String(load_default="N", validate=validate.OneOf(["Y", "N"]))
    consent_version = fields.String(required=True, validate=validate.Length(min=1, max=32))


class DeleteBeneficiaryIn(Schema):
    beneficiary_reference_id = fields.String(required=True)


def _generate_otp() -> Response:
    data = load(GenerateOtpIn())
    transaction = services.request_otp(get_session(), pack(), data["mobile"],
                                       locale=request_locale())
    return jsonify(txnId=transaction.id)


@bp.post("/auth/public/generateOTP")
@otp_limited
def public_generate_otp():
    return _generate_otp()


@bp.post("/auth/generateOTP")
@otp_limited
def generate_otp():
    return _generate_otp()


def _confirm() -> services.SignIn:
    data = load(ConfirmOtpIn())
    return services.confirm_otp(get_session(), str(data["txnId"]), data["otp"], hashed=True,
                                locale=request_locale())


@bp.post("/auth/public/confirmOTP")
def public_confirm_otp():
    return jsonify(token=_confirm().token)


@bp.post("/auth/confirmOTP")
def confirm_otp():
    sign_in = _confirm()
    return jsonify(token=sign_in.token, isNewAccount="Y" if sign_in.is_new_account else "N")


def _label(labels: dict[str, str], locale: str) -> str:
    return labels.get(locale) or labels.get(pack().default_locale) or next(iter(labels.values()))


@bp.get("/registration/beneficiary/idTypes")
def id_types():
    locale = request_locale()
    rows = get_session().scalars(select(IdDocumentType).where(IdDocumentType.registration)
                                 .order_by(IdDocumentType.position))
    return jsonify(types=[{"id": r.id, "type": _label(r.labels, locale)} for r in rows])


@bp.get("/registration/beneficiary/genders")
def genders():
    locale = request_locale()
    rows = get_session().scalars(select(Gender).order_by(Gender.position))
    return jsonify(genders=[{"id": r.id, "gender": _label(r.labels, locale)} for r in rows])


@bp.post("/registration/beneficiary/new")
def new_beneficiary():
    data = load(NewBeneficiaryIn())
    session = get_session()
    id_type = session.get(IdDocumentType, data["photo_id_type"])
    gender = session.get(Gender, data["gender_id"])
    try:
        birth_year = int(str(data["birth_year"]).strip())
    except ValueError:
        raise InvalidInput(_("The year of birth is needed."), code="invalid_birth_year") from None
    view = services.add_beneficiary(
        session, pack(), citizen(), name=data["name"], birth_year=birth_year,
        gender=gender.code if gender else "", id_type=id_type.code if id_type else "",
        id_number=data["photo_id_number"], comorbidity=data["comorbidity_ind"] == "Y",
        consent_version=data["consent_version"],
    )
    return jsonify(beneficiary_reference_id=view.beneficiary.reference_id)


@bp.post("/registration/beneficiary/delete")
def delete_beneficiary():
    data = load(DeleteBeneficiaryIn())
    services.delete_beneficiary(get_session(), citizen(), data["beneficiary_reference_id"])
    return "", 204


def _v2_beneficiary(view: services.BeneficiaryView, locale: str, mobile: str) -> dict[str, Any]:
    b = view.beneficiary
    doses = {d.dose_number: d for d in view.doses}
    vaccine = ""
    if view.doses:
        product = get_session().get(VaccineProduct, view.doses[0].product_id)
        vaccine = _label(product.names, locale).upper() if product else ""
    return {
        "beneficiary_reference_id": b.reference_id, "name": b.name,
        "birth_year": str(b.birth_year), "gender": _label(view.gender.labels, locale),
        "mobile_number": national_digits(mobile)[-4:],
        "photo_id_type": _label(view.id_type.labels, locale) if view.id_type else "",
        "photo_id_number": view.masked_id_number,
        "comorbidity_ind": "Y" if b.comorbidity else "N",
        "vaccination_status": view.vaccination_status, "vaccine": vaccine,
        "dose1_date": doses[1].administered_at.strftime("%d-%m-%Y") if 1 in doses else "",
        "dose2_date": doses[2].administered_at.strftime("%d-%m-%Y") if 2 in doses else "",
        "appointments": appointments_of(b, locale),
    }


@bp.get("/appointment/beneficiaries")
def beneficiaries():
    account = citizen()
    locale = request_locale()
    views = services.list_beneficiaries(get_session(), account)
    return jsonify(beneficiaries=[_v2_beneficiary(v, locale, account.mobile) for v in views])


def _locations(level: int, parent_id: int | None) -> list[Location]:
    query = select(Location).where(Location.level == level).order_by(Location.name)
    if parent_id is not None:
        query = query.where(Location.parent_id == parent_id)
    return list(get_session().scalars(query))


@bp.get("/admin/location/states")
def states():
    locale = request_locale()
    return jsonify(states=[{"state_id": s.id, "state_name": s.name,
                            "state_name_l": s.localized_name(locale)}
                           for s in _locations(1, None)], ttl=LOCATION_TTL_HOURS)


@bp.get("/admin/location/districts/<int:state_id>")
def districts(state_id: int):
    state = get_session().get(Location, state_id)
    if state is None or state.level != 1:
        raise NotFound(_("No such state."), code="location_not_found")
    locale = request_locale()
    return jsonify(districts=[{"district_id": d.id, "district_name": d.name,
                               "district_name_l": d.localized_name(locale)}
                              for d in _locations(2, state_id)], ttl=LOCATION_TTL_HOURS)
