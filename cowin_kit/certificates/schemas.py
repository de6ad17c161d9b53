"""The certificates' input and output schemas (API, CLI and OpenAPI document)."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from marshmallow import Schema, fields, validate


class CertificateOut(Schema):
    certificate_id = fields.String(required=True)
    provisional = fields.Boolean(required=True)
    issued_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    formats = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class VerifyIn(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))


class VerifyOut(Schema):
    format = fields.String(required=True)
    valid = fields.Boolean(required=True)
    signature_valid = fields.Boolean(required=True)
    kid = fields.String(allow_none=True, required=True)
    issuer = fields.String(allow_none=True, required=True)
    issued_at = fields.DateTime(allow_none=True, required=True)
    expires_at = fields.DateTime(allow_none=True, required=True)
    expired = fields.Boolean(required=True)
    not_yet_valid = fields.Boolean(required=True)
    revoked = fields.Boolean(required=True)
    key_usage_ok = fields.Boolean(allow_none=True, required=True)
    payload = fields.Dict(allow_none=True, required=True)
    errors = fields.List(fields.String(), required=True)


def verification_json(result: Any) -> dict:
    """A verification result (cowin_kit.certificates.verify) as the API and CLI show it."""
    data = dataclasses.asdict(result)
    if isinstance(data.get("kid"), bytes):
        data["kid"] = base64.b64encode(data["kid"]).decode()
    return VerifyOut().dump(data)
