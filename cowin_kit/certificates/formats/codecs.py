"""Small byte/text codecs the certificate formats share: Base45 (RFC 9285), base64url
without padding (RFC 7515), multibase base58btc (the Data Integrity `proofValue` and
Multikey encodings), zlib and raw DEFLATE, and the SMART Health Card numeric QR
mode. Written here rather than imported: each is a few lines and the verifier needs
precise, distinguishable failures."""

from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib
from datetime import datetime, timezone
from typing import Any

BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_BASE45_VALUES = {char: value for value, char in enumerate(BASE45_ALPHABET)}


class CodecError(ValueError):
    """Input that a codec cannot decode; `code` is the verifier's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# The first two characters of a group for every value below 45 * 45 (c + 45 * d).
_BASE45_LOW = [c + d for d in BASE45_ALPHABET for c in BASE45_ALPHABET]


def b45encode(data: bytes) -> str:
    """Base45 (RFC 9285): each two bytes become three characters, a last odd byte two."""
    alphabet, low = BASE45_ALPHABET, _BASE45_LOW
    pairs = len(data) // 2
    out = [low[n % 2025] + alphabet[n // 2025]
           for n in struct.unpack(f">{pairs}H", data[:pairs * 2])]
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(alphabet[c] + alphabet[d])
    return "".join(out)


_INVALID = 0xFF
_BASE45_TABLE = bytes(_BASE45_VALUES.get(chr(i), _INVALID) for i in range(256))


def _b45_groups(values: bytes) -> bytes:
    """Whole groups (digit values c, d, e per group) to two bytes each, c + 45d + 2025e.

    Done on one big integer rather than a Python loop per group (a verification's largest
    cost after the signature): read as a number, each group is a 3-byte slot; masking out
    each slot's c, d and e bytes and adding c + 45 d + 2025 e computes every group at once
    (at most 91,124 < 2**24, so no slot carries into the next); a valid group leaves the
    slot's top byte zero and its low two bytes are the output."""
    groups = len(values) // 3
    if not groups:
        return b""
    top, middle, low = _QR_SLOT_MASKS if groups <= _QR_GROUPS else _make_slot_masks(groups)
    digits = int.from_bytes(values, "big")
    wide = (((digits & top) >> 16) + 45 * ((digits & middle) >> 8)
            + 2025 * (digits & low))
    if wide & top:
        raise CodecError("base45_invalid", "Base45 triplet exceeds 65535")
    slots = wide.to_bytes(3 * groups, "big")
    out = bytearray(2 * groups)
    out[0::2] = slots[1::3]
    out[1::2] = slots[2::3]
    return bytes(out)


def _make_slot_masks(groups: int) -> tuple[int, int, int]:
    """The masks of the top, middle and low byte of `groups` 3-byte slots. Masks made for
    more slots serve fewer (an AND is as long as its shorter operand), so one set made for
    the largest QR code serves every DCC."""
    top = int.from_bytes(b"\xff\x00\x00" * groups, "big")
    return top, top >> 8, top >> 16


_QR_GROUPS = 1432  # 4,296 alphanumeric characters (QR version 40, level L) / 3
_QR_SLOT_MASKS = _make_slot_masks(_QR_GROUPS)


def b45decode(text: str) -> bytes:
    """Decode Base45; raises CodecError('base45_invalid') on a character outside the
    alphabet, a dangling single character or a group whose value overflows."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise CodecError("base45_invalid", "Base45 text must be ASCII") from None
    values = raw.translate(_BASE45_TABLE)
    if _INVALID in values:
        bad = text[values.index(_INVALID)]
        raise CodecError("base45_invalid", f"not a Base45 character: {bad!r}")
    rest = len(values) % 3
    if rest == 1:
        raise CodecError("base45_invalid", "Base45 text has a dangling character")
    out = _b45_groups(values[:len(values) - rest])
    if rest == 2:
        n = values[-2] + values[-1] * 45
        if n > 0xFF:
            raise CodecError("base45_invalid", "Base45 final pair exceeds 255")
        out += bytes((n,))
    return out


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); raises ValueError otherwise."""
    if len(text) % 4 == 1 or not _B64URL.fullmatch(text):
        raise ValueError("not unpadded base64url")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None
    if len(text) % 4 and b64url_encode(data) != text:
        # the unused low bits of the last character must be zero (RFC 4648 §3.5): one
        # encoding per value, as JWS verifiers must compare what was signed
        raise ValueError("not canonical base64url (unused bits set in the last character)")
    return data


BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_VALUES = {char: value for value, char in enumerate(BASE58_ALPHABET)}


def multibase_b58encode(data: bytes) -> str:
    """Multibase base58btc: "z" then the Bitcoin base58 alphabet, one "1" per leading
    zero byte (draft-msporny-base58, as the Data Integrity specifications use)."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, digit = divmod(number, 58)
        out.append(BASE58_ALPHABET[digit])
    return "z" + "1" * zeros + "".join(reversed(out))


def multibase_b58decode(text: str) -> bytes:
    """The bytes of a multibase base58btc string; raises ValueError otherwise."""
    if not text.startswith("z"):
        raise ValueError("not multibase base58btc (no 'z' prefix)")
    body = text[1:]
    number = 0
    for char in body:
        if char not in _BASE58_VALUES:
            raise ValueError("not base58btc")
        number = number * 58 + _BASE58_VALUES[char]
    zeros = len(body) - len(body.lstrip("1"))
    return b"\0" * zeros + (number.to_bytes((number.bit_length() + 7) // 8, "big")
                            if number else b"")


def deflate_raw(data: bytes) -> bytes:
    """Raw DEFLATE (RFC 1951, no zlib header), as SMART Health Cards require."""
    return zlib.compress(data, 9, wbits=-15)


def inflate_raw(data: bytes, limit: int = 1 << 20) -> bytes:
    """Inflate raw DEFLATE; raises CodecError('deflate_invalid') on a broken or
    unterminated stream, or one that expands beyond `limit` bytes."""
    decompressor = zlib.decompressobj(-15)
    try:
        out = decompressor.decompress(data, limit)
    except zlib.error as exc:
        raise CodecError("deflate_invalid", f"payload is not raw DEFLATE: {exc}") from None
    if decompressor.unconsumed_tail:
        raise CodecError("deflate_invalid", "inflated payload is too large")
    if not decompressor.eof:
        raise CodecError("deflate_invalid", "DEFLATE stream is truncated")
    if decompressor.unused_data:
        raise CodecError("deflate_invalid", "data follows the end of the DEFLATE stream")
    return out


def zlib_decompress(data: bytes, limit: int = 1 << 20) -> bytes:
    """Inflate a zlib stream (RFC 1950); raises CodecError('zlib_invalid')."""
    if len(data) <= limit // _DEFLATE_MAX_RATIO:
        # Too short to inflate beyond `limit`: one call, without a decompressor object.
        try:
            return zlib.decompress(data)
        except zlib.error as exc:
            if str(exc).startswith("Error -5 "):  # Z_BUF_ERROR: the input ended early
                raise CodecError("zlib_invalid", "zlib stream is truncated") from None
            raise CodecError("zlib_invalid", f"not a zlib stream: {exc}") from None
    decompressor = zlib.decompressobj()
    try:
        out = decompressor.decompress(data, limit)
    except zlib.error as exc:
        raise CodecError("zlib_invalid", f"not a zlib stream: {exc}") from None
    if decompressor.unconsumed_tail:
        raise CodecError("zlib_invalid", "decompressed payload is too large")
    if not decompressor.eof:
        raise CodecError("zlib_invalid", "zlib stream is truncated")
    return out


_DEFLATE_MAX_RATIO = 1032  # DEFLATE cannot expand a byte into more than 1,032 bytes


# SMART Health Card numeric mode: each JWS character c becomes two digits, ord(c) - 45.

SHC_PREFIX = "shc:/"
_SHC_MAX = ord("z") - 45  # 77: the largest value a base64url or '.' character can give


def shc_numeric_encode(jws: str) -> str:
    if jws.isascii():  # a JWS always is: one C-level pass (the loop: ~0.5 ms a card)
        return jws.translate(_SHC_DIGITS)
    return "".join(f"{ord(char) - 45:02d}" for char in jws)


_SHC_DIGITS = {code: f"{code - 45:02d}" for code in range(128)}


def shc_numeric_decode(digits: str) -> str:
    """Digits back to JWS text; CodecError('odd_digits' | 'digit_out_of_range' |
    'not_numeric')."""
    if not digits.isascii() or not digits.isdigit():
        raise CodecError("not_numeric", "SMART Health Card QR content must be digits")
    if len(digits) % 2:
        raise CodecError("odd_digits", "SMART Health Card QR content has an odd number of digits")
    chars = []
    for i in range(0, len(digits), 2):
        value = int(digits[i:i + 2])
        if value > _SHC_MAX:
            raise CodecError("digit_out_of_range",
                             f"digit pair {digits[i:i + 2]} at {i} is above {_SHC_MAX}")
        chars.append(chr(value + 45))
    return "".join(chars)


def epoch_time(value: Any) -> datetime | None:
    """A JWT/CWT NumericDate (seconds since 1970, UTC) as a datetime; None for anything
    that is not a number or is out of range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
