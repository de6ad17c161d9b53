"""Pure rules of registration: mobile numbers, reference IDs, OTPs, ages, limits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date

import phonenumbers
from stdnum import verhoeff

from cowin_kit.core.i18n import gettext as _

REFERENCE_ID_LENGTH = 14


class InvalidMobile(ValueError):
    pass


def normalize_mobile(raw: str, region: str) -> str:
    """A mobile number of ``region`` (or international) in E.164, or InvalidMobile."""
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
