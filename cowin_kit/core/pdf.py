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

This module holds the documents, the canvas and the layout blocks, and is where callers
import every name from. Its parts live beside it:

- :mod:`cowin_kit.core.pdf_scripts`: scripts of characters, texts and locales, direction,
  the text of shaped glyphs (:func:`cluster_texts`);
- :mod:`cowin_kit.core.pdf_fonts`: font files per script, :class:`FontFace`,
  :class:`FontLibrary`, :func:`document_families`;
- :mod:`cowin_kit.core.pdf_fpdf2`: the only use of fpdf2's private API (its font, output
  and bidi internals, used for the speed above), listing what it relies on in
  :data:`FPDF2_INTERNALS` (checked by the tests; setup.cfg pins fpdf2 to one minor
  version).
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

# The names of the parts are importable from here too (callers import from cowin_kit.core.pdf).
from cowin_kit.core.pdf_fonts import (
    DEFAULT_FONT_DIRS, INSTALL_HINT, MAX_GROWTHS, SCRIPT_FONTS, SCRIPT_NAMES, FontFace,
    FontLibrary, FontMissing, document_families, font_library,
)
from cowin_kit.core.pdf_fpdf2 import (
    BIDI_CACHE_SIZE, FPDF2_INTERNALS, SHAPING_CACHE_SIZE, WIDTH_CACHE_SIZE, Fpdf2Base,
    fpdf2_internals_missing,
)
from cowin_kit.core.pdf_scripts import (
    SCRIPTS_CACHE_SIZE, char_script, cluster_texts, is_rtl, locale_script, scripts_in,
)

__all__ = ["A4", "Canvas", "Document", "FPDF2_INTERNALS", "FontFace", "FontLibrary",
           "FontMissing", "FpdfCanvas", "cluster_texts", "document_families", "field",
           "font_library", "fpdf2_internals_missing", "is_rtl", "locale_script", "paragraph",
           "scripts_in"]

A4 = (210.0, 297.0)  # page size, millimetres
# Wrapped lines of text remembered (forgotten all at once when full).
LINES_CACHE_SIZE = 5_000
_LINES_CACHE: dict[tuple[Any, ...], list[str]] = {}


# --- documents: fpdf2, and the engine-neutral canvas ------------------------------------


class Document(Fpdf2Base):
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
