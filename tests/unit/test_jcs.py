"""RFC 8785 (JSON Canonicalization Scheme), the form `eddsa-jcs-2022` proofs hash: the
RFC's own examples (§3.2.2.3 and Appendix B for numbers, §3.2.3 for member order, §3.2.4
for a whole document)."""

from __future__ import annotations

import json
import struct

import pytest

from cowin_kit.certificates.formats import codecs
from cowin_kit.certificates.formats.jcs import canonicalize, number

# RFC 8785 Appendix B: IEEE 754 bits -> ECMAScript number text
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B)
def test_numbers_are_written_as_ecmascript_writes_the_double(bits, text):
    assert number(struct.unpack(">d", bytes.fromhex(bits))[0]) == text


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (-7, "-7"), (2 ** 53 - 1, "9007199254740991"),
    (2 ** 53 + 1, "9007199254740992"),  # beyond 2**53 an integer is the nearest double
    (10 ** 21, "1e+21"), (1.0, "1"), (4.50, "4.5"), (2e-3, "0.002"), (1e-7, "1e-7")])
def test_integers_and_simple_decimals(value, text):
    assert number(value) == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_values_json_cannot_hold_are_refused(value):
    with pytest.raises(ValueError):
        canonicalize({"x": value})


def test_members_are_sorted_by_utf16_code_units():
    """§3.2.3: U+1F600 (a surrogate pair, 0xD83D...) sorts before U+FB33."""
    document = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
                "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
                "\u00f6": "Latin Small Letter O With Diaeresis"}
    keys = list(json.loads(canonicalize(document)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_the_rfc_example_document():
    """§3.2.4: whitespace gone, numbers rewritten, only the required escapes."""
    source = ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
              ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
              ' "literals": [null, true, false]}')
    expected = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
                '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
    assert canonicalize(json.loads(source)) == expected.encode("utf-8")


def test_a_lone_surrogate_is_not_i_json():
    with pytest.raises(ValueError):
        canonicalize({"name": "\ud800"})


@pytest.mark.parametrize(("data", "text"), [
    (b"", "z"), (b"\0", "z1"), (b"\0\0\x01", "z112"), (b"Hello World!", "z2NEpo7TZRRrLZSi2U"),
    (bytes.fromhex("ed01") + bytes(32), None)])
def test_multibase_base58btc_round_trip(data, text):
    encoded = codecs.multibase_b58encode(data)
    if text is not None:
        assert encoded == text
    assert codecs.multibase_b58decode(encoded) == data
    with pytest.raises(ValueError):
        codecs.multibase_b58decode("u" + encoded[1:])
    with pytest.raises(ValueError):
        codecs.multibase_b58decode(encoded + "0")  # not in the alphabet
