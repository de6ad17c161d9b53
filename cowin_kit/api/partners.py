"""Partner applications (CoWIN's third-party apps) identify themselves with X-Api-Key.

A request carrying the header must carry a valid, unrevoked key; it then counts against
that key's own per-minute limit instead of only the caller's IP. Requests without the
header are public or citizen requests and are limited as such."""

from __future__ import annotations

from flask import Request, g, request

from cowin_kit.audit.services import Actor, current_actor, set_actor
from cowin_kit.core.db import get_session
from cowin_kit.identity.models import PartnerApiKey
from cowin_kit.core.errors import RuleViolation
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core import ratelimit
from cowin_kit.identity.services import authenticate_partner

HEADER = "X-Api-Key"


def current_partner() -> PartnerApiKey | None:
    """The calling partner's key row, or None when the request has no X-Api-Key."""
    if "partner" not in g:
        raw = request.headers.get(HEADER)
        if raw is None or not request.path.startswith("/api/"):
            g.partner = None
        else:
            g.partner = authenticate_partner(get_session(), raw.strip())
            actor = current_actor()
            set_actor(Actor("partner", f"key:{g.partner.id}", actor.request_id,
                            actor.source_ip))
    return g.partner


# request.headers.get(HEADER) reads this WSGI environ key.
_HEADER_ENVIRON_KEY = "HTTP_" + HEADER.upper().replace("-", "_")


def check_api_key(current: Request) -> None:
    """Run for every request by cowin_kit.api. An unknown or revoked key is refused before
    anything else; a known one spends one call of its own per-minute allowance (counted as
    every rate limit is, cowin_kit.core.ratelimit: in Redis when configured)."""
    if _HEADER_ENVIRON_KEY not in current.environ:
        return  # no key: a public or citizen request (current_partner() would say None)
    partner = current_partner()
    if partner is None:
        return
    if ratelimit.check(f"{partner.rate_limit_per_minute}/minute", "partner",
                       str(partner.id)) is not None:
        raise PartnerRateLimited(_("This API key has used its calls for this minute."),
                                 code="partner_rate_limited")


class PartnerRateLimited(RuleViolation):
    status = 429
