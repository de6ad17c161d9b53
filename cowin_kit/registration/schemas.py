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
    id_type = fields.String(required=True, allow_none=True)  # null: no ID document (a child)
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


# --- people registered by health workers (/api/v1/staff/people) ---------------------------

class PregnancyIn(_Strict):
    registered_on = fields.Date(required=True)
    lmp = fields.Date(load_default=None, allow_none=True,
                      metadata={"description": "first day of the last menstrual period"})
    edd = fields.Date(load_default=None, allow_none=True,
                      metadata={"description": "expected date of delivery"})


class PersonIn(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    birth_date = fields.Date(required=True)
    gender = fields.String(required=True, validate=validate.Length(min=1, max=16))
    mobile = fields.String(required=True, validate=validate.Length(min=4, max=20),
                           metadata={"description": "the guardian's (or the woman's) mobile: "
                                                    "the account, found or opened"})
    location = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             metadata={"description": "code of the area the person lives in"})
    facility = fields.String(validate=validate.Length(max=64), metadata={
        "description": "home facility code; absent: the worker's only facility; '' none"})
    guardian_name = fields.String(load_default=None, allow_none=True,
                                  validate=validate.Length(max=200))
    guardian_relation = fields.String(load_default=None, allow_none=True,
                                      validate=validate.Length(max=32))
    id_type = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=64))
    id_number = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=64))
    external_id = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=64), metadata={
                                    "description": "a register's number; the same again "
                                                   "answers the registered person"})
    pregnancy = fields.Nested(PregnancyIn, load_default=None, allow_none=True)
    comorbidity = fields.Boolean(load_default=False)
    consent_version = fields.String(load_default="health_worker",
                                    validate=validate.Length(min=1, max=32))


class PregnancyOut(Schema):
    id = fields.Integer(required=True)
    registered_on = fields.Date(required=True)
    lmp = fields.Date(allow_none=True)
    edd = fields.Date(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_date = fields.Date(allow_none=True)


class PersonOut(Schema):
    reference_id = fields.String(required=True)
    external_id = fields.String(allow_none=True)
    name = fields.String(required=True)
    birth_date = fields.Date(allow_none=True)
    birth_year = fields.Integer(required=True)
    gender = fields.String(required=True)
    id_type = fields.String(allow_none=True)
    id_number_masked = fields.String(required=True)
    mobile_masked = fields.String(required=True)
    guardian_name = fields.String(allow_none=True)
    guardian_relation = fields.String(allow_none=True)
    location = fields.String(allow_none=True)
    facility = fields.String(allow_none=True)
    mother_reference_id = fields.String(allow_none=True)
    children = fields.List(fields.String(), required=True)
    pregnancies = fields.List(fields.Nested(PregnancyOut), required=True)
    registered_by = fields.String(required=True)
    created = fields.Boolean(required=True)
    possible_duplicates = fields.List(fields.Dict(), metadata={
        "description": "records that may be the same person (reference_id, name, score, "
                       "reasons): a warning for a reviewer, registration went ahead"})


class NewbornIn(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    gender = fields.String(required=True, validate=validate.Length(min=1, max=16))
    birth_date = fields.Date(load_default=None, allow_none=True,
                             metadata={"description": "default: the outcome's date"})


class OutcomeIn(_Strict):
    outcome = fields.String(required=True, validate=validate.OneOf(
        ("live_birth", "stillbirth", "miscarriage", "abortion")))
    outcome_date = fields.Date(required=True)
    newborns = fields.List(fields.Nested(NewbornIn), load_default=list,
                           validate=validate.Length(max=8))


class OutcomeOut(Schema):
    pregnancy = fields.Nested(PregnancyOut, required=True)
    newborns = fields.List(fields.Nested(PersonOut), required=True)
    created = fields.Boolean(required=True)
