"""What the kit asks of the enabled plugins (part of :mod:`cowin_kit.plugins`): ID
validators, identity providers, notifiers, channel gateways, exporters, certificate
formats and the certificate PDF template, in the current app."""

from __future__ import annotations

import logging
from typing import Any, Callable

from cowin_kit.plugins.interfaces import (
    _NAME, CertificateFormat, ChannelGateway, Exporter, IdentityRecord, IdValidator,
)
from cowin_kit.plugins.registry import (
    _global_channel_gateways, _global_id_validators, current_registry,
)

log = logging.getLogger("cowin_kit.plugins")

# --- lookups the kit makes ----------------------------------------------------------------


def register_id_validator(name: str, validator: IdValidator) -> None:
    """Make ``validator`` usable in packs as ``validator: plugin:<name>`` in every app of the
    process (for code that runs without plugins, such as tests). Plugins use
    ``context.register_id_validator`` instead."""
    if name in _global_id_validators and _global_id_validators[name] is not validator:
        raise ValueError(f"an ID validator named {name!r} is already registered")
    _global_id_validators[name] = validator


def _registered(kind: str, process_wide: dict[str, Any], name: str) -> Any:
    """What an enabled plugin registered as ``name`` among its ``kind`` (a registry
    table), else what the process registered."""
    registry = current_registry()
    if registry is not None and name in getattr(registry, kind):
        return getattr(registry, kind)[name]
    return process_wide.get(name)


def id_validator(name: str) -> IdValidator | None:
    return _registered("id_validators", _global_id_validators, name)


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


def register_channel_gateway(name: str, gateway: ChannelGateway) -> None:
    """A gateway adapter for every app of the process (the kit's built-in ones; plugins
    use ``context.register_channel_gateway``)."""
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a valid gateway name")
    _global_channel_gateways[name] = gateway


def channel_gateway(name: str) -> ChannelGateway | None:
    """The adapter named ``name``: built in, or registered by an enabled plugin."""
    return _registered("channel_gateways", _global_channel_gateways, name)


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
