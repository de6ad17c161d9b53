"""Pure rules about staff: user names, passwords and the scope a role is granted on.
(ID numbers: cowin_kit.idnumbers.)"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

from cowin_kit.core.i18n import gettext as _, ngettext

# --- staff ------------------------------------------------------------------------------

STAFF_ROLES = ("national_admin", "state_admin", "district_admin", "facility_admin",
               "vaccinator", "verifier")
MIN_PASSWORD_LENGTH = 10


def username_problem(username: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9_.@\-]{3,150}", username):
        return _("User names are 3-150 letters, digits or . _ @ -")
    return None


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return ngettext("Passwords need at least %(num)d character.",
                        "Passwords need at least %(num)d characters.", MIN_PASSWORD_LENGTH)
    return None


# --- mobile numbers and e-mail addresses (citizens' accounts, staff contacts) -----------

class InvalidMobile(ValueError):
    pass


def normalize_mobile(raw: str, region: str | None) -> str:
    """A mobile number of ``region`` (or international; without a region, only an
    international number with its +) in E.164, or InvalidMobile."""
    try:
        number = phonenumbers.parse(str(raw).strip(), region)
    except phonenumbers.NumberParseException:
        raise InvalidMobile(_("This is not a phone number.")) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidMobile(_("This is not a valid phone number."))
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE,
                    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidMobile(_("This is not a mobile number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_problem(email: str) -> str | None:
    """Why ``email`` is not an address messages can go to (one @, a dotted domain, no
    spaces, at most 254 characters), or None."""
    if len(email) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s.]+", email):
        return _("This is not an e-mail address.")
    return None


FACILITY_ROLES = ("facility_admin", "vaccinator")


def scope_problem(role: str, has_location: bool, has_facility: bool = False) -> str | None:
    """National administrators hold the whole country; state and district administrators
    a location; facility staff one facility; verifiers the country or a location."""
    if has_location and has_facility:
        return _("A role is granted on a location or on a facility, not both.")
    if role == "national_admin" and (has_location or has_facility):
        return _("national_admin is granted on the whole country, without a location.")
    if role in ("state_admin", "district_admin") and not has_location:
        return _("%(role)s needs a location.", role=role)
    if role in FACILITY_ROLES and not has_facility:
        return _("%(role)s needs a facility.", role=role)
    if role not in FACILITY_ROLES and has_facility:
        return _("%(role)s is not granted on a facility.", role=role)
    return None


def vaccinator_name(user: Any) -> str:
    """How a dose record names who gave it: the staff member's name (display name), else
    their user name; at most 150 characters (the column's size)."""
    return ((getattr(user, "display_name", "") or "").strip() or user.username)[:150]
