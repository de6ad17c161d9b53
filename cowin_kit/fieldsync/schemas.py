"""marshmallow schemas of the field API (they also feed the OpenAPI document) and of each
record kind's payload."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from cowin_kit.core.db import MAX_ID
from cowin_kit.fieldsync.models import RECORD_KINDS
from cowin_kit.fieldsync.rules import MAX_RECORDS
from cowin_kit.safety.rules import OUTCOMES, REACTIONS, SERIOUS_CRITERIA, SERIOUSNESS
from cowin_kit.stock.schemas import StockWarningOut

CLIENT_ID = validate.Regexp(r"^[A-Za-z0-9_.:-]{8,64}$")
PERSON = fields.String(required=True, validate=validate.Length(min=1, max=80), metadata={
    "description": "a reference ID, or client:<client id of a register_person record>"})


class _Strict(Schema):
    class Meta:
        unknown = RAISE


# --- prepare ------------------------------------------------------------------------------

class FieldPrepareQuery(_Strict):
    days = fields.Integer(load_default=3, validate=validate.Range(min=1, max=14))
    facility = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "only this facility of my grants (and its people)"})


class FieldPersonBundle(Schema):
    reference_id = fields.String(required=True)
    external_id = fields.String(allow_none=True)
    name = fields.String(required=True)
    birth_date = fields.Date(allow_none=True)
    birth_year = fields.Integer(required=True)
    gender = fields.String(required=True)
    mobile_last4 = fields.String(required=True)
    mobile_hash = fields.String(required=True, metadata={
        "description": "HMAC-SHA256 (key: mobile_salt) of the E.164 number, hex"})
    guardian_name = fields.String(allow_none=True)
    location_code = fields.String(allow_none=True)
    facility_code = fields.String(allow_none=True)
    doses = fields.List(fields.Dict(), required=True)
    due = fields.List(fields.Dict(), required=True)


class FieldPrepareOut(Schema):
    server_time = fields.DateTime(required=True)
    staff = fields.Dict(required=True)
    pack = fields.Dict(required=True)
    facilities = fields.List(fields.Dict(), required=True)
    sessions = fields.List(fields.Dict(), required=True)
    people = fields.List(fields.Nested(FieldPersonBundle), required=True)
    mobile_salt = fields.String(required=True)
    appointments = fields.List(fields.Dict(), required=True)
    lots = fields.List(fields.Dict(), required=True)
    trust = fields.Dict(required=True)
    cursor = fields.String(required=True)


# --- sync ---------------------------------------------------------------------------------

class FieldRecordIn(_Strict):
    client_id = fields.String(required=True, validate=CLIENT_ID)
    kind = fields.String(required=True, validate=validate.OneOf(RECORD_KINDS))
    recorded_at = fields.AwareDateTime(required=True)
    payload = fields.Dict(required=True)


class FieldSyncIn(_Strict):
    device_id = fields.String(required=True, validate=CLIENT_ID)
    records = fields.List(fields.Nested(FieldRecordIn), required=True,
                          validate=validate.Length(min=1, max=MAX_RECORDS))


class FieldRecordResult(Schema):
    client_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(
        ["accepted", "duplicate", "conflict", "refused"]))
    code = fields.String(allow_none=True, required=True)
    message = fields.String(allow_none=True, required=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields",
                          metadata={"description": "bad fields"})
    first_status = fields.String(metadata={
        "description": "for a duplicate: what the first processing answered"})
    reference_id = fields.String()
    aefi_id = fields.Integer()
    dose_ids = fields.List(fields.Integer())
    review_id = fields.Integer()
    warnings = fields.List(fields.Nested(StockWarningOut), metadata={
        "description": "what the stock draw noticed (a lot the facility holds none of...); "
                       "the dose is recorded all the same"})


class FieldSyncOut(Schema):
    results = fields.List(fields.Nested(FieldRecordResult), required=True)


class FieldOutcomesQuery(_Strict):
    device_id = fields.String(required=True, validate=CLIENT_ID)
    since = fields.String(load_default=None, validate=validate.Length(max=200))


class FieldOutcomeOut(Schema):
    client_id = fields.String(required=True)
    review_id = fields.Integer(required=True)
    decision = fields.String(required=True)
    note = fields.String(required=True)
    decided_at = fields.DateTime(required=True)
    reference_id = fields.String()
    dose_ids = fields.List(fields.Integer())


class FieldOutcomesOut(Schema):
    outcomes = fields.List(fields.Nested(FieldOutcomeOut), required=True)
    cursor = fields.String(allow_none=True, required=True)


# --- reviews ------------------------------------------------------------------------------

class FieldReviewsQuery(_Strict):
    status = fields.String(load_default="open",
                           validate=validate.OneOf(["open", "accepted", "rejected"]))


class FieldReviewOut(Schema):
    id = fields.Integer(required=True)
    client_id = fields.String(required=True)
    device_id = fields.String(required=True)
    kind = fields.String(required=True)
    reason = fields.String(required=True)
    message = fields.String(required=True)
    staff = fields.String(required=True)
    facility = fields.String(allow_none=True)
    payload = fields.Dict(required=True, metadata={
        "description": "the record as sent; an ID number only masked"})
    status = fields.String(required=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    note = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class FieldReviewListOut(Schema):
    reviews = fields.List(fields.Nested(FieldReviewOut), required=True)


class FieldDecideIn(_Strict):
    decision = fields.String(required=True, validate=validate.OneOf(["accept", "reject"]))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


# --- record payloads (one schema per kind) ------------------------------------------------

class DosePayload(_Strict):
    person = PERSON
    product = fields.String(required=True, validate=validate.Length(min=1, max=64))
    lot = fields.String(required=True, validate=validate.Length(min=1, max=64))
    dose = fields.Integer(load_default=None, allow_none=True,
                          validate=validate.Range(min=1, max=20))
    secret_code = fields.String(load_default=None, allow_none=True,
                                validate=validate.Regexp(r"^\d{4}$"))
    administered_at = fields.AwareDateTime(required=True)
    facility = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(min=1, max=64))


class VisitDosePayload(_Strict):
    product = fields.String(required=True, validate=validate.Length(min=1, max=64))
    lot = fields.String(required=True, validate=validate.Length(min=1, max=64))
    schedule = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=64))


class VisitPayload(_Strict):
    person = PERSON
    facility = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(min=1, max=64))
    administered_at = fields.AwareDateTime(required=True)
    doses = fields.List(fields.Nested(VisitDosePayload), required=True,
                        validate=validate.Length(min=1, max=20))


class CheckInPayload(_Strict):
    person = PERSON


class AefiPayload(_Strict):
    dose = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=80),
                         metadata={"description": "client:<client id of the dose's record>"})
    dose_id = fields.Integer(load_default=None, allow_none=True,
                             validate=validate.Range(min=1, max=MAX_ID))
    onset_at = fields.AwareDateTime(required=True)
    symptoms = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                           required=True, validate=validate.Length(min=1, max=30))
    seriousness = fields.String(required=True, validate=validate.OneOf(SERIOUSNESS))
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    notes = fields.String(load_default="", validate=validate.Length(max=2000))
    # WHO core variables the app may send (optional: older app versions do not)
    reactions = fields.List(fields.String(validate=validate.OneOf(REACTIONS)),
                            load_default=list, validate=validate.Length(max=len(REACTIONS)))
    serious_criteria = fields.List(fields.String(validate=validate.OneOf(SERIOUS_CRITERIA)),
                                   load_default=list,
                                   validate=validate.Length(max=len(SERIOUS_CRITERIA)))
