"""Marshmallow schemas of the staff and partner-key API."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from cowin_kit.identity.rules import STAFF_ROLES


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class StaffSignInIn(_Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=150))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class StaffTokenOut(Schema):
    token = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    username = fields.String(required=True)


class GrantIn(_Strict):
    role = fields.String(required=True, validate=validate.OneOf(STAFF_ROLES))
    location = fields.String(validate=validate.Length(min=1, max=64))
    facility = fields.String(validate=validate.Length(min=1, max=64))


class GrantOut(Schema):
    role = fields.String(required=True)
    location = fields.String(allow_none=True, required=True)
    facility = fields.String(allow_none=True, required=True)


class StaffIn(_Strict):
    username = fields.String(required=True, validate=validate.Length(min=3, max=150))
    display_name = fields.String(validate=validate.Length(max=200))
    password = fields.String(validate=validate.Length(min=1, max=1024))
    mobile = fields.String(allow_none=True, validate=validate.Length(max=32))
    email = fields.String(allow_none=True, validate=validate.Length(max=254))


class StaffContactIn(_Strict):
    """A staff member's contact (stock and safety alerts are sent to the mobile); empty or
    null clears it."""
    mobile = fields.String(required=True, allow_none=True, validate=validate.Length(max=32))
    email = fields.String(load_default=None, allow_none=True,
                          validate=validate.Length(max=254))


class StaffOut(Schema):
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    active = fields.Boolean(required=True)
    mobile = fields.String(allow_none=True, required=True)
    email = fields.String(allow_none=True, required=True)
    grants = fields.List(fields.Nested(GrantOut), required=True)


class StaffCreatedOut(StaffOut):
    generated_password = fields.String(allow_none=True, required=True)


class StaffListOut(Schema):
    staff = fields.List(fields.Nested(StaffOut), required=True)


class PartnerKeyIn(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    rate_limit_per_minute = fields.Integer(load_default=600,
                                           validate=validate.Range(min=1, max=1_000_000))


class PartnerKeyOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    key_prefix = fields.String(required=True)
    rate_limit_per_minute = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(allow_none=True, required=True)


class PartnerKeyCreatedOut(PartnerKeyOut):
    key = fields.String(required=True)


class PartnerKeyListOut(Schema):
    keys = fields.List(fields.Nested(PartnerKeyOut), required=True)
