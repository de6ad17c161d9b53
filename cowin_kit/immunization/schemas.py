"""Marshmallow schemas of the due list API (/api/v1/people/<ref>/due, /api/v1/staff/due-list)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from cowin_kit.immunization.duelists import LISTS
from cowin_kit.programme.due import STATUSES


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PersonDueQuery(_Strict):
    on = fields.Date(load_default=None)


class DueListQuery(_Strict):
    location = fields.String(validate=validate.Length(min=1, max=64))
    facility = fields.String(validate=validate.Length(min=1, max=64))
    on = fields.Date(load_default=None)
    # comma-separated statuses, e.g. "due,overdue"
    status = fields.String(load_default="", validate=validate.Length(max=200))
    list = fields.String(load_default="due", validate=validate.OneOf(LISTS))
    format = fields.String(load_default=None, validate=validate.OneOf(("json", "csv", "pdf")))


class DoseDueOut(Schema):
    schedule = fields.String(required=True)
    schedule_name = fields.String(required=True)
    dose = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    earliest = fields.Date(allow_none=True)
    due = fields.Date(allow_none=True)
    latest = fields.Date(allow_none=True)
    given_on = fields.Date(allow_none=True)
    given_product = fields.String(allow_none=True)
    booster = fields.Boolean(required=True)
    pregnancy_start = fields.Date(allow_none=True)


class PersonDueOut(Schema):
    reference_id = fields.String(required=True)
    external_id = fields.String(allow_none=True)
    name = fields.String(required=True)
    birth_date = fields.Date(required=True)
    on = fields.Date(required=True)
    summary = fields.Dict(keys=fields.String(), values=fields.Integer())
    doses = fields.List(fields.Nested(DoseDueOut), required=True)


class DueRowOut(Schema):
    reference_id = fields.String(required=True)
    external_id = fields.String(required=True)
    name = fields.String(required=True)
    birth_date = fields.Date(required=True)
    schedule = fields.String(required=True)
    schedule_name = fields.String(required=True)
    dose = fields.Integer(required=True)
    earliest = fields.Date(allow_none=True)
    due = fields.Date(allow_none=True)
    latest = fields.Date(allow_none=True)
    status = fields.String(required=True)


class DueListOut(Schema):
    on = fields.Date(required=True)
    list = fields.String(required=True)
    statuses = fields.List(fields.String(), required=True)
    location = fields.String(allow_none=True)
    facility = fields.String(allow_none=True)
    people = fields.Integer(required=True)
    rows = fields.List(fields.Nested(DueRowOut), required=True)


class RemindersIn(_Strict):
    opt_out = fields.Boolean(required=True)
