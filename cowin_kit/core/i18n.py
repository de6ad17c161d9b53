"""Translation set-up. Every user-facing string goes through ``_`` (or ``lazy_gettext``
for strings defined at import time); the catalogs live in cowin_kit/locales/."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Protocol

from babel import support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_babel import Babel, Domain, get_locale, gettext, lazy_gettext, ngettext, pgettext

from cowin_kit.core.durations import Duration

LOCALES_DIR = Path(__file__).parent.parent / "locales"

_ = gettext
__all__ = ["_", "gettext", "lazy_gettext", "ngettext", "pgettext", "init_app",
           "select_locale", "plugin_domain"]


class PackSource(Protocol):
    """Where this module learns the installed pack's languages and translations (given to
    :func:`init_app` by the app factory: cowin_kit.config.runtime)."""

    def offered_locales(self) -> tuple[list[str], str]: ...

    def active_pack(self) -> Any: ...


def _pack_source() -> PackSource:
    return current_app.extensions["cowin_kit.core.i18n"]


def select_locale() -> str:
    """The best of the pack's locales for this request (Accept-Language), else the default."""
    offered, default = _pack_source().offered_locales()
    if not has_request_context():
        return default
    explicit = request.args.get("lang")
    if explicit in offered:
        return explicit
    return request.accept_languages.best_match(offered) or default


class PackDomain(Domain):
    """The kit's catalogs with the installed pack's own translations (pack
    ``locales/<lang>.po``) laid over them: a country can word things its own way."""

    def get_translations(self):
        base = super().get_translations()
        if not has_app_context():
            return base
        try:
            pack = _pack_source().active_pack()
        except Exception:  # no pack or no database yet: the kit's own words
            return base
        locale = str(get_locale())
        po_text = pack.translations.get(locale)
        if not po_text:
            return base
        cache = current_app.extensions.setdefault("cowin_kit.pack_translations", {})
        key = (locale, pack.content_hash)
        if key not in cache:
            merged = support.Translations()
            merged.merge(base)
            merged.merge(_translations_from_po(po_text, locale))
            if hasattr(base, "plural"):
                merged.plural = base.plural
            cache[key] = merged
        return cache[key]


def _translations_from_po(po_text: str, locale: str) -> support.Translations:
    catalog = read_po(io.StringIO(po_text), locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return support.Translations(fp=buffer)


def init_app(app: Flask, pack_source: PackSource) -> None:
    app.extensions["cowin_kit.core.i18n"] = pack_source
    babel = Babel(app, locale_selector=select_locale,
                  default_translation_directories=str(LOCALES_DIR))
    babel.__dict__["domain_instance"] = PackDomain()


_plugin_domains: dict[tuple[str, str], Domain] = {}


def plugin_domain(directory: Path | None, domain: str) -> Domain:
    """A plugin's own Babel domain: its catalogs ``<directory>/<lang>/LC_MESSAGES/<domain>.mo``,
    chosen by the same locale as the kit's (see cowin_kit.plugins)."""
    key = (str(directory or ""), domain)
    if key not in _plugin_domains:
        _plugin_domains[key] = Domain(
            translation_directories=[str(directory)] if directory else [], domain=domain)
    return _plugin_domains[key]


def duration_text(duration: Duration) -> str:
    """A pack duration (``6w``, ``9m``, ``16y``) in the request's language: "6 weeks"."""
    n = duration.amount
    if duration.unit == "d":
        return ngettext("%(num)d day", "%(num)d days", n)
    if duration.unit == "w":
        return ngettext("%(num)d week", "%(num)d weeks", n)
    if duration.unit == "m":
        return ngettext("%(num)d month", "%(num)d months", n)
    return ngettext("%(num)d year", "%(num)d years", n)
