"""The built-in gateway adapter ``at``: the callback shape Africa's Talking made common
and many aggregators copy.

- USSD: ``POST application/x-www-form-urlencoded`` with ``sessionId``, ``serviceCode``,
  ``phoneNumber``, ``networkCode`` and ``text`` (every answer so far joined by ``*``,
  empty on the first request); the answer is ``text/plain`` starting ``CON `` (the
  session continues) or ``END `` (it ends).
- Inbound SMS: ``from``, ``to``, ``text``, ``id`` (the message's id), ``networkCode``
  optional (``linkId``, ``date`` ignored).
- Delivery reports: ``id`` (the id the send returned), ``status`` (``Success``,
  ``Sent``, ``Buffered``, ``Submitted``, ``Failed``, ``Rejected``, ``Expired``...),
  ``failureReason``.

Authentication (``CHANNELS_SECRET``): either a header ``X-Channel-Signature: sha256=<hex
HMAC-SHA256 of the raw body with the secret>`` (for a gateway or a proxy that can sign),
or the secret as the ``key`` query parameter of the callback URL (for gateways that can
only be given a URL: keep that URL out of access logs). Both are compared in constant
time; an empty secret refuses every callback.

Screen limits: 182 GSM 03.38 characters, 80 UCS-2 characters (160 bytes), the common
USSD maximum; a gateway that allows fewer is a subclass with lower limits."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from cowin_kit.plugins import (
    ChannelGateway, DeliveryReport, GatewayRequest, register_channel_gateway,
)

SIGNATURE_HEADER = "X-Channel-Signature"

_DELIVERED = {"success", "delivered"}
_SENT = {"sent", "buffered", "submitted", "queued"}


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class CallbackGateway(ChannelGateway):
    gsm_limit = 182
    ucs2_limit = 80

    def authenticate(self, request: Any, secret: str) -> bool:
        if not secret:
            return False
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if signature:
            return hmac.compare_digest(signature, sign(secret, request.get_data()))
        key = request.args.get("key", "")
        return bool(key) and hmac.compare_digest(key.encode(), secret.encode())

    @staticmethod
    def _field(form: Any, name: str, required: bool = True, limit: int = 200) -> str:
        value = form.get(name)
        if value is None:
            if required:
                raise ValueError(f"{name} is missing")
            return ""
        if len(value) > limit:
            raise ValueError(f"{name} is too long")
        return value

    def parse_ussd(self, request: Any) -> GatewayRequest:
        form = request.form
        text = self._field(form, "text", required=False, limit=1000)
        parts = text.split("*") if text else []
        return GatewayRequest(
            session_id=self._field(form, "sessionId", limit=100),
            phone=self._field(form, "phoneNumber", limit=32),
            network=self._field(form, "networkCode", required=False, limit=16),
            service_code=self._field(form, "serviceCode", required=False, limit=32),
            answer=parts[-1] if parts else None, step_key=text,
            previous_key="*".join(parts[:-1]) if parts else None)

    def render_ussd(self, text: str, *, end: bool) -> tuple[str, str]:
        return ("END " if end else "CON ") + text, "text/plain; charset=utf-8"

    def parse_sms(self, request: Any) -> GatewayRequest:
        form = request.form
        return GatewayRequest(
            session_id="", phone=self._field(form, "from", limit=32),
            network=self._field(form, "networkCode", required=False, limit=16),
            answer=self._field(form, "text", required=False, limit=1600),
            message_id=self._field(form, "id", limit=100))

    def parse_delivery(self, request: Any) -> DeliveryReport:
        form = request.form
        raw = self._field(form, "status", limit=32).strip().lower()
        status = "delivered" if raw in _DELIVERED else "sent" if raw in _SENT else "failed"
        return DeliveryReport(self._field(form, "id", limit=100), status,
                              self._field(form, "failureReason", required=False, limit=100))


register_channel_gateway("at", CallbackGateway())
