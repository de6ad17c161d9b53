"""cowin_kit.identity.rules: staff user names, passwords, and the scope each role is
granted on."""

from __future__ import annotations

import pytest

from cowin_kit.identity import rules


@pytest.mark.parametrize("username, ok", [
    ("asha", True), ("a.b", True), ("nat.admin@mohfw", True), ("tvm-vax_01", True),
    ("ab", False),                      # fewer than 3
    ("a" * 150, True), ("a" * 151, False),
    ("asha devi", False),               # no spaces
    ("आशा", False),                     # ASCII only
    ("asha/1", False),
    ("", False),
])
def test_user_names(username, ok):
    assert (rules.username_problem(username) is None) is ok


@pytest.mark.parametrize("password, ok", [
    ("x" * (rules.MIN_PASSWORD_LENGTH - 1), False),
    ("x" * rules.MIN_PASSWORD_LENGTH, True),
    ("correct horse battery", True),
    ("", False),
])
def test_passwords_need_a_minimum_length(password, ok):
    assert (rules.password_problem(password) is None) is ok


# role -> (on the country, on a location, on a facility): allowed?
SCOPES = {
    "national_admin": (True, False, False),
    "state_admin": (False, True, False),
    "district_admin": (False, True, False),
    "facility_admin": (False, False, True),
    "vaccinator": (False, False, True),
    "verifier": (True, True, False),
}


def test_the_table_covers_every_role():
    assert set(SCOPES) == set(rules.STAFF_ROLES)


@pytest.mark.parametrize("role", sorted(SCOPES))
@pytest.mark.parametrize("where", ["country", "location", "facility", "both"])
def test_the_scope_a_role_is_granted_on(role, where):
    has_location = where in ("location", "both")
    has_facility = where in ("facility", "both")
    allowed = {"country": SCOPES[role][0], "location": SCOPES[role][1],
               "facility": SCOPES[role][2], "both": False}[where]
    assert (rules.scope_problem(role, has_location, has_facility) is None) is allowed
