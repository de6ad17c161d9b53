"""Marshmallow schemas of availability and booking (native /api/v1)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class AvailabilityQuery(_Strict):
    location = fields.String(validate=validate.Length(min=1, max=64))
    postal_code = fields.String(validate=validate.Length(min=1, max=16))
    lat = fields.Float(validate=validate.Range(min=-90, max=90))
    long = fields.Float(validate=validate.Range(min=-180, max=180))
    radius_km = fields.Float(load_default=25.0, validate=validate.Range(min=0.1, max=200))
    date = fields.Date(required=True)
    days = fields.Integer(load_default=1, validate=validate.OneOf([1, 7]))
    vaccine = fields.String(validate=validate.Length(min=1, max=64))
    age = fields.Integer(validate=validate.Range(min=0, max=130))
    dose = fields.Integer(validate=validate.Range(min=1, max=20))
    fee_type = fields.String(validate=validate.OneOf(["Free", "Paid"]))
    lang = fields.String()

    @validates_schema
    def _one_place(self, data, **kwargs):
        given = [k for k in ("location", "postal_code", "lat") if k in data]
        if len(given) != 1 or (("lat" in data) != ("long" in data)):
            raise ValidationError("give exactly one of location, postal_code or lat+long",
                                  field_name="location")


class SlotOut(Schema):
    slot = fields.String(required=True)
    available = fields.Integer(required=True)


class SessionOut(Schema):
    session_id = fields.String(required=True)
    date = fields.Date(required=True)
    vaccine = fields.String(required=True)
    vaccine_name = fields.String(required=True)
    min_age = fields.Integer(required=True)
    max_age = fields.Integer(allow_none=True, required=True)
    fee = fields.String(required=True)
    available = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    slots = fields.List(fields.Nested(SlotOut), required=True)


class CentreOut(Schema):
    facility_code = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    location = fields.List(fields.String(), required=True)
    postal_code = fields.String(allow_none=True, required=True)
    lat = fields.Float(allow_none=True, required=True)
    long = fields.Float(allow_none=True, required=True)
    fee_type = fields.String(required=True)
    distance_km = fields.Float(allow_none=True, required=True)
    sessions = fields.List(fields.Nested(SessionOut), required=True)


class AvailabilityOut(Schema):
    centres = fields.List(fields.Nested(CentreOut), required=True)


class BookIn(_Strict):
    session_id = fields.UUID(required=True)
    slot = fields.String(required=True, validate=validate.Length(min=1, max=32))
    beneficiaries = fields.List(fields.String(validate=validate.Length(min=1, max=20)),
                                required=True, validate=validate.Length(min=1, max=20))
    dose = fields.Integer(validate=validate.Range(min=1, max=20))


class RescheduleIn(_Strict):
    session_id = fields.UUID(required=True)
    slot = fields.String(required=True, validate=validate.Length(min=1, max=32))


class CancelIn(_Strict):
    beneficiaries = fields.List(fields.String(validate=validate.Length(min=1, max=20)),
                                validate=validate.Length(min=1, max=20))


class AppointmentOut(Schema):
    appointment_id = fields.String(required=True)
    booking_id = fields.String(required=True)
    beneficiary = fields.String(required=True)
    dose = fields.Integer(required=True)
    session_id = fields.String(required=True)
    date = fields.Date(required=True)
    slot = fields.String(required=True)
    facility_code = fields.String(required=True)
    facility_name = fields.String(required=True)
    status = fields.String(required=True)
    reschedules_left = fields.Integer(required=True)


class BookingOut(Schema):
    booking_id = fields.String(required=True)
    appointments = fields.List(fields.Nested(AppointmentOut), required=True)


class AppointmentListOut(Schema):
    appointments = fields.List(fields.Nested(AppointmentOut), required=True)


class FacilityIn(_Strict):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    names = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Length(max=200)))
    location = fields.String(required=True, validate=validate.Length(min=1, max=64))
    address = fields.String(load_default="", validate=validate.Length(max=500))
    postal_code = fields.String(validate=validate.Length(min=1, max=16))
    lat = fields.Float(validate=validate.Range(min=-90, max=90))
    long = fields.Float(validate=validate.Range(min=-180, max=180))
    facility_type = fields.String(load_default="public", validate=validate.OneOf(["public", "private"]))
    fee_type = fields.String(load_default="Free", validate=validate.OneOf(["Free", "Paid"]))
    open = fields.Time()
    close = fields.Time()


class FacilityOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    location = fields.String(required=True)
    fee_type = fields.String(required=True)


class SessionIn(_Strict):
    facility = fields.String(required=True, validate=validate.Length(min=1, max=64))
    date = fields.Date(required=True)
    vaccine = fields.String(required=True, validate=validate.Length(min=1, max=64))
    min_age = fields.Integer(load_default=18, validate=validate.Range(min=0, max=130))
    max_age = fields.Integer(validate=validate.Range(min=0, max=130))
    slots = fields.String(required=True, validate=validate.Length(min=11, max=400))
    capacity = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[1-9][0-9]?$")),
                           values=fields.Integer(validate=validate.Range(min=0, max=100000)),
                           required=True)
    fee = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=100000))
    other_vaccines = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                                 load_default=list, validate=validate.Length(max=30),
                                 metadata={"description": "other products the session "
                                           "offers besides `vaccine` (its main product)"})
    kind = fields.String(load_default="fixed", validate=validate.OneOf(["fixed", "outreach"]))
    site = fields.String(load_default="", validate=validate.Length(max=200),
                         metadata={"description": "the outreach site (required for outreach)"})


class CapacityIn(_Strict):
    capacity = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[1-9][0-9]?$")),
                           values=fields.Integer(validate=validate.Range(min=0, max=100000)),
                           required=True)


class ManagedSessionOut(Schema):
    session_id = fields.String(required=True)
    facility = fields.String(required=True)
    date = fields.Date(required=True)
    vaccine = fields.String(required=True)
    other_vaccines = fields.List(fields.String(), required=True)
    kind = fields.String(required=True)
    site = fields.String(required=True)
    status = fields.String(required=True)
    capacity = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    booked = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class AlertIn(_Strict):
    location = fields.String(validate=validate.Length(min=1, max=64))
    postal_code = fields.String(validate=validate.Length(min=1, max=16))
    vaccine = fields.String(validate=validate.Length(min=1, max=64))
    dose = fields.Integer(load_default=1, validate=validate.Range(min=1, max=20))
    age = fields.Integer(required=True, validate=validate.Range(min=0, max=130))


class AlertOut(Schema):
    id = fields.Integer(required=True)
    location = fields.String(allow_none=True, required=True)
    postal_code = fields.String(allow_none=True, required=True)
    vaccine = fields.String(allow_none=True, required=True)
    dose = fields.Integer(required=True)
    age = fields.Integer(required=True)
    last_notified_at = fields.DateTime(allow_none=True, required=True)


class AlertListOut(Schema):
    alerts = fields.List(fields.Nested(AlertOut), required=True)
