"""Translation set-up. Every user-facing string goes through ``_`` (or ``lazy_gettext``
for strings defined at import time); the catalogs live in cowin_kit/locales/."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, has_request_context, request
from flask_babel import Babel, gettext, lazy_gettext, ngettext

LOCALES_DIR = Path(__file__).parent / "locales"

_ = gettext
__all__ = ["_", "gettext", "lazy_gettext", "ngettext", "init_app", "select_locale"]


def select_locale() -> str:
    """The best of the pack's locales for this request (Accept-Language), else the default."""
    from cowin_kit.config.runtime import offered_locales

    offered, default = offered_locales()
    if not has_request_context():
        return default
    explicit = request.args.get("lang")
    if explicit in offered:
        return explicit
    return request.accept_languages.best_match(offered) or default


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale,
          default_translation_directories=str(LOCALES_DIR))
