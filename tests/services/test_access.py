"""The access rules as a matrix: every role, on every kind of target, for every action,
against a table written out by hand (not derived from the code under test), on the real
hierarchy of the India example pack."""

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from cowin_kit.provision.installer import install_pack
from cowin_kit.geography.models import Location
from cowin_kit.identity import access, rules, services as identity
from cowin_kit.identity.access import ACTIONS, COUNTRY, Scope
from cowin_kit.identity.models import RoleGrant, StaffUser
from cowin_kit.scheduling import services as scheduling

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
       "report.read", "aefi.read"}
AREA_ADMIN = {"facility.manage", "session.publish", "staff.manage", "audit.read",
              "report.read", "aefi.read"}
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

    ("facility_admin", "same_facility"): {"facility.manage", "session.publish", "report.read"},
    ("facility_admin", "other_facility_in_subtree"): NONE,
    ("facility_admin", "inside_subtree"): NONE,
    ("facility_admin", "sibling_district"): NONE,
    ("facility_admin", "outside_subtree"): NONE,
    ("facility_admin", "whole_country"): NONE,

    ("vaccinator", "same_facility"): {"dose.record", "beneficiary.verify"},
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
    facilities = {code: scheduling.upsert_facility(db_session, code=code, name=code,
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
    allowed = {action for action in ACTIONS if access.can(grants, action, target)}
    assert allowed == EXPECTED[(holder, relation)]
    assert {action for action in ACTIONS if access.user_can(user, action, target)} == allowed


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
    assert access.can(user.grants, "audit.read", COUNTRY)
    assert not access.user_can(user, "audit.read", COUNTRY)


def test_several_grants_add_up(world):
    user = world.holder("vaccinator")
    identity.grant_role(world.session, user, "verifier", location_code=STATE)
    world.session.flush()
    same = world.targets["same_facility"]
    assert access.can(user.grants, "dose.record", same)
    assert access.can(user.grants, "certificate.verify", world.targets["sibling_district"])
    assert not access.can(user.grants, "dose.record", world.targets["sibling_district"])


def test_unknown_actions_and_locations_fail_loudly(world):
    with pytest.raises(ValueError, match="unknown action"):
        access.can([], "dose.delete", COUNTRY)
    from cowin_kit.errors import NotFound

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
