"""Pages every part shares: the language switch, the staff sign-in and the staff start
page, and the static files (``url_for("web.static", filename=...)``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, abort, current_app, redirect, request, session, url_for

from cowin_kit.core.db import get_session
from cowin_kit.core.errors import DomainError, InvalidInput
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity import access, services as identity
from cowin_kit.core.ratelimit import client_address, limited
from cowin_kit.web import auth, ui
from cowin_kit.config.packs import logo_bytes
from cowin_kit.config.runtime import active_pack
from cowin_kit.registration.services import set_account_locale

bp = ui.make_blueprint("web", __name__, template_folder="templates", static_folder="static",
                       static_url_path="/web-static")

LOCALE_COOKIE_AGE = 365 * 24 * 3600


@dataclass(frozen=True)
class StaffLink:
    actions: tuple[str, ...]  # shown to users holding any of them
    endpoint: str
    label: Any  # a lazy_gettext string


STAFF_LINKS: list[StaffLink] = []


def register_staff_link(action: str | tuple[str, ...], endpoint: str, label: Any) -> None:
    """Show ``label`` linking to ``endpoint`` on /staff to users holding ``action`` (or
    any of several actions)."""
    actions = (action,) if isinstance(action, str) else tuple(action)
    unknown = [name for name in actions if name not in access.ACTIONS]
    if unknown or not actions:
        raise ValueError(f"unknown action {unknown!r}")
    if not any(link.endpoint == endpoint for link in STAFF_LINKS):
        STAFF_LINKS.append(StaffLink(actions, endpoint, label))


LOGO_CACHE_SECONDS = 3600


def _logo_response() -> Response:
    """The ministry's mark (pack.yaml ``certificates.logo``), cached by browsers for an
    hour and revalidated by the pack's content hash."""
    try:
        pack = active_pack()
    except Exception:  # no pack installed
        abort(404)
    data = logo_bytes(pack.document)
    if not data:
        abort(404)
    response = Response(data, mimetype="image/png" if data.startswith(b"\x89PNG")
                        else "image/jpeg")
    response.set_etag(pack.content_hash[:32])
    response.cache_control.public = True
    response.cache_control.max_age = LOGO_CACHE_SECONDS
    return response.make_conditional(request)


@bp.get("/site-logo")
def site_logo():
    return _logo_response()


@bp.get("/favicon.ico")
def favicon():
    return _logo_response()


@bp.get("/about/<kind>")
def about(kind: str):
    """A page of the official footer (help, FAQ, privacy notice, accessibility statement)
    with the pack's text in the page's language (pack.yaml ``site.pages``)."""
    page = next((p for p in ui.site_pages() if p["kind"] == kind and p.get("body")), None)
    if page is None:
        abort(404)
    paragraphs = [" ".join(part.split())
                  for part in ui.pack_label(page["body"]).split("\n\n") if part.strip()]
    return ui.render("web/about.html", title=ui.pack_label(page["title"]),
                     paragraphs=paragraphs)


@bp.post("/lang")
def set_language():
    """Remember the chosen language: cookie, session and the citizen's account."""
    chosen = request.form.get("lang", "")
    offered, _default = ui.offered_locales()
    back = ui.safe_next(request.form.get("next"), url_for("citizen.home"))
    if chosen not in offered:
        raise InvalidInput(_("This language is not offered."), code="invalid_locale")
    account = auth.current_citizen()
    if account is not None:
        set_account_locale(get_session(), account, chosen, active_pack())
    session["locale"] = chosen
    response = redirect(back, code=303)
    response.set_cookie(ui.LOCALE_COOKIE, chosen, max_age=LOCALE_COOKIE_AGE, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True)
    return response


@bp.route("/staff/sign-in", methods=["GET", "POST"])
@limited("30/minute", scope="web-staff-sign-in", methods=("POST",), headers=True)
def staff_sign_in():
    form = ui.FormState()
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            if not username or not password:
                message = _("Enter your user name and password.")
                raise InvalidInput(message, fields={
                    name: [_("This field is needed.")]
                    for name, value in (("username", username), ("password", password))
                    if not value})
            user = identity.authenticate_staff(get_session(), username, password,
                                               source=client_address())
        except DomainError as exc:
            form.fail(exc)
        else:
            auth.sign_in_staff(user)
            return redirect(ui.safe_next(request.args.get("next"), url_for("web.staff_home")),
                            code=303)
    return ui.render("web/staff_sign_in.html", form=form), form.status


@bp.post("/staff/sign-out")
def staff_sign_out():
    auth.sign_out()
    ui.done(_("You are signed out."))
    return redirect(url_for("web.staff_sign_in"), code=303)


@bp.get("/staff")
@auth.staff_required_any
def staff_home():
    user = auth.current_staff()
    links = [link for link in STAFF_LINKS
             if any(access.can(user, action) for action in link.actions)]
    return ui.render("web/staff_home.html", user=user, links=links)
