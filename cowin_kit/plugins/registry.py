"""What the enabled plugins registered, per app (part of :mod:`cowin_kit.plugins`): the
:class:`PluginRegistry` kept in ``app.extensions``, the plugins loaded into it, and the
process-wide tables of ID validators and channel gateways registered without a plugin."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cowin_kit.plugins.interfaces import (
    CertificateFormat, ChannelGateway, Exporter, IdentityProvider, IdValidator, Plugin,
    setting_prefix,
)

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


def current_registry() -> PluginRegistry | None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    return current_app.extensions.get("cowin_kit.plugins")


def enabled_plugins() -> list[LoadedPlugin]:
    """The plugins enabled in the current app, in order."""
    registry = current_registry()
    return list(registry.plugins) if registry else []


# Registered for every app of the process (lookups.register_id_validator,
# lookups.register_channel_gateway); an app's plugins add to them.
_global_id_validators: dict[str, IdValidator] = {}
_global_channel_gateways: dict[str, ChannelGateway] = {}
