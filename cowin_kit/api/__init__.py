"""JSON APIs: /api/v1 (native) and /api/v2 (CoWIN-compatible). Routes are thin: they
load input with a marshmallow schema, call a service, and dump the result."""

from __future__ import annotations

import uuid

from flask import Flask, Request, g, request

from cowin_kit.api.partners import check_api_key
from cowin_kit.audit.services import Actor, set_actor
from cowin_kit.config.runtime import ActivePack, active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import InvalidInput, Unauthorized
from cowin_kit.core.i18n import gettext as _
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.registration.services import TokenHolder, account_of, token_holder


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def citizen() -> CitizenAccount:
    """The signed-in citizen's account (Bearer token), or 401."""
    if "citizen" not in g:
        g.citizen = account_of(get_session(), citizen_token())
    return g.citizen


def citizen_token() -> TokenHolder:
    """Who the Bearer token names (its signature and age checked), or 401, without reading
    the account: enough for a rate-limit key, and for services that check the account in
    their own statements (booking). Anything else wants citizen()."""
    if "citizen_token" not in g:
        token = bearer_token()
        if token is None:
            raise Unauthorized(_("Sign in first: an Authorization: Bearer token is needed."),
                               code="invalid_token")
        g.citizen_token = token_holder(token)
        set_actor(Actor("citizen", str(g.citizen_token.id), g.request_id,
                        request.remote_addr))
    return g.citizen_token


def pack() -> ActivePack:
    return active_pack()


def request_locale() -> str:
    from flask_babel import get_locale

    return str(get_locale())


def _api_request_steps() -> None:
    """Every request's checks, in this order: no NUL in the URL, the anonymous actor (for
    audit records), the partner's X-Api-Key. One hook rather than three, reaching the
    request (a context-local proxy) once."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    _refuse_nul_in_url(current)
    _bind_anonymous_actor(current)
    check_api_key(current)


def _refuse_nul_in_url(current: Request) -> None:
    if "\x00" in current.path or b"%00" in current.query_string:
        raise InvalidInput(_("Text must not contain NUL characters."), code="invalid_input")


def _bind_anonymous_actor(current: Request) -> None:
    # The id is bound (and echoed) by cowin_kit.core.logging_setup, which runs first.
    request_globals = g._get_current_object()  # type: ignore[attr-defined]
    if "request_id" not in request_globals:
        request_globals.request_id = uuid.uuid4().hex
    set_actor(Actor("anonymous", current.remote_addr or "-",
                    request_globals.request_id, current.remote_addr))


def init_app(app: Flask) -> None:
    from cowin_kit.core import apidoc
    from cowin_kit.api import (  # noqa: F401  (v2_appointments adds routes to v2)
        admin_scheduling, certificates, channels, corrections, due, field, imports, people,
        privacy, records, safety, scheduling, slips, staff, v1, v2, v2_appointments, v2_certificates,
        vaccinator,
    )
    from cowin_kit.api import campaigns, open_data, reports, stock

    app.before_request(_api_request_steps)
    app.register_blueprint(v1.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(scheduling.bp)
    app.register_blueprint(slips.bp)
    app.register_blueprint(admin_scheduling.bp)
    app.register_blueprint(vaccinator.bp)
    app.register_blueprint(safety.bp)
    app.register_blueprint(people.bp)
    app.register_blueprint(field.bp)
    app.register_blueprint(certificates.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(open_data.bp)
    app.register_blueprint(due.bp)
    app.register_blueprint(campaigns.bp)
    app.register_blueprint(stock.bp)
    app.register_blueprint(channels.bp)
    app.register_blueprint(corrections.bp)
    app.register_blueprint(privacy.bp)
    app.register_blueprint(v2.bp)
    app.register_blueprint(apidoc.bp)
    from cowin_kit.api.v2_docs import V2_DOCS

    apidoc.document_endpoints(app, V2_DOCS)
