"""Loading the enabled plugins (part of :mod:`cowin_kit.plugins`): the installed entry
points, their import in the order of ``PLUGINS``, and the :class:`PluginContext` each
plugin's ``register`` adds what it provides through."""

from __future__ import annotations

import logging
from importlib import metadata
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from cowin_kit.core.i18n import plugin_domain
from cowin_kit.core.setting import Setting, SettingsError
from cowin_kit.plugins.hooks import HOOKS
from cowin_kit.plugins.interfaces import (
    ENTRY_POINT_GROUP, _NAME, CertificateFormat, ChannelGateway, Exporter, IdentityProvider,
    IdValidator, Plugin, setting_prefix,
)
from cowin_kit.plugins.registry import (
    LoadedPlugin, PluginRegistry, _global_channel_gateways, _global_id_validators,
)

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Blueprint, Flask

log = logging.getLogger("cowin_kit.plugins")

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
