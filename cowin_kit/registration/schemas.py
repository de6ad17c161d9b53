"""Marshmallow schemas of the registration API (native /api/v1)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class OtpRequestIn(_Strict):
    mobile = fields.String(required=True, validate=validate.Length(min=4, max=20))


class TransactionOut(Schema):
    txn_id = fields.String(required=True, metadata={"format": "uuid"})


class OtpConfirmIn(_Strict):
    txn_id = fields.UUID(required=True)
    otp = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$"))


class TokenOut(Schema):
    token = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    is_new_account = fields.Boolean(required=True)


class LocaleIn(_Strict):
    locale = fields.String(required=True)


class BeneficiaryIn(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    birth_year = fields.Integer(validate=validate.Range(min=1850, max=2200))
    birth_date = fields.Date()
    gender = fields.String(required=True)
    id_type = fields.String(required=True)
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    comorbidity = fields.Boolean(load_default=False)
    consent_version = fields.String(required=True, validate=validate.Length(min=1, max=32))


class BeneficiaryPatch(_Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    birth_year = fields.Integer(validate=validate.Range(min=1850, max=2200))
    birth_date = fields.Date()
    gender = fields.String()
    id_type = fields.String()
    id_number = fields.String(validate=validate.Length(min=1, max=64))
    comorbidity = fields.Boolean()


class DoseOut(Schema):
    dose_number = fields.Integer()
    administered_at = fields.DateTime()


class BeneficiaryOut(Schema):
    reference_id = fields.String(required=True)
    name = fields.String(required=True)
    birth_year = fields.Integer(required=True)
    birth_date = fields.Date(allow_none=True)
    gender = fields.String(required=True)
    id_type = fields.String(required=True)
    id_number_masked = fields.String(required=True)
    comorbidity = fields.Boolean(required=True)
    consent_version = fields.String(required=True)
    secret_code = fields.String(required=True)
    vaccination_status = fields.String(required=True)
    doses = fields.List(fields.Nested(DoseOut), required=True)


class BeneficiaryListOut(Schema):
    beneficiaries = fields.List(fields.Nested(BeneficiaryOut), required=True)


class LabelledCode(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True)


class LabelledCodeList(Schema):
    items = fields.List(fields.Nested(LabelledCode), required=True)


class IdTypeOut(LabelledCode):
    registration = fields.Boolean(required=True)
    min_age = fields.Integer(required=True)


class IdTypeListOut(Schema):
    items = fields.List(fields.Nested(IdTypeOut), required=True)
