"""cowin_kit.idnumbers: a pack's validator spec (stdnum:, regex:, plugin:), how it
normalises and refuses numbers, and how a number is shown masked."""

from __future__ import annotations

import pytest

from cowin_kit.idnumbers import (
    InvalidIdNumber, mask_id_number, normalize_id_number, split_validator_spec,
    validator_problem,
)

AADHAAR = "stdnum:in_.aadhaar"
PASSPORT = "regex:^[A-Z][0-9]{7}$"


@pytest.mark.parametrize("spec, expected", [
    ("stdnum:in_.aadhaar", ("stdnum", "in_.aadhaar")),
    ("regex:^a:b$", ("regex", "^a:b$")),       # only the first colon splits
    ("plugin:ke_id", ("plugin", "ke_id")),
])
def test_specs_split_into_kind_and_argument(spec, expected):
    assert split_validator_spec(spec) == expected


@pytest.mark.parametrize("spec, problem", [
    ("stdnum:in_.aadhaar", None),
    ("stdnum:ca.sin", None),
    ("regex:^[A-Z]{2}[0-9]{6}$", None),
    ("stdnum:", "validator must be one of"),
    ("luhn:1234", "validator must be one of"),
    ("aadhaar", "validator must be one of"),
    ("stdnum:in_.nothing", "python-stdnum has no module"),
    ("stdnum:../os", "is not a python-stdnum module name"),
    ("stdnum:in_", "has no validate()"),
    ("regex:[unclosed", "regular expression does not compile"),
    ("plugin:not_installed", "no enabled plugin provides"),
])
def test_validator_problems(spec, problem):
    found = validator_problem(spec)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize("spec, number, expected", [
    (AADHAAR, "2341 2341 2346", "234123412346"),
    (AADHAAR, "2341-2341-2346", "234123412346"),
    (PASSPORT, "j1234567", "J1234567"),          # upper-cased
    (PASSPORT, "J 123-4567", "J1234567"),        # separators dropped
    ("regex:^784[0-9]{12}$", "784-1990-1234567-1", "784199012345671"),
])
def test_numbers_are_normalised(spec, number, expected):
    assert normalize_id_number(spec, number) == expected


@pytest.mark.parametrize("spec, number", [
    (AADHAAR, "234123412345"),     # wrong Verhoeff digit
    (AADHAAR, "12341234123"),      # 11 digits
    (AADHAAR, "abcd"),
    (PASSPORT, "12345678"),        # no letter first
    (PASSPORT, "J12345678"),       # too long
    ("plugin:not_installed", "123"),
])
def test_wrong_numbers_are_refused(spec, number):
    with pytest.raises(InvalidIdNumber):
        normalize_id_number(spec, number)


@pytest.mark.parametrize("number, shown", [
    ("234123412346", "XXXXXXXX2346"),
    ("J1234567", "XXXX4567"),
    ("12345", "XXXX2345"),       # at least four Xs, so the length of a short number is hidden
    ("1234", "XXXX"),            # four or fewer characters: none shown
    ("12", "XXXX"),
    ("", "XXXX"),
])
def test_masks_show_at_most_the_last_four(number, shown):
    assert mask_id_number(number) == shown
