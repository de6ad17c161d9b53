"""The offline-first field app (issue 15), served at /field/.

What the server does here is small: it renders the app shell once (the HTML the service
worker keeps), the web app manifest, the service worker (its cache name is a hash of every
file it keeps, so a new release replaces the old cache), and the app's words per pack
language (``/field/i18n/<locale>.json``, from the Babel catalogs: the words are marked in
``cowin_kit.web.field.messages``). Everything else happens in the browser: plain ES
modules in ``cowin_kit/web/static/field/`` (no build step, no CDN) that talk to the staff
API (``/api/v1/staff/sign-in``) and the field sync API (``/api/v1/field/...``). See
docs/field-app.md."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import phonenumbers
from flask import Response, abort, current_app, render_template, request, url_for
from flask_babel import force_locale, get_translations

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.i18n import lazy_gettext
from cowin_kit.web import core, ui
from cowin_kit.web.field import messages

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "field"
# The files the service worker keeps besides the shell, the manifest and the words.
APP_FILES = ("app.js", "store.js", "api.js", "verify.js", "i18n.js", "field.css",
             "icon.svg", "icon-192.png", "icon-512.png")

bp = ui.make_blueprint("field", __name__, url_prefix="/field", static_folder=str(STATIC_DIR),
                       static_url_path="/static")
core.register_staff_link("dose.record", "field.shell", lazy_gettext("Field app (offline)"))


def _locales() -> tuple[list[str], str]:
    return ui.offered_locales()


def _calling_code() -> int:
    try:
        return phonenumbers.country_code_for_region(active_pack().document["phone_region"])
    except Exception:  # no pack yet
        return 0


def cache_version() -> str:
    """A hash of everything the service worker keeps (files, words, pack languages): a
    change gives a new cache name, and the new worker drops the old caches."""
    cache = current_app.extensions.setdefault("cowin_kit.field", {})
    offered, default = _locales()
    key = (tuple(offered), default)
    if cache.get("key") != key:
        digest = hashlib.sha256(repr(key).encode())
        for name in APP_FILES:
            digest.update((STATIC_DIR / name).read_bytes())
        for template in ("shell.html", "sw.js"):
            source = current_app.jinja_env.loader.get_source(  # type: ignore[union-attr]
                current_app.jinja_env, f"web/field/{template}")[0]
            digest.update(source.encode())
        for locale in offered:
            digest.update(json.dumps(words(locale), sort_keys=True).encode())
        cache.update(key=key, version=digest.hexdigest()[:16])
    return cache["version"]


def words(locale: str) -> dict:
    """The app's words in ``locale``: {"locale", "dir", "plural": [form index of n for n
    in 0..199], "messages": {key: text | [plural forms]}}. For n >= 200 the app uses the
    index of 100 + n % 100 (true of the kit's languages' CLDR rules for every n but exact
    millions, which French and Spanish name with a form of their own — counts the field
    app never shows)."""
    with force_locale(locale):
        translations = get_translations()
        index = [translations.plural(n) if hasattr(translations, "plural") else int(n != 1)
                 for n in range(200)]
        first_n: dict[int, int] = {}
        for n in [*range(200), 1_000_000]:  # a million: CLDR's "many" of fr, es, it, pt
            form = index[n] if n < 200 else (translations.plural(n)
                                             if hasattr(translations, "plural") else 1)
            first_n.setdefault(form, n)
        texts: dict[str, object] = {}
        for key, message in messages.MESSAGES.items():
            if isinstance(message, tuple):
                texts[key] = [translations.ngettext(message[0], message[1], first_n[form])
                              for form in range(max(first_n) + 1)]
            else:
                texts[key] = translations.gettext(message)
        direction = "rtl" if ui.page_locale().text_direction == "rtl" else "ltr"
    return {"locale": locale, "dir": direction, "plural": index, "messages": texts}


@bp.get("/")
def shell():
    offered, default = _locales()
    return ui.render("web/field/shell.html", offered=offered, default_locale=default,
                     calling_code=_calling_code(), version=cache_version(),
                     api_base=request.script_root + "/api/v1/",
                     names={code: ui.locale_name(code) for code in offered})


@bp.get("/manifest.webmanifest")
def manifest():
    offered, default = _locales()
    with force_locale(default):
        name = str(messages.translated("app_name"))
    body = {
        "name": f"{name} · {ui.site_name()}", "short_name": name,
        "start_url": url_for("field.shell"), "scope": url_for("field.shell"),
        "display": "standalone", "orientation": "portrait",
        "background_color": "#ffffff", "theme_color": "#1d4f91", "lang": default,
        "icons": [
            {"src": url_for("field.static", filename="icon-192.png"), "sizes": "192x192",
             "type": "image/png", "purpose": "any"},
            {"src": url_for("field.static", filename="icon-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "any maskable"},
            {"src": url_for("field.static", filename="icon.svg"), "sizes": "any",
             "type": "image/svg+xml"},
        ],
    }
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


@bp.get("/sw.js")
def service_worker():
    offered, _default = _locales()
    files = [url_for("field.shell"), url_for("field.manifest")]
    files += [url_for("field.static", filename=name) for name in APP_FILES]
    files += [url_for("field.catalog", locale=code) for code in offered]
    body = render_template("web/field/sw.js", version=cache_version(),
                           files=json.dumps(files), shell=json.dumps(url_for("field.shell")))
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = url_for("field.shell")
    response.cache_control.no_cache = True
    return response


@bp.get("/i18n/<locale>.json")
def catalog(locale: str):
    offered, _default = _locales()
    if locale not in offered:
        abort(404)
    return Response(json.dumps(words(locale), ensure_ascii=False),
                    mimetype="application/json")
