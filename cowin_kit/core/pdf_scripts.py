"""Scripts of text, for the PDF documents (:mod:`cowin_kit.core.pdf`): the script of a
character, of texts and of a locale, the direction of a locale, and the text each shaped
glyph stands for (its ToUnicode entry, :func:`cluster_texts`). Pure functions, no fonts."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Sequence

from babel import Locale
from babel.core import UnknownLocaleError, get_global, parse_locale

__all__ = ["char_script", "cluster_texts", "is_rtl", "locale_script", "scripts_in"]

# Code point blocks of the scripts with fonts (pdf_fonts.SCRIPT_FONTS); anything else
# counts as common (Latin font).
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0370, 0x03FF, "Grek"), (0x0400, 0x052F, "Cyrl"), (0x0600, 0x06FF, "Arab"),
    (0x0750, 0x077F, "Arab"), (0x08A0, 0x08FF, "Arab"), (0x0900, 0x097F, "Deva"),
    (0x0980, 0x09FF, "Beng"), (0x0A00, 0x0A7F, "Guru"), (0x0A80, 0x0AFF, "Gujr"),
    (0x0B00, 0x0B7F, "Orya"), (0x0B80, 0x0BFF, "Taml"), (0x0C00, 0x0C7F, "Telu"),
    (0x0C80, 0x0CFF, "Knda"), (0x0D00, 0x0D7F, "Mlym"), (0xA8E0, 0xA8FF, "Deva"),
    (0xFB50, 0xFDFF, "Arab"), (0xFE70, 0xFEFF, "Arab"),
)
# Scripts of texts remembered (forgotten all at once when full).
SCRIPTS_CACHE_SIZE = 5_000
_SCRIPTS_CACHE: dict[str, frozenset[str]] = {}


def char_script(char: str) -> str | None:
    """ISO 15924 code of the script block of ``char``, None for common characters."""
    code = ord(char)
    if code < 0x370:
        return None
    for start, end, script in _SCRIPT_RANGES:
        if start <= code <= end:
            return script
    return None


def scripts_in(texts: Iterable[str]) -> set[str]:
    """The scripts (with a font mapping) used by ``texts``."""
    found: set[str] = set()
    for text in texts:
        if not text or text.isascii():  # most texts (codes, dates, Latin names): fast
            continue
        scripts = _SCRIPTS_CACHE.get(text)
        if scripts is None:  # labels repeat in every document: remembered
            scripts = frozenset(script for script in map(char_script, set(text))
                                if script is not None)
            if len(_SCRIPTS_CACHE) >= SCRIPTS_CACHE_SIZE:
                _SCRIPTS_CACHE.clear()
            _SCRIPTS_CACHE[text] = scripts
        found.update(scripts)
    return found


@lru_cache(maxsize=256)
def locale_script(locale: str) -> str:
    """The script a locale is written in: 'hi' -> 'Deva', 'ar' -> 'Arab', 'uk' -> 'Cyrl'
    (CLDR's likely subtags, through Babel)."""
    try:
        language, territory, script, _variant = parse_locale(str(locale).replace("-", "_"))
    except ValueError:
        return "Latn"
    if script:
        return script
    likely = get_global("likely_subtags")
    for key in (f"{language}_{territory}" if territory else None, language):
        if key and key in likely:
            return parse_locale(likely[key])[2] or "Latn"
    return "Latn"


@lru_cache(maxsize=256)  # Babel parses the locale each time: cheap to remember
def is_rtl(locale: str) -> bool:
    try:
        return Locale.parse(str(locale).replace("-", "_")).character_order == "right-to-left"
    except (ValueError, UnknownLocaleError):
        return False


def cluster_texts(text: str, infos: Sequence[Any], positions: Sequence[Any]) -> list[str]:
    """The text each shaped glyph stands for (its ToUnicode entry), from HarfBuzz's
    glyph infos and positions of ``text`` (cluster level 1). fpdf2 gives a cluster's
    whole text to its first glyph and none to the others; when a cluster has several
    advancing glyphs, e.g. Devanagari "रि" drawn as the i-sign then र, text extraction
    sees a gap (pdftotext writes "परि वार"). Here, left to right, the cluster's
    characters are spread in order over its advancing glyphs (marks, which do not
    advance, get none), so the text comes out whole and in logical order ("परिवार")."""
    starts = sorted({int(info.cluster) for info in infos})
    ends = dict(zip(starts, starts[1:] + [len(text)]))
    advancing: dict[int, int] = {}  # cluster -> glyphs that advance
    for info, position in zip(infos, positions):
        if position.x_advance:
            advancing[info.cluster] = advancing.get(info.cluster, 0) + 1
    rtl = len(infos) > 1 and infos[0].cluster > infos[-1].cluster
    seen: dict[int, int] = {}
    texts: list[str] = []
    for info, position in zip(infos, positions):
        cluster = int(info.cluster)
        chars = text[cluster:ends[cluster]]
        count = advancing.get(cluster, 0)
        nth = seen.get(cluster, 0)
        if rtl or count <= 1:  # fpdf2's way: the whole text on the first glyph
            chars = chars if nth == 0 else ""
            seen[cluster] = nth + 1
        elif not position.x_advance:
            chars = ""
        else:
            chars = chars[nth:nth + 1] if nth < count - 1 else chars[nth:]
            seen[cluster] = nth + 1
        if not rtl and chars and not position.x_advance and texts:
            texts[-1] += chars  # a mark of its own (e.g. the e-sign of के) joins its base
            chars = ""
        texts.append(chars)
    return texts
