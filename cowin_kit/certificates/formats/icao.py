"""ICAO Doc 9303 (Part 3, §6) machine-readable name transliteration, as the EU DCC uses
for `nam.fnt`/`nam.gnt`: upper-case A-Z, with '<' for spaces and hyphens.

Latin letters with diacritics follow Doc 9303's recommended table (Ä -> AE, Ö -> OE,
Ü -> UE, ß -> SS, Å -> AA, Æ -> AE, Ø -> OE, Þ -> TH, Ñ -> N ...); other accented Latin
letters lose their marks. Other scripts (Cyrillic, Greek, Devanagari, Arabic, CJK ...) go
through `anyascii` first — a generic romanisation, not Doc 9303's per-script tables, so
an issuer that holds the passport's MRZ spelling should pass it explicitly
(`PersonName.family_icao`)."""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

_SPECIAL = {
    "Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "ẞ": "SS", "Å": "AA", "Æ": "AE",
    "Ø": "OE", "Œ": "OE", "Þ": "TH", "Ð": "D", "Đ": "D", "Ħ": "H", "Ĳ": "IJ",
    "Ł": "L", "Ŀ": "L", "Ŋ": "N", "ı": "I", "ĸ": "K", "Ŧ": "T",
}
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—_,]+")
_DROP = re.compile(r"[^A-Z<]")
_REPEATED = re.compile(r"<{2,}")


def _letter(char: str) -> str:
    upper = char.upper()
    if upper in _SPECIAL:
        return _SPECIAL[upper]
    if char in _SPECIAL:
        return _SPECIAL[char]
    if "A" <= upper <= "Z":
        return upper
    base = unicodedata.normalize("NFD", upper)
    stripped = "".join(c for c in base if not unicodedata.combining(c))
    if stripped.isascii():
        return stripped
    return anyascii(char).upper()


def transliterate(name: str, max_length: int = 80) -> str:
    """`name` in ICAO 9303 form: 'Musterfrau-Gößinger' -> 'MUSTERFRAU<GOESSINGER'.
    Apostrophes and other punctuation are dropped; runs of separators collapse to one
    '<'; the result is cut to `max_length` (the DCC schema allows 80)."""
    name = unicodedata.normalize("NFC", name.strip())
    if name.isascii():  # each ASCII character maps to itself upper-cased (most names)
        out = name
    else:
        out = "".join("<" if _SEPARATORS.fullmatch(c) else _letter(c) for c in name)
    out = _SEPARATORS.sub("<", out.upper())
    out = _DROP.sub("", out)
    out = _REPEATED.sub("<", out).strip("<")
    return out[:max_length].rstrip("<")
