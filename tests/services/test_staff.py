"""Staff sign-in with throttling by source, account management, and the `cowin-kit users` commands."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.cli import main
from cowin_kit.provision.installer import install_pack
from cowin_kit.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from cowin_kit.core.ratelimit import RateLimited
from cowin_kit.identity import services as identity
from cowin_kit.identity.models import StaffUser
from cowin_kit.scheduling import sessions

from cowin_kit.testing import BACKENDS

PASSWORD = "correct horse battery"
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def staff(db_session):
    user = identity.create_staff_user(db_session, "asha.k", PASSWORD, "Asha K")
    db_session.commit()
    return user


def _sign_in(session, password, now=T0, username="asha.k"):
    return identity.authenticate_staff(session, username, password, now=now)


def _refusal(session, password, now=T0, username="asha.k") -> str:
    with pytest.raises(Unauthorized) as caught:
        _sign_in(session, password, now, username)
    session.rollback()  # what the request edge does with an error
    return caught.value.code


def _events(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.id)).all()


def test_sign_in_returns_the_user_and_resets_failures(db_session, staff):
    assert _refusal(db_session, "wrong password") == "invalid_credentials"
    assert _refusal(db_session, "wrong again!") == "invalid_credentials"
    assert db_session.get(StaffUser, staff.id).failed_logins == 2
    user = _sign_in(db_session, PASSWORD)
    assert user.id == staff.id
    db_session.expire_all()
    assert user.failed_logins == 0 and user.locked_until is None


def test_unknown_user_and_wrong_password_look_the_same(db_session, staff):
    with pytest.raises(Unauthorized) as unknown:
        _sign_in(db_session, PASSWORD, username="nobody.here")
    with pytest.raises(Unauthorized) as wrong:
        _sign_in(db_session, "not the password")
    assert (unknown.value.code, str(unknown.value)) == (wrong.value.code, str(wrong.value))
    assert unknown.value.status == 401


def test_unknown_users_still_cost_a_hash_verification(db_session, staff, monkeypatch):
    verified = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash, password):
            verified.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(identity, "_hasher", CountingHasher())
    _refusal(db_session, PASSWORD, username="nobody.here")
    assert len(verified) == 1 and verified[0].startswith("$argon2")


def _throttled(session, password, source, username="asha.k") -> bool:
    try:
        identity.authenticate_staff(session, username, password, source=source, now=T0)
    except RateLimited:
        session.rollback()
        return True
    except Unauthorized:
        session.rollback()
    return False


def test_failures_throttle_the_source_for_the_name_and_lock_no_account(db_session, staff):
    limit = identity.SIGN_IN_ATTEMPTS_PER_SOURCE
    assert [_throttled(db_session, "wrong", "10.0.0.1") for _ in range(limit + 1)] == \
        [False] * limit + [True]
    # the right password from that source too, for that name; an unknown name alike
    assert _throttled(db_session, PASSWORD, "10.0.0.1")
    assert [_throttled(db_session, "wrong", "10.0.0.1", "nobody.here")
            for _ in range(limit + 1)] == [False] * limit + [True]
    # the account is not locked: from elsewhere its owner signs in
    user = identity.authenticate_staff(db_session, "asha.k", PASSWORD, source="10.0.0.2",
                                       now=T0)
    db_session.expire_all()
    assert user.id == staff.id and user.locked_until is None and user.failed_logins == 0


def test_deactivated_accounts_cannot_sign_in(db_session, staff):
    identity.deactivate_user(db_session, staff)
    db_session.commit()
    assert _refusal(db_session, PASSWORD) == "invalid_credentials"


def test_a_new_password_works(db_session, staff):
    identity.set_password(db_session, staff, "another good password")
    db_session.commit()
    assert _sign_in(db_session, "another good password").id == staff.id
    assert _refusal(db_session, PASSWORD) == "invalid_credentials"
    with pytest.raises(InvalidInput):
        identity.set_password(db_session, staff, "short")


def test_outdated_hashes_are_upgraded_on_sign_in(db_session, staff):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    staff.password_hash = weak.hash(PASSWORD)
    db_session.commit()
    assert identity._hasher.check_needs_rehash(staff.password_hash)
    _sign_in(db_session, PASSWORD)
    db_session.expire_all()
    assert staff.password_hash.startswith("$argon2")
    assert not identity._hasher.check_needs_rehash(staff.password_hash)


def test_sign_ins_are_audited_without_the_password(db_session, staff):
    _refusal(db_session, "the wrong secret")
    _refusal(db_session, "a password typed as name", username="a password typed as name")
    _sign_in(db_session, PASSWORD)
    failed = _events(db_session, "staff.sign_in_failed")
    assert [(e.object_id, e.details["reason"]) for e in failed] == [
        (str(staff.id), "wrong_password"), ("-", "unknown_user")]
    assert failed[0].details["username"] == "asha.k"
    assert failed[1].details["username"] is None
    [success] = _events(db_session, "staff.sign_in")
    assert success.object_id == str(staff.id) and success.details == {"username": "asha.k"}
    everything = json.dumps([
        [e.action, e.object_id, e.actor_id, e.details] for e in db_session.scalars(select(AuditEvent))
    ])
    for secret in (PASSWORD, "the wrong secret", "a password typed as name"):
        assert secret not in everything


def test_throttling_is_audited(db_session, staff):
    for _ in range(identity.SIGN_IN_ATTEMPTS_PER_SOURCE + 1):
        _throttled(db_session, "wrong password", "10.0.0.1")
    reasons = [(e.details["reason"], e.details.get("failed_logins"), e.details.get("source"))
               for e in _events(db_session, "staff.sign_in_failed")]
    limit = identity.SIGN_IN_ATTEMPTS_PER_SOURCE
    assert reasons[-2:] == [("wrong_password", limit, None), ("throttled", None, "10.0.0.1")]


def test_grants_are_revoked_on_their_exact_scope(db_session, india_pack, staff):
    install_pack(db_session, india_pack)
    sessions.upsert_facility(db_session, code="F1", name="PHC", location_code="IN-DL-ND")
    identity.grant_role(db_session, staff, "district_admin", location_code="IN-DL-ND")
    identity.grant_role(db_session, staff, "vaccinator", facility_code="F1")
    with pytest.raises(Conflict):
        identity.grant_role(db_session, staff, "vaccinator", facility_code="F1")
    with pytest.raises(NotFound):
        identity.revoke_role(db_session, staff, "district_admin", location_code="IN-DL")
    identity.revoke_role(db_session, staff, "district_admin", location_code="IN-DL-ND")
    db_session.commit()
    [listed] = identity.list_staff(db_session)
    assert [(g.role, g.facility.code) for g in listed.grants] == [("vaccinator", "F1")]
    actions = [e.action for e in db_session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("role.grant") == 2 and actions.count("role.revoke") == 1


# --- CLI ----------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def instance(request, init_instance):
    """An instance set up by `cowin-kit init` with the India pack; the tests below use
    distinct user names so that they can share it."""
    return init_instance(request.param)


@pytest.fixture
def cli(instance):
    def invoke(*args, input=None):
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False,
                                  env={"COWIN_KIT_INSTANCE_PATH": str(instance)})
    return invoke


def _rows(output):
    return {line.split()[0]: line for line in output.splitlines()[1:]}


def test_cli_create_grant_list_revoke_deactivate(cli):
    result = cli("users", "create", "ravi.m", "--generate", "--name", "Ravi M")
    assert result.exit_code == 0, result.output
    assert "created staff user ravi.m" in result.output
    generated = result.output.split("password (shown once):")[1].strip()
    assert len(generated) >= 10

    assert cli("users", "grant", "ravi.m", "state_admin", "--location", "IN-KL").exit_code == 0
    assert cli("users", "grant", "ravi.m", "verifier").exit_code == 0
    listing = cli("users", "list")
    assert listing.exit_code == 0, listing.output
    assert listing.output.splitlines()[0].split() == ["USERNAME", "ACTIVE", "LOCKED", "MOBILE",
                                                      "ROLES"]
    row = _rows(listing.output)["ravi.m"]
    assert "state_admin (location IN-KL)" in row and "verifier (whole country)" in row
    assert row.split()[1:4] == ["yes", "no", "-"]
    assert "national_admin (whole country)" in _rows(listing.output)["admin"]

    result = cli("users", "revoke", "ravi.m", "state_admin", "--location", "IN-KL")
    assert result.exit_code == 0, result.output
    row = _rows(cli("users", "list").output)["ravi.m"]
    assert "state_admin" not in row and "verifier (whole country)" in row

    assert cli("users", "deactivate", "ravi.m").exit_code == 0
    assert _rows(cli("users", "list").output)["ravi.m"].split()[1] == "no"


def test_cli_create_with_a_mobile_and_set_the_contact(cli):
    result = cli("users", "create", "anm.k", "--generate", "--mobile", "98765 00501",
                 "--email", "anm.k@example.org")
    assert result.exit_code == 0, result.output
    assert _rows(cli("users", "list").output)["anm.k"].split()[3] == "+919876500501"
    refused = cli("users", "create", "anm.l", "--generate", "--email", "nobody")
    assert refused.exit_code == 1 and "e-mail" in refused.output
    assert "anm.l" not in _rows(cli("users", "list").output)
    cleared = cli("users", "contact", "anm.k")
    assert cleared.exit_code == 0 and "mobile -" in cleared.output
    assert _rows(cli("users", "list").output)["anm.k"].split()[3] == "-"


def test_cli_create_with_a_password_or_prompt(cli):
    result = cli("users", "create", "meera.s", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert "shown once" not in result.output and PASSWORD not in result.output
    result = cli("users", "create", "john.d", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "created staff user john.d" in result.output


def test_cli_lists_no_account_locked_by_wrong_passwords(cli, instance):
    from cowin_kit import create_app
    from cowin_kit.core.db import get_database

    assert cli("users", "create", "lock.me", "--password", PASSWORD).exit_code == 0
    app = create_app({"INSTANCE_PATH": str(instance)})
    try:
        with app.app_context(), get_database(app).session() as session:
            for _ in range(identity.SIGN_IN_ATTEMPTS_PER_SOURCE):
                with pytest.raises(Unauthorized):
                    identity.authenticate_staff(session, "lock.me", "wrong password")
    finally:
        get_database(app).dispose()
    # wrong passwords throttle their source; they lock no account
    assert _rows(cli("users", "list").output)["lock.me"].split()[2] == "no"


@pytest.mark.parametrize("args, message", [
    (["users", "create", "x"], "User names are"),
    (["users", "create", "admin", "--password", PASSWORD], "already exists"),
    (["users", "create", "pat.q", "--password", PASSWORD, "--generate"], "not both"),
    (["users", "grant", "nobody", "verifier"], "No staff user named nobody"),
    (["users", "grant", "admin", "emperor"], "Unknown role emperor"),
    (["users", "grant", "admin", "state_admin"], "needs a location"),
    (["users", "grant", "admin", "vaccinator", "--facility", "NOPE"], "No facility"),
    (["users", "revoke", "admin", "verifier"], "does not hold verifier"),
    (["users", "deactivate", "nobody"], "No staff user named nobody"),
])
def test_cli_errors_are_one_line_with_exit_code_1(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], \
        result.output
