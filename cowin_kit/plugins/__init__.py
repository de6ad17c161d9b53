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

The API is one package; its modules by concern (import from ``cowin_kit.plugins`` itself:
the modules' layout is not part of the API):

- ``interfaces``: :class:`Plugin` and what plugins provide (identity records and
  providers, exporters, certificate formats, channel gateways);
- ``hooks``: :data:`HOOKS` and their firing after commit (:func:`queue_hook`, :func:`fire`);
- ``registry``: what the enabled plugins registered, per app;
- ``loading``: entry points, :class:`PluginContext`, loading at start;
- ``lookups``: what the kit asks of the enabled plugins;
- ``http_client``: :func:`http_request` for outbound calls.
"""

from __future__ import annotations

import logging

# Every public name of the modules is importable from here (plugins import only from here).
from cowin_kit.core.partitioning import dose_reference
from cowin_kit.core.setting import Setting, SettingsError
from cowin_kit.plugins.hooks import HOOKS, fire, queue_hook, wants
from cowin_kit.plugins.http_client import (
    RETRY_STATUSES, HttpError, HttpResponse, http_request,
)
from cowin_kit.plugins.interfaces import (
    API_VERSION, DELIVERY_STATUSES, ENTRY_POINT_GROUP, CertificateFormat, ChannelGateway,
    DeliveryReport, Exporter, GatewayRequest, IdentityProvider, IdentityRecord, IdValidator,
    Plugin, setting_prefix,
)
from cowin_kit.plugins.loading import (
    PluginContext, init_app, installed_plugins, load_plugins, plugin_settings, resolve,
)
from cowin_kit.plugins.lookups import (
    certificate_formats, channel_gateway, channel_gateways, exporters, has_identity_providers,
    id_validator, identity_lookup, notifier_factory, pdf_template, produce_documents,
    register_channel_gateway, register_id_validator, render_pdf,
)
from cowin_kit.plugins.registry import (
    LoadedPlugin, PluginRegistry, current_registry, enabled_plugins,
)

log = logging.getLogger("cowin_kit.plugins")

__all__ = [
    "API_VERSION", "ENTRY_POINT_GROUP", "HOOKS", "Plugin", "PluginContext", "Setting",
    "IdentityRecord", "IdentityProvider", "Exporter", "CertificateFormat",
    "register_id_validator", "id_validator", "identity_lookup", "has_identity_providers",
    "exporters", "certificate_formats", "pdf_template", "wants", "queue_hook", "fire", "enabled_plugins",
    "installed_plugins", "http_request", "HttpResponse", "HttpError",
    "ChannelGateway", "GatewayRequest", "DeliveryReport", "register_channel_gateway",
    "channel_gateway", "channel_gateways", "dose_reference",
]
