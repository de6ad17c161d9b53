"""Staff sign-in, administration of accounts and roles, partner keys: through HTTP."""

from __future__ import annotations

from sqlalchemy import select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core.db import get_database
from cowin_kit.identity import services
from cowin_kit.testing import national_admin_token

PASSWORD = "correct horse battery"


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _staff_token(client, username, password=PASSWORD):
    response = client.post("/api/v1/staff/sign-in",
                           json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def test_sign_in_wrong_password_and_citizen_tokens_are_refused(reg_app):
    client = reg_app.test_client()
    national_admin_token(reg_app, client)
    wrong = client.post("/api/v1/staff/sign-in", json={"username": "nat.admin",
                                                      "password": "wrong password"})
    assert wrong.status_code == 401 and wrong.get_json()["code"] == "invalid_credentials"
    from cowin_kit.testing import sign_in

    citizen_token = sign_in(reg_app, client)
    assert client.get("/api/v1/admin/staff", headers=_bearer(citizen_token)).status_code == 401


def test_national_admin_creates_staff_and_grants_in_scope(reg_app):
    client = reg_app.test_client()
    admin = national_admin_token(reg_app, client)
    created = client.post("/api/v1/admin/staff", json={"username": "kerala.admin"},
                          headers=_bearer(admin))
    assert created.status_code == 201
    password = created.get_json()["generated_password"]
    assert password and created.get_json()["grants"] == []
    granted = client.post("/api/v1/admin/staff/kerala.admin/grants",
                          json={"role": "state_admin", "location": "IN-KL"},
                          headers=_bearer(admin))
    assert granted.status_code == 201
    assert granted.get_json()["grants"] == [{"role": "state_admin", "location": "IN-KL",
                                             "facility": None}]
    # The state administrator can create district staff in Kerala, not in Delhi, and
    # cannot make another state administrator.
    state = _staff_token(client, "kerala.admin", password)
    client.post("/api/v1/admin/staff", json={"username": "tvm.admin", "password": PASSWORD},
                headers=_bearer(state))
    kerala_district = client.get("/api/v2/admin/location/districts/"
                                 + str(_state_id(client, "Kerala"))).get_json()["districts"][0]
    code = _location_code(reg_app, kerala_district["district_id"])
    ok = client.post("/api/v1/admin/staff/tvm.admin/grants",
                     json={"role": "district_admin", "location": code}, headers=_bearer(state))
    assert ok.status_code == 201, ok.get_json()
    outside = client.post("/api/v1/admin/staff/tvm.admin/grants",
                          json={"role": "district_admin", "location": "IN-DL"},
                          headers=_bearer(state))
    assert outside.status_code == 403 and outside.get_json()["code"] == "forbidden"
    peer = client.post("/api/v1/admin/staff/tvm.admin/grants",
                       json={"role": "state_admin", "location": "IN-KL"}, headers=_bearer(state))
    assert peer.status_code == 403
    visible = {u["username"] for u in client.get("/api/v1/admin/staff",
                                                 headers=_bearer(state)).get_json()["staff"]}
    assert visible == {"kerala.admin", "tvm.admin"}
    revoked = client.post("/api/v1/admin/staff/tvm.admin/grants/revoke",
                          json={"role": "district_admin", "location": code},
                          headers=_bearer(state))
    assert revoked.status_code == 200 and revoked.get_json()["grants"] == []
    with reg_app.app_context(), get_database(reg_app).session() as session:
        grants = session.scalars(select(AuditEvent).where(AuditEvent.action == "role.grant")).all()
        assert {(e.actor_type, e.actor_id) for e in grants} >= {("staff", "kerala.admin")}


def _state_id(client, name):
    states = client.get("/api/v2/admin/location/states").get_json()["states"]
    return next(s["state_id"] for s in states if s["state_name"] == name)


def _location_code(app, location_id):
    from cowin_kit.geography.models import Location

    with app.app_context(), get_database(app).session() as session:
        return session.get(Location, location_id).code


def test_partner_keys_issue_use_limit_and_revoke(reg_app):
    client = reg_app.test_client()
    admin = national_admin_token(reg_app, client)
    issued = client.post("/api/v1/admin/partner-keys",
                         json={"name": "Aarogya App", "rate_limit_per_minute": 3},
                         headers=_bearer(admin))
    assert issued.status_code == 201
    body = issued.get_json()
    key, key_id = body["key"], body["id"]
    listed = client.get("/api/v1/admin/partner-keys", headers=_bearer(admin)).get_json()["keys"]
    assert [k["key_prefix"] for k in listed] == [key[:8]] and key not in str(listed)
    headers = {"X-Api-Key": key}
    answers = [client.get("/api/v2/admin/location/states", headers=headers) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    limited = client.get("/api/v2/admin/location/states", headers=headers).get_json()
    assert limited["errorCode"] == "USRAUT0011"
    bad = client.get("/api/v1/meta/genders", headers={"X-Api-Key": "ck_not-a-key"})
    assert bad.status_code == 401 and bad.get_json()["code"] == "invalid_api_key"
    revoked = client.post(f"/api/v1/admin/partner-keys/{key_id}/revoke", headers=_bearer(admin))
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert client.get("/api/v1/meta/genders", headers=headers).status_code == 401


def test_only_national_admins_manage_partner_keys(reg_app):
    client = reg_app.test_client()
    national_admin_token(reg_app, client)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        user = services.create_staff_user(session, "dl.admin", PASSWORD)
        services.grant_role(session, user, "state_admin", location_code="IN-DL")
        session.commit()
    token = _staff_token(client, "dl.admin")
    refused = client.post("/api/v1/admin/partner-keys", json={"name": "x"}, headers=_bearer(token))
    assert refused.status_code == 403
    assert client.get("/api/v1/admin/partner-keys", headers=_bearer(token)).status_code == 403


def test_client_ip_comes_from_trusted_proxies_only(database_url, tmp_path, india_pack):
    from cowin_kit import create_app
    from cowin_kit.provision.installer import install_pack
    from cowin_kit.testing import empty_tables as _empty_tables

    for proxies, expected in ((0, "127.0.0.1"), (1, "203.0.113.9")):
        app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": database_url,
                          "NOTIFIER": f"file:{tmp_path / 'out.jsonl'}", "TRUSTED_PROXIES": proxies,
                          "OTP_RESEND_COOLDOWN_SECONDS": 0})
        with app.app_context(), get_database(app).session() as session:
            install_pack(session, india_pack)
        app.test_client().post("/api/v1/auth/otp", json={"mobile": "9876543210"},
                               headers={"X-Forwarded-For": "203.0.113.9"})
        with app.app_context(), get_database(app).session() as session:
            event = session.scalars(select(AuditEvent).where(AuditEvent.action == "otp.request")).one()
            assert event.source_ip == expected
        _empty_tables(get_database(app).engine)
        get_database(app).dispose()


def test_sign_in_throttles_a_source_the_same_for_every_name_and_locks_nobody_out(reg_app):
    """Wrong passwords from one address for one name are throttled there, answered the same
    whether the name exists or not; the person still signs in from elsewhere."""
    client = reg_app.test_client()
    national_admin_token(reg_app, client)

    def attempts(username, address):
        answers = []
        for _ in range(services.SIGN_IN_ATTEMPTS_PER_SOURCE + 1):
            response = client.post("/api/v1/staff/sign-in", environ_base={
                "REMOTE_ADDR": address}, json={"username": username, "password": "wrong!!!"})
            answers.append((response.status_code, response.get_json()["code"],
                            response.get_json()["detail"] if response.status_code == 401
                            else None))  # the 429's detail says how many seconds are left
        return answers

    real, unknown = attempts("nat.admin", "10.0.0.7"), attempts("no.such.user", "10.0.0.8")
    assert real == unknown
    assert real[0][:2] == (401, "invalid_credentials") and real[-1][:2] == \
        (429, "too_many_requests")
    refused = client.post("/api/v1/staff/sign-in", environ_base={"REMOTE_ADDR": "10.0.0.7"},
                          json={"username": "nat.admin", "password": PASSWORD})
    assert refused.status_code == 429  # the right password too, from that address
    elsewhere = client.post("/api/v1/staff/sign-in", environ_base={"REMOTE_ADDR": "10.0.0.9"},
                            json={"username": "nat.admin", "password": PASSWORD})
    assert elsewhere.status_code == 200, elsewhere.get_json()


def test_a_district_administrator_cannot_reach_a_national_administrator(reg_app):
    """Granting (or revoking) a role to someone holding roles beyond the granter's area is
    refused, and such a person and their audit trail stay out of the area's view, even
    when they also hold a role inside it."""
    from cowin_kit.reporting import services as reports
    from cowin_kit.testing import publish, staff_token

    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    national = national_admin_token(reg_app, client)
    district = staff_token(reg_app, client, "tvm.admin", "district_admin",
                           location_code="IN-KL-TVM")
    for path in ("grants", "grants/revoke"):
        refused = client.post(f"/api/v1/admin/staff/nat.admin/{path}",
                              json={"role": "vaccinator", "facility": "F-TVM-1"},
                              headers=_bearer(district))
        assert refused.status_code == 403, (path, refused.get_json())
    # a national administrator gives themselves a role in the district: still out of view
    assert client.post("/api/v1/admin/staff/nat.admin/grants",
                       json={"role": "vaccinator", "facility": "F-TVM-1"},
                       headers=_bearer(national)).status_code == 201
    listed = client.get("/api/v1/admin/staff", headers=_bearer(district)).get_json()["staff"]
    assert "nat.admin" not in [user["username"] for user in listed]
    with reg_app.app_context(), get_database(reg_app).session() as session:
        viewer = services.get_staff_user(session, "tvm.admin")
        actors = {event.actor_id for event in reports.audit_events_visible_to(session, viewer)}
    assert "nat.admin" not in actors


def test_sign_in_throttle_counts_failures_only(reg_app):
    """Successful sign-ins from one address are never throttled (a shared clinic computer
    signs in all day); wrong passwords still are, the same for an unknown name. (The
    route's own flood guard, 30 requests a minute per address, is kept clear of here.)"""
    client = reg_app.test_client()
    national_admin_token(reg_app, client)
    address = {"REMOTE_ADDR": "10.0.1.7"}
    for _ in range(services.SIGN_IN_ATTEMPTS_PER_SOURCE + 5):
        answer = client.post("/api/v1/staff/sign-in", environ_base=address,
                             json={"username": "nat.admin", "password": PASSWORD})
        assert answer.status_code == 200, answer.get_json()

    def failures(username, address=address):
        return [client.post("/api/v1/staff/sign-in", environ_base=address,
                            json={"username": username, "password": "wrong!!!"}).status_code
                for _ in range(services.SIGN_IN_ATTEMPTS_PER_SOURCE + 1)]

    limit = services.SIGN_IN_ATTEMPTS_PER_SOURCE
    assert failures("nat.admin") == [401] * limit + [429]
    assert failures("no.such.user", {"REMOTE_ADDR": "10.0.1.8"}) == [401] * limit + [429]
    refused = client.post("/api/v1/staff/sign-in", environ_base=address,
                          json={"username": "nat.admin", "password": PASSWORD})
    assert refused.status_code == 429  # once throttled, the right password waits too
