"""Pure rules of registration: mobile numbers, reference IDs, OTPs, ages, limits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date

import phonenumbers
from stdnum import verhoeff

from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.idnumbers import mask_id_number
# mobile numbers are checked the same way for citizens and staff; kept importable here
from cowin_kit.identity.rules import InvalidMobile, normalize_mobile  # noqa: F401

REFERENCE_ID_LENGTH = 14


def national_digits(e164: str) -> str:
    """The national significant number (what CoWIN clients send as `mobile`)."""
    return str(phonenumbers.parse(e164).national_number)


def new_reference_id() -> str:
    """14 digits: 13 random (no leading zero) and a Verhoeff check digit."""
    body = str(secrets.randbelow(9 * 10**12) + 10**12)
    return body + verhoeff.calc_check_digit(body)


def is_reference_id(text: str) -> bool:
    return (len(text) == REFERENCE_ID_LENGTH and text.isdigit()
            and verhoeff.is_valid(text))


def masked_id(last4: str | None) -> str:
    """The mask shown for an ID number, from its last four characters; "" for a person
    registered without an ID document."""
    return mask_id_number("0" * 8 + last4) if last4 else ""


def new_otp() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def otp_digest(otp: str) -> str:
    """What CoWIN clients send in confirmOTP: the SHA-256 hex of the OTP."""
    return hashlib.sha256(otp.encode()).hexdigest()


def new_secret_code() -> str:
    return f"{secrets.randbelow(10**4):04d}"


def age_on(on: date, birth_year: int, birth_date: date | None = None) -> int:
    """Age in whole years on ``on``; with only a birth year (as CoWIN), the year's
    difference, which is how CoWIN checked eligibility."""
    if birth_date is None:
        return on.year - birth_year
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def birth_year_problem(birth_year: int, today: date) -> str | None:
    if birth_year > today.year:
        return _("The year of birth is in the future.")
    if birth_year < today.year - 125:
        return _("The year of birth is too far in the past.")
    return None


# --- people registered by health workers ---------------------------------------------------

# How far back a pregnancy's last menstrual period may lie (a term pregnancy is ~40 weeks;
# 44 covers post-term), and how far after it the expected delivery may be.
PREGNANCY_LONGEST_WEEKS = 44


def id_document_needed(birth_date: date, exempt_from: date) -> bool:
    """Whether a person born on ``birth_date`` needs an ID document: ``exempt_from`` is
    the earliest birth date still below the pack's ``id_exempt_below`` age today (children
    born on or after it may be registered without one)."""
    return birth_date < exempt_from


def birth_date_problem(birth_date: date, today: date) -> str | None:
    if birth_date > today:
        return _("The date of birth is in the future.")
    return birth_year_problem(birth_date.year, today)


def pregnancy_problems(registered_on: date, lmp: date | None, edd: date | None,
                       today: date) -> dict[str, str]:
    """What is wrong with a pregnancy's dates, by field (empty: nothing)."""
    from datetime import timedelta

    longest = timedelta(weeks=PREGNANCY_LONGEST_WEEKS)
    problems: dict[str, str] = {}
    if registered_on > today:
        problems["registered_on"] = _("The date of registration is in the future.")
    if lmp is not None:
        if lmp > registered_on:
            problems["lmp"] = _("The last menstrual period cannot be after the registration.")
        elif registered_on - lmp > longest:
            problems["lmp"] = ngettext(
                "The last menstrual period is more than %(num)d week before the registration.",
                "The last menstrual period is more than %(num)d weeks before the registration.",
                PREGNANCY_LONGEST_WEEKS)
    if edd is not None:
        if lmp is not None and not lmp < edd <= lmp + longest:
            problems["edd"] = ngettext(
                "The expected delivery date must be within %(num)d week after the last "
                "menstrual period.",
                "The expected delivery date must be within %(num)d weeks after the last "
                "menstrual period.", PREGNANCY_LONGEST_WEEKS)
        elif edd + longest < registered_on:
            problems["edd"] = _("The expected delivery date is long before the "
                                "registration.")
    return problems


def outcome_date_problem(outcome_date: date, registered_on: date, lmp: date | None,
                         today: date) -> str | None:
    if outcome_date > today:
        return _("The date of the outcome is in the future.")
    if outcome_date < (lmp or registered_on):
        return _("The date of the outcome is before the pregnancy.")
    return None
