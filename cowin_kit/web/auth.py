"""Who is signed in to the pages: citizens (mobile + OTP) and staff (user name +
password), both kept in the signed Flask session as the same signed tokens the API
issues — so they expire alike, a citizen's ends when the mobile number changes and a
staff member's when the password changes or the account is deactivated. Signing out
ends every token of that account or user, here and in the API (its token epoch is
raised), so a copy of the cookie kept from before no longer works."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import flash, g, redirect, request, session, url_for

from cowin_kit.audit.services import Actor, set_actor
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import Unauthorized
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity import access
from cowin_kit.identity import services as identity
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.web.ui import new_csrf_token

CITIZEN_KEY = "citizen_token"
STAFF_KEY = "staff_token"


def _set_actor(kind: str, name: str) -> None:
    set_actor(Actor(kind, name, g.get("request_id"), request.remote_addr))


# --- citizens ----------------------------------------------------------------------------

def sign_in_citizen(account: CitizenAccount, token: str) -> None:
    """Start a citizen's page session (after a confirmed OTP)."""
    session.pop(STAFF_KEY, None)
    session[CITIZEN_KEY] = token
    if account.locale:
        session["locale"] = account.locale
    new_csrf_token()
    g.pop("web_citizen", None)


def sign_out() -> None:
    """End any page session (citizen or staff), and every other token of that account or
    user; the language choice stays in its cookie."""
    citizen, staff = current_citizen(), current_staff()
    if citizen is not None:
        registration.sign_out_everywhere(get_session(), citizen)
    if staff is not None:
        identity.sign_out_staff(get_session(), staff)
    for key in (CITIZEN_KEY, STAFF_KEY, "locale", "otp_txn", "otp_mobile", "mobile_txn"):
        session.pop(key, None)
    new_csrf_token()
    g.pop("web_citizen", None)
    g.pop("web_staff", None)


def current_citizen() -> CitizenAccount | None:
    """The signed-in citizen's account, or None. Each request slides the expiry on."""
    if "web_citizen" not in g:
        account = None
        token = session.get(CITIZEN_KEY)
        if token:
            try:
                account = registration.account_from_token(get_session(), token)
            except Unauthorized:
                session.pop(CITIZEN_KEY, None)
            else:
                session[CITIZEN_KEY] = registration.issue_citizen_token(account)
                _set_actor("citizen", str(account.id))
        g.web_citizen = account
    return g.web_citizen


def citizen_required(view: Callable) -> Callable:
    """Pages of a signed-in citizen; others are sent to sign in and brought back."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_citizen() is None:
            flash(_("Please sign in with your mobile number first."), "info")
            return redirect(url_for("citizen.sign_in", next=_here()))
        return view(*args, **kwargs)
    return wrapper


# --- staff -------------------------------------------------------------------------------

def sign_in_staff(user: StaffUser) -> None:
    session.pop(CITIZEN_KEY, None)
    session.pop("locale", None)
    session[STAFF_KEY] = identity.issue_staff_token(user)
    new_csrf_token()
    g.pop("web_staff", None)


def current_staff() -> StaffUser | None:
    """The signed-in staff member, or None (also when deactivated, the password changed or
    signed out since)."""
    if "web_staff" not in g:
        user = None
        token = session.get(STAFF_KEY)
        if token:
            user = identity.staff_from_token(get_session(), token)
            if user is None:
                session.pop(STAFF_KEY, None)
            else:
                session[STAFF_KEY] = identity.issue_staff_token(user)
                _set_actor("staff", user.username)
        g.web_staff = user
    return g.web_staff


def staff_required(action: str) -> Callable[[Callable], Callable]:
    """Pages for staff holding ``action`` (an action of access.ACTIONS) on some grant.
    Not signed in: to the staff sign-in; signed in without it: 403 page."""
    if action not in access.ACTIONS:
        raise ValueError(f"unknown action {action!r}")

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_staff()
            if user is None:
                flash(_("Please sign in with your staff account first."), "info")
                return redirect(url_for("web.staff_sign_in", next=_here()))
            access.check_access(user, action, message=_("Your account may not use this page."))
            return view(*args, **kwargs)
        return wrapper
    return decorate


def staff_required_any(view: Callable) -> Callable:
    """Pages for any signed-in staff member, whatever their roles."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            flash(_("Please sign in with your staff account first."), "info")
            return redirect(url_for("web.staff_sign_in", next=_here()))
        return view(*args, **kwargs)
    return wrapper


def _here() -> str:
    return request.full_path.rstrip("?") if request.method == "GET" else request.path
