"""Citizen registration through the HTTP API (native /api/v1), on every backend."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from stdnum import verhoeff

from cowin_kit import create_app
from cowin_kit.audit.models import AuditEvent
from cowin_kit.provision.installer import install_pack
from cowin_kit.core.db import get_database
from cowin_kit.registration.models import Beneficiary, BeneficiaryCorrection, Dose, OtpTransaction
from cowin_kit.programme.models import VaccineProduct

from cowin_kit.testing import auth, last_otp, member, sign_in, valid_aadhaar as _valid_aadhaar
from cowin_kit.testing import count_rows as _count


def test_otp_sign_in_creates_an_account_and_gives_a_token(reg_app):
    client = reg_app.test_client()
    response = client.post("/api/v1/auth/otp", json={"mobile": "+91 98765 43210"})
    assert response.status_code == 200
    txn = response.get_json()["txn_id"]
    message = json.loads(reg_app.outbox.read_text(encoding="utf-8").splitlines()[-1])
    assert message["to"] == "+919876543210" and message["template"] == "otp"
    assert message["locale"] == "en"
    otp = message["text"].split()[0]
    assert len(otp) == 6 and otp.isdigit()
    with reg_app.app_context(), get_database(reg_app).session() as session:
        stored = session.get(OtpTransaction, txn)
        assert otp not in stored.otp_hash and len(stored.otp_hash) == 64
    confirmed = client.post("/api/v1/auth/otp/confirm", json={"txn_id": txn, "otp": otp})
    body = confirmed.get_json()
    assert confirmed.status_code == 200 and body["is_new_account"] is True
    assert body["expires_in"] == 900
    listing = client.get("/api/v1/beneficiaries", headers=auth(body["token"]))
    assert listing.status_code == 200 and listing.get_json() == {"beneficiaries": []}
    # The same OTP cannot be used twice.
    again = client.post("/api/v1/auth/otp/confirm", json={"txn_id": txn, "otp": otp})
    assert again.status_code == 401 and again.get_json()["code"] == "otp_used"


def test_the_answer_does_not_reveal_whether_a_number_has_an_account(reg_app):
    client = reg_app.test_client()
    sign_in(reg_app, client, "9876543210")
    known = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"})
    unknown = client.post("/api/v1/auth/otp", json={"mobile": "9876543211"})
    assert known.status_code == unknown.status_code == 200
    assert set(known.get_json()) == set(unknown.get_json()) == {"txn_id"}


def test_three_wrong_attempts_then_the_transaction_is_dead(reg_app):
    client = reg_app.test_client()
    txn = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"}).get_json()["txn_id"]
    otp = last_otp(reg_app, "9876543210")
    wrong = "000000" if otp != "000000" else "111111"
    codes = [client.post("/api/v1/auth/otp/confirm", json={"txn_id": txn, "otp": wrong})
             .get_json()["code"] for _ in range(3)]
    assert codes == ["otp_invalid"] * 3
    last = client.post("/api/v1/auth/otp/confirm", json={"txn_id": txn, "otp": otp})
    assert last.status_code == 401 and last.get_json()["code"] == "otp_attempts_exceeded"


def test_parallel_wrong_otps_are_all_counted(reg_app):
    """Wrong guesses sent at once are each counted (SQLite ignores FOR UPDATE): no more
    than OTP_MAX_ATTEMPTS are judged, and the right OTP after them is refused."""
    from concurrent.futures import ThreadPoolExecutor

    client = reg_app.test_client()
    txn = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"}).get_json()["txn_id"]
    otp = last_otp(reg_app, "9876543210")
    wrong = "000000" if otp != "000000" else "111111"

    def guess(_n: int) -> str:
        answer = reg_app.test_client().post("/api/v1/auth/otp/confirm",
                                            json={"txn_id": txn, "otp": wrong})
        return answer.get_json()["code"]

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(guess, range(24)))
    assert set(codes) <= {"otp_invalid", "otp_attempts_exceeded"}
    assert codes.count("otp_invalid") <= 3
    last = client.post("/api/v1/auth/otp/confirm", json={"txn_id": txn, "otp": otp})
    assert last.status_code == 401 and last.get_json()["code"] == "otp_attempts_exceeded"
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.get(OtpTransaction, txn).attempts == 3


def test_one_otp_signs_in_once_even_when_confirmed_twice_at_once(reg_app):
    from concurrent.futures import ThreadPoolExecutor

    client = reg_app.test_client()
    txn = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"}).get_json()["txn_id"]
    otp = last_otp(reg_app, "9876543210")

    def confirm(_n: int) -> int:
        return reg_app.test_client().post("/api/v1/auth/otp/confirm",
                                          json={"txn_id": txn, "otp": otp}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(confirm, range(8)))
    assert statuses.count(200) == 1 and statuses.count(401) == 7


def test_an_otp_expires_after_its_lifetime(reg_app):
    from cowin_kit.core.errors import Unauthorized
    from cowin_kit.registration import services

    client = reg_app.test_client()
    txn = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"}).get_json()["txn_id"]
    otp = last_otp(reg_app, "9876543210")
    later = datetime.now(timezone.utc) + timedelta(seconds=181)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        with pytest.raises(Unauthorized) as caught:
            services.confirm_otp(session, txn, otp, now=later)
    assert caught.value.code == "otp_expired"


def test_resend_cooldown_and_per_number_limit(database_url, tmp_path, india_pack):
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": database_url,
                      "NOTIFIER": f"file:{tmp_path / 'out.jsonl'}",
                      "OTP_LIMITS_PER_NUMBER": "2/hour", "OTP_LIMITS_PER_IP": "1000/day"})
    with app.app_context(), get_database(app).session() as session:
        install_pack(session, india_pack)
    client = app.test_client()
    first = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"})
    assert first.status_code == 200
    too_soon = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"})
    assert too_soon.status_code == 429 and too_soon.get_json()["code"] == "otp_resend_too_soon"
    limited = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"})
    assert limited.status_code == 429  # the hourly per-number limit (2) is used up
    other = client.post("/api/v1/auth/otp", json={"mobile": "9876543211"})
    assert other.status_code == 200
    from cowin_kit.testing import empty_tables as _empty_tables

    _empty_tables(get_database(app).engine)
    get_database(app).dispose()


def test_invalid_mobile_is_a_clear_422(reg_app):
    response = reg_app.test_client().post("/api/v1/auth/otp", json={"mobile": "12345"})
    assert response.status_code == 422
    body = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert body["code"] == "invalid_mobile" and "mobile" in body["errors"]


def test_family_of_four_then_the_fifth_is_refused_and_nothing_written(reg_app):
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    numbers = _valid_aadhaar(5)
    for number in numbers[:4]:
        response = client.post("/api/v1/beneficiaries", json=member(number), headers=auth(token))
        assert response.status_code == 201, response.get_json()
    fifth = client.post("/api/v1/beneficiaries", json=member(numbers[4]), headers=auth(token))
    assert fifth.status_code == 422
    assert fifth.get_json()["code"] == "beneficiary_limit_reached"
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert _count(session, Beneficiary) == 4


def test_reference_id_secret_code_and_mask(reg_app):
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    number = _valid_aadhaar(1)[0]
    created = client.post("/api/v1/beneficiaries", json=member(number), headers=auth(token))
    body = created.get_json()
    assert len(body["reference_id"]) == 14 and verhoeff.is_valid(body["reference_id"])
    assert len(body["secret_code"]) == 4 and body["secret_code"].isdigit()
    assert body["id_number_masked"].endswith(number[-4:])
    assert number not in json.dumps(body)
    listing = client.get("/api/v1/beneficiaries", headers=auth(token)).get_data(as_text=True)
    assert number not in listing and number[-4:] in listing
    with reg_app.app_context(), get_database(reg_app).session() as session:
        details = session.scalars(select(AuditEvent)).all()
        assert any(e.action == "beneficiary.create" for e in details)
        dumped = json.dumps([e.details for e in details] + [e.object_id for e in details])
        assert number not in dumped
        row = session.scalars(select(Beneficiary)).one()
        assert number not in (row.id_number_hash + row.id_number_encrypted)


@pytest.mark.parametrize("bad, code, status", [
    ({"id_number": "234123412347"}, "invalid_id_number", 422),         # Verhoeff digit wrong
    ({"id_type": "voter_id", "id_number": "ABC1234567", "birth_year": 2015},
     "too_young_for_id_type", 422),                                    # EPIC needs 18
    ({"gender": "X"}, "unknown_gender", 422),
    ({"birth_year": 2999}, "invalid_input", 422),
    ({"id_type": "library_card"}, "unknown_id_type", 422),
])
def test_bad_members_get_a_stable_code_and_nothing_is_written(reg_app, bad, code, status):
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    response = client.post("/api/v1/beneficiaries", json={**member("234123412346"), **bad},
                           headers=auth(token))
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert _count(session, Beneficiary) == 0


def test_the_same_document_cannot_be_registered_under_a_second_account(reg_app):
    client = reg_app.test_client()
    first = sign_in(reg_app, client, "9876543210")
    second = sign_in(reg_app, client, "9123456789")
    assert client.post("/api/v1/beneficiaries", json=member("2341 2341 2346"),
                       headers=auth(first)).status_code == 201
    clash = client.post("/api/v1/beneficiaries", json=member("234123412346", name="Other"),
                        headers=auth(second))
    assert clash.status_code == 409
    body = clash.get_json()
    assert body["code"] == "id_already_registered"
    assert "9876543210" not in json.dumps(body) and "Asha" not in json.dumps(body)


def test_edit_delete_and_corrections_after_a_dose(reg_app):
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    numbers = _valid_aadhaar(2)
    a = client.post("/api/v1/beneficiaries", json=member(numbers[0]), headers=auth(token)).get_json()
    b = client.post("/api/v1/beneficiaries", json=member(numbers[1], name="Ravi"),
                    headers=auth(token)).get_json()
    renamed = client.patch(f"/api/v1/beneficiaries/{a['reference_id']}",
                           json={"name": "Asha Kumari"}, headers=auth(token))
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Asha Kumari"
    assert client.delete(f"/api/v1/beneficiaries/{b['reference_id']}",
                         headers=auth(token)).status_code == 204
    with reg_app.app_context(), get_database(reg_app).session() as session:
        row = session.scalars(select(Beneficiary)).one()
        product = session.scalars(select(VaccineProduct)).first()
        session.add(Dose(beneficiary_id=row.id, dose_number=1, product_id=product.id,
                         administered_at=datetime.now(timezone.utc), lot="L1"))
        session.commit()
    refused = client.delete(f"/api/v1/beneficiaries/{a['reference_id']}", headers=auth(token))
    assert refused.status_code == 422 and refused.get_json()["code"] == "beneficiary_vaccinated"
    no_id_change = client.patch(f"/api/v1/beneficiaries/{a['reference_id']}",
                                json={"id_number": numbers[1]}, headers=auth(token))
    assert no_id_change.status_code == 422
    corrected = client.patch(f"/api/v1/beneficiaries/{a['reference_id']}",
                             json={"name": "Asha K.", "birth_year": 1981}, headers=auth(token))
    assert corrected.status_code == 200
    assert corrected.get_json()["vaccination_status"] == "Partially Vaccinated"
    with reg_app.app_context(), get_database(reg_app).session() as session:
        changes = {(c.field, c.old_value, c.new_value)
                   for c in session.scalars(select(BeneficiaryCorrection))}
        assert changes == {("name", "Asha Kumari", "Asha K."), ("birth_year", "1980", "1981")}
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "beneficiary.correct")) == 1


def test_members_of_another_account_are_not_reachable(reg_app):
    client = reg_app.test_client()
    first = sign_in(reg_app, client, "9876543210")
    second = sign_in(reg_app, client, "9123456789")
    ref = client.post("/api/v1/beneficiaries", json=member(_valid_aadhaar(1)[0]),
                      headers=auth(first)).get_json()["reference_id"]
    assert client.get(f"/api/v1/beneficiaries/{ref}", headers=auth(second)).status_code == 404
    assert client.delete(f"/api/v1/beneficiaries/{ref}", headers=auth(second)).status_code == 404


def test_requests_without_a_valid_token_are_401(reg_app):
    client = reg_app.test_client()
    assert client.get("/api/v1/beneficiaries").status_code == 401
    bad = client.get("/api/v1/beneficiaries", headers=auth("forged.token.value"))
    assert bad.status_code == 401 and bad.get_json()["code"] == "invalid_token"


def test_change_of_mobile_number(reg_app):
    client = reg_app.test_client()
    token = sign_in(reg_app, client, "9876543210")
    txn = client.post("/api/v1/account/mobile", json={"mobile": "9988776655"},
                      headers=auth(token)).get_json()["txn_id"]
    moved = client.post("/api/v1/account/mobile/confirm",
                        json={"txn_id": txn, "otp": last_otp(reg_app, "9988776655")},
                        headers=auth(token))
    assert moved.status_code == 200
    new_token = moved.get_json()["token"]
    assert client.get("/api/v1/beneficiaries", headers=auth(token)).status_code == 401
    assert client.get("/api/v1/beneficiaries", headers=auth(new_token)).status_code == 200
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "account.change_mobile")) == 1


def test_every_write_is_audited_with_request_id_and_ip(reg_app):
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    client.post("/api/v1/beneficiaries", json=member(_valid_aadhaar(1)[0]),
                headers={**auth(token), "X-Request-Id": "req-42"})
    with reg_app.app_context(), get_database(reg_app).session() as session:
        event = session.scalars(select(AuditEvent)
                                .where(AuditEvent.action == "beneficiary.create")).one()
        assert (event.actor_type, event.request_id, event.source_ip) == ("citizen", "req-42",
                                                                         "127.0.0.1")


def test_limits_hold_across_processes_when_redis_is_configured(database_url, tmp_path, india_pack):
    """Two app instances (two workers or pods) sharing Redis share the per-number limit."""
    import uuid

    import redis

    url = "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        if __import__("os").environ.get("CI") == "true":
            raise
        pytest.skip("no Redis server on 127.0.0.1:6379")
    mobile = "98" + str(uuid.uuid4().int)[:8]  # a number no earlier run has used
    settings = {"ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": url,
                "NOTIFIER": f"file:{tmp_path / 'out.jsonl'}", "OTP_RESEND_COOLDOWN_SECONDS": 0,
                "OTP_LIMITS_PER_NUMBER": "2/hour", "OTP_LIMITS_PER_IP": "1000/hour"}
    first = create_app({**settings, "INSTANCE_PATH": str(tmp_path / "a")})
    second = create_app({**settings, "INSTANCE_PATH": str(tmp_path / "b")})
    with first.app_context(), get_database(first).session() as session:
        install_pack(session, india_pack)
    statuses = [app.test_client().post("/api/v1/auth/otp", json={"mobile": mobile}).status_code
                for app in (first, second, first)]
    assert statuses == [200, 200, 429]
    from cowin_kit.testing import empty_tables as _empty_tables

    _empty_tables(get_database(first).engine)
    for app in (first, second):
        get_database(app).dispose()


def test_already_registered_answers_are_limited_per_account_and_address(reg_app):
    """A citizen probing ID numbers gets the same answer for every registered one (nothing
    of the holder's account) and, after five of them in an hour, no more answers from that
    account -- nor from that address under another account. Registering new people is
    never counted."""
    client = reg_app.test_client()
    holder = sign_in(reg_app, client, "9876543210")
    numbers = _valid_aadhaar(7)
    for number in numbers[:4]:  # a household of four: never counted
        assert client.post("/api/v1/beneficiaries", json=member(number),
                           headers=auth(holder)).status_code == 201
    prober = sign_in(reg_app, client, "9123456789")
    probe_address = {"REMOTE_ADDR": "10.9.0.1"}

    def probe(token, number, address=probe_address):
        return client.post("/api/v1/beneficiaries", json=member(number, name="Probe"),
                           headers=auth(token), environ_base=address)

    answers = [probe(prober, numbers[i % 4]) for i in range(6)]
    assert [a.status_code for a in answers] == [409] * 5 + [429]
    bodies = {json.dumps({k: v for k, v in a.get_json().items() if k != "instance"},
                         sort_keys=True) for a in answers[:5]}
    assert len(bodies) == 1 and "9876543210" not in bodies.pop()
    # refused for a new person too, and from that address under another account
    assert probe(prober, numbers[5]).status_code == 429
    other = sign_in(reg_app, client, "9000000001")
    assert probe(other, numbers[0]).status_code == 429
    # the holder, from elsewhere, still registers
    assert client.post("/api/v1/beneficiaries", json=member(numbers[6], name="Late"),
                       headers=auth(sign_in(reg_app, client, "9000000002")),
                       environ_base={"REMOTE_ADDR": "10.9.0.2"}).status_code == 201
