"""The access rules as a matrix: every role, on every kind of target, for every action,
against a table written out by hand (not derived from the code under test), on the real
hierarchy of the India example pack."""

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from cowin_kit.provision.installer import install_pack
from cowin_kit.core.errors import Forbidden, NotFound
from cowin_kit.geography.models import Location
from cowin_kit.identity import access, rules, services as identity
from cowin_kit.identity.access import ACTIONS, COUNTRY, Scope
from cowin_kit.identity.models import RoleGrant, StaffUser
from cowin_kit.scheduling import sessions

# The places of the matrix (India pack codes). The grants sit in New Delhi district
# (IN-DL-ND) of the state of Delhi (IN-DL) and on facility F-ND-1 there.
STATE, DISTRICT, SIBLING_DISTRICT, ELSEWHERE = "IN-DL", "IN-DL-ND", "IN-DL-SD", "IN-KL-EKM"
FACILITIES = {"F-ND-1": DISTRICT, "F-ND-2": DISTRICT, "F-EKM-1": ELSEWHERE}

# Who holds what: role and the scope it is granted on.
HOLDERS = {
    "national_admin": ("national_admin", {}),
    "state_admin": ("state_admin", {"location_code": STATE}),
    "district_admin": ("district_admin", {"location_code": DISTRICT}),
    "facility_admin": ("facility_admin", {"facility_code": "F-ND-1"}),
    "vaccinator": ("vaccinator", {"facility_code": "F-ND-1"}),
    "verifier@state": ("verifier", {"location_code": STATE}),
    "verifier@country": ("verifier", {}),
}

# The targets, by how they relate to the grants above.
RELATIONS = (
    "same_facility",              # F-ND-1
    "other_facility_in_subtree",  # F-ND-2, same district
    "inside_subtree",             # the district IN-DL-ND itself (a place, no facility)
    "sibling_district",           # IN-DL-SD: inside the state, outside the district
    "outside_subtree",            # F-EKM-1, in Kerala
    "whole_country",              # country-wide things (partner keys, national reports)
)

ALL = {"facility.manage", "session.publish", "staff.manage", "partner_key.manage",
       "audit.read", "dose.record", "beneficiary.verify", "certificate.verify",
       "report.read", "aefi.read", "aefi.investigate", "people.register", "campaign.manage",
       "due_list.read", "field.review", "messages.manage", "stock.manage", "stock.read",
       "correction.propose", "correction.approve", "duplicate.review", "grievance.handle",
       "person.export"}
AREA_ADMIN = {"facility.manage", "session.publish", "staff.manage", "audit.read",
              "report.read", "aefi.read", "aefi.investigate", "people.register",
              "campaign.manage", "due_list.read", "field.review", "stock.manage", "stock.read",
              "correction.propose", "correction.approve", "duplicate.review",
              "grievance.handle", "person.export"}
NONE: set[str] = set()

EXPECTED: dict[tuple[str, str], set[str]] = {
    ("national_admin", "same_facility"): ALL,
    ("national_admin", "other_facility_in_subtree"): ALL,
    ("national_admin", "inside_subtree"): ALL,
    ("national_admin", "sibling_district"): ALL,
    ("national_admin", "outside_subtree"): ALL,
    ("national_admin", "whole_country"): ALL,

    ("state_admin", "same_facility"): AREA_ADMIN,
    ("state_admin", "other_facility_in_subtree"): AREA_ADMIN,
    ("state_admin", "inside_subtree"): AREA_ADMIN,
    ("state_admin", "sibling_district"): AREA_ADMIN,
    ("state_admin", "outside_subtree"): NONE,
    ("state_admin", "whole_country"): NONE,

    ("district_admin", "same_facility"): AREA_ADMIN,
    ("district_admin", "other_facility_in_subtree"): AREA_ADMIN,
    ("district_admin", "inside_subtree"): AREA_ADMIN,
    ("district_admin", "sibling_district"): NONE,
    ("district_admin", "outside_subtree"): NONE,
    ("district_admin", "whole_country"): NONE,

    ("facility_admin", "same_facility"): {"facility.manage", "session.publish", "report.read",
                                          "people.register", "due_list.read", "field.review",
                                          "stock.manage", "stock.read", "correction.propose",
                                          "grievance.handle"},
    ("facility_admin", "other_facility_in_subtree"): NONE,
    ("facility_admin", "inside_subtree"): NONE,
    ("facility_admin", "sibling_district"): NONE,
    ("facility_admin", "outside_subtree"): NONE,
    ("facility_admin", "whole_country"): NONE,

    ("vaccinator", "same_facility"): {"dose.record", "beneficiary.verify", "people.register",
                                      "due_list.read", "stock.read", "correction.propose"},
    ("vaccinator", "other_facility_in_subtree"): NONE,
    ("vaccinator", "inside_subtree"): NONE,
    ("vaccinator", "sibling_district"): NONE,
    ("vaccinator", "outside_subtree"): NONE,
    ("vaccinator", "whole_country"): NONE,

    ("verifier@state", "same_facility"): {"certificate.verify"},
    ("verifier@state", "other_facility_in_subtree"): {"certificate.verify"},
    ("verifier@state", "inside_subtree"): {"certificate.verify"},
    ("verifier@state", "sibling_district"): {"certificate.verify"},
    ("verifier@state", "outside_subtree"): NONE,
    ("verifier@state", "whole_country"): NONE,

    ("verifier@country", "same_facility"): {"certificate.verify"},
    ("verifier@country", "other_facility_in_subtree"): {"certificate.verify"},
    ("verifier@country", "inside_subtree"): {"certificate.verify"},
    ("verifier@country", "sibling_district"): {"certificate.verify"},
    ("verifier@country", "outside_subtree"): {"certificate.verify"},
    ("verifier@country", "whole_country"): {"certificate.verify"},
}


def test_the_table_covers_every_role_relation_and_only_known_actions():
    assert set(EXPECTED) == {(h, r) for h in HOLDERS for r in RELATIONS}
    assert {role for role, _ in HOLDERS.values()} == set(rules.STAFF_ROLES)
    assert ALL == set(ACTIONS)
    assert set(access.ROLE_ACTIONS) == set(access.ROLE_RANK) == set(rules.STAFF_ROLES)


@dataclass
class World:
    session: object
    targets: dict[str, Scope]

    def holder(self, name: str) -> StaffUser:
        """A staff user holding HOLDERS[name], granted through the service (so the scope
        rules of grants apply) and read back as rows."""
        role, scope = HOLDERS[name]
        user = StaffUser(username=name.replace("@", "."), password_hash="unused")
        self.session.add(user)
        self.session.flush()
        identity.grant_role(self.session, user, role, **scope)
        self.session.commit()
        self.session.expire_all()
        return user


def _location_id(session, code: str) -> int:
    return session.scalars(select(Location.id).where(Location.code == code)).one()


@pytest.fixture
def world(db_session, india_pack) -> World:
    install_pack(db_session, india_pack)
    facilities = {code: sessions.upsert_facility(db_session, code=code, name=code,
                                                   location_code=district)
                  for code, district in FACILITIES.items()}
    db_session.commit()
    state_id = _location_id(db_session, STATE)
    district_id = _location_id(db_session, DISTRICT)
    targets = {
        "same_facility": Scope((state_id, district_id), facilities["F-ND-1"].id),
        "other_facility_in_subtree": Scope((state_id, district_id), facilities["F-ND-2"].id),
        "inside_subtree": Scope((state_id, district_id)),
        "sibling_district": Scope((state_id, _location_id(db_session, SIBLING_DISTRICT))),
        "outside_subtree": Scope((_location_id(db_session, "IN-KL"),
                                  _location_id(db_session, ELSEWHERE)),
                                 facilities["F-EKM-1"].id),
        "whole_country": COUNTRY,
    }
    return World(db_session, targets)


@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("holder", list(HOLDERS))
def test_access_matrix(world, holder, relation):
    """One case per role and target, every action checked in it: the failure names the
    actions wrongly allowed or denied. (One case per action as well multiplied the
    database set-up by ten, about a minute and a half per run on the two backends.)"""
    user = world.holder(holder)
    grants = world.session.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id)).all()
    target = world.targets[relation]
    allowed = {action for action in ACTIONS if access.grants_allow(grants, action, target)}
    assert allowed == EXPECTED[(holder, relation)]
    assert {action for action in ACTIONS if access.can(user, action, target)} == allowed


def test_targets_built_by_walking_parents_match(world):
    session = world.session
    facility_scope = access.scope_for_facility(session, world.targets["same_facility"].facility_id)
    assert facility_scope == world.targets["same_facility"]
    district_id = _location_id(session, DISTRICT)
    assert access.scope_for_location(session, district_id) == world.targets["inside_subtree"]
    assert access.scope_for_location(session, _location_id(session, STATE)) == \
        Scope((_location_id(session, STATE),))


def test_a_deactivated_user_may_do_nothing(world):
    user = world.holder("national_admin")
    identity.deactivate_user(world.session, user)
    assert access.grants_allow(user.grants, "audit.read", COUNTRY)
    assert not access.can(user, "audit.read", COUNTRY)
    assert not access.can(user, "audit.read")
    assert access.grants_carrying(user, "audit.read") == []
    with pytest.raises(Forbidden):
        access.check_access(user, "audit.read", COUNTRY)


def test_several_grants_add_up(world):
    user = world.holder("vaccinator")
    identity.grant_role(world.session, user, "verifier", location_code=STATE)
    world.session.flush()
    same = world.targets["same_facility"]
    assert access.can(user, "dose.record", same)
    assert access.can(user, "certificate.verify", world.targets["sibling_district"])
    assert not access.can(user, "dose.record", world.targets["sibling_district"])


def test_unknown_actions_and_locations_fail_loudly(world):
    with pytest.raises(ValueError, match="unknown action"):
        access.grants_allow([], "dose.delete", COUNTRY)
    with pytest.raises(NotFound):
        access.scope_for_location(world.session, 10**9)


# Who may grant which role where. Targets are the scope the new grant would cover.
GRANTING = [
    # granter, role to grant, target, allowed
    ("national_admin", "national_admin", "whole_country", True),
    ("national_admin", "state_admin", "outside_subtree", True),
    ("national_admin", "verifier", "whole_country", True),
    ("state_admin", "state_admin", "inside_subtree", False),      # not below their own
    ("state_admin", "district_admin", "inside_subtree", True),
    ("state_admin", "district_admin", "sibling_district", True),
    ("state_admin", "vaccinator", "same_facility", True),
    ("state_admin", "verifier", "inside_subtree", True),
    ("state_admin", "verifier", "whole_country", False),          # wider than their subtree
    ("state_admin", "district_admin", "outside_subtree", False),
    ("state_admin", "national_admin", "whole_country", False),
    ("district_admin", "district_admin", "inside_subtree", False),
    ("district_admin", "facility_admin", "same_facility", True),
    ("district_admin", "facility_admin", "other_facility_in_subtree", True),
    ("district_admin", "vaccinator", "same_facility", True),
    ("district_admin", "verifier", "inside_subtree", True),
    ("district_admin", "verifier", "sibling_district", False),
    ("district_admin", "vaccinator", "outside_subtree", False),
    ("facility_admin", "vaccinator", "same_facility", False),     # manages no staff
    ("vaccinator", "vaccinator", "same_facility", False),
    ("verifier@country", "verifier", "inside_subtree", False),
]


@pytest.mark.parametrize("granter, role, relation, allowed", GRANTING)
def test_who_may_grant_what(world, granter, role, relation, allowed):
    user = world.holder(granter)
    assert access.can_grant(user.grants, role, world.targets[relation]) is allowed


def test_scope_of_a_grant_is_where_it_reaches(world):
    user = world.holder("vaccinator")
    assert access.scope_of_grant(world.session, user.grants[0]) == world.targets["same_facility"]
    admin = world.holder("national_admin")
    assert access.scope_of_grant(world.session, admin.grants[0]) == COUNTRY


# --- the pure rule, without a database ------------------------------------------------------
# Made-up ids: state 1 holds districts 2 and 3, state 4 holds district 5; facilities 10 and
# 11 are in district 2, facility 12 in district 5.

@dataclass(frozen=True)
class Grant:
    role: str
    location_id: int | None = None
    facility_id: int | None = None


@dataclass
class Actor:
    grants: list[Grant]
    active: bool = True


AT_F10 = Scope((1, 2), 10)
AT_F11 = Scope((1, 2), 11)
AT_F12 = Scope((4, 5), 12)
IN_STATE_1, IN_DISTRICT_2, IN_DISTRICT_3 = Scope((1,)), Scope((1, 2)), Scope((1, 3))
ANYWHERE = None  # target None: the action on some part of the hierarchy (menus, page guards)

RULE = [
    # grant, action, target, allowed
    (Grant("national_admin"), "partner_key.manage", COUNTRY, True),
    (Grant("national_admin"), "dose.record", AT_F12, True),
    (Grant("state_admin", 1), "facility.manage", AT_F10, True),
    (Grant("state_admin", 1), "facility.manage", IN_DISTRICT_3, True),
    (Grant("state_admin", 1), "facility.manage", IN_STATE_1, True),
    (Grant("state_admin", 1), "facility.manage", AT_F12, False),
    (Grant("state_admin", 1), "facility.manage", COUNTRY, False),
    (Grant("state_admin", 1), "partner_key.manage", COUNTRY, False),
    (Grant("state_admin", 1), "partner_key.manage", ANYWHERE, False),
    (Grant("state_admin", 1), "dose.record", AT_F10, False),
    (Grant("district_admin", 2), "staff.manage", IN_DISTRICT_2, True),
    (Grant("district_admin", 2), "staff.manage", AT_F11, True),
    (Grant("district_admin", 2), "staff.manage", IN_DISTRICT_3, False),
    (Grant("district_admin", 2), "staff.manage", IN_STATE_1, False),  # above the subtree
    (Grant("district_admin", 2), "aefi.read", ANYWHERE, True),
    (Grant("facility_admin", facility_id=10), "session.publish", AT_F10, True),
    (Grant("facility_admin", facility_id=10), "session.publish", AT_F11, False),
    (Grant("facility_admin", facility_id=10), "session.publish", IN_DISTRICT_2, False),
    (Grant("facility_admin", facility_id=10), "staff.manage", AT_F10, False),
    (Grant("vaccinator", facility_id=10), "dose.record", AT_F10, True),
    (Grant("vaccinator", facility_id=10), "beneficiary.verify", ANYWHERE, True),
    (Grant("vaccinator", facility_id=10), "dose.record", AT_F11, False),
    (Grant("vaccinator", facility_id=10), "report.read", ANYWHERE, False),
    (Grant("verifier", 1), "certificate.verify", AT_F10, True),
    (Grant("verifier", 1), "certificate.verify", AT_F12, False),
    (Grant("verifier"), "certificate.verify", COUNTRY, True),
    (Grant("verifier"), "dose.record", ANYWHERE, False),
    (Grant("retired_role"), "audit.read", COUNTRY, False),
]


@pytest.mark.parametrize("grant, action, target, allowed", RULE)
def test_the_rule_on_one_grant(grant, action, target, allowed):
    assert access.grants_allow([grant], action, target) is allowed
    assert access.can(Actor([grant]), action, target) is allowed
    assert access.can(Actor([grant], active=False), action, target) is False
    if allowed:
        access.check_access(Actor([grant]), action, target)
    else:
        with pytest.raises(Forbidden) as refused:
            access.check_access(Actor([grant]), action, target, message="Not here.")
        assert (refused.value.code, refused.value.message) == ("forbidden", "Not here.")


def test_grants_add_up_and_only_those_carrying_the_action_count():
    vaccinator, verifier = Grant("vaccinator", facility_id=10), Grant("verifier", 1)
    actor = Actor([vaccinator, verifier])
    assert access.can(actor, "certificate.verify", IN_DISTRICT_3)
    assert access.can(actor, "dose.record", AT_F10)
    assert not access.can(actor, "dose.record", IN_DISTRICT_3)
    assert access.grants_carrying(actor, "dose.record") == [vaccinator]
    assert access.grants_carrying(actor, "certificate.verify") == [verifier]
    assert access.grants_carrying(actor, "report.read") == []
    assert access.grants_carrying(Actor([vaccinator], active=False), "dose.record") == []


def test_no_grant_allows_nothing():
    assert not access.can(Actor([]), "dose.record")
    with pytest.raises(Forbidden):
        access.check_access(Actor([]), "dose.record", message="No.")


@pytest.mark.parametrize("ask", [
    lambda: access.grants_allow([Grant("national_admin")], "dose.delete"),
    lambda: access.can(Actor([Grant("national_admin")], active=False), "dose.delete"),
    lambda: access.check_access(Actor([]), "dose.delete", message="No."),
    lambda: access.grants_carrying(Actor([]), "dose.delete"),
])
def test_an_unknown_action_fails_loudly_whoever_asks(ask):
    with pytest.raises(ValueError, match="unknown action"):
        ask()
