"""PDF documents on fpdf2, shared by appointment slips and certificates.

Fonts are found by file name in the ``FONT_DIRS`` setting and chosen per script: the
locale's script gives the main family, every other script found in the document's text
gets a fallback family (Latin always has one, for digits and names). Text shaping
(HarfBuzz, through uharfbuzz) is on, so Devanagari conjuncts and joined right-to-left
Arabic come out right. A needed font that is missing is an error naming the file and
FONT_DIRS: never silent boxes ("tofu").

Speed. Naively, one ``FPDF()`` per document parses every font file and has fontTools
subset each font again for every document; that dominates (a few PDFs per second). Here
each font file is parsed once per process (:class:`FontFace`: cmap, widths, HarfBuzz
face), and the embedded font program is built from a *working set* of glyphs per font:
the glyphs of the basic letters and digits of the font's script, grown by the glyphs a
document needs when it needs new ones. The subset of the working set is made once,
compressed once, and the same bytes are embedded in every document until the set grows
(after a few growths the whole font is used, so rebuilds stay rare). A document costs
the shaping of its text and the writing of its own objects only.

Layouts are defined once, as drawing operations on a :class:`Canvas` (positions in
millimetres from the page's top left; :func:`paragraph` and :func:`field` are the shared
building blocks), whichever engine draws them: :class:`FpdfCanvas` draws with fpdf2 (any
text, any number of pages), :class:`cowin_kit.core.pdf_page.PageWriter` writes one page
directly, with the same font faces, font choice and shaping (:func:`document_families`,
:func:`cluster_texts`), and raises :class:`~cowin_kit.core.pdf_page.DoesNotFit` for what it
cannot draw, so that the caller draws the same layout on an :class:`FpdfCanvas`.

fpdf2's private API (its font, output and bidi internals, used for the speed above) is
used in one section only, "fpdf2 internals", which lists what it relies on in
:data:`FPDF2_INTERNALS` (checked by the tests; setup.cfg pins fpdf2 to one minor version).
"""

from __future__ import annotations

import copy
import threading
import zlib
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Protocol, Sequence

from babel import Locale
from babel.core import UnknownLocaleError, get_global, parse_locale
from fontTools import subset as ftsubset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.bidi import BidiParagraph, auto_detect_base_direction
from fpdf.enums import PDFResourceType, TextEmphasis
from fpdf.fonts import HarfBuzzFont, SubsetMap, TTFFont
from fpdf.output import CIDSystemInfo, OutputProducer, PDFFont, _build_cmap_blocks, _tt_font_widths
from fpdf.syntax import Name, PDFArray, PDFContentStream, PDFObject

import uharfbuzz as hb

__all__ = ["A4", "Canvas", "Document", "FPDF2_INTERNALS", "FontFace", "FontLibrary",
           "FontMissing", "FpdfCanvas", "cluster_texts", "document_families", "field",
           "font_library", "fpdf2_internals_missing", "is_rtl", "locale_script", "paragraph",
           "scripts_in"]

A4 = (210.0, 297.0)  # page size, millimetres
DEFAULT_FONT_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/truetype/dejavu")
INSTALL_HINT = "apt-get install -y fonts-noto-core"

# Script (ISO 15924) -> candidate (regular, bold) font files, best first.
_NOTO_SANS = ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf")
_DEJAVU = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
SCRIPT_FONTS: dict[str, tuple[tuple[str, str], ...]] = {
    "Latn": (_NOTO_SANS, _DEJAVU),
    "Cyrl": (_NOTO_SANS, _DEJAVU),
    "Grek": (_NOTO_SANS, _DEJAVU),
    "Deva": (("NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"),),
    "Arab": (("NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf"),
             ("NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf")),
    "Beng": (("NotoSansBengali-Regular.ttf", "NotoSansBengali-Bold.ttf"),),
    "Guru": (("NotoSansGurmukhi-Regular.ttf", "NotoSansGurmukhi-Bold.ttf"),),
    "Gujr": (("NotoSansGujarati-Regular.ttf", "NotoSansGujarati-Bold.ttf"),),
    "Orya": (("NotoSansOriya-Regular.ttf", "NotoSansOriya-Bold.ttf"),),
    "Taml": (("NotoSansTamil-Regular.ttf", "NotoSansTamil-Bold.ttf"),),
    "Telu": (("NotoSansTelugu-Regular.ttf", "NotoSansTelugu-Bold.ttf"),),
    "Knda": (("NotoSansKannada-Regular.ttf", "NotoSansKannada-Bold.ttf"),),
    "Mlym": (("NotoSansMalayalam-Regular.ttf", "NotoSansMalayalam-Bold.ttf"),),
}
SCRIPT_NAMES = {"Latn": "Latin", "Cyrl": "Cyrillic", "Grek": "Greek", "Deva": "Devanagari",
                "Arab": "Arabic", "Beng": "Bengali", "Guru": "Gurmukhi", "Gujr": "Gujarati",
                "Orya": "Odia", "Taml": "Tamil", "Telu": "Telugu", "Knda": "Kannada",
                "Mlym": "Malayalam"}
# Code point blocks of the scripts above; anything else counts as common (Latin font).
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0370, 0x03FF, "Grek"), (0x0400, 0x052F, "Cyrl"), (0x0600, 0x06FF, "Arab"),
    (0x0750, 0x077F, "Arab"), (0x08A0, 0x08FF, "Arab"), (0x0900, 0x097F, "Deva"),
    (0x0980, 0x09FF, "Beng"), (0x0A00, 0x0A7F, "Guru"), (0x0A80, 0x0AFF, "Gujr"),
    (0x0B00, 0x0B7F, "Orya"), (0x0B80, 0x0BFF, "Taml"), (0x0C00, 0x0C7F, "Telu"),
    (0x0C80, 0x0CFF, "Knda"), (0x0D00, 0x0D7F, "Mlym"), (0xA8E0, 0xA8FF, "Deva"),
    (0xFB50, 0xFDFF, "Arab"), (0xFE70, 0xFEFF, "Arab"),
)
# Characters whose glyphs start every working set: printable ASCII, Latin-1, common
# punctuation, and the basic Arabic and Indic blocks (only what the font maps is taken).
# Other glyphs (Cyrillic, conjuncts, joined Arabic forms) join the set when first used.
_BASE_CODEPOINTS = frozenset(
    list(range(0x20, 0x7F)) + list(range(0xA0, 0x100)) + list(range(0x2010, 0x2028))
    + list(range(0x0600, 0x0700)) + list(range(0x0900, 0x0D80)))
# After this many growths of a working set, the whole font is used from then on.
MAX_GROWTHS = 8
# Shaped text widths remembered per font face, and wrapped lines of text (each cache is
# forgotten all at once when full).
WIDTH_CACHE_SIZE = 20_000
LINES_CACHE_SIZE = 5_000
SHAPING_CACHE_SIZE = 20_000
_LINES_CACHE: dict[tuple[Any, ...], list[str]] = {}
SCRIPTS_CACHE_SIZE = 5_000
_SCRIPTS_CACHE: dict[str, frozenset[str]] = {}
BIDI_CACHE_SIZE = 5_000
_BIDI_CACHE: dict[tuple[str, Any, Any], tuple[tuple[str, Any], ...]] = {}
_DROP_TABLES = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC",
                "EBDT", "EBLC", "EBSC", "SVG ", "CPAL", "COLR", "DSIG"]


class FontMissing(RuntimeError):
    """A font file that a document needs is not in any of the FONT_DIRS folders."""


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


# --- fonts, parsed once per process -----------------------------------------------------


@dataclass(frozen=True)
class _Embedding:
    """The font program embedded for a working set of glyphs."""

    names: frozenset[str]
    gid_by_name: dict[str, int]
    compressed: bytes
    length: int


class FontFace:
    """One font file, parsed once: its metrics, a HarfBuzz face, and the
    embedding of its current working set of glyphs. Safe to share between threads."""

    def __init__(self, path: Path):
        self.path = path
        self._raw = path.read_bytes()
        self.prototype = _font_prototype(path, self._raw)  # fpdf2's parse, for Document
        ttfont = TTFont(BytesIO(self._raw), recalcTimestamp=False, lazy=True)
        self.glyph_names: list[str] = list(ttfont.getGlyphOrder())
        metrics = ttfont["hmtx"].metrics
        scale = self.prototype.scale
        self.widths: list[int] = [round(scale * metrics[name][0]) for name in self.glyph_names]
        ttfont.close()
        # code point -> glyph name, PostScript name, fpdf2's font descriptor (its fields)
        self.cmap: dict[int, str] = self.prototype.cmap
        self.ps_name: str = self.prototype.name
        self.descriptor: Any = self.prototype.desc
        self.hb_face = hb.Face(hb.Blob(self._raw))
        base = {self.cmap[cp] for cp in _BASE_CODEPOINTS if cp in self.cmap}
        self._all_names = frozenset(self.glyph_names)
        self.widths_cache: dict[tuple[Any, ...], tuple[int, int]] = {}
        self.shaping_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], ...]] = {}
        self._lock = threading.Lock()
        self._growths = 0
        self._embedding = self._build(frozenset(base) | {".notdef"})

    def new_font(self, index: int, fontkey: str, style: str) -> "_SharedFont":
        """A per-document fpdf2 font object sharing everything immutable with this face."""
        return _shared_font(self, index, fontkey, style)

    def embedding(self, names: frozenset[str]) -> _Embedding:
        current = self._embedding
        if names <= current.names:
            return current
        with self._lock:
            current = self._embedding
            if names <= current.names:
                return current
            self._growths += 1
            wanted = (self._all_names if self._growths > MAX_GROWTHS
                      else current.names | names)
            self._embedding = self._build(wanted)
            return self._embedding

    def _build(self, names: frozenset[str]) -> _Embedding:
        ttfont = TTFont(BytesIO(self._raw), recalcTimestamp=False, lazy=True)
        options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, hinting=False)
        options.drop_tables += _DROP_TABLES
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(glyphs=sorted(names))
        subsetter.subset(ttfont)
        gid_by_name = {name: gid for gid, name in enumerate(ttfont.getGlyphOrder())}
        output = BytesIO()
        ttfont.save(output)
        ttfont.close()
        program = output.getvalue()
        return _Embedding(frozenset(names) | frozenset(gid_by_name), gid_by_name,
                          zlib.compress(program, 6), len(program))


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


class FontLibrary:
    """Font files by name in a list of folders, each parsed once."""

    def __init__(self, dirs: Sequence[str]):
        self.dirs = tuple(str(d) for d in dirs)
        self._faces: dict[Path, FontFace] = {}
        self._files: dict[str, tuple[Path, Path]] = {}
        self._lock = threading.Lock()

    def find(self, filename: str) -> Path | None:
        for folder in self.dirs:
            candidate = Path(folder) / filename
            if candidate.is_file():
                return candidate
        return None

    def files_for(self, script: str) -> tuple[Path, Path]:
        """(regular, bold) font files for a script, or FontMissing. Files found are
        remembered (no file system look-up per document); a missing font is looked for
        again every time, so installing it needs no restart."""
        found = self._files.get(script)
        if found is not None:
            return found
        candidates = SCRIPT_FONTS.get(script, SCRIPT_FONTS["Latn"])
        for regular, bold in candidates:
            regular_path = self.find(regular)
            if regular_path is not None:
                found = self._files[script] = (regular_path, self.find(bold) or regular_path)
                return found
        wanted = " or ".join(regular for regular, _bold in candidates)
        raise FontMissing(
            f"No font for {SCRIPT_NAMES.get(script, script)} text: {wanted} is in none of "
            f"the FONT_DIRS folders ({', '.join(self.dirs) or 'none given'}). Install the "
            f"Noto fonts (Debian/Ubuntu: {INSTALL_HINT}) or add the folder holding the file "
            "to the FONT_DIRS setting (COWIN_KIT_FONT_DIRS).")

    def face(self, path: Path) -> FontFace:
        found = self._faces.get(path)
        if found is None:
            with self._lock:
                found = self._faces.get(path)
                if found is None:
                    found = self._faces[path] = FontFace(path)
        return found


_LIBRARIES: dict[tuple[str, ...], FontLibrary] = {}
_LIBRARIES_LOCK = threading.Lock()


def font_library(dirs: Sequence[str] | None = None) -> FontLibrary:
    """The process-wide library of ``dirs`` (default: the app's FONT_DIRS setting)."""
    if dirs is None:
        from flask import current_app, has_app_context

        dirs = (current_app.config["COWIN_KIT"]["FONT_DIRS"] if has_app_context()
                else DEFAULT_FONT_DIRS)
    key = tuple(str(d) for d in dirs)
    library = _LIBRARIES.get(key)
    if library is None:
        with _LIBRARIES_LOCK:
            library = _LIBRARIES.setdefault(key, FontLibrary(key))
    return library


# --- documents -------------------------------------------------------------------------


def document_families(locale: str, texts: Iterable[str] = (), fonts: FontLibrary | None = None,
                      ) -> list[tuple[str, tuple[FontFace, FontFace]]]:
    """The font families of a document in ``locale`` showing ``texts``, main first:
    (family name, (regular face, bold face)). The locale's script gives the main family,
    every other script of the texts a fallback family, and Latin always has one."""
    library = fonts or font_library()
    main = locale_script(locale)
    wanted = [main] + sorted(scripts_in(texts) - {main})
    if "Latn" not in wanted:
        wanted.append("Latn")  # digits, codes and Latin names in any document
    families: list[tuple[str, tuple[FontFace, FontFace]]] = []
    for script in wanted:
        regular, bold = library.files_for(script)
        family = regular.stem.lower().replace("-regular", "")
        if any(family == known for known, _faces in families):
            continue  # Latin, Cyrillic and Greek share one font
        families.append((family, (library.face(regular), library.face(bold))))
    return families


# --- fpdf2 internals ---------------------------------------------------------------------
# The one place that uses fpdf2's private API, for speed only: fonts parsed once per process
# and shared by documents (TTFFont internals), their embedded subset made once (the
# OutputProducer's font output), bidi runs remembered, and a font state fix. Everything
# relied on is listed in FPDF2_INTERNALS; tests/test_pdf_engines.py fails when an fpdf2
# release changes it (setup.cfg pins fpdf2 to one minor version).

FPDF2_INTERNALS: dict[str, tuple[str, ...]] = {
    "FPDF": ("_preload_bidirectional_text", "_preload_font_styles", "_out",
             "_set_font_for_page", "current_font_is_set_on_page", "str_alias_nb_pages",
             "text_shaping", "strikethrough", "underline", "pages_count", "fonts",
             "_resource_catalog"),
    "TTFFont": ("__slots__", "_hbfont", "subset", "cmap", "desc", "scale", "name", "ttfont",
                "perform_harfbuzz_shaping", "shaped_text_width", "shape_text"),
    "SubsetMap": ("get_glyph", "pick_glyph", "pick", "items"),
    "OutputProducer": ("_add_fonts", "_add_pdf_obj", "fpdf"),
    "PDFContentStream": ("_contents", "filter", "length"),
    "fpdf.output": ("_tt_font_widths", "_build_cmap_blocks", "CIDSystemInfo", "PDFFont"),
}


def fpdf2_internals_missing() -> list[str]:
    """The names of FPDF2_INTERNALS that the installed fpdf2 lacks: none, or this section
    needs updating for that fpdf2."""
    from fpdf import output

    document = FPDF()
    owners: dict[str, Any] = {
        "FPDF": document, "TTFFont": TTFFont, "SubsetMap": SubsetMap,
        "OutputProducer": OutputProducer(document), "PDFContentStream": PDFContentStream(b""),
        "fpdf.output": output}
    return [f"{owner}.{name}" for owner, names in FPDF2_INTERNALS.items() for name in names
            if not hasattr(owners[owner], name)
            and name not in getattr(owners[owner], "__slots__", ())]


def _font_prototype(path: Path, raw: bytes) -> TTFFont:
    """fpdf2's parse of a font file (cmap, scale, descriptor), made without a document."""
    stand_in = SimpleNamespace(fonts={}, render_color_fonts=False)
    prototype = TTFFont(stand_in, path, "prototype", "")  # type: ignore[arg-type]
    prototype.ttfont.close()  # no open file per face: anything still read comes from memory
    prototype.ttfont = TTFont(BytesIO(raw), recalcTimestamp=False, lazy=True)
    return prototype


def _shared_font(face: FontFace, index: int, fontkey: str, style: str) -> "_SharedFont":
    """A per-document font object that shares everything immutable with the prototype."""
    prototype = face.prototype
    font = _SharedFont.__new__(_SharedFont)
    for slot in TTFFont.__slots__:
        if hasattr(prototype, slot):
            setattr(font, slot, getattr(prototype, slot))
    font.i = index
    font.fontkey = fontkey
    font.emphasis = TextEmphasis.coerce(style)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.color_font = None
    font._hbfont = HarfBuzzFont(face.hb_face)  # own hb font: fpdf2 sets ptem on it
    font.face = face
    font.subset = SubsetMap(font)
    return font


class _SharedFont(TTFFont):
    __slots__ = ("face",)

    def close(self) -> None:  # the parsed font is shared: never closed per document
        self._hbfont = None

    def shaped_text_width(self, text: str, font_size_pt: float,
                          text_shaping_params: dict[str, Any] | None) -> tuple[int, float]:
        """fpdf2's shaped width, remembered per font face: line breaking measures every
        prefix of a paragraph, and labels and notes repeat in every document."""
        params = text_shaping_params or {}
        features = params.get("features") or {}
        key = (text, params.get("fragment_direction"), params.get("script"),
               params.get("language"), tuple(sorted(features.items())))
        cache = self.face.widths_cache
        found = cache.get(key)
        if found is None:
            _infos, positions = self.perform_harfbuzz_shaping(text, font_size_pt,
                                                              text_shaping_params)
            scale = self.scale
            found = (len(positions or ()),
                     sum(round(scale * p.x_advance + 0.001) for p in positions or ()))
            if len(cache) >= WIDTH_CACHE_SIZE:
                cache.clear()
            cache[key] = found
        return found[0], found[1] * font_size_pt * 0.001

    def shape_text(self, text: str, font_size_pt: float,
                   text_shaping_params: dict[str, Any] | None) -> list[dict[str, Any]]:
        """fpdf2's shaping, with one change to the text each glyph stands for (its
        ToUnicode entry): see :func:`cluster_texts`."""
        if not text:
            return []
        params = text_shaping_params or {}
        features = params.get("features") or {}
        key = (text, font_size_pt, params.get("fragment_direction"), params.get("script"),
               params.get("language"), tuple(sorted(features.items())))
        cache = self.face.shaping_cache
        glyphs = cache.get(key)
        if glyphs is None:
            glyphs = self._shape(text, font_size_pt, text_shaping_params)
            if len(cache) >= SHAPING_CACHE_SIZE:
                cache.clear()
            cache[key] = glyphs
        shaped = []
        get_glyph, pick_glyph = self.subset.get_glyph, self.subset.pick_glyph
        for gid, unicode, name, width, x_advance, y_advance, x_offset, y_offset, force in glyphs:
            glyph = get_glyph(glyph=gid, unicode=unicode, glyph_name=name, glyph_width=width)
            if glyph is None:
                continue
            shaped.append({"mapped_char": pick_glyph(glyph), "x_advance": x_advance,
                           "y_advance": y_advance, "x_offset": x_offset,
                           "y_offset": y_offset, "force_positioning": force})
        return shaped

    def _shape(self, text: str, font_size_pt: float,
               text_shaping_params: dict[str, Any] | None) -> tuple[tuple[Any, ...], ...]:
        """The glyphs of ``text`` with their positions and the text each stands for (the
        same for every document: remembered per face by :meth:`shape_text`)."""
        infos, positions = self.perform_harfbuzz_shaping(text, font_size_pt,
                                                         text_shaping_params)
        texts = cluster_texts(text, infos, positions)
        names, widths = self.face.glyph_names, self.face.widths
        glyphs = []
        for info, position, chars in zip(infos, positions, texts):
            gid = info.codepoint
            width = widths[gid]
            glyphs.append((gid, tuple(ord(c) for c in chars), names[gid], width,
                           position.x_advance, position.y_advance, position.x_offset,
                           position.y_offset,
                           bool(width != position.x_advance or position.x_offset
                                or position.y_offset or position.y_advance)))
        return tuple(glyphs)


class _PrecompressedStream(PDFContentStream):
    """A FlateDecode stream whose bytes were compressed once, for many documents."""

    def __init__(self, compressed: bytes, length1: int):
        PDFObject.__init__(self)
        self._contents = compressed
        self.filter = Name("FlateDecode")
        self.length = len(compressed)
        self.length1 = length1


class _Producer(OutputProducer):
    """fpdf2's output, embedding shared fonts from their cached working set instead of
    subsetting each font again (mirrors fpdf2's own TrueType branch)."""

    def _add_fonts(self, *args):  # type: ignore[no-untyped-def]
        fonts = self.fpdf.fonts
        shared = [f for f in fonts.values() if isinstance(f, _SharedFont)]
        others = {k: f for k, f in fonts.items() if not isinstance(f, _SharedFont)}
        result = {}
        if others:
            self.fpdf.fonts = others
            try:
                result = super()._add_fonts(*args)
            finally:
                self.fpdf.fonts = fonts
        used = {int(font_id) for page in range(1, self.fpdf.pages_count + 1)
                for font_id in self.fpdf._resource_catalog.get_resources_per_page(
                    page, PDFResourceType.FONT)}
        for font in sorted(shared, key=lambda f: f.i):
            if font.i in used:  # fallback fonts the text did not need are left out
                result[font.i] = self._add_shared_font(font)
        SubsetMap.pick.cache_clear()  # process-wide caches of fpdf2, as its own output does
        SubsetMap.get_glyph.cache_clear()
        return result

    def _add_shared_font(self, font: _SharedFont) -> PDFFont:
        used = [(glyph, code) for glyph, code in font.subset.items() if glyph is not None]
        embedding = font.face.embedding(frozenset(glyph.glyph_name for glyph, _c in used))
        fontname = f"MPDFAA+{font.name}"
        composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        cid_font = PDFFont(subtype="CIDFontType2", base_font=fontname,
                           d_w=font.desc.missing_width, w=_tt_font_widths(font))
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])

        def utf16(code: int) -> str:
            return chr(code).encode("utf-16-be").hex().upper()

        bfchar = [f"<{code:04X}> <{''.join(utf16(c) for c in glyph.unicode)}>\n"
                  for glyph, code in used
                  if isinstance(glyph.unicode, tuple) and glyph.unicode]
        to_unicode = PDFContentStream((
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo\n<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{_build_cmap_blocks(bfchar, 'bfchar')}"
            "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
        ).encode("latin-1"))
        self._add_pdf_obj(to_unicode, "fonts")
        composite.to_unicode = to_unicode

        system_info = CIDSystemInfo()
        self._add_pdf_obj(system_info, "fonts")
        cid_font.c_i_d_system_info = system_info

        descriptor = copy.copy(font.desc)
        descriptor.font_name = Name(fontname)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor

        gids = embedding.gid_by_name
        size = max((code for _glyph, code in used), default=0) + 1
        cid_to_gid = bytearray(2 * size)
        for glyph, code in used:
            gid = gids.get(glyph.glyph_name, 0)
            cid_to_gid[2 * code] = gid >> 8
            cid_to_gid[2 * code + 1] = gid & 0xFF
        cid_to_gid_map = PDFContentStream(contents=bytes(cid_to_gid), compress=True)
        self._add_pdf_obj(cid_to_gid_map, "fonts")
        cid_font.c_i_d_to_g_i_d_map = cid_to_gid_map

        program = _PrecompressedStream(embedding.compressed, embedding.length)
        self._add_pdf_obj(program, "fonts")
        descriptor.font_file2 = program
        return composite


class _Fpdf2Base(FPDF):
    """FPDF with the private parts Document needs: bidi runs remembered, the font set on
    the page, and output with the shared fonts."""

    def set_font_on_page(self) -> None:
        # Set the current font on the page now. Left to fpdf2 (2.8), a line that starts in
        # a fallback font sets it inside the line's q/Q, which forgets it, and the
        # following lines are drawn at the previous size.
        if self.page and not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(self.current_font, self.font_size_pt))

    def _preload_bidirectional_text(self, text: str, markdown: bool):  # type: ignore[override]
        """fpdf2's (2.8), with the bidirectional runs of a text remembered: the Unicode
        bidi algorithm (pure Python) ran again for every cell of every document, for the
        same labels. The runs depend only on the text and the paragraph direction."""
        direction = self.text_shaping["direction"] or auto_detect_base_direction(text)
        self.text_shaping["paragraph_direction"] = direction
        key = (text, direction, self.str_alias_nb_pages)
        segments = _BIDI_CACHE.get(key)
        if segments is None:
            segments = tuple(BidiParagraph(text=text, base_direction=direction,
                                           preserve_bn_chars=True,
                                           alias=self.str_alias_nb_pages).get_bidi_fragments())
            if len(_BIDI_CACHE) >= BIDI_CACHE_SIZE:
                _BIDI_CACHE.clear()
            _BIDI_CACHE[key] = segments
        emphasis = ("B" in self.font_style, "I" in self.font_style, self.strikethrough,
                    self.underline)
        fragments = []
        for bidi_text, bidi_direction in segments:
            self.text_shaping["fragment_direction"] = bidi_direction
            fragments.extend(self._preload_font_styles(bidi_text, markdown,
                                                       _initial_emphasis=emphasis))
            emphasis = getattr(self, "_markdown_emphasis", emphasis)
        return tuple(fragments)

    def to_bytes(self) -> bytes:
        return bytes(self.output(output_producer_class=_Producer))


# --- documents: fpdf2, and the engine-neutral canvas ------------------------------------


class Document(_Fpdf2Base):
    """An fpdf2 document with the fonts for ``locale`` and for the scripts of ``texts``
    (give every dynamic text: names, places), shaping on, right-to-left when the locale
    is. Write with the usual FPDF methods after :meth:`use`; finish with :meth:`to_bytes`
    (or draw a layout on it through :class:`FpdfCanvas`)."""

    def __init__(self, locale: str, texts: Iterable[str] = (), *,
                 fonts: FontLibrary | None = None, format: str | tuple[float, float] = "A4"):
        super().__init__(unit="mm", format=format)
        self.locale = str(locale)
        self.rtl = is_rtl(self.locale)
        self.align = "R" if self.rtl else "L"
        self.families: list[str] = []
        for family, faces in document_families(self.locale, texts, fonts):
            for style, face in zip(("", "B"), faces):
                fontkey = family + style
                self.fonts[fontkey] = face.new_font(len(self.fonts) + 1, fontkey, style)
            self.families.append(family)
        if len(self.families) > 1:
            self.set_fallback_fonts(self.families[1:], exact_match=False)
        self.set_text_shaping(use_shaping_engine=True, direction="rtl" if self.rtl else "ltr")
        self.set_creator("cowin-kit")
        self.set_lang(self.locale.replace("_", "-"))

    def use(self, *, bold: bool = False, size: float = 11) -> None:
        self.set_font(self.families[0], "B" if bold else "", size)
        self.set_font_on_page()

    def lines(self, text: str, width: float, height: float) -> list[str]:
        """``text`` wrapped within a cell ``width`` wide in the current font, as fpdf2's
        multi_cell wraps it. Remembered (labels and notes repeat in every document):
        fpdf2's line breaking costs far more than writing a line."""
        key = (text, tuple(self.families), self.font_family, self.font_style,
               self.font_size_pt, round(width, 2), self.rtl)
        lines = _LINES_CACHE.get(key)
        if lines is None:
            if self.get_string_width(text) + 2 * self.c_margin <= width:
                lines = [text]
            else:
                lines = self.multi_cell(width, height, text, align=self.align,
                                        dry_run=True, output="LINES")
            if len(_LINES_CACHE) >= LINES_CACHE_SIZE:
                _LINES_CACHE.clear()
            _LINES_CACHE[key] = lines
        return lines


class Canvas(Protocol):
    """What a layout draws on, whichever engine: positions and sizes in millimetres from
    the page's top left, font sizes in points, grays 0 (black) to 255. ``left``, ``top``,
    ``right`` and ``bottom`` are the edges of the page's printable area."""

    w: float
    h: float
    rtl: bool
    left: float
    top: float
    right: float
    bottom: float

    def cell(self, x: float, y: float, width: float, height: float, text: str, *,
             size: float, bold: bool = False, align: str = "L", gray: float = 0) -> None:
        """One line of text in a cell: 1 mm in from its side ("L", "R") or centred
        ("C"), baseline at half the height plus 0.3 of the font size."""

    def text_lines(self, x: float, y: float, width: float, height: float, text: str, *,
                   size: float, bold: bool = False, gray: float = 0,
                   align: str | None = None) -> float:
        """``text`` wrapped within ``width``, a cell of ``height`` per line, on the
        reading side of the locale unless ``align`` is given; the y below it."""

    def line(self, x1: float, y1: float, x2: float, y2: float, *, gray: float = 0) -> None:
        """A 0.2 mm line."""

    def image(self, image: Any, x: float, y: float, w: float, h: float) -> None:
        """A Pillow image."""

    def new_page(self) -> float:
        """Continue on a new page; the y of its top (or DoesNotFit: one page only)."""

    def to_bytes(self, *, title: str = "") -> bytes:
        """The PDF."""


class FpdfCanvas:
    """The :class:`Canvas` drawn with fpdf2 (:class:`Document`): any text (line breaks,
    words wider than their box, characters no font has), any number of pages."""

    def __init__(self, locale: str, texts: Iterable[str] = (), *,
                 fonts: FontLibrary | None = None, size: tuple[float, float] = A4,
                 margins: tuple[float, float, float, float] = (15, 12, 15, 12)):
        self.document = document = Document(locale, texts, fonts=fonts, format=size)
        self.rtl = document.rtl
        self.w, self.h = size
        left, top, right, bottom = margins
        self.left, self.top, self.right, self.bottom = left, top, self.w - right, self.h - bottom
        document.set_margins(left, top, right)
        document.set_auto_page_break(True, margin=bottom)
        document.add_page()

    def cell(self, x: float, y: float, width: float, height: float, text: str, *,
             size: float, bold: bool = False, align: str = "L", gray: float = 0) -> None:
        document = self.document
        document.use(bold=bold, size=size)
        document.set_text_color(gray)
        document.set_xy(x, y)
        document.cell(width, height, text, align=align)

    def text_lines(self, x: float, y: float, width: float, height: float, text: str, *,
                   size: float, bold: bool = False, gray: float = 0,
                   align: str | None = None) -> float:
        document = self.document
        document.use(bold=bold, size=size)
        document.set_text_color(gray)
        align = align or document.align
        for line in document.lines(text, width, height):
            document.set_xy(x, y)  # past the bottom margin, fpdf2 continues on a new page
            document.cell(width, height, line, align=align, new_x="LMARGIN", new_y="NEXT")
            y = document.y
        return y

    def line(self, x1: float, y1: float, x2: float, y2: float, *, gray: float = 0) -> None:
        self.document.set_draw_color(gray)
        self.document.line(x1, y1, x2, y2)

    def image(self, image: Any, x: float, y: float, w: float, h: float) -> None:
        if image.mode == "1":  # fpdf2 2.8 writes bilevel images with wrong parameters
            image = image.convert("L")
        self.document.image(image, x=x, y=y, w=w, h=h)

    def new_page(self) -> float:
        self.document.add_page()
        return self.top

    def to_bytes(self, *, title: str = "") -> bytes:
        if title:
            self.document.set_title(title)
        return self.document.to_bytes()


# --- layout building blocks (any Canvas) -------------------------------------------------


def paragraph(page: Canvas, text: str, y: float, *, size: float = 11, bold: bool = False,
              gap: float = 1.5, left: float | None = None, right: float | None = None) -> float:
    """A block of text across the page (or from ``left`` to ``right``), on the reading
    side of the locale; the y below it and ``gap``."""
    left = page.left if left is None else left
    right = page.right if right is None else right
    return page.text_lines(left, y, right - left, size * 0.5, text, size=size,
                           bold=bold) + gap


def field(page: Canvas, label: str, value: str, y: float, *, label_width: float = 55,
          size: float = 11, bold_value: bool = False, label_gray: float = 90) -> float:
    """A label and its value side by side, mirrored for right-to-left locales, on a new
    page when fewer than two lines are left; the y below it."""
    line = size * 0.5
    if page.bottom - y < 2 * line:
        y = page.new_page()
    width = page.right - page.left
    label_x = page.right - label_width if page.rtl else page.left
    value_x = page.left if page.rtl else page.left + label_width
    below_label = y + line
    if label:
        below_label = page.text_lines(label_x, y, label_width - 2, line, label,
                                      size=min(size, 11) - 1, gray=label_gray)
    below_value = page.text_lines(value_x, y, width - label_width, line, value, size=size,
                                  bold=bold_value)
    return max(below_value, below_label) + 1
