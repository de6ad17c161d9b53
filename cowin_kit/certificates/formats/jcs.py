"""JSON Canonicalization Scheme (RFC 8785), the canonical form the `eddsa-jcs-2022`
Data Integrity cryptosuite hashes: no whitespace; object members sorted by their names'
UTF-16 code units; strings escaped as ECMAScript's `JSON.stringify` does (only `"`, `\\`
and control characters; `\\b \\t \\n \\f \\r` short, others `\\u00xx`); numbers as
ECMAScript's `Number.prototype.toString` writes the IEEE 754 double (RFC 8785 §3.2.2.3),
so 1.0 is `1`, 1e21 is `1e+21` and an integer beyond 2**53 is rounded as a double."""

from __future__ import annotations

import json
import math
from decimal import Decimal

_MAX_EXACT = 2 ** 53


def canonicalize(value) -> bytes:
    """`value` (what `json.loads` returns: dict, list, str, int, float, bool, None) as
    RFC 8785 UTF-8 bytes. Raises ValueError for what I-JSON forbids (NaN, infinities,
    lone surrogates) and TypeError for other Python types."""
    parts: list[str] = []
    _write(value, parts)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("a string holds a lone surrogate (not I-JSON)") from exc


def _write(value, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (int, float)):
        out.append(number(value))
    elif isinstance(value, dict):
        out.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_order)):
            if not isinstance(key, str):
                raise TypeError("object member names must be strings")
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _utf16_order(key) -> bytes:
    return key.encode("utf-16-be", "surrogatepass") if isinstance(key, str) else b""


def number(value: int | float) -> str:
    """ECMAScript's Number::toString of the double nearest `value`."""
    if isinstance(value, int) and abs(value) < _MAX_EXACT:
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("NaN and infinities are not JSON numbers")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digit string that reads back as the same double, as
    # ECMAScript requires; only the layout differs.
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)
    k = len(digits)
    n = k + exponent  # value = 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text
