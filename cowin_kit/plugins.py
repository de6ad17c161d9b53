"""The public plugin API of cowin-kit: the one module integrators import.

A plugin is an installed distribution that exposes an entry point in the group
``cowin_kit.plugins``::

    [options.entry_points]
    cowin_kit.plugins =
        sms-http = cowin_kit_sms_http:plugin

The entry point names a :class:`Plugin` (or a plain function taking a
:class:`PluginContext`, for a plugin with no settings, migrations or translations).
Installed plugins do nothing until enabled, in order, by the setting ``PLUGINS``
(``COWIN_KIT_PLUGINS=sms-http,fhir-export``); an enabled name that no installed
distribution provides stops the start with an error naming it.

At start (``create_app`` and every ``cowin-kit`` command) each enabled plugin's
``register(context)`` runs once, in the order of ``PLUGINS``, and registers what it adds
through the context: ID validators, identity providers, notifiers, certificate formats and
a PDF template, exporters, Flask blueprints, click commands, and hook receivers.

Everything documented here (the names in ``__all__``) is stable: it changes only with
``API_VERSION``. Anything else in cowin_kit is internal. See docs/plugins.md.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPException, HTTPMessage
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Mapping, Protocol, Sequence

from sqlalchemy import event
from sqlalchemy.orm import Session

from cowin_kit.core.setting import Setting, SettingsError
from cowin_kit.core.i18n import plugin_domain

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Blueprint, Flask

__all__ = [
    "API_VERSION", "ENTRY_POINT_GROUP", "HOOKS", "Plugin", "PluginContext", "Setting",
    "IdentityRecord", "IdentityProvider", "Exporter", "CertificateFormat",
    "register_id_validator", "id_validator", "identity_lookup", "has_identity_providers",
    "exporters", "certificate_formats", "pdf_template", "wants", "queue_hook", "fire", "enabled_plugins",
    "installed_plugins", "http_request", "HttpResponse", "HttpError",
    "ChannelGateway", "GatewayRequest", "DeliveryReport", "register_channel_gateway",
    "channel_gateway", "channel_gateways",
]

API_VERSION = 1
ENTRY_POINT_GROUP = "cowin_kit.plugins"

log = logging.getLogger("cowin_kit.plugins")

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


# --- hooks ----------------------------------------------------------------------------------
#
# Every hook is called with keyword arguments only, after the transaction that made the
# change has committed (never for a change that was rolled back). Receivers must accept
# ``**_`` so that arguments added later do not break them. A receiver that raises is logged
# with its plugin's name and skipped: the request that caused the event still succeeds.
# Receivers run in the request's thread; slow work (network calls) belongs in a queue of the
# plugin's own, drained by a command (see the fhir-export example).

HOOKS: dict[str, str] = {
    "beneficiary_registered": """A person was registered (online, as a walk-in by staff,
    or by a health worker; not once per row of a bulk import).

    :param reference_id: the 14-digit beneficiary reference ID (str)
    :param id_type: code of the photo-ID type in the country pack (str; "" for a child
        registered without an ID document); the ID number is never passed
    :param birth_year: year of birth (int)
    :param gender: gender code of the pack (str)
    :param locale: language of the account (str)
    """,
    "appointment_booked": """An appointment was booked; called once per person booked.

    :param appointment_id: id of the appointment (int)
    :param booking_id: UUID shared by the people booked together (str)
    :param reference_id: the person's beneficiary reference ID (str)
    :param dose_number: the dose the appointment is for (int)
    :param session_id: UUID of the vaccination session (str)
    :param session_date: the day of the session (datetime.date)
    :param facility_code: code of the facility (str)
    """,
    "appointment_cancelled": """An appointment was cancelled by the citizen, or because its
    session was cancelled; called once per appointment.

    :param appointment_id: id of the appointment (int)
    :param booking_id: UUID of the booking (str)
    :param reference_id: the person's beneficiary reference ID (str)
    :param dose_number: the dose the appointment was for (int)
    :param session_id: UUID of the vaccination session (str)
    :param reason: ``"citizen"`` or ``"session_cancelled"`` (str)
    """,
    "dose_recorded": """A vaccinator recorded a dose (not called when the same dose is sent
    again and nothing new was written, nor for doses loaded by a bulk import).

    :param dose_id: id of the dose (int)
    :param reference_id: the person's beneficiary reference ID (str)
    :param dose_number: 1 for the first dose, ... (int)
    :param vaccine: code of the vaccine product in the pack (str)
    :param lot: lot (batch) number (str)
    :param administered_at: when it was given (timezone-aware datetime, UTC)
    :param facility_code: code of the facility (str)
    """,
    "certificate_issued": """A certificate was issued for a dose (by the worker's outbox).

    :param certificate_id: the certificate's id, its HCID (str)
    :param dose_id: id of the dose it certifies (int)
    :param reference_id: the person's beneficiary reference ID (str)
    :param provisional: True while doses of the schedule are still due (bool)
    :param formats: the built-in formats it carries, e.g. ``["dcc", "shc"]`` (list[str])
    :param documents: name -> text produced by the plugins' certificate formats
        (dict[str, str])
    """,
    "aefi_reported": """An adverse event following immunisation was reported.

    :param report_id: id of the report (int)
    :param dose_id: id of the dose it follows (int)
    :param seriousness: seriousness code (str)
    :param outcome: outcome code (str)
    :param onset_at: when the symptoms began (timezone-aware datetime)
    """,
    "aefi_alert_raised": """A serious AEFI raised an alert to its area (cowin_kit.safety):
    the kit lists it on the safety dashboard and sends an SMS to the nearest AEFI
    investigators of the area with a mobile number; a plugin may forward it to another
    channel of the deployment's.

    :param alert_id: id of the alert (int)
    :param report_id: id of the report (int)
    :param location_code: code of the area alerted (the pack's alert level), None for a
        dose without a facility (national) (str | None)
    :param criteria: the seriousness criteria, e.g. ``["hospitalization"]`` (list[str])
    """,
    "aefi_updated": """A step of an AEFI investigation was taken (cowin_kit.safety).

    :param report_id: id of the report (int)
    :param status: ``"open"`` or ``"closed"`` (str)
    :param stage: the stage the report is in now (str)
    :param causality: WHO causality category given so far, e.g. ``"A1"``, or None (str)
    """,
}


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

    register: Callable[["PluginContext"], None]
    settings: Sequence[Setting] = ()
    migrations: str | Path | None = None
    translations: str | Path | None = None
    translation_domain: str | None = None


def setting_prefix(name: str) -> str:
    return name.upper().replace("-", "_") + "_"


# --- the context a plugin registers through -----------------------------------------------

class PluginContext:
    """Handed to ``Plugin.register``; everything a plugin adds goes through it."""

    def __init__(self, registry: "PluginRegistry", loaded: "LoadedPlugin",
                 settings: Mapping[str, Any]):
        self._registry = registry
        self._loaded = loaded
        self.name = loaded.name
        #: the plugin's own settings, keys without the prefix (``settings["URL"]``)
        self.settings: Mapping[str, Any] = {
            key[len(loaded.prefix):]: settings[key]
            for key in (s.key for s in loaded.plugin.settings) if key in settings}
        #: all settings of the instance, read-only
        self.app_settings = settings

    def _claim(self, kind: str, table: dict[str, Any], name: str, value: Any) -> None:
        if name in table:
            owner = self._registry.owners.get((kind, name))
            raise SettingsError(f"PLUGINS: plugin {self.name!r} registers the {kind} {name!r}, "
                                f"already registered by {owner!r}")
        table[name] = value
        self._registry.owners[(kind, name)] = self.name

    def register_id_validator(self, name: str, validator: IdValidator) -> None:
        """Packs may then use ``validator: plugin:<name>`` for an ID type."""
        self._claim("ID validator", self._registry.id_validators, name, validator)
        _global_id_validators[name] = validator

    def register_identity_provider(self, name: str, provider: IdentityProvider) -> None:
        """A national ID system, asked in order by :func:`identity_lookup`."""
        self._claim("identity provider", self._registry.identity_providers, name, provider)

    def register_notifier(self, name: str, factory: Callable[[str], Any]) -> None:
        """``NOTIFIER=<name>[:argument]`` then sends messages through ``factory(argument)``,
        an object with ``send(message)`` (message: to, template, locale, text). ``send``
        may raise: the kit logs it and the citizen's request still succeeds. ``send`` may
        return the gateway's id of the message (a str): a delivery report naming that id
        (``ChannelGateway.parse_delivery``) then updates the message's delivery status."""
        self._claim("notifier", self._registry.notifiers, name, factory)

    def register_certificate_format(self, name: str, produce: Callable[..., str],
                                    media_type: str = "text/plain") -> None:
        """See :class:`CertificateFormat`."""
        self._claim("certificate format", self._registry.certificate_formats, name,
                    CertificateFormat(name, produce, media_type))

    def register_pdf_template(self, render: Callable[[Any], bytes]) -> None:
        """Replace the certificate PDF: ``render(view) -> bytes`` where ``view`` is the
        ``CertificateView`` (locale, rtl, issuer, title, status, person rows, vaccination
        rows, QR codes as (caption, PNG image), labels). The last enabled plugin wins."""
        self._registry.pdf_template = render
        self._registry.owners[("pdf template", "")] = self.name

    def register_channel_gateway(self, name: str, gateway: ChannelGateway) -> None:
        """A USSD/SMS gateway adapter, served at ``/api/v1/channels/{ussd,sms,delivery}/
        <name>`` (see :class:`ChannelGateway` and docs/channels.md)."""
        if not isinstance(gateway, ChannelGateway):
            raise SettingsError(f"PLUGINS: plugin {self.name!r}: a channel gateway must be "
                                f"a cowin_kit.plugins.ChannelGateway")
        if name in _global_channel_gateways:
            raise SettingsError(f"PLUGINS: plugin {self.name!r} registers the channel "
                                f"gateway {name!r}, which the kit has built in")
        self._claim("channel gateway", self._registry.channel_gateways, name, gateway)

    def register_exporter(self, name: str, exporter: Exporter) -> None:
        """``cowin-kit export <name> --from DAY --to DAY`` runs ``exporter``."""
        self._claim("exporter", self._registry.exporters, name, exporter)

    def register_blueprint(self, blueprint: "Blueprint", **options: Any) -> None:
        """Registered on the app as ``app.register_blueprint(blueprint, **options)``."""
        self._registry.blueprints.append((self.name, blueprint, options))

    def register_command(self, command: "click.Command") -> None:
        """Added to the ``cowin-kit`` command group (a name the kit uses is an error)."""
        self._claim("command", self._registry.commands, command.name or "", command)

    def connect(self, hook: str, receiver: Callable[..., Any]) -> None:
        """Call ``receiver(**arguments)`` after each commit that fired ``hook`` (see HOOKS)."""
        if hook not in HOOKS:
            raise SettingsError(f"PLUGINS: plugin {self.name!r} connects to the unknown hook "
                                f"{hook!r} (hooks: {', '.join(HOOKS)})")
        self._registry.hooks.setdefault(hook, []).append((self.name, receiver))

    def gettext(self, message: str, **variables: Any) -> str:
        """``message`` translated in the plugin's own Babel domain (request locale)."""
        return self._domain().gettext(message, **variables)

    def lazy_gettext(self, message: str, **variables: Any) -> Any:
        return self._domain().lazy_gettext(message, **variables)

    def _domain(self) -> Any:
        return plugin_domain(self._loaded.translations_dir, self._loaded.translation_domain)


# --- loading ------------------------------------------------------------------------------

@dataclass
class LoadedPlugin:
    name: str
    distribution: str
    version: str
    plugin: Plugin

    @property
    def prefix(self) -> str:
        return setting_prefix(self.name)

    @property
    def version_table(self) -> str:
        return "alembic_version_" + self.prefix.rstrip("_").lower()

    @property
    def migrations_dir(self) -> Path | None:
        return Path(self.plugin.migrations) if self.plugin.migrations else None

    @property
    def translations_dir(self) -> Path | None:
        return Path(self.plugin.translations) if self.plugin.translations else None

    @property
    def translation_domain(self) -> str:
        return self.plugin.translation_domain or self.prefix.rstrip("_").lower()


@dataclass
class PluginRegistry:
    """What the enabled plugins registered, for one app (``app.extensions``)."""

    plugins: list[LoadedPlugin] = field(default_factory=list)
    id_validators: dict[str, IdValidator] = field(default_factory=dict)
    identity_providers: dict[str, IdentityProvider] = field(default_factory=dict)
    notifiers: dict[str, Callable[[str], Any]] = field(default_factory=dict)
    certificate_formats: dict[str, CertificateFormat] = field(default_factory=dict)
    pdf_template: Callable[[Any], bytes] | None = None
    exporters: dict[str, Exporter] = field(default_factory=dict)
    channel_gateways: dict[str, ChannelGateway] = field(default_factory=dict)
    blueprints: list[tuple[str, Any, dict[str, Any]]] = field(default_factory=list)
    commands: dict[str, Any] = field(default_factory=dict)
    hooks: dict[str, list[tuple[str, Callable[..., Any]]]] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)


def installed_plugins() -> dict[str, metadata.EntryPoint]:
    """Every plugin installed in this environment: name -> entry point (not loaded)."""
    found: dict[str, metadata.EntryPoint] = {}
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        other = found.get(entry_point.name)
        if other is not None and other.value != entry_point.value:
            raise SettingsError(
                f"PLUGINS: two installed distributions provide the plugin {entry_point.name!r} "
                f"({_dist_name(other)} and {_dist_name(entry_point)})")
        found[entry_point.name] = entry_point
    return found


def _dist_name(entry_point: metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return dist.metadata["Name"] if dist is not None else "?"


def resolve(names: Sequence[str]) -> list[LoadedPlugin]:
    """Import the enabled plugins, in order. Unknown or broken ones are a SettingsError."""
    installed = installed_plugins()
    problems = []
    loaded: list[LoadedPlugin] = []
    seen = set()
    for name in names:
        if name in seen:
            problems.append(f"PLUGINS: {name!r} is enabled twice")
            continue
        seen.add(name)
        entry_point = installed.get(name)
        if entry_point is None:
            problems.append(f"PLUGINS: no installed plugin is named {name!r} (installed: "
                            f"{', '.join(sorted(installed)) or 'none'})")
            continue
        if not _NAME.match(name):
            problems.append(f"PLUGINS: {name!r} is not a valid plugin name (lower-case "
                            f"letters, digits and dashes)")
            continue
        try:
            target = entry_point.load()
        except Exception as exc:  # an import error in the plugin: say which plugin
            problems.append(f"PLUGINS: plugin {name!r} cannot be imported: "
                            f"{type(exc).__name__}: {exc}")
            continue
        plugin = target if isinstance(target, Plugin) else (
            Plugin(register=target) if callable(target) else None)
        if plugin is None:
            problems.append(f"PLUGINS: the entry point of {name!r} names neither a Plugin "
                            f"nor a function")
            continue
        prefix = setting_prefix(name)
        for setting in plugin.settings:
            if not setting.key.startswith(prefix):
                problems.append(f"PLUGINS: plugin {name!r} declares the setting "
                                f"{setting.key!r}; its settings must start with {prefix}")
        dist = entry_point.dist
        loaded.append(LoadedPlugin(
            name=name, distribution=dist.metadata["Name"] if dist is not None else "",
            version=dist.version if dist is not None else "", plugin=plugin))
    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
    return loaded


def plugin_settings(names: Sequence[str]) -> tuple[Setting, ...]:
    """The settings the enabled plugins declare (used by ``load_settings``)."""
    return tuple(setting for loaded in resolve(names) for setting in loaded.plugin.settings)


def load_plugins(settings: Mapping[str, Any]) -> PluginRegistry:
    """Run ``register`` of every plugin enabled by ``settings["PLUGINS"]``, in order."""
    registry = PluginRegistry()
    for loaded in resolve(settings.get("PLUGINS") or []):
        registry.plugins.append(loaded)
        context = PluginContext(registry, loaded, settings)
        try:
            loaded.plugin.register(context)
        except SettingsError:
            raise
        except Exception as exc:
            raise SettingsError(f"invalid settings:\n  PLUGINS: plugin {loaded.name!r} failed "
                                f"to register: {type(exc).__name__}: {exc}") from exc
    return registry


def init_app(app: "Flask") -> PluginRegistry:
    """Load the enabled plugins into ``app`` (called by ``create_app``)."""
    registry = load_plugins(app.config["COWIN_KIT"])
    app.extensions["cowin_kit.plugins"] = registry
    for name, blueprint, options in registry.blueprints:
        app.register_blueprint(blueprint, **options)
    if registry.plugins:
        log.info("plugins enabled: %s", ", ".join(p.name for p in registry.plugins))
    return registry


def current_registry() -> PluginRegistry | None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    return current_app.extensions.get("cowin_kit.plugins")


def enabled_plugins() -> list[LoadedPlugin]:
    """The plugins enabled in the current app, in order."""
    registry = current_registry()
    return list(registry.plugins) if registry else []


# --- lookups the kit makes ----------------------------------------------------------------

_global_id_validators: dict[str, IdValidator] = {}


def register_id_validator(name: str, validator: IdValidator) -> None:
    """Make ``validator`` usable in packs as ``validator: plugin:<name>`` in every app of the
    process (for code that runs without plugins, such as tests). Plugins use
    ``context.register_id_validator`` instead."""
    if name in _global_id_validators and _global_id_validators[name] is not validator:
        raise ValueError(f"an ID validator named {name!r} is already registered")
    _global_id_validators[name] = validator


def id_validator(name: str) -> IdValidator | None:
    registry = current_registry()
    if registry is not None and name in registry.id_validators:
        return registry.id_validators[name]
    return _global_id_validators.get(name)


def notifier_factory(name: str) -> Callable[[str], Any] | None:
    registry = current_registry()
    return registry.notifiers.get(name) if registry else None


def has_identity_providers() -> bool:
    registry = current_registry()
    return bool(registry and registry.identity_providers)


def identity_lookup(id_type: str, id_number: str) -> IdentityRecord | None:
    """Ask the enabled identity providers in order; the first record found wins."""
    registry = current_registry()
    for provider in (registry.identity_providers.values() if registry else ()):
        record = provider.lookup(id_type, id_number)
        if record is not None:
            return record
    return None


_global_channel_gateways: dict[str, ChannelGateway] = {}


def register_channel_gateway(name: str, gateway: ChannelGateway) -> None:
    """A gateway adapter for every app of the process (the kit's built-in ones; plugins
    use ``context.register_channel_gateway``)."""
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a valid gateway name")
    _global_channel_gateways[name] = gateway


def channel_gateway(name: str) -> ChannelGateway | None:
    """The adapter named ``name``: built in, or registered by an enabled plugin."""
    registry = current_registry()
    if registry is not None and name in registry.channel_gateways:
        return registry.channel_gateways[name]
    return _global_channel_gateways.get(name)


def channel_gateways() -> dict[str, ChannelGateway]:
    registry = current_registry()
    return {**_global_channel_gateways, **(registry.channel_gateways if registry else {})}


def exporters() -> dict[str, Exporter]:
    registry = current_registry()
    return dict(registry.exporters) if registry else {}


def certificate_formats() -> dict[str, CertificateFormat]:
    registry = current_registry()
    return dict(registry.certificate_formats) if registry else {}


def produce_documents(record: Any, *, certificate_id: str) -> dict[str, str]:
    """Every plugin certificate format's text for one certificate; a format that raises is
    logged and left out (the certificate itself is still issued)."""
    registry = current_registry()
    documents = {}
    for name, fmt in (registry.certificate_formats.items() if registry else ()):
        try:
            documents[name] = fmt.produce(record, certificate_id=certificate_id)
        except Exception:
            log.exception("plugin %s: certificate format %s failed",
                          registry.owners.get(("certificate format", name)), name)
    return documents


def pdf_template() -> Callable[[Any], bytes] | None:
    registry = current_registry()
    return registry.pdf_template if registry else None


def render_pdf(view: Any, built_in: Callable[[Any], bytes]) -> bytes:
    """The certificate PDF by the enabled plugin's template, or ``built_in`` when there is
    none or it fails (logged: the citizen still gets a certificate)."""
    template = pdf_template()
    if template is not None:
        try:
            return template(view)
        except Exception:
            log.exception("plugin %s: PDF template failed; the built-in one is used",
                          current_registry().owners.get(("pdf template", "")))
    return built_in(view)


# --- firing hooks after commit ------------------------------------------------------------

_PENDING = "cowin_kit.pending_hooks"


def wants(hook: str) -> bool:
    """Whether an enabled plugin receives ``hook`` (skip building its arguments if not)."""
    registry = current_registry()
    return bool(registry and registry.hooks.get(hook))


def queue_hook(session: Session, hook: str, **arguments: Any) -> None:
    """Fire ``hook`` with ``arguments`` once ``session`` commits; forget it on rollback.
    Services call this just before their commit (cheap when no plugin listens)."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}")
    registry = current_registry()
    if registry is None or not registry.hooks.get(hook):
        return
    if session.get_transaction() is None:
        session.begin()  # the queue lives exactly as long as this transaction
    session.info.setdefault(_PENDING, []).append((registry, hook, arguments))


def fire(hook: str, **arguments: Any) -> None:
    """Call the current app's receivers of ``hook`` now (for tests and for code that has
    no transaction); a receiver that raises is logged and skipped."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}")
    registry = current_registry()
    if registry is not None:
        _fire(registry, hook, **arguments)


def _fire(registry: PluginRegistry, hook: str, **arguments: Any) -> None:
    for plugin_name, receiver in registry.hooks.get(hook, ()):
        try:
            receiver(**arguments)
        except Exception:
            log.exception("plugin %s: receiver of %s failed", plugin_name, hook)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for registry, hook, arguments in pending or ():
        _fire(registry, hook, **arguments)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outer transaction ended without a commit
        session.info.pop(_PENDING, None)


# --- outbound HTTP ---------------------------------------------------------------------------

#: Answers worth another attempt (with ``retries``); any other error answer is final.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: HTTPMessage
    body: bytes
    url: str  # the one answered, after redirects within the origin


class HttpError(Exception):
    """The request failed: ``status`` is the final error answer's (None when no answer
    came: connection error or timeout), ``body`` its body, ``attempts`` how many were made,
    ``transient`` whether retrying later may help (network errors and RETRY_STATUSES)."""

    def __init__(self, reason: str, *, status: int | None = None, body: bytes = b"",
                 attempts: int = 1, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.status, self.body = reason, status, body
        self.attempts, self.transient = attempts, transient


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # http_request follows them itself, within the origin only


def _origin(url: str, allowed_hosts: Collection[str] | None) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise HttpError(f"not an http(s) URL: {url!r}")
    if parts.username is not None:
        raise HttpError("credentials belong in a header, not in the URL")
    if allowed_hosts is not None and host not in {h.lower() for h in allowed_hosts}:
        raise HttpError(f"host {host!r} is not in the allowed hosts")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise HttpError(f"bad port in {url!r}") from None
    return scheme, host, port


def http_request(method: str, url: str, *, headers: Mapping[str, str] | None = None,
                 body: bytes | None = None, timeout: float = 10.0, retries: int = 0,
                 backoff_seconds: float = 0.5, allowed_hosts: Collection[str] | None = None,
                 max_redirects: int = 5, ssl_context: ssl.SSLContext | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> HttpResponse:
    """Send one HTTP request to an external service, safely for the credentials in
    ``headers``: only http(s) URLs; redirects followed only within the URL's origin
    (scheme, host and port), so headers never reach another host and https never falls
    back to http; with ``allowed_hosts``, only those hosts. Each attempt has ``timeout``
    seconds; a connection error, timeout or an answer in RETRY_STATUSES is tried again up
    to ``retries`` times after ``backoff_seconds``, doubled each time. A 2xx answer is
    returned; anything else raises HttpError."""
    origin = _origin(url, allowed_hosts)
    handlers: list[Any] = [_NoRedirects()]
    if ssl_context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
    opener = urllib.request.build_opener(*handlers)
    attempt = 1
    while True:
        try:
            return _follow(opener, method.upper(), url, dict(headers or {}), body, timeout,
                           origin, allowed_hosts, max_redirects)
        except HttpError as exc:
            exc.attempts = attempt
            if not exc.transient or attempt > retries:
                raise
            delay = backoff_seconds * 2 ** (attempt - 1)
            log.warning("%s %s: attempt %d failed (%s); retrying in %.1fs", method.upper(),
                        urllib.parse.urlsplit(url).netloc, attempt, exc.reason, delay)
            sleep(delay)
            attempt += 1


def _follow(opener: urllib.request.OpenerDirector, method: str, url: str,
            headers: dict[str, str], body: bytes | None, timeout: float,
            origin: tuple[str, str, int], allowed_hosts: Collection[str] | None,
            max_redirects: int) -> HttpResponse:
    for _hop in range(max_redirects + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with opener.open(request, timeout=timeout) as answer:
                return HttpResponse(answer.status, answer.headers, answer.read(), url)
        except urllib.error.HTTPError as exc:
            with exc:
                status, answer_body, location = exc.code, exc.read(), exc.headers.get("Location")
        except (urllib.error.URLError, TimeoutError, ConnectionError, HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise HttpError(f"{type(exc).__name__}: {reason}", transient=True) from None
        if status not in _REDIRECTS or not location:
            raise HttpError(f"HTTP {status}", status=status, body=answer_body,
                            transient=status in RETRY_STATUSES)
        target = urllib.parse.urljoin(url, location)
        try:
            same = _origin(target, allowed_hosts) == origin
        except HttpError:
            same = False
        if not same:
            raise HttpError(f"HTTP {status}: redirect to another origin refused",
                            status=status, body=answer_body)
        if status in (301, 302, 303) and method not in ("GET", "HEAD"):
            method, body = "GET", None  # as browsers and urllib do
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        url = target
    raise HttpError(f"more than {max_redirects} redirects")
