"""The page foundation: blueprint factory (CSRF, security headers, error pages), form
loading and error display, locale selection, and the Jinja globals of every page.
See the docstring of ``cowin_kit.web`` for how page modules use it."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError
from flask import (
    Blueprint, Flask, Response, current_app, flash, has_request_context, render_template,
    request, session,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_currency, format_decimal
from flask_babel import get_locale, get_timezone, to_user_timezone
from marshmallow import Schema
from werkzeug.exceptions import HTTPException

from cowin_kit.core.errors import DomainError, Forbidden
from cowin_kit.core.i18n import gettext as _
from cowin_kit.config.runtime import active_pack, format_locale as _format_locale, \
    offered_locales as offered
from cowin_kit.core.validation import load

# Names of the blueprints made by make_blueprint: the page blueprints.
PAGE_BLUEPRINTS: set[str] = set()

CSRF_FIELD = "csrf_token"
LOCALE_COOKIE = "lang"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), geolocation=(), microphone=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


# --- CSRF --------------------------------------------------------------------------------

def csrf_token() -> str:
    """This browser session's CSRF token (created on first use)."""
    token = session.get("_csrf")
    if not token:
        token = session["_csrf"] = secrets.token_urlsafe(32)
    return token


def new_csrf_token() -> None:
    """A fresh token (after signing in or out)."""
    session["_csrf"] = secrets.token_urlsafe(32)


class CsrfFailed(Forbidden):
    status = 400
    code = "csrf_failed"


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    sent = request.form.get(CSRF_FIELD, "") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("_csrf", "")
    if not sent or not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise CsrfFailed(_("This form has expired or did not come from this site. Please "
                           "go back, reload the page and try again."))


# --- blueprints --------------------------------------------------------------------------

def make_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A page blueprint: CSRF-checked, with security headers and HTML error pages."""
    blueprint = Blueprint(name, import_name, **options)
    PAGE_BLUEPRINTS.add(name)
    blueprint.before_request(_check_csrf)
    blueprint.after_request(_page_headers)
    blueprint.register_error_handler(DomainError, _domain_error_page)
    blueprint.register_error_handler(HTTPException, _http_error_page)
    return blueprint


def _page_headers(response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    if request.endpoint and not request.endpoint.endswith(".static") \
            and not response.cache_control.public:  # the site's logo is public
        # Pages show personal data once signed in: never kept by shared caches.
        response.cache_control.private = True
        response.cache_control.no_store = True
        response.vary.add("Cookie")
    return response


def _domain_error_page(exc: DomainError):
    return render_template("web/error.html", message=str(exc.message), status=exc.status,
                           code=exc.code, fields=exc.fields), exc.status


def _http_error_page(exc: HTTPException):
    status = exc.code or 500
    messages = {
        404: _("This page does not exist."),
        405: _("This address cannot be used this way."),
        429: _("Too many requests in a short time. Please wait a little and try again."),
    }
    message = messages.get(status) or _("Something went wrong with this request.")
    response = Response(render_template("web/error.html", message=message, status=status,
                                        code=str(status), fields={}), status=status)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


# --- forms and errors --------------------------------------------------------------------

class FormState:
    """What a form page shows: the values sent back, field errors, and the status."""

    def __init__(self, values: Mapping[str, Any] | None = None):
        self.values: Mapping[str, Any] = values if values is not None else (
            request.form if request.method in UNSAFE_METHODS else {})
        self.errors: dict[str, list[str]] = {}
        self.status = 200

    def fail(self, exc: DomainError, field: str | None = None) -> None:
        """Show a domain error: its message at the top, its field messages by the fields.
        ``field``: where to show an error that names no field (e.g. a wrong OTP)."""
        self.status = exc.status
        self.errors = {name: [str(m) for m in messages]
                       for name, messages in (exc.fields or {}).items()}
        if field and not self.errors:
            self.errors[field] = [str(exc.message)]
        flash(str(exc.message), "error")

    def value(self, name: str, default: Any = "") -> Any:
        value = self.values.get(name, default)
        return default if value is None else value


def load_form(schema: Schema, fields: Iterable[str], *, lists: Iterable[str] = (),
              extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``request.form`` -> the schema's validated data, as the API loads JSON: only the
    named fields (``lists`` for multi-valued ones), empty ones left out."""
    data: dict[str, Any] = {}
    for name in fields:
        value = request.form.get(name, "")
        if isinstance(value, str):
            value = value.strip()
        if value != "":
            data[name] = value
    for name in lists:
        values = [v.strip() for v in request.form.getlist(name) if v.strip()]
        if values:
            data[name] = values
    data.update(extra or {})
    return load(schema, data)


def done(message: str) -> None:
    """A success message on the next page."""
    flash(message, "success")


def render(template: str, **context: Any) -> str:
    return render_template(template, **context)


def safe_next(target: str | None, default: str) -> str:
    """A local path to go back to (never another site)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


# --- locale ------------------------------------------------------------------------------

def offered_locales() -> tuple[list[str], str]:
    return offered()


# The locale a request gets depends only on the inputs below and on the pack's offered
# locales; resolving it (Accept-Language parsing and matching) cost about as much as a
# cached availability answer's other work, so each combination is resolved once.
_RESOLVED_LOCALES: dict[tuple, str] = {}
_RESOLVED_MAX = 4096


def _select_locale(fallback) -> str:
    if not has_request_context():
        return fallback()
    offered, default = offered_locales()
    environ = request.environ
    # Only what the request carries is parsed: no query string parse without "lang=", no
    # cookie parse or session opened without cookies (a cached answer needs neither).
    explicit = request.args.get("lang") if b"lang=" in request.query_string else None
    chosen = cookie = None
    if environ.get("HTTP_COOKIE"):
        cookie = request.cookies.get(LOCALE_COOKIE)
        if current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
            chosen = session.get("locale")
    key = (tuple(offered), default, explicit, chosen, cookie,
           environ.get("HTTP_ACCEPT_LANGUAGE"))
    found = _RESOLVED_LOCALES.get(key)
    if found is None:
        found = _resolve_locale(offered, key[2], key[3], key[4], fallback)
        if len(_RESOLVED_LOCALES) >= _RESOLVED_MAX:  # arbitrary headers cannot grow it
            _RESOLVED_LOCALES.clear()
        _RESOLVED_LOCALES[key] = found
    return found


def _resolve_locale(offered, explicit, chosen, cookie, fallback) -> str:
    """?lang=, else the signed-in person's choice, else the language cookie, else the
    fallback selector (Accept-Language, else the pack's default)."""
    if explicit in offered:
        return explicit
    for candidate in (chosen, cookie):
        if candidate in offered:
            return candidate
    return fallback()


def _pack_timezone() -> str:
    try:
        return active_pack().document["timezone"]
    except Exception:  # no pack yet
        return "UTC"


def page_locale() -> Locale:
    return get_locale() or Locale("en")


def page_lang() -> str:
    return str(page_locale()).replace("_", "-")


def page_dir() -> str:
    return "rtl" if page_locale().text_direction == "rtl" else "ltr"


def formats_locale() -> Locale:
    """The locale of this page's dates, numbers and money: its language in the pack's
    country (``en`` in India formats as ``en_IN``)."""
    language = str(page_locale())
    try:
        return _format_locale(language, active_pack().code)
    except Exception:  # no pack yet
        return _format_locale(language, None)


def format_day(value: Any, fmt: str = "medium") -> str:
    """A date (or the local date of a moment) in the page's locale; text (a partial date
    such as ``1945``) is shown as written."""
    if not value:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        value = to_user_timezone(value).date() if value.tzinfo else value.date()
    return format_date(value, fmt, locale=formats_locale())


def format_short_day(value: Any, skeleton: str = "MMMEd") -> str:
    """A date without its year, in the order and words of the page's locale: CLDR's
    skeleton ``MMMEd`` is "Wed, 9 Dec" in en_IN and "Wed, Dec 9" in en; ``MMMd`` without
    the weekday."""
    if not value:
        return ""
    return format_skeleton(skeleton, value, locale=formats_locale())


def format_moment(value: Any, fmt: str = "medium") -> str:
    """A moment in the programme's time zone and the page's locale."""
    if not value:
        return ""
    return format_datetime(value, fmt, tzinfo=get_timezone(), locale=formats_locale())


def format_number(value: Any) -> str:
    return format_decimal(value, locale=formats_locale())


def format_money(value: Any) -> str:
    """A fee with the pack's currency (pack.yaml ``currency``), else the bare number."""
    try:
        currency = active_pack().currency
    except Exception:  # no pack yet
        currency = None
    if currency is None:
        return format_number(value)
    return format_currency(value, currency, locale=formats_locale())


def locale_name(code: str) -> str:
    """A language's name in that language (so that everyone finds their own)."""
    try:
        return Locale.parse(code).get_display_name(code) or code
    except (UnknownLocaleError, ValueError):
        return code


def pack_label(mapping: Mapping[str, str] | None, default: str = "") -> str:
    """A pack word (ID type, level, vaccine, place) in the page's language, else in the
    pack's default language, else ``default`` (e.g. the row's own name), else any."""
    if mapping:
        locale = str(page_locale())
        for key in (locale, locale.split("_")[0]):
            if mapping.get(key):
                return mapping[key]
        try:
            fallback = mapping.get(active_pack().default_locale)
            if fallback:
                return fallback
        except Exception:  # no pack yet
            pass
    if default:
        return default
    return next(iter((mapping or {}).values()), "")


def site_name() -> str:
    try:
        return pack_label(active_pack().document.get("name")) or "cowin-kit"
    except Exception:
        return "cowin-kit"


def site_section() -> dict[str, Any]:
    """pack.yaml ``site:`` (ministry, helpline, footer pages), {} without a pack."""
    try:
        return active_pack().document.get("site") or {}
    except Exception:  # no pack yet
        return {}


def site_pages() -> list[dict[str, Any]]:
    return list(site_section().get("pages") or [])


def site_header() -> dict[str, Any]:
    """What the official header and footer show (docs/design.md): the ministry's name and
    whether it has a mark, the helpline, and the footer links in the pack's order."""
    site = site_section()
    try:
        has_logo = bool(active_pack().document.get("certificates", {}).get("logo"))
    except Exception:  # no pack yet
        has_logo = False
    links = [{"title": pack_label(page["title"]), "url": page.get("url"),
              "kind": page["kind"]} for page in site_pages()]
    return {"ministry": pack_label(site.get("ministry")) if site.get("ministry") else "",
            "logo": has_logo, "helpline": site.get("helpline") or "",
            "helpline_hours": pack_label(site.get("helpline_hours"))
            if site.get("helpline_hours") else "",
            "links": links}


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, but a request without a session cookie (every API
    call) gets its empty session without Flask building the cookie's signing serializer
    first: that was about a thirtieth of a booking request's CPU."""

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        if app.secret_key and ("HTTP_COOKIE" not in request.environ  # no cookies to parse
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    settings = app.config["COWIN_KIT"]
    app.session_interface = CookieSessionInterface()
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings["ENV"] == "production"

    babel = app.extensions["babel"]
    fallback = babel.locale_selector or (lambda: None)
    babel.locale_selector = lambda: _select_locale(fallback)
    if babel.timezone_selector is None:
        babel.timezone_selector = _pack_timezone

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(
        csrf_token=csrf_token, page_lang=page_lang, page_dir=page_dir,
        pack_label=pack_label, locale_name=locale_name, offered_locales=offered_locales,
        site_name=site_name, site_header=site_header,
    )
    app.jinja_env.filters.update(date=format_day, short_date=format_short_day,
                                 datetime=format_moment, number=format_number,
                                 money=format_money)
