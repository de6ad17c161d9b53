"""The phone channels' doors, /api/v1/channels: gateway callbacks (USSD steps, inbound
SMS, delivery reports), each authenticated by the gateway's adapter with CHANNELS_SECRET
and held to CHANNELS_ALLOWED_NETWORKS; and the health workers' list of failed messages
(staff token, ``messages.manage``)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request
from marshmallow import Schema, fields, validate

from cowin_kit.api import pack
from cowin_kit.api.staff import staff
from cowin_kit.channels import gateways as _gateways  # noqa: F401  (the built-in "at")
from cowin_kit.channels import services
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.validation import load
from cowin_kit.plugins import ChannelGateway, channel_gateway

bp = Blueprint("api_channels", __name__, url_prefix="/api/v1/channels")

FORM = {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}


def _gateway(name: str) -> ChannelGateway:
    """The adapter, the callback authenticated and its network allowed; else 404/401/403."""
    gateway = channel_gateway(name)
    if gateway is None:
        raise NotFound(_("No such gateway."), code="gateway_not_found")
    settings = current_app.config["COWIN_KIT"]
    if not gateway.authenticate(request, settings["CHANNELS_SECRET"]):
        raise Unauthorized(_("The gateway's signature or key is missing or wrong."),
                           code="gateway_unauthenticated")
    return gateway


def _allowed_network(network: str) -> None:
    allowed = current_app.config["COWIN_KIT"]["CHANNELS_ALLOWED_NETWORKS"]
    if allowed and network not in allowed:
        raise Forbidden(_("This mobile network is not served."), code="network_not_allowed")


def _parse(reader, *args):
    try:
        return reader(*args)
    except ValueError as exc:
        raise InvalidInput(_("The gateway's request cannot be read: %(reason)s",
                             reason=str(exc)), code="invalid_gateway_request") from None


@bp.post("/ussd/<gateway>")
@doc("A USSD gateway's callback: one step of a session (answer: the screen, as the "
     "gateway wants it)", body_content=FORM, content_type="text/plain", tag="channels")
def ussd(gateway: str):
    adapter = _gateway(gateway)
    call = _parse(adapter.parse_ussd, request)
    _allowed_network(call.network)
    reply = services.handle_ussd(
        get_session(), pack(), gateway, adapter, call,
        ttl_seconds=current_app.config["COWIN_KIT"]["USSD_SESSION_TTL_SECONDS"],
        request_id=g.get("request_id"), source_ip=request.remote_addr)
    body, content_type = adapter.render_ussd(reply.text, end=reply.end)
    return Response(body, content_type=content_type)


@bp.post("/sms/<gateway>")
@doc("A gateway's inbound SMS: a keyword (STATUS, CENTRE, DUE, STOP, START in the pack's "
     "languages); the reply goes out as an SMS", body_content=FORM, status=204,
     tag="channels")
def sms(gateway: str):
    adapter = _gateway(gateway)
    call = _parse(adapter.parse_sms, request)
    _allowed_network(call.network)
    services.handle_sms(get_session(), pack(), gateway, call,
                        request_id=g.get("request_id"), source_ip=request.remote_addr)
    return Response(status=204)


@bp.post("/delivery/<gateway>")
@doc("A gateway's delivery report on an outbound message", body_content=FORM, status=204,
     tag="channels")
def delivery(gateway: str):
    adapter = _gateway(gateway)
    report = _parse(adapter.parse_delivery, request)
    services.record_delivery(get_session(), report)
    return Response(status=204)


class FailedMessageOut(Schema):
    id = fields.Integer(required=True)
    recipient_masked = fields.String(required=True)
    template = fields.String(required=True)
    locale = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    status = fields.String(required=True)
    delivery_status = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    can_retry = fields.Boolean(required=True)


class FailedMessagesOut(Schema):
    messages = fields.List(fields.Nested(FailedMessageOut), required=True)


class FailedQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class MessageOut(Schema):
    id = fields.Integer(required=True)
    handled = fields.String(allow_none=True)
    retry_of = fields.Integer(allow_none=True)


@bp.get("/messages/failed")
@doc("Messages that failed to be sent or delivered, not yet handled (newest first)",
     response=FailedMessagesOut, query=FailedQuery, auth="staff", tag="channels")
def failed_messages():
    query = load(FailedQuery(), request.args)
    rows = services.failed_messages(get_session(), staff(), limit=query["limit"])
    return jsonify(FailedMessagesOut().dump({"messages": [row.__dict__ for row in rows]}))


@bp.post("/messages/<int:message_id>/retry")
@doc("Send a failed message again (a new message naming it)", response=MessageOut,
     status=201, auth="staff", tag="channels")
def retry(message_id: int):
    again = services.retry_message(get_session(), staff(), message_id)
    return jsonify(MessageOut().dump({"id": again.id, "handled": None,
                                      "retry_of": again.retry_of})), 201


@bp.post("/messages/<int:message_id>/escalate")
@doc("Take a failed message over (a health worker reaches the person another way)",
     response=MessageOut, auth="staff", tag="channels")
def escalate(message_id: int):
    row = services.escalate_message(get_session(), staff(), message_id)
    return jsonify(MessageOut().dump({"id": row.id, "handled": row.handled,
                                      "retry_of": row.retry_of}))
