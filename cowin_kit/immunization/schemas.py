"""Marshmallow schemas of the campaign API (/api/v1/campaigns)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


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
