"""What plugins provide and are described by (part of :mod:`cowin_kit.plugins`, which
re-exports the public names): the :class:`Plugin` an entry point names, and the objects a
plugin registers: ID validators, identity providers, exporters, certificate formats, and
USSD/SMS channel gateways."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from sqlalchemy.orm import Session

from cowin_kit.core.setting import Setting

API_VERSION = 1
ENTRY_POINT_GROUP = "cowin_kit.plugins"

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


# --- what plugins provide -----------------------------------------------------------------

#: An ID validator: takes the raw number, returns it normalised, raises ValueError with a
#: human message when it is not valid. Packs use it as ``validator: plugin:<name>``.
IdValidator = Callable[[str], str]


@dataclass(frozen=True)
class IdentityRecord:
    """What a national ID system knows about a person (all optional but the number)."""

    id_number: str
    name: str = ""
    birth_year: int | None = None
    birth_date: date | None = None
    gender: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


class IdentityProvider(Protocol):
    def lookup(self, id_type: str, id_number: str) -> IdentityRecord | None:
        """The person holding ``id_number`` (of the pack's ``id_type``), or None if unknown.
        Raise an exception when the system cannot be reached."""


class Exporter(Protocol):
    def __call__(self, session: Session, *, start: date, end: date) -> str:
        """Export what happened from ``start`` to ``end`` (both included) and return a
        one-line summary. Run by ``cowin-kit export NAME --from START --to END``."""


@dataclass(frozen=True)
class CertificateFormat:
    """An extra certificate format, produced by the issuing code for every certificate.

    ``produce(record, certificate_id=...)`` gets the certificate's core data set (a WHO
    DDCC:VS-like ``cowin_kit.certificates.record`` object, read-only) and returns text,
    handed to ``certificate_issued`` receivers as ``documents[name]``."""

    name: str
    produce: Callable[..., str]
    media_type: str = "text/plain"


@dataclass(frozen=True)
class GatewayRequest:
    """One callback of a USSD or SMS gateway, as its adapter reads it.

    :param session_id: the gateway's USSD session id ("" for an SMS)
    :param phone: the caller's number as the gateway gives it (the kit normalises it)
    :param network: the mobile network's code ("" when the gateway gives none); checked
        against the ``CHANNELS_ALLOWED_NETWORKS`` setting
    :param answer: USSD: the newest answer the person typed, None on the session's first
        request; SMS: the message's text
    :param step_key: identifies this step of the session: the same key again is a replay
        (answered with the same screen, nothing done twice). Gateways that send every
        answer so far (``1*2*3``) use that text
    :param previous_key: the step key this step follows (None when the gateway cannot
        tell): a step that does not follow the session's last one is refused as stale
    :param message_id: SMS: the gateway's id of the inbound message ("" if none); the same
        id twice is handled once
    :param service_code: the USSD code dialled (``*384*123#``), informative
    """

    session_id: str
    phone: str
    network: str = ""
    answer: str | None = None
    step_key: str = ""
    previous_key: str | None = None
    message_id: str = ""
    service_code: str = ""


@dataclass(frozen=True)
class DeliveryReport:
    """A gateway's report on an outbound message: ``message_id`` is what the notifier's
    ``send`` returned for it; ``status`` one of ``delivered``, ``failed``, ``sent``
    (accepted by the network, not yet delivered); ``reason`` the gateway's words."""

    message_id: str
    status: str
    reason: str = ""


DELIVERY_STATUSES = ("delivered", "failed", "sent")


class ChannelGateway:
    """The adapter of one USSD/SMS gateway: how its callbacks look and how it wants its
    answers. Subclass it and register an instance with
    ``context.register_channel_gateway(name, gateway)``; the kit then serves
    ``POST /api/v1/channels/ussd/<name>``, ``/sms/<name>`` and ``/delivery/<name>``.

    Every method gets the Flask request; ``secret`` is the ``CHANNELS_SECRET`` setting.
    A method that cannot read a request raises ``ValueError`` (answered 400).

    Screen limits (characters of the screen's text, without the ``CON ``/``END ``
    marker): ``gsm_limit`` for text written in the GSM 03.38 alphabet (an extension
    character such as ``{`` or ``€`` counts twice), ``ucs2_limit`` for any other text
    (Hindi, Arabic, Ukrainian...: the gateway sends it as UCS-2, two bytes a character).
    """

    gsm_limit: int = 182
    ucs2_limit: int = 80

    def authenticate(self, request: Any, secret: str) -> bool:
        """Whether the callback comes from the gateway (a signature or shared secret)."""
        raise NotImplementedError

    def parse_ussd(self, request: Any) -> GatewayRequest:
        raise NotImplementedError

    def render_ussd(self, text: str, *, end: bool) -> tuple[str, str]:
        """The answer's (body, content type) for a screen; ``end`` closes the session."""
        raise NotImplementedError

    def parse_sms(self, request: Any) -> GatewayRequest:
        raise NotImplementedError

    def parse_delivery(self, request: Any) -> DeliveryReport:
        raise NotImplementedError


@dataclass(frozen=True)
class Plugin:
    """What an entry point names.

    :param register: called once per start with a :class:`PluginContext`
    :param settings: the plugin's settings (:class:`Setting`); every key must start with
        the plugin's prefix (name upper-cased, ``-`` as ``_``, then ``_``: plugin
        ``sms-http`` declares ``SMS_HTTP_URL``), read like any setting from
        ``COWIN_KIT_SMS_HTTP_URL`` or the instance config file; unknown keys stay errors
    :param migrations: folder of Alembic revision files, applied by ``cowin-kit db upgrade``
        after the kit's own, tracked in the table ``alembic_version_<prefix lower-case>``
    :param translations: folder of ``<lang>/LC_MESSAGES/<domain>.mo`` catalogs
    :param translation_domain: the Babel domain (default: the prefix in lower case, e.g.
        ``sms_http``)
    """

    # PluginContext is cowin_kit.plugins.loading's (not imported: loading imports this module)
    register: Callable[["PluginContext"], None]
    settings: Sequence[Setting] = ()
    migrations: str | Path | None = None
    translations: str | Path | None = None
    translation_domain: str | None = None


def setting_prefix(name: str) -> str:
    return name.upper().replace("-", "_") + "_"
