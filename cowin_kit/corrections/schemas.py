"""Marshmallow schemas of the corrections API (/api/v1/staff/corrections, duplicates,
merges, grievances; /api/v1/grievances and /api/v1/people-moves for citizens)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from cowin_kit.core.db import MAX_ID
from cowin_kit.corrections.models import GRIEVANCE_CATEGORIES, GRIEVANCE_STATUSES, REQUEST_KINDS


class _Strict(Schema):
    class Meta:
        unknown = RAISE


REASON = fields.String(required=True, validate=validate.Length(min=3, max=500))
ROW_ID = validate.Range(min=1, max=MAX_ID)  # a dose's or a candidate's id (bigint)


class ChangeRequestIn(_Strict):
    kind = fields.String(required=True, validate=validate.OneOf(REQUEST_KINDS))
    reference_id = fields.String(load_default=None, metadata={
        "description": "the person (kinds person and move)"})
    dose_id = fields.Integer(load_default=None, validate=ROW_ID, metadata={
        "description": "the dose (kinds dose and void_dose)"})
    changes = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "person: name, birth_year, birth_date, gender, guardian_name, "
                       "guardian_relation; dose: dose_number, product, lot, "
                       "administered_on, facility"})
    mobile = fields.String(load_default=None, validate=validate.Length(min=4, max=20),
                           metadata={"description": "the new mobile (kind move)"})
    reason = REASON


class DecisionIn(_Strict):
    note = fields.String(load_default="", validate=validate.Length(max=500))


class ChangeRequestOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    reference_id = fields.String(required=True)
    dose_id = fields.Integer(allow_none=True)
    changes = fields.Dict(required=True)
    before = fields.Dict(required=True)
    reason = fields.String(required=True)
    status = fields.String(required=True)
    maker = fields.String(required=True)
    checker = fields.String(allow_none=True)
    decision_note = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(allow_none=True)


class ChangeRequestListOut(Schema):
    requests = fields.List(fields.Nested(ChangeRequestOut), required=True)


class StatusQuery(Schema):
    status = fields.String(load_default=None)


class RecordDoseOut(Schema):
    id = fields.Integer(required=True)
    series = fields.String(required=True)
    dose_number = fields.Integer(required=True)
    product = fields.String(required=True)
    lot = fields.String(required=True)
    administered_at = fields.DateTime(required=True)
    facility = fields.String(allow_none=True)


class CandidateOut(Schema):
    id = fields.Integer(required=True)
    first = fields.String(required=True, metadata={"description": "reference ID"})
    second = fields.String(required=True, metadata={"description": "reference ID"})
    score = fields.Float(required=True)
    reasons = fields.List(fields.String(), required=True)
    status = fields.String(required=True)
    found_by = fields.String(required=True)


class CandidateListOut(Schema):
    candidates = fields.List(fields.Nested(CandidateOut), required=True)


class MergeOut(Schema):
    id = fields.Integer(required=True)
    kept = fields.String(required=True)
    merged = fields.String(required=True)
    merged_by = fields.String(required=True)
    merged_at = fields.DateTime(required=True)
    undone_by = fields.String(allow_none=True)
    undone_at = fields.DateTime(allow_none=True)


class PersonRecordOut(Schema):
    reference_id = fields.String(required=True)
    name = fields.String(required=True)
    birth_year = fields.Integer(required=True)
    birth_date = fields.Date(allow_none=True)
    merged_into = fields.String(allow_none=True)
    doses = fields.List(fields.Nested(RecordDoseOut), required=True)
    candidates = fields.List(fields.Nested(CandidateOut), required=True)
    merges = fields.List(fields.Nested(MergeOut), required=True)
    requests = fields.List(fields.Nested(ChangeRequestOut), required=True)


class MergeIn(_Strict):
    kept = fields.String(required=True, metadata={"description": "reference ID kept"})
    merged = fields.String(required=True, metadata={"description": "reference ID merged into it"})
    candidate_id = fields.Integer(load_default=None, validate=ROW_ID)
    reason = REASON


class UndoIn(_Strict):
    reason = REASON


class MoveStartIn(_Strict):
    reference_id = fields.String(required=True, validate=validate.Length(max=20))
    secret_code = fields.String(required=True, validate=validate.Regexp(r"^\d{4}$"))
    mobile = fields.String(required=True, validate=validate.Length(min=4, max=20))


class MoveStartOut(Schema):
    move_id = fields.Integer(required=True)
    txn_id = fields.String(required=True)


class MoveConfirmIn(_Strict):
    txn_id = fields.UUID(required=True)
    otp = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$"))


class MoveDoneOut(Schema):
    reference_id = fields.String(required=True)
    mobile_masked = fields.String(required=True)


class GrievanceIn(_Strict):
    category = fields.String(required=True, validate=validate.OneOf(GRIEVANCE_CATEGORIES))
    description = fields.String(required=True, validate=validate.Length(min=5, max=2000))
    reference_id = fields.String(load_default=None)


class GrievanceOut(Schema):
    id = fields.Integer(required=True)
    category = fields.String(required=True)
    description = fields.String(required=True)
    reference_id = fields.String(allow_none=True)
    status = fields.String(required=True)
    answer = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(allow_none=True)
    age_days = fields.Integer()
    overdue = fields.Boolean()


class GrievanceListOut(Schema):
    grievances = fields.List(fields.Nested(GrievanceOut), required=True)


class GrievanceAnswerIn(_Strict):
    status = fields.String(required=True, validate=validate.OneOf(
        [s for s in GRIEVANCE_STATUSES if s != "open"]))
    answer = fields.String(load_default="", validate=validate.Length(max=2000))
