"""Base45 (RFC 9285) as the DCC verifier decodes it: the RFC's examples, round trips of
any bytes, and each kind of bad input refused with base45_invalid."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from cowin_kit.certificates.formats.codecs import (
    CodecError, b45decode, b45encode, b64url_decode, b64url_encode, deflate_raw, inflate_raw,
)


@pytest.mark.parametrize("text, data", [
    ("BB8", b"AB"), ("%69 VD92EX0", b"Hello!!"), ("UJCLQE7W581", b"base-45"),
    ("QED8WEX0", b"ietf!"), ("", b""), ("FGW", b"\xff\xff"), ("U5", b"\xff")])
def test_rfc_9285_examples_and_limits(text, data):
    assert b45decode(text) == data
    assert b45encode(data) == text


@settings(max_examples=400)
@given(st.binary(max_size=2000))
def test_any_bytes_round_trip(data):
    assert b45decode(b45encode(data)) == data


@pytest.mark.parametrize("text", [
    "GGW",        # 65536: a group above two bytes
    "::::",       # a dangling character
    "A",
    "ABCGGW",     # a bad group after a good one
    "V5",         # final pair 256
    "ab",         # lower case is not in the alphabet
    "É5A",        # not ASCII
])
def test_bad_base45_is_refused(text):
    with pytest.raises(CodecError) as refused:
        b45decode(text)
    assert refused.value.code == "base45_invalid"


# --- base64url and raw DEFLATE, as SMART Health Cards (JWS) are read ---------------------

@pytest.mark.parametrize("text, data", [
    ("", b""), ("QQ", b"A"), ("QUI", b"AB"), ("QUJD", b"ABC"), ("_-8", b"\xff\xef")])
def test_canonical_base64url_decodes(text, data):
    assert b64url_decode(text) == data
    assert b64url_encode(data) == text


@pytest.mark.parametrize("text", [
    "QR",     # "A" with an unused bit set in the last character
    "QUJ",    # "AB" likewise
    "QQ==",   # padding
    "Q",      # a dangling character
    "QU+D",   # base64, not base64url
])
def test_non_canonical_or_foreign_base64url_is_refused(text):
    with pytest.raises(ValueError):
        b64url_decode(text)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_base64url_round_trips(data):
    assert b64url_decode(b64url_encode(data)) == data


def test_raw_deflate_refuses_data_after_the_stream():
    body = deflate_raw(b'{"iss":"https://example.org"}')
    assert inflate_raw(body) == b'{"iss":"https://example.org"}'
    with pytest.raises(CodecError) as refused:
        inflate_raw(body + b"\x00")
    assert refused.value.code == "deflate_invalid"
    with pytest.raises(CodecError):
        inflate_raw(body[:-1])  # truncated
