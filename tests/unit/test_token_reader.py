"""The keyring reads bearer tokens without itsdangerous's ``loads`` (cowin_kit/core/security.py,
TimedTokenReader), so it is held here to itsdangerous on many tokens: whatever
``URLSafeTimedSerializer.loads(token, max_age=...)`` accepts, the reader accepts with the same
payload; whatever it refuses (BadSignature, SignatureExpired), the reader refuses. Its one
difference: a rightly signed token whose payload cannot be decoded (BadPayload, which only a
holder of SECRET_KEY can make) is refused instead of raised."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import zlib

import pytest
from hypothesis import given, settings, strategies as st
from itsdangerous import BadPayload, BadSignature, URLSafeTimedSerializer

from cowin_kit.core.security import Keyring, TimedTokenReader

SECRET = "test-secret-key-0123456789abcdef"
NOW = 1_800_000_000
TTL = 900
SALTS = ("citizen-token", "staff-token")


@pytest.fixture
def clock(monkeypatch):
    """time.time() as the test sets it, for itsdangerous and the reader alike."""
    now = [float(NOW)]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def issued(payload, *, at: float, clock, salt: str = "citizen-token",
           secret: str = SECRET) -> str:
    saved, clock[0] = clock[0], at
    try:
        return URLSafeTimedSerializer(secret, salt=salt).dumps(payload)
    finally:
        clock[0] = saved


def itsdangerous_answer(token, max_age, salt="citizen-token"):
    try:
        return True, URLSafeTimedSerializer(SECRET, salt=salt).loads(token, max_age=max_age)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return False, None
    except BadPayload:
        # Rightly signed, but not base64, zlib or JSON: only a holder of SECRET_KEY can make
        # such a token. itsdangerous raises BadPayload (not a BadSignature), which the old
        # reader let through as a 500; the keyring refuses it (401) like any bad token.
        return False, None


def assert_same(token, max_age=TTL, salt="citizen-token"):
    accepted, payload = itsdangerous_answer(token, max_age, salt)
    mine = TimedTokenReader(URLSafeTimedSerializer(SECRET, salt=salt)).loads(token, max_age)
    # repr: NaN is a JSON value that itsdangerous reads, and nan != nan
    assert repr(mine) == repr(payload if accepted else None), token
    keyring = Keyring({"SECRET_KEY": SECRET})
    read = keyring.read_citizen_token if salt == "citizen-token" else keyring.read_staff_token
    assert read(token, max_age) == (payload if accepted and isinstance(payload, dict) else None)
    return accepted


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(value: str, salt: str = "citizen-token", secret: str = SECRET) -> str:
    """value + '.' + its signature, made by hand (django-concat key, HMAC-SHA1)."""
    key = hashlib.sha1(salt.encode() + b"signer" + secret.encode()).digest()
    return f"{value}.{_b64(hmac.new(key, value.encode(), hashlib.sha1).digest())}"


def stamp(at: int) -> str:
    return _b64(at.to_bytes(8, "big").lstrip(b"\0"))


PAYLOADS = [
    {"a": 1, "m": "9876543210"}, {"s": 7, "p": "abcdefghijkl"}, {}, [], [1, 2], 0, 1.5, "text",
    None, True, {"a": "1", "m": 9876543210}, {"nested": {"x": [1, {"y": None}]}},
    {"unicode": "नमस्ते ✓"}, {"big": 10 ** 40}, {"long": "x" * 500},  # compressed
    {"a": list(range(200))},  # compressed
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("salt", SALTS)
def test_fresh_tokens_read_as_itsdangerous_reads_them(clock, payload, salt):
    token = issued(payload, at=NOW - 10, clock=clock, salt=salt)
    assert assert_same(token, salt=salt)


def test_compressed_tokens_are_read(clock):
    token = issued({"long": "x" * 500}, at=NOW, clock=clock)
    assert token.startswith(".")
    assert assert_same(token)


@pytest.mark.parametrize("age", [-10 ** 6, -2, -1, 0, 1, TTL - 1, TTL, TTL + 1, 10 ** 6])
def test_age_limits_match_at_every_edge(clock, age):
    token = issued({"a": 1, "m": "9876543210"}, at=NOW - age, clock=clock)
    for max_age in (0, 1, TTL, 10 ** 7):
        assert_same(token, max_age)
    clock[0] = NOW + 0.999  # the same whole second
    assert_same(token)


def test_no_max_age_skips_the_age_check(clock):
    old = issued({"a": 1}, at=1, clock=clock)
    future = issued({"a": 1}, at=NOW + 3600, clock=clock)
    for token in (old, future):
        accepted, payload = itsdangerous_answer(token, None)
        assert accepted
        assert TimedTokenReader(URLSafeTimedSerializer(SECRET, salt="citizen-token")).loads(
            token, None) == payload


def test_other_salt_key_or_keys_are_refused(clock):
    staff = issued({"s": 1, "p": "x"}, at=NOW, clock=clock, salt="staff-token")
    assert not assert_same(staff, salt="citizen-token")
    citizen = issued({"a": 1, "m": "9876543210"}, at=NOW, clock=clock)
    assert not assert_same(citizen, salt="staff-token")
    assert not assert_same(issued({"a": 1}, at=NOW, clock=clock, secret="another-secret"))


def test_key_rotation_reads_tokens_of_every_listed_key(clock):
    old = issued({"a": 1}, at=NOW, clock=clock, secret="old-key")
    new = issued({"a": 2}, at=NOW, clock=clock, secret="new-key")
    serializer = URLSafeTimedSerializer(["old-key", "new-key"], salt="citizen-token")
    reader = TimedTokenReader(serializer)
    for token in (old, new, issued({"a": 3}, at=NOW, clock=clock, secret="third")):
        try:
            expected = serializer.loads(token, max_age=TTL)
        except BadSignature:
            expected = None
        assert reader.loads(token, TTL) == expected


def test_every_single_character_change_is_refused_as_itsdangerous_does(clock):
    token = issued({"a": 12345, "m": "9876543210"}, at=NOW - 5, clock=clock)
    alphabet = "AZaz09-_=.+/!~ é"
    for position in range(len(token)):
        for char in alphabet:
            assert_same(token[:position] + char + token[position + 1:])
        assert_same(token[:position] + token[position + 1:])  # one character dropped
        assert_same(token[:position])  # cut short
    assert_same(token + "A")
    assert_same(token + "=")
    assert_same(token + ".")


@pytest.mark.parametrize("token", [
    "", ".", "..", "...", "a", "a.b", "a.b.c", "....", "e30", "e30.", ".e30", "é.é.é",
    "eyJhIjoxfQ.Zm9v.YmFy", "\x00.\x00.\x00", "a" * 1000,
])
def test_malformed_tokens_are_refused(clock, token):
    assert not assert_same(token)


def test_hand_signed_oddities_match(clock):
    """Tokens whose signature is right around odd contents: what itsdangerous does with them
    (accept or refuse) the reader does too."""
    now = stamp(NOW)
    payload = _b64(b'{"a":1,"m":"9876543210"}')
    zlib_dict, zlib_list = _b64(zlib.compress(b'{"a":1}')), _b64(zlib.compress(b"[1,2]"))
    zlib_cut = _b64(zlib.compress(b'{"a":1}')[:-3])
    duplicate, spaced = _b64(b'{"a":1,"a":2}'), _b64(b' {"a":1} ')
    too_deep = _b64(b"[" * 100000 + b"]" * 100000)
    cases = [
        f"{payload}.{now}",  # a well-formed token
        payload,  # no timestamp
        f"{payload}.",  # empty timestamp (0): expired
        f"{payload}.{_b64(NOW.to_bytes(9, 'big'))}",  # a 9-byte timestamp
        f"{payload}.{now}!",  # a stray character: base64 skips it
        f"{payload}.A",  # timestamp not base64
        f"{payload}.{stamp(NOW + 1)}",  # signed in the future
        f".{payload}.{now}",  # '.' but not zlib
        f".{zlib_dict}.{now}",  # zlib, hand-made
        f".{zlib_list}.{now}",  # zlib, not a dict
        f".{zlib_cut}.{now}",  # truncated zlib
        f"{_b64(b'not json')}.{now}",
        f"{_b64(bytes([0xff, 0xfe]))}.{now}",  # not UTF-8
        f"{_b64(b'NaN')}.{now}",
        f"{duplicate}.{now}",  # duplicate key: last wins
        f"{spaced}.{now}",  # JSON with spaces
        f"{payload[:5]}.{payload[5:]}.{now}",  # a '.' inside the payload
        f"{payload}A.{now}",  # base64 of a wrong length
        f"{payload}==.{now}",
        f"e30.{now}",  # {}
        f"{too_deep}.{now}",  # too deep for json
    ]
    for case in cases:
        assert_same(signed(case))
        assert not assert_same(case + ".AAAA")  # the same with a wrong signature


def test_signature_base64_oddities_match(clock):
    token = issued({"a": 1, "m": "9876543210"}, at=NOW, clock=clock)
    value, signature = token.rsplit(".", 1)
    for odd in (signature + "=", signature + "==", signature + "!", signature.replace("-", "+"),
                signature.replace("_", "/"), signature[:-1], signature + "A", "", "="):
        assert_same(f"{value}.{odd}")


def test_random_tokens_and_mutations(clock):
    chooser = random.Random(20261127)
    base = [issued(payload, at=NOW - chooser.randint(-5, TTL + 5), clock=clock)
            for payload in PAYLOADS]
    for _ in range(3000):
        token = list(chooser.choice(base))
        for _ in range(chooser.randint(1, 3)):
            position = chooser.randrange(len(token))
            action = chooser.random()
            if action < 0.5:
                token[position] = chooser.choice("AaZz09-_.=")
            elif action < 0.75:
                del token[position]
            else:
                token.insert(position, chooser.choice("AaZz09-_.="))
        assert_same("".join(token))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("AQgwZaz019-_=.+/"), max_size=80))
def test_arbitrary_strings_are_refused_as_itsdangerous_refuses_them(token):
    assert_same(token)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(payload=st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                            lambda inner: st.lists(inner, max_size=4)
                            | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                            max_leaves=20),
       age=st.integers(min_value=-3, max_value=TTL + 3))
def test_arbitrary_payloads_and_ages(payload, age):
    token = URLSafeTimedSerializer(SECRET, salt="citizen-token").dumps(payload)
    # the token was issued just now: read it as if `age` seconds had passed
    signed_at = int(time.time())
    fixed = signed_at + age
    real_time = time.time
    time.time = lambda: fixed  # both readers look at time.time()
    try:
        assert_same(token)
    finally:
        time.time = real_time


def test_a_str_token_that_is_not_utf8_raises_as_itsdangerous_does():
    with pytest.raises(UnicodeEncodeError):
        URLSafeTimedSerializer(SECRET, salt="citizen-token").loads("\udc80.a.b", max_age=TTL)
    with pytest.raises(UnicodeEncodeError):
        Keyring({"SECRET_KEY": SECRET}).read_citizen_token("\udc80.a.b", TTL)


def test_the_reader_refuses_serializers_it_cannot_mimic():
    with pytest.raises(ValueError):
        TimedTokenReader(URLSafeTimedSerializer(SECRET, salt="x",
                                                signer_kwargs={"digest_method": hashlib.sha256}))
    with pytest.raises(ValueError):
        TimedTokenReader(URLSafeTimedSerializer(
            SECRET, salt="x", fallback_signers=[{"digest_method": hashlib.sha256}]))


def test_issued_tokens_still_read(clock):
    keyring = Keyring({"SECRET_KEY": SECRET})
    citizen = keyring.issue_citizen_token(42, "9876543210", 3)
    staff = keyring.issue_staff_token(7, "$argon2id$v=19$m=65536,t=3,p=4$abcdefghijkl", 2)
    assert keyring.read_citizen_token(citizen, TTL) == {"a": 42, "m": "9876543210", "e": 3}
    assert keyring.read_staff_token(staff, TTL) == {"s": 7, "p": "abcdefghijkl", "e": 2}
    assert keyring.read_citizen_token(staff, TTL) is None
    assert keyring.read_staff_token(citizen, TTL) is None
    clock[0] = NOW + TTL + 1
    assert keyring.read_citizen_token(citizen, TTL) is None
    assert json.loads(base64.urlsafe_b64decode(citizen.split(".")[0] + "==")) == {
        "a": 42, "m": "9876543210", "e": 3}
