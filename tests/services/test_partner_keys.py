"""Partner API keys: issued by national administrators only, shown once, stored hashed,
refused once revoked; and the `cowin-kit partners` commands."""

import hashlib
import json
import re
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.cli import main
from cowin_kit.provision.installer import install_pack
from cowin_kit.core.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from cowin_kit.identity import services as identity
from cowin_kit.identity.models import PartnerApiKey, StaffUser

from cowin_kit.testing import BACKENDS

PASSWORD = "correct horse battery"


def _staff(session, username, role=None, **scope):
    # Hashing is not what these tests are about: skip argon2's cost.
    user = StaffUser(username=username, password_hash="unused")
    session.add(user)
    session.flush()
    if role:
        identity.grant_role(session, user, role, **scope)
    session.commit()
    session.expire_all()
    return user


@pytest.fixture
def national(db_session):
    return _staff(db_session, "nat.admin", "national_admin")


def test_a_key_is_shown_once_and_stored_as_its_hash(db_session, national):
    key, raw = identity.create_partner_key(db_session, national, " Aarogya App ")
    db_session.commit()
    assert re.fullmatch(r"ck_[A-Za-z0-9_\-]{43}", raw)
    assert key.name == "Aarogya App" and key.key_prefix == raw[:8]
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.rate_limit_per_minute == 600 and key.revoked_at is None
    assert key.created_by == national.id and key.created_at is not None
    stored = db_session.scalars(select(PartnerApiKey)).one()
    assert raw not in json.dumps([stored.name, stored.key_prefix, stored.key_hash])
    assert identity.authenticate_partner(db_session, raw).id == key.id


def test_keys_are_unique(db_session, national):
    raws = {identity.create_partner_key(db_session, national, f"app {n}")[1] for n in range(5)}
    assert len(raws) == 5


def test_unknown_and_revoked_keys_are_refused(db_session, national):
    key, raw = identity.create_partner_key(db_session, national, "App", rate_limit_per_minute=60)
    db_session.commit()
    for bad in ("", "ck_", raw[:-1], raw + "x", "xx" + raw[2:], key.key_hash):
        with pytest.raises(Unauthorized) as caught:
            identity.authenticate_partner(db_session, bad)
        assert caught.value.code == "invalid_api_key"
    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    identity.revoke_partner_key(db_session, key.id, now=when)
    identity.revoke_partner_key(db_session, key.id)  # again: keeps the first time
    db_session.commit()
    db_session.expire_all()
    revoked = db_session.get(PartnerApiKey, key.id)
    at = revoked.revoked_at  # naive from SQLite, aware from PostgreSQL
    assert (at if at.tzinfo else at.replace(tzinfo=timezone.utc)) == when
    with pytest.raises(Unauthorized, match="revoked"):
        identity.authenticate_partner(db_session, raw)
    with pytest.raises(NotFound):
        identity.revoke_partner_key(db_session, 10**6)


@pytest.mark.parametrize("role, scope", [
    ("state_admin", {"location_code": "IN-DL"}),
    ("district_admin", {"location_code": "IN-DL-ND"}),
    ("verifier", {}),
    (None, {}),
])
def test_only_national_admins_may_create_keys(db_session, india_pack, role, scope):
    install_pack(db_session, india_pack)
    user = _staff(db_session, "someone", role, **scope)
    with pytest.raises(Forbidden):
        identity.create_partner_key(db_session, user, "App")
    assert db_session.scalars(select(PartnerApiKey)).all() == []


def test_a_deactivated_national_admin_may_not_create_keys(db_session, national):
    identity.deactivate_user(db_session, national)
    with pytest.raises(Forbidden):
        identity.create_partner_key(db_session, national, "App")


@pytest.mark.parametrize("name, limit", [("", 600), ("x" * 201, 600), ("App", 0)])
def test_invalid_names_and_limits(db_session, national, name, limit):
    with pytest.raises(InvalidInput):
        identity.create_partner_key(db_session, national, name, rate_limit_per_minute=limit)


def test_create_and_revoke_are_audited_without_the_key(db_session, national):
    key, raw = identity.create_partner_key(db_session, national, "App")
    identity.revoke_partner_key(db_session, key.id)
    db_session.commit()
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.object_type ==
                                                         "partner_api_key")).all()
    assert [(e.action, e.object_id) for e in events] == [
        ("partner_key.create", str(key.id)), ("partner_key.revoke", str(key.id))]
    assert events[0].details["created_by"] == "nat.admin"
    dumped = json.dumps([e.details for e in events])
    assert raw not in dumped and raw[8:] not in dumped and key.key_hash not in dumped


# --- CLI ----------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def cli(request, init_instance):
    folder = init_instance(request.param)

    def invoke(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False,
                                  env={"COWIN_KIT_INSTANCE_PATH": str(folder)})
    return invoke


def test_cli_create_list_revoke(cli):
    result = cli("partners", "create", "Aarogya App", "--by", "admin", "--rate-limit", "120")
    assert result.exit_code == 0, result.output
    raw = result.output.split("key (shown once):")[1].strip()
    key_id = re.search(r"created partner key (\d+)", result.output).group(1)
    listing = cli("partners", "list")
    assert listing.exit_code == 0, listing.output
    [row] = [line for line in listing.output.splitlines() if line.startswith(key_id + " ")]
    assert "Aarogya App" in row and raw[:8] in row and "admin" in row and "120" in row
    assert row.endswith("active") and raw not in listing.output
    result = cli("partners", "revoke", key_id)
    assert result.exit_code == 0, result.output
    [row] = [line for line in cli("partners", "list").output.splitlines()
             if line.startswith(key_id + " ")]
    assert "revoked" in row


@pytest.mark.parametrize("args, message", [
    (["partners", "create", "App", "--by", "nobody"], "No staff user named nobody"),
    (["partners", "revoke", "999999"], "No partner key"),
])
def test_cli_errors(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: ") and message in result.output


def test_cli_refuses_keys_by_non_national_staff(cli):
    assert cli("users", "create", "kl.admin", "--password", PASSWORD).exit_code == 0
    assert cli("users", "grant", "kl.admin", "state_admin", "--location", "IN-KL").exit_code == 0
    result = cli("partners", "create", "App", "--by", "kl.admin")
    assert result.exit_code == 1 and "[forbidden]" in result.output
