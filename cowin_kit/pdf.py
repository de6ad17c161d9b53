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

:mod:`cowin_kit.pdf_page` writes fixed one-page layouts (the certificate) directly, with
the same font faces, font choice and shaping (:func:`document_families`,
:func:`cluster_texts`), without fpdf2's per-cell machinery.
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
from typing import Any, Iterable, Sequence

from babel import Locale
from babel.core import UnknownLocaleError, get_global, parse_locale
from fontTools import subset as ftsubset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.bidi import BidiParagraph, auto_detect_base_direction
from fpdf.enums import PDFResourceType, TextEmphasis
from fpdf.fonts import HarfBuzzFont, SubsetMap, TTFFont
from fpdf.image_datastructures import RasterImageInfo
from fpdf.image_parsing import get_img_info
from fpdf.output import CIDSystemInfo, OutputProducer, PDFFont, _build_cmap_blocks, _tt_font_widths
from fpdf.syntax import Name, PDFArray, PDFContentStream, PDFObject

import uharfbuzz as hb

__all__ = ["Document", "FontFace", "FontLibrary", "FontMissing", "cluster_texts",
           "document_families", "font_library", "is_rtl", "locale_script", "scripts_in"]

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
_SHARED_IMAGE_KEY = "cowin_kit.pdf.image"
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
    """One font file, parsed once: the metrics fpdf2 needs, a HarfBuzz face, and the
    embedding of its current working set of glyphs. Safe to share between threads."""

    def __init__(self, path: Path):
        self.path = path
        self._raw = path.read_bytes()
        stand_in = SimpleNamespace(fonts={}, render_color_fonts=False)
        self.prototype = TTFFont(stand_in, path, "prototype", "")  # type: ignore[arg-type]
        ttfont = self.prototype.ttfont
        self.glyph_names: list[str] = list(ttfont.getGlyphOrder())
        metrics = ttfont["hmtx"].metrics
        scale = self.prototype.scale
        self.widths: list[int] = [round(scale * metrics[name][0]) for name in self.glyph_names]
        ttfont.close()  # no open file per face: anything still read comes from memory
        self.prototype.ttfont = TTFont(BytesIO(self._raw), recalcTimestamp=False, lazy=True)
        self.hb_face = hb.Face(hb.Blob(self._raw))
        base = {self.prototype.cmap[cp] for cp in _BASE_CODEPOINTS if cp in self.prototype.cmap}
        self._all_names = frozenset(self.glyph_names)
        self.widths_cache: dict[tuple[Any, ...], tuple[int, int]] = {}
        self.shaping_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], ...]] = {}
        self._lock = threading.Lock()
        self._growths = 0
        self._embedding = self._build(frozenset(base) | {".notdef"})

    def new_font(self, index: int, fontkey: str, style: str) -> "_SharedFont":
        """A per-document font object that shares everything immutable with the prototype."""
        font = _SharedFont.__new__(_SharedFont)
        for slot in TTFFont.__slots__:
            if hasattr(self.prototype, slot):
                setattr(font, slot, getattr(self.prototype, slot))
        font.i = index
        font.fontkey = fontkey
        font.emphasis = TextEmphasis.coerce(style)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.color_font = None
        font._hbfont = HarfBuzzFont(self.hb_face)  # own hb font: fpdf2 sets ptem on it
        font.face = self
        font.subset = SubsetMap(font)
        return font

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


class Document(FPDF):
    """An fpdf2 document with the fonts for ``locale`` and for the scripts of ``texts``
    (give every dynamic text: names, places), shaping on, right-to-left when the locale
    is. Write with the usual FPDF methods after :meth:`use`; finish with :meth:`to_bytes`."""

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
        if self.page and not self.current_font_is_set_on_page:
            # Set the font on the page now. Left to fpdf2 (2.8), a line that starts in a
            # fallback font sets it inside the line's q/Q, which forgets it, and the
            # following lines are drawn at the previous size.
            self._out(self._set_font_for_page(self.current_font, self.font_size_pt))

    def text_block(self, width: float, height: float, text: str) -> None:
        """``text`` at the current position, wrapped within ``width``. The lines are
        remembered (labels and notes repeat in every document) and written as cells:
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
        x = self.x
        for line in lines:
            self.set_x(x)
            self.cell(width, height, line, align=self.align, new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str, *, size: float = 11, bold: bool = False,
                  gap: float = 1.5) -> None:
        """A block of text across the page, on the reading side of the locale."""
        self.use(bold=bold, size=size)
        self.set_x(self.l_margin)
        self.text_block(self.w - self.l_margin - self.r_margin, size * 0.5, text)
        self.ln(gap)

    def field(self, label: str, value: str, *, label_width: float = 55, size: float = 11,
              bold_value: bool = False) -> None:
        """A label and its value side by side; mirrored for right-to-left locales."""
        line = size * 0.5
        width = self.w - self.l_margin - self.r_margin
        top = self.y
        if self.page_break_trigger - top < 2 * line:
            self.add_page()
            top = self.y
        label_x = self.w - self.r_margin - label_width if self.rtl else self.l_margin
        value_x = self.l_margin if self.rtl else self.l_margin + label_width
        if label:
            self.use(size=min(size, 11) - 1)
            self.set_text_color(90)
            self.set_xy(label_x, top)
            self.text_block(label_width - 2, line, label)
        below_label = self.y
        self.set_text_color(0)
        self.use(bold=bold_value, size=size)
        self.set_xy(value_x, top)
        self.text_block(width - label_width, line, value)
        self.set_y(max(self.y, below_label) + 1)

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

    def shared_image(self, image: Any, *, x: float, y: float, w: float, h: float) -> None:
        """Draw a Pillow image (mode "1", "L", "RGB" or "RGBA") that many documents show
        (a logo, a QR code): its PDF form (compressed samples) is made on first use and
        kept with the image (``image.info``), so other documents only reference it.
        fpdf2 alone re-encodes and compresses the image in every document."""
        info = image.info.get(_SHARED_IMAGE_KEY)
        if info is None:
            info = get_img_info("shared", image, "FlateDecode")
            if image.mode == "1":  # fpdf2 2.8 gives CCITT parameters to Flate data
                info["dp"] = f"/Predictor 15 /Colors 1 /Columns {info['w']}"
            if info.get("iccp") is not None:  # ICC profiles are per document: fpdf2's way
                self.image(image, x=x, y=y, w=w, h=h)
                return
            image.info[_SHARED_IMAGE_KEY] = info
        # A "data:" name skips fpdf2's file access check; it is always found in the cache.
        name = f"data:cowin-kit/shared-{id(info)}"
        images = self.image_cache.images
        if name not in images:
            entry = RasterImageInfo(info)
            entry.update({"i": len(images) + 1, "usages": 0, "iccp_i": None})
            images[name] = entry
        self.image(name, x=x, y=y, w=w, h=h)

    def to_bytes(self) -> bytes:
        return bytes(self.output(output_producer_class=_Producer))


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
