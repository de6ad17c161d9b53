"""cowin_kit.identity.rules: staff user names, passwords, and the scope each role is
granted on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cowin_kit.identity import access, rules


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


@pytest.mark.parametrize("email, ok", [
    ("anm@example.org", True), ("first.last+alerts@health.gov.in", True),
    ("no-at-sign.example.org", False), ("two@@example.org", False), ("a@b", False),
    ("space in@example.org", False), ("a@example.", False), ("", False),
    ("a@" + "b" * 250 + ".org", False),
])
def test_email_addresses(email, ok):
    assert (rules.email_problem(email) is None) is ok


@pytest.mark.parametrize("raw, region, expected", [
    ("98765 43210", "IN", "+919876543210"),
    ("+91 98765 43210", None, "+919876543210"),
    ("+380 67 123 4567", "IN", "+380671234567"),
    ("98765 43210", None, None),      # a national number needs the region
    ("12345", "IN", None),
    ("011 2345 6789", "IN", None),    # a fixed line, not a mobile
])
def test_mobile_numbers(raw, region, expected):
    if expected is None:
        with pytest.raises(rules.InvalidMobile):
            rules.normalize_mobile(raw, region)
    else:
        assert rules.normalize_mobile(raw, region) == expected


@pytest.mark.parametrize("location_id, facility_id, expected", [
    (None, None, 0),   # a whole-country grant is farthest
    (1, None, 1),      # the state
    (2, None, 2),      # the district
    (None, 9, 4),      # the facility itself is nearest
])
def test_how_near_a_grant_sits_to_a_facility(location_id, facility_id, expected):
    grant = SimpleNamespace(role="district_admin", location_id=location_id,
                            facility_id=facility_id)
    assert access.nearness(grant, access.Scope(location_path=(1, 2), facility_id=9)) == expected
