"""Native JSON API, /api/v1."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

from cowin_kit.api import citizen, pack, request_locale
from cowin_kit.core.validation import load
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.core import ratelimit
from cowin_kit.registration import schemas, services
from cowin_kit.registration.services import BeneficiaryView

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


# OTP_LIMITS_PER_NUMBER and OTP_LIMITS_PER_IP on sending OTPs (every channel together)
otp_limited = ratelimit.otp_limited()


# The schemas of the busiest routes, built once: a marshmallow schema keeps nothing of a
# load or dump between calls (marshmallow 4 has no context), so one instance serves every
# thread; building one per request cost about a tenth of a registration's CPU.
_BENEFICIARY_IN = schemas.BeneficiaryIn()
_BENEFICIARY_OUT = schemas.BeneficiaryOut()


def beneficiary_json(view: BeneficiaryView) -> dict:
    b = view.beneficiary
    return _BENEFICIARY_OUT.dump({
        "reference_id": b.reference_id, "name": b.name, "birth_year": b.birth_year,
        "birth_date": b.birth_date, "gender": view.gender.code, "id_type": view.id_type.code if view.id_type else None,
        "id_number_masked": view.masked_id_number, "comorbidity": b.comorbidity,
        "consent_version": b.consent_version, "secret_code": view.secret_code,
        "vaccination_status": view.vaccination_status,
        "doses": [{"dose_number": d.dose_number, "administered_at": d.administered_at}
                  for d in view.doses],
    })


@bp.post("/auth/otp")
@doc("Send a one-time password to a mobile number", body=schemas.OtpRequestIn,
     response=schemas.TransactionOut)
@otp_limited
def request_otp():
    data = load(schemas.OtpRequestIn())
    transaction = services.request_otp(get_session(), pack(), data["mobile"],
                                       locale=request_locale())
    return jsonify(txn_id=transaction.id)


@bp.post("/auth/otp/confirm")
@doc("Sign in with the OTP", body=schemas.OtpConfirmIn, response=schemas.TokenOut)
def confirm_otp():
    data = load(schemas.OtpConfirmIn())
    sign_in = services.confirm_otp(get_session(), str(data["txn_id"]), data["otp"],
                                   locale=request_locale())
    return jsonify(token=sign_in.token, expires_in=sign_in.expires_in,
                   is_new_account=sign_in.is_new_account)


@bp.put("/account/locale")
@doc("Set the language of the account", body=schemas.LocaleIn, response=schemas.LocaleIn,
     auth="citizen")
def set_locale():
    data = load(schemas.LocaleIn())
    services.set_account_locale(get_session(), citizen(), data["locale"], pack())
    return jsonify(locale=data["locale"])


@bp.post("/auth/sign-out")
@doc("Sign out: every token of my account stops working, on every device", status=204,
     auth="citizen")
def sign_out():
    services.sign_out_everywhere(get_session(), citizen())
    return "", 204


@bp.post("/account/mobile")
@doc("Send an OTP to a new mobile number", body=schemas.OtpRequestIn,
     response=schemas.TransactionOut, auth="citizen")
@otp_limited
def request_mobile_change():
    data = load(schemas.OtpRequestIn())
    transaction = services.request_mobile_change(get_session(), pack(), citizen(),
                                                 data["mobile"], locale=request_locale())
    return jsonify(txn_id=transaction.id)


@bp.post("/account/mobile/confirm")
@doc("Move the account to the new number", body=schemas.OtpConfirmIn,
     response=schemas.TokenOut, auth="citizen")
def confirm_mobile_change():
    data = load(schemas.OtpConfirmIn())
    sign_in = services.confirm_mobile_change(get_session(), citizen(), str(data["txn_id"]),
                                             data["otp"])
    return jsonify(token=sign_in.token, expires_in=sign_in.expires_in, is_new_account=False)


@bp.get("/beneficiaries")
@doc("Members of my account", response=schemas.BeneficiaryListOut, auth="citizen")
def list_beneficiaries():
    views = services.list_beneficiaries(get_session(), citizen())
    return jsonify(beneficiaries=[beneficiary_json(v) for v in views])


@bp.post("/beneficiaries")
@doc("Register a member", body=schemas.BeneficiaryIn, response=schemas.BeneficiaryOut,
     status=201, auth="citizen")
def add_beneficiary():
    data = load(_BENEFICIARY_IN)
    view = services.add_beneficiary(get_session(), pack(), citizen(), **data)
    return jsonify(beneficiary_json(view)), 201


@bp.get("/beneficiaries/<reference_id>")
@doc("One member", response=schemas.BeneficiaryOut, auth="citizen")
def get_beneficiary(reference_id: str):
    return jsonify(beneficiary_json(services.get_beneficiary(get_session(), citizen(),
                                                             reference_id)))


@bp.patch("/beneficiaries/<reference_id>")
@doc("Edit or correct a member", body=schemas.BeneficiaryPatch,
     response=schemas.BeneficiaryOut, auth="citizen")
def update_beneficiary(reference_id: str):
    changes = load(schemas.BeneficiaryPatch())
    view = services.update_beneficiary(get_session(), pack(), citizen(), reference_id, changes)
    return jsonify(beneficiary_json(view))


@bp.delete("/beneficiaries/<reference_id>")
@doc("Delete a member (only before any dose)", status=204, auth="citizen")
def delete_beneficiary(reference_id: str):
    services.delete_beneficiary(get_session(), citizen(), reference_id)
    return "", 204


@bp.get("/meta/id-types")
@doc("ID document types of the country", response=schemas.IdTypeListOut, tag="reference")
def id_types():
    locale = request_locale()
    rows = get_session().scalars(select(IdDocumentType).order_by(IdDocumentType.position))
    return jsonify(items=[{"code": r.code, "label": r.labels.get(locale) or next(iter(r.labels.values())),
                           "registration": r.registration, "min_age": r.min_age} for r in rows])


@bp.get("/meta/genders")
@doc("Genders offered", response=schemas.LabelledCodeList, tag="reference")
def genders():
    locale = request_locale()
    rows = get_session().scalars(select(Gender).order_by(Gender.position))
    return jsonify(items=[{"code": r.code, "label": r.labels.get(locale) or next(iter(r.labels.values()))}
                          for r in rows])
