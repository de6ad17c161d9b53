"""Marshmallow schemas of the campaign API (/api/v1/campaigns)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from cowin_kit.immunization.duelists import LISTS
from cowin_kit.programme.due import STATUSES
from cowin_kit.stock.schemas import StockWarningOut


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CampaignIn(_Strict):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    names = fields.Dict(keys=fields.String(validate=validate.Length(max=16)),
                        values=fields.String(validate=validate.Length(max=200)), required=True)
    products = fields.List(fields.String(validate=validate.Length(max=64)), required=True,
                           validate=validate.Length(min=1, max=10))
    ages = fields.String(required=True, validate=validate.Length(max=20))
    sex = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))
    areas = fields.List(fields.String(validate=validate.Length(max=64)), required=True,
                        validate=validate.Length(min=1, max=500))
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    doses_per_person = fields.Integer(load_default=1, validate=validate.Range(min=1, max=5))


class CampaignDoseIn(_Strict):
    reference_id = fields.String(required=True, validate=validate.Length(min=1, max=14))
    vaccine = fields.String(required=True, validate=validate.Length(min=1, max=64))
    lot = fields.String(required=True, validate=validate.Length(min=1, max=64))
    facility = fields.String(validate=validate.Length(min=1, max=64))
    administered_at = fields.AwareDateTime()


class CampaignAreaOut(Schema):
    code = fields.String(required=True)
    target = fields.Integer(required=True, allow_none=True)
    target_source = fields.String(required=True)


class CampaignOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    names = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    products = fields.List(fields.String(), required=True)
    ages = fields.String(required=True)
    sex = fields.String(required=True, allow_none=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    doses_per_person = fields.Integer(required=True)
    areas = fields.List(fields.Nested(CampaignAreaOut), required=True)


class CampaignListOut(Schema):
    campaigns = fields.List(fields.Nested(CampaignOut), required=True)


class CampaignDayOut(Schema):
    date = fields.Date(required=True)
    doses = fields.Integer(required=True)
    cumulative = fields.Integer(required=True)
    target_percent = fields.Float(required=True, allow_none=True)


class CampaignAreaProgressOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    target = fields.Integer(required=True, allow_none=True)
    target_source = fields.String(required=True)
    doses = fields.Integer(required=True)
    target_percent = fields.Float(required=True, allow_none=True)
    days = fields.List(fields.Nested(CampaignDayOut), required=True)


class CampaignProgressOut(Schema):
    campaign = fields.String(required=True)
    areas = fields.List(fields.Nested(CampaignAreaProgressOut), required=True)


class CampaignDoseOut(Schema):
    dose_id = fields.Integer(required=True)
    campaign = fields.String(required=True)
    series = fields.String(required=True)
    dose = fields.Integer(required=True)
    warnings = fields.List(fields.Nested(StockWarningOut), load_default=list, metadata={
        "description": "what the stock draw noticed; the dose is recorded all the same"})


# --- routine doses due (/api/v1/people/<ref>/due, /api/v1/staff/due-list) ---------------

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
