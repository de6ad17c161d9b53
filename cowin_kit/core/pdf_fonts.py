"""Fonts of the PDF documents (:mod:`cowin_kit.core.pdf`, :mod:`cowin_kit.core.pdf_page`):
font files found by name in the ``FONT_DIRS`` folders and chosen per script
(:func:`document_families`), each parsed once per process (:class:`FontFace`: cmap,
widths, HarfBuzz face) with the embedded font program of its *working set* of glyphs
subset and compressed once, grown when a document needs new glyphs. A needed font that
is missing is :class:`FontMissing`, naming the file and FONT_DIRS."""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Iterable, Sequence

from fontTools import subset as ftsubset
from fontTools.ttLib import TTFont
from fpdf.fonts import TTFFont

import uharfbuzz as hb

from cowin_kit.core.pdf_fpdf2 import font_prototype, shared_font
from cowin_kit.core.pdf_scripts import locale_script, scripts_in

__all__ = ["DEFAULT_FONT_DIRS", "FontFace", "FontLibrary", "FontMissing", "INSTALL_HINT",
           "MAX_GROWTHS", "SCRIPT_FONTS", "SCRIPT_NAMES", "document_families", "font_library"]

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
# Characters whose glyphs start every working set: printable ASCII, Latin-1, common
# punctuation, and the basic Arabic and Indic blocks (only what the font maps is taken).
# Other glyphs (Cyrillic, conjuncts, joined Arabic forms) join the set when first used.
_BASE_CODEPOINTS = frozenset(
    list(range(0x20, 0x7F)) + list(range(0xA0, 0x100)) + list(range(0x2010, 0x2028))
    + list(range(0x0600, 0x0700)) + list(range(0x0900, 0x0D80)))
# After this many growths of a working set, the whole font is used from then on.
MAX_GROWTHS = 8
_DROP_TABLES = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC",
                "EBDT", "EBLC", "EBSC", "SVG ", "CPAL", "COLR", "DSIG"]


class FontMissing(RuntimeError):
    """A font file that a document needs is not in any of the FONT_DIRS folders."""




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
        self.prototype = font_prototype(path, self._raw)  # fpdf2's parse, for Document
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

    def new_font(self, index: int, fontkey: str, style: str) -> TTFFont:
        """A per-document fpdf2 font object sharing everything immutable with this face."""
        return shared_font(self, index, fontkey, style)

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
