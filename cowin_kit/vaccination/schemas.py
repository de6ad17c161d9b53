"""Marshmallow schemas of the vaccinator and AEFI API."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from cowin_kit.registration.schemas import BeneficiaryIn
from cowin_kit.stock.schemas import StockWarningOut


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class FacilityQuery(_Strict):
    facility = fields.String(validate=validate.Length(min=1, max=64))


class TodaySessionOut(Schema):
    session_id = fields.String(required=True)
    vaccine = fields.String(required=True)
    status = fields.String(required=True)
    capacity = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    booked = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    queue = fields.List(fields.Dict(), required=True)


class TodayOut(Schema):
    facility = fields.String(required=True)
    sessions = fields.List(fields.Nested(TodaySessionOut), required=True)


class CheckInOut(Schema):
    reference_id = fields.String(required=True)
    name = fields.String(required=True)
    birth_year = fields.Integer(required=True)
    gender = fields.String(required=True)
    id_type = fields.String(required=True)
    id_number_masked = fields.String(required=True)
    doses = fields.List(fields.Dict(), required=True)
    appointment = fields.Dict(allow_none=True, required=True)
    secret_code_required = fields.Boolean(required=True)


class DoseIn(_Strict):
    reference_id = fields.String(required=True, validate=validate.Length(min=1, max=20))
    secret_code = fields.String(validate=validate.Regexp(r"^\d{4}$"))
    vaccine = fields.String(required=True, validate=validate.Length(min=1, max=64))
    lot = fields.String(required=True, validate=validate.Length(min=1, max=64))
    administered_at = fields.AwareDateTime()
    dose = fields.Integer(validate=validate.Range(min=1, max=20))
    facility = fields.String(validate=validate.Length(min=1, max=64))


class RecordedDoseOut(Schema):
    dose_id = fields.Integer(required=True)
    reference_id = fields.String(required=True)
    dose = fields.Integer(required=True)
    vaccine = fields.String(required=True)
    lot = fields.String(required=True)
    administered_at = fields.DateTime(required=True)
    facility = fields.String(allow_none=True, required=True)
    created = fields.Boolean(required=True)
    warnings = fields.List(fields.Nested(StockWarningOut), load_default=list, metadata={
        "description": "what the stock draw noticed; the dose is recorded all the same"})


class VisitDoseIn(_Strict):
    vaccine = fields.String(required=True, validate=validate.Length(min=1, max=64))
    lot = fields.String(required=True, validate=validate.Length(min=1, max=64))
    schedule = fields.String(validate=validate.Length(min=1, max=64),
                             metadata={"description": "the routine schedule the dose is "
                                       "given under (default: the one whose due dose "
                                       "takes the vaccine)"})


class VisitIn(_Strict):
    reference_id = fields.String(required=True, validate=validate.Length(min=1, max=20))
    doses = fields.List(fields.Nested(VisitDoseIn), required=True,
                        validate=validate.Length(min=1, max=20))
    administered_at = fields.AwareDateTime()
    facility = fields.String(validate=validate.Length(min=1, max=64))


class VisitDoseOut(Schema):
    dose_id = fields.Integer(required=True)
    schedule = fields.String(required=True)
    dose = fields.Integer(required=True, metadata={"description": "order in the schedule"})
    vaccine = fields.String(required=True)
    lot = fields.String(required=True)


class VisitOut(Schema):
    reference_id = fields.String(required=True)
    facility = fields.String(allow_none=True, required=True)
    administered_at = fields.DateTime(required=True)
    created = fields.Boolean(required=True)
    doses = fields.List(fields.Nested(VisitDoseOut), required=True)
    warnings = fields.List(fields.Nested(StockWarningOut), load_default=list, metadata={
        "description": "what the stock draws noticed; the doses are recorded all the same"})


class DueDoseOut(Schema):
    schedule = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "in the request's language"})
    dose = fields.Integer(required=True)
    status = fields.String(required=True)
    earliest = fields.Date(allow_none=True, required=True)
    due = fields.Date(allow_none=True, required=True)
    latest = fields.Date(allow_none=True, required=True)
    vaccines = fields.List(fields.String(), required=True)


class DueTodayOut(Schema):
    reference_id = fields.String(required=True)
    name = fields.String(required=True)
    birth_date = fields.Date(required=True)
    on = fields.Date(required=True)
    due = fields.List(fields.Nested(DueDoseOut), required=True)
    statuses = fields.List(fields.Nested(DueDoseOut), required=True,
                           metadata={"description": "every dose of every routine schedule"})


class RecordReadQuery(_Strict):
    # why a person outside the staff member's area is looked up ("break the glass";
    # stored with the read's audit event)
    reason = fields.String(validate=validate.Length(max=200))


class DueTodayQuery(RecordReadQuery):
    on = fields.Date()


class WalkInIn(BeneficiaryIn):
    mobile = fields.String(required=True, validate=validate.Length(min=4, max=20))
    # when the mobile already has an account: the secret code of one of its members
    holder_code = fields.String(validate=validate.Regexp(r"^[0-9]{4}$"))
    facility = fields.String(validate=validate.Length(min=1, max=64))


class WalkInOut(Schema):
    reference_id = fields.String(required=True)
    name = fields.String(required=True)
