"""Base45 (RFC 9285) as the DCC verifier decodes it: the RFC's examples, round trips of
any bytes, and each kind of bad input refused with base45_invalid."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from cowin_kit.certificates.formats.codecs import CodecError, b45decode, b45encode


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
