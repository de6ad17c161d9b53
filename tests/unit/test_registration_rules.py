"""cowin_kit.registration.rules: mobile numbers, reference IDs, OTPs and secret codes,
ages and years of birth."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum import verhoeff

from cowin_kit.registration import rules


@pytest.mark.parametrize("raw, region, expected", [
    ("9876543210", "IN", "+919876543210"),
    ("+91 98765 43210", "IN", "+919876543210"),
    ("098765-43210", "IN", "+919876543210"),       # trunk prefix
    (" 9876543210 ", "IN", "+919876543210"),
    ("+919876543210", "GB", "+919876543210"),      # international wins over the region
    ("07911 123456", "GB", "+447911123456"),
    ("0501234567", "AE", "+971501234567"),
])
def test_mobile_numbers_in_e164(raw, region, expected):
    assert rules.normalize_mobile(raw, region) == expected


@pytest.mark.parametrize("raw, region", [
    ("not a number", "IN"),
    ("12345", "IN"),              # too short
    ("1876543210", "IN"),         # no Indian mobile starts with 1
    ("080 2222 3333", "IN"),      # a Bengaluru landline
    ("020 7946 0000", "GB"),      # a London landline
    ("", "IN"),
])
def test_what_is_not_a_mobile_number(raw, region):
    with pytest.raises(rules.InvalidMobile):
        rules.normalize_mobile(raw, region)


@pytest.mark.parametrize("e164, digits", [
    ("+919876543210", "9876543210"), ("+447911123456", "7911123456")])
def test_national_digits(e164, digits):
    assert rules.national_digits(e164) == digits


def test_new_reference_ids_are_14_digits_with_a_verhoeff_check():
    ids = {rules.new_reference_id() for _ in range(200)}
    assert len(ids) == 200
    for ref in ids:
        assert len(ref) == 14 and ref.isdigit() and ref[0] != "0"
        assert verhoeff.is_valid(ref) and rules.is_reference_id(ref)


VALID_REF = "1234567890123" + verhoeff.calc_check_digit("1234567890123")


@pytest.mark.parametrize("text, expected", [
    (VALID_REF, True),
    (VALID_REF[:-1] + str((int(VALID_REF[-1]) + 1) % 10), False),   # wrong check digit
    (VALID_REF[:-1], False),                                          # 13 digits
    (VALID_REF + "0", False),
    ("12345678901a3" + "0", False),
    ("", False),
])
def test_reference_id_check(text, expected):
    assert rules.is_reference_id(text) is expected


def test_otps_and_secret_codes_are_zero_padded_digits():
    otps = [rules.new_otp() for _ in range(300)]
    codes = [rules.new_secret_code() for _ in range(300)]
    assert all(len(o) == 6 and o.isdigit() for o in otps) and len(set(otps)) > 250
    assert all(len(c) == 4 and c.isdigit() for c in codes)


def test_the_otp_digest_is_the_sha256_hex_cowin_clients_send():
    assert rules.otp_digest("123456") == (
        "8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92")


@pytest.mark.parametrize("on, birth_year, birth_date, age", [
    (date(2026, 1, 1), 2008, None, 18),                  # the year's difference only
    (date(2026, 12, 31), 2008, None, 18),
    (date(2026, 6, 14), 2008, date(2008, 6, 15), 17),    # the day before the birthday
    (date(2026, 6, 15), 2008, date(2008, 6, 15), 18),    # the birthday
    (date(2026, 2, 28), 2008, date(2008, 2, 29), 17),    # born on 29 February
    (date(2026, 3, 1), 2008, date(2008, 2, 29), 18),
    (date(2026, 5, 1), 2026, date(2026, 4, 30), 0),
])
def test_age_on_a_day(on, birth_year, birth_date, age):
    assert rules.age_on(on, birth_year, birth_date) == age


@pytest.mark.parametrize("birth_year, problem", [
    (2026, False), (2027, True),           # in the future
    (1901, False), (1900, True),           # more than 125 years ago
    (1990, False),
])
def test_year_of_birth_problems(birth_year, problem):
    assert (rules.birth_year_problem(birth_year, date(2026, 5, 10)) is not None) is problem


# --- people registered by health workers ------------------------------------------------


REG = date(2026, 6, 1)


@pytest.mark.parametrize("registered_on, lmp, edd, fields", [
    (REG, None, None, set()),
    (REG, date(2026, 3, 1), date(2026, 12, 6), set()),
    (date(2026, 6, 2), None, None, {"registered_on"}),              # after "today"
    (REG, date(2026, 6, 2), None, {"lmp"}),                        # LMP after registration
    (REG, date(2025, 7, 1), None, {"lmp"}),                        # more than 44 weeks back
    (REG, date(2026, 3, 1), date(2026, 2, 1), {"edd"}),           # EDD before the LMP
    (REG, date(2026, 3, 1), date(2027, 3, 1), {"edd"}),           # EDD 52 weeks after it
    (REG, None, date(2025, 5, 1), {"edd"}),                        # EDD long past
])
def test_pregnancy_dates(registered_on, lmp, edd, fields):
    assert set(rules.pregnancy_problems(registered_on, lmp, edd, REG)) == fields


@pytest.mark.parametrize("birth, exempt_from, needed", [
    (date(2021, 6, 2), date(2021, 6, 1), False),   # below the exempt age
    (date(2021, 6, 1), date(2021, 6, 1), False),   # the last day below it
    (date(2021, 5, 31), date(2021, 6, 1), True),   # reached it
])
def test_id_document_needed_from_the_exempt_age(birth, exempt_from, needed):
    assert rules.id_document_needed(birth, exempt_from) is needed


@pytest.mark.parametrize("outcome, lmp, problem", [
    (date(2026, 9, 1), None, False),
    (date(2026, 5, 1), None, True),                  # before the registration
    (date(2026, 5, 1), date(2026, 3, 1), False),    # after the LMP: a late registration
    (date(2026, 12, 1), None, True),                 # in the future
])
def test_outcome_dates(outcome, lmp, problem):
    assert (rules.outcome_date_problem(outcome, REG, lmp, date(2026, 10, 1)) is not None) \
        is problem


def test_no_id_document_masks_to_nothing():
    assert rules.masked_id(None) == "" and rules.masked_id("") == ""
    assert rules.masked_id("1234").endswith("1234") and rules.masked_id("1234") != "1234"
