"""One-page PDF documents written directly, for fixed layouts drawn many times (the
vaccination certificate): a few hundred PDFs per second where fpdf2's general machinery
(fragments, line objects, its object model and serializer) allows a few dozen.

What it shares with :mod:`cowin_kit.core.pdf`: the fonts (:class:`~cowin_kit.core.pdf.FontFace`,
parsed once per process, the embedded working set of glyphs subset and compressed once),
the choice of fonts per script with fallback fonts for runs in other scripts
(:func:`~cowin_kit.core.pdf.document_families`, the same rule per character as fpdf2's), HarfBuzz
shaping with the same text per glyph for text extraction
(:func:`~cowin_kit.core.pdf.cluster_texts`), and fpdf2's bidirectional algorithm and visual order
of runs for right-to-left text. Positions and metrics follow fpdf2's cells (millimetres
from the top left, a cell's text 1 mm in from its side, baseline at half the cell's height
plus 0.3 of the font size), so a layout drawn here looks as drawn with fpdf2.

Fonts are Type0 (CIDFontType2, Identity-H). Character codes are allocated per font face
for the process, one per (glyph, text it stands for) pair, so a code's ToUnicode entry is
exact even when one glyph stands for different text (Devanagari i-sign before different
consonants). Because codes never change, the font's objects (widths, ToUnicode CMap,
CIDToGIDMap, font program) are serialized and compressed once and reused by every document
until a new code appears, and the shaped, encoded form of a text is remembered. A document
costs the shaping of its new texts, its content stream and the concatenation of bytes.

:class:`PageWriter` is one engine of the :class:`cowin_kit.core.pdf.Canvas` that layouts are
drawn on. Anything it does not handle (a character no font has, a control character such
as a line break, a word wider than its box, a second page) raises :class:`DoesNotFit`, so
that the caller draws the same layout with fpdf2 (:class:`cowin_kit.core.pdf.FpdfCanvas`).
"""

from __future__ import annotations

import re
import threading
import zlib
from datetime import datetime, timezone
from typing import Any, Iterable

import uharfbuzz as hb
from fpdf.bidi import BidiParagraph
from fpdf.enums import TextDirection

from cowin_kit.core.pdf import A4, FontFace, FontLibrary, char_script, cluster_texts, \
    document_families, is_rtl

__all__ = ["C_MARGIN", "DoesNotFit", "PageWriter", "bilevel_image"]

K = 72 / 25.4  # points per millimetre
C_MARGIN = 1.0  # fpdf2's cell margin (a tenth of its default 1 cm page margin)
LINE_WIDTH_PT = 0.2 * K  # fpdf2's default line width, 0.2 mm
# Codes are 2 bytes (Identity-H); 0 is left unused (.notdef). When a face's codes run
# out (a process that saw tens of thousands of distinct glyph/text pairs), they restart.
MAX_CODE = 0xFFFF
RUN_CACHE_SIZE = 20_000
LINES_CACHE_SIZE = 5_000
BIDI_CACHE_SIZE = 5_000
_IMAGE_KEY = "cowin_kit.core.pdf_page.image"
# Code points whose presence needs the bidirectional algorithm (right-to-left scripts and
# explicit direction marks); other texts in left-to-right documents are one run.
_RTL_RANGES = ((0x0590, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF), (0x200E, 0x200F),
               (0x202A, 0x202E), (0x2066, 0x2069))


class DoesNotFit(Exception):
    """The writer cannot draw this document correctly: draw it another way (fpdf2)."""


def _needs_bidi(text: str) -> bool:
    for char in text:
        code = ord(char)
        if code >= 0x0590:
            for start, end in _RTL_RANGES:
                if start <= code <= end:
                    return True
    return False


_BIDI_CACHE: dict[tuple[str, bool], tuple[tuple[str, bool], ...]] = {}


def _bidi_fragments(text: str, rtl: bool) -> tuple[tuple[str, bool], ...]:
    """(text, right-to-left) fragments of a paragraph in logical order, by fpdf2's
    implementation of the Unicode bidirectional algorithm (remembered: labels repeat)."""
    key = (text, rtl)
    found = _BIDI_CACHE.get(key)
    if found is None:
        if not rtl and not _needs_bidi(text):
            found = ((text, False),)
        else:
            base = TextDirection.RTL if rtl else TextDirection.LTR
            found = tuple((part, direction == TextDirection.RTL) for part, direction in
                          BidiParagraph(text=text, base_direction=base,
                                        preserve_bn_chars=True).get_bidi_fragments())
        if len(_BIDI_CACHE) >= BIDI_CACHE_SIZE:
            _BIDI_CACHE.clear()
        _BIDI_CACHE[key] = found
    return found


# --- per face: codes and the font's PDF objects -------------------------------------------


class _FaceCodes:
    """The character codes of one font face in this process, the shaped and encoded runs
    of text, and the font's serialized objects for the current set of codes."""

    def __init__(self, face: FontFace):
        self.face = face
        self.hb_font = hb.Font(face.hb_face)  # scale: font units
        self.units = 1000 / face.hb_face.upem
        self.cmap = face.cmap
        self.codes: dict[tuple[int, str], int] = {}
        self.gids: list[int] = [0]
        self.texts: list[str] = [""]
        self.runs: dict[tuple[str, bool, float], tuple[bytes, float]] = {}
        self.widths_em: dict[tuple[str, bool], float] = {}
        self._objects: tuple[int, Any] | None = None
        self._lock = threading.Lock()

    def code(self, gid: int, text: str) -> int:
        key = (gid, text)
        found = self.codes.get(key)
        if found is None:
            with self._lock:
                found = self.codes.get(key)
                if found is None:
                    found = len(self.gids)
                    if found > MAX_CODE:  # used up: later documents start afresh
                        _reset_codes(self.face)
                        raise DoesNotFit("the font's character codes are used up")
                    self.gids.append(gid)
                    self.texts.append(text)
                    self.codes[key] = found
        return found

    def shape(self, text: str, rtl: bool) -> list[tuple[int, str, float, float, float, float]]:
        """Glyphs of one run: (gid, text, x advance, x offset, y offset, y advance) in
        thousandths of the font size, in visual order."""
        buffer = hb.Buffer()
        buffer.cluster_level = 1
        buffer.add_str(text)
        buffer.guess_segment_properties()
        buffer.direction = "rtl" if rtl else "ltr"
        hb.shape(self.hb_font, buffer, {})
        infos, positions = buffer.glyph_infos, buffer.glyph_positions
        units = self.units
        return [(info.codepoint, chars, position.x_advance * units,
                 position.x_offset * units, position.y_offset * units,
                 position.y_advance * units)
                for info, position, chars in zip(infos, positions,
                                                 cluster_texts(text, infos, positions))]

    def width_em(self, text: str, rtl: bool) -> float:
        """The shaped width of a run in thousandths of the font size (remembered)."""
        key = (text, rtl)
        found = self.widths_em.get(key)
        if found is None:
            found = sum(glyph[2] for glyph in self.shape(text, rtl))
            if len(self.widths_em) >= RUN_CACHE_SIZE:
                self.widths_em.clear()
            self.widths_em[key] = found
        return found

    def run(self, text: str, rtl: bool, size: float) -> tuple[bytes, float]:
        """A run of text as content stream operators (TJ arrays, text rise for glyphs
        moved up or down) and its width in thousandths of the font size (remembered)."""
        key = (text, rtl, size)
        found = self.runs.get(key)
        if found is not None:
            return found
        widths = self.face.widths
        parts: list[str] = []
        array: list[str] = []
        hexes: list[str] = []
        rise = 0.0
        total = 0.0

        def flush_hex() -> None:
            if hexes:
                array.append("<" + "".join(hexes) + ">")
                hexes.clear()

        def flush_array() -> None:
            flush_hex()
            if array:
                parts.append("[" + " ".join(array) + "] TJ")
                array.clear()

        for gid, chars, x_advance, x_offset, y_offset, _y_advance in self.shape(text, rtl):
            if gid == 0:
                raise DoesNotFit(f"no glyph for {chars!r}")
            glyph_rise = round(y_offset * size / 1000, 3)
            if glyph_rise != rise:
                flush_array()
                parts.append(f"{glyph_rise:g} Ts")
                rise = glyph_rise
            # TJ numbers move the pen back by thousandths of the font size: place the
            # glyph at its offset, then move the pen to its shaped advance.
            before = -round(x_offset, 2)
            after = -round(x_advance - x_offset - widths[gid], 2)
            if before:
                flush_hex()
                array.append(f"{before:g}")
            hexes.append(f"{self.code(gid, chars):04X}")
            if after:
                flush_hex()
                array.append(f"{after:g}")
            total += x_advance
        flush_array()
        if rise:
            parts.append("0 Ts")
        found = (" ".join(parts).encode("ascii"), total)
        if len(self.runs) >= RUN_CACHE_SIZE:
            self.runs.clear()
        self.runs[key] = found
        return found

    def objects(self) -> "_FontObjects":
        """The font's PDF objects for every code allocated so far (rebuilt when codes
        were added; the embedded program grows with the glyphs the codes use)."""
        count = len(self.gids)
        current = self._objects
        if current is not None and current[0] == count:
            return current[1]
        with self._lock:
            count = len(self.gids)
            gids, texts = self.gids[:count], self.texts[:count]
        built = _FontObjects(self.face, gids, texts)
        self._objects = (count, built)
        return built


class _FontObjects:
    """Serialized objects of a Type0 font for codes 0..n-1 (without object numbers)."""

    def __init__(self, face: FontFace, gids: list[int], texts: list[str]):
        names = face.glyph_names
        embedding = face.embedding(frozenset(names[gid] for gid in gids) | {".notdef"})
        subset_gid = embedding.gid_by_name
        name = f"CKAAAA+{face.ps_name}"
        self.base_font = name.encode("latin-1")
        widths = " ".join(str(face.widths[gid]) for gid in gids[1:])
        desc = face.descriptor
        flags = getattr(desc.flags, "value", desc.flags)  # fpdf2 keeps an enum
        self.cid_font_tail = (
            f"/Subtype /CIDFontType2 /BaseFont /{name} "
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> "
            f"/DW {desc.missing_width} /W [1 [{widths}]]").encode("latin-1")
        self.descriptor = (
            f"<< /Type /FontDescriptor /FontName /{name} /Ascent {desc.ascent} "
            f"/Descent {desc.descent} /CapHeight {desc.cap_height} /Flags {flags} "
            f"/FontBBox {desc.font_b_box} /ItalicAngle {desc.italic_angle} "
            f"/StemV {desc.stem_v} /MissingWidth {desc.missing_width}").encode("latin-1")
        cid_to_gid = bytearray(2 * len(gids))
        for code, gid in enumerate(gids):
            new = subset_gid.get(names[gid], 0)
            cid_to_gid[2 * code] = new >> 8
            cid_to_gid[2 * code + 1] = new & 0xFF
        self.cid_to_gid = zlib.compress(bytes(cid_to_gid), 6)
        entries = [f"<{code:04X}> <{text.encode('utf-16-be').hex().upper()}>"
                   for code, text in enumerate(texts) if text]
        blocks = []
        for start in range(0, len(entries), 100):  # at most 100 entries per block (spec)
            chunk = entries[start:start + 100]
            blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar\n")
        self.to_unicode = zlib.compress((
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            + "".join(blocks)
            + "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
        ).encode("ascii"), 6)
        self.program = embedding.compressed
        self.program_length = embedding.length


_FACES: dict[int, _FaceCodes] = {}
_FACES_LOCK = threading.Lock()


def _face_codes(face: FontFace) -> _FaceCodes:
    found = _FACES.get(id(face))
    if found is None or found.face is not face:
        with _FACES_LOCK:
            found = _FACES.get(id(face))
            if found is None or found.face is not face:
                found = _FACES[id(face)] = _FaceCodes(face)
    return found


def _reset_codes(face: FontFace) -> None:
    with _FACES_LOCK:
        _FACES[id(face)] = _FaceCodes(face)


# --- the page ---------------------------------------------------------------------------


class _Family:
    def __init__(self, name: str, faces: tuple[FontFace, FontFace]):
        self.name = name
        self.faces = faces
        self.codes = (_face_codes(faces[0]), _face_codes(faces[1]))


_LINES_CACHE: dict[tuple[Any, ...], tuple[str, ...]] = {}
_RUNS_CACHE: dict[tuple[Any, ...], tuple[tuple[int, int, str, bool], ...]] = {}
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class PageWriter:
    """One page in ``locale`` showing ``texts`` (every dynamic text, for the choice of
    fonts): the :class:`cowin_kit.core.pdf.Canvas` of layouts drawn many times, positions in
    millimetres from the top left as fpdf2's. Draw with :meth:`text_lines`, :meth:`cell`,
    :meth:`line`, :meth:`image`; finish with :meth:`to_bytes`. :meth:`new_page` raises
    :class:`DoesNotFit`, as does text the writer cannot draw."""

    def __init__(self, locale: str, texts: Iterable[str] = (), *,
                 fonts: FontLibrary | None = None, size: tuple[float, float] = A4,
                 margins: tuple[float, float, float, float] = (15, 12, 15, 12)):
        self.locale = str(locale)
        self.rtl = is_rtl(self.locale)
        self.w, self.h = size
        left, top, right, bottom = margins
        self.left, self.top, self.right, self.bottom = left, top, self.w - right, self.h - bottom
        self.families = [_Family(name, faces)
                         for name, faces in document_families(self.locale, texts, fonts)]
        self._families_key = tuple(str(family.faces[0].path) for family in self.families)
        self._ops: list[bytes] = []
        self._fonts_used: dict[int, tuple[int, _FaceCodes]] = {}  # id(codes) -> (n, codes)
        self._images: dict[int, tuple[int, "_ImageObjects"]] = {}
        self._gray: float | None = None
        self._stroke: float | None = None

    # -- text --

    def _runs(self, text: str, bold: bool) -> list[tuple[_FaceCodes, str, bool]]:
        """``text`` split into runs of one font and direction, in visual order:
        (font face's codes, text, right-to-left)."""
        key = (text, bold, self.rtl, self._families_key)
        found = _RUNS_CACHE.get(key)
        if found is None:
            found = self._split(text, bold)
            if len(_RUNS_CACHE) >= RUN_CACHE_SIZE:
                _RUNS_CACHE.clear()
            _RUNS_CACHE[key] = found
        families = self.families
        return [(families[family].codes[style], part, rtl)
                for family, style, part, rtl in found]

    def _split(self, text: str, bold: bool) -> tuple[tuple[int, int, str, bool], ...]:
        """The runs of ``text`` as (family index, style, text, right-to-left): fpdf2's
        choice of font per character (the main font when it has the glyph, else the first
        fallback font with it, bold preferred for bold text), its splitting at changes of
        script, and its visual ordering of the bidirectional fragments."""
        if _CONTROL.search(text):  # e.g. "\n", where fpdf2 breaks the line: left to it
            raise DoesNotFit("a control character")
        style = 1 if bold else 0
        families = self.families
        main_cmap = families[0].codes[style].cmap
        pieces: list[tuple[int, int, str, bool]] = []
        for fragment, rtl in _bidi_fragments(text, self.rtl):
            current: tuple[int, int] | None = None
            script = None
            chars: list[str] = []
            for char in fragment:
                code = ord(char)
                font = (0, style)
                if code not in main_cmap:
                    font = next(((index, wanted) for wanted in (style, 1 - style)
                                 for index in range(1, len(families))
                                 if code in families[index].codes[wanted].cmap), None)
                    if font is None:
                        raise DoesNotFit(f"no font has {char!r}")
                char_sc = char_script(char) if code >= 0x370 else None
                if chars and (font != current or (char_sc is not None and script is not None
                                                  and char_sc != script)):
                    pieces.append((*current, "".join(chars), rtl))
                    chars = []
                if char_sc is not None:
                    script = char_sc
                current = font
                chars.append(char)
            if chars:
                pieces.append((*current, "".join(chars), rtl))
        # fpdf2's visual order: runs of one direction, reversed in a right-to-left
        # paragraph; the pieces of a right-to-left run reversed.
        groups: list[list[tuple[int, int, str, bool]]] = []
        for piece in pieces:
            if groups and groups[-1][0][3] == piece[3]:
                groups[-1].append(piece)
            else:
                groups.append([piece])
        if self.rtl:
            groups.reverse()
        ordered: list[tuple[int, int, str, bool]] = []
        for group in groups:
            ordered.extend(reversed(group) if group[0][3] else group)
        return tuple(ordered)

    def text_width(self, text: str, size: float, bold: bool = False) -> float:
        """The shaped width of ``text`` in millimetres."""
        return sum(codes.width_em(part, rtl) for codes, part, rtl in self._runs(text, bold)) \
            * size / 1000 / K

    def lines(self, text: str, width: float, size: float, bold: bool = False) -> tuple[str, ...]:
        """``text`` broken at spaces into lines that fit a cell ``width`` wide (its margins
        taken off), greedily as fpdf2's multi_cell; remembered (labels repeat)."""
        key = (text, round(width, 2), size, bold, self.rtl, self._families_key)
        found = _LINES_CACHE.get(key)
        if found is not None:
            return found
        room = width - 2 * C_MARGIN
        if self.text_width(text, size, bold) <= room:
            found = (text,)
        else:
            words = text.split(" ")
            space = self.text_width(" ", size, bold)
            lines: list[str] = []
            line: list[str] = []
            used = 0.0
            last = len(words) - 1
            for index, word in enumerate(words):
                word_width = self.text_width(word, size, bold)
                # fpdf2 breaks when a character passes the edge, the space after a word
                # included: a word fits with its following space (the last one alone).
                trailing = space if index < last else 0.0
                if word_width + trailing > room:
                    raise DoesNotFit("a word wider than its box")
                if line and used + space + word_width + trailing > room:
                    lines.append(" ".join(line))
                    line, used = [word], word_width
                else:
                    used = used + space + word_width if line else word_width
                    line.append(word)
            lines.append(" ".join(line))
            found = tuple(lines)
        if len(_LINES_CACHE) >= LINES_CACHE_SIZE:
            _LINES_CACHE.clear()
        _LINES_CACHE[key] = found
        return found

    def _fill(self, gray: float) -> None:
        if gray != self._gray:
            self._ops.append(f"{gray / 255:.3f} g".encode())
            self._gray = gray

    def cell(self, x: float, y: float, width: float, height: float, text: str, *,
             size: float, bold: bool = False, align: str = "L", gray: float = 0) -> None:
        """One line of text in a cell at (x, y), aligned "L", "R" or "C" as fpdf2's
        cell: text 1 mm in from the side, baseline at half the height plus 0.3 of the
        font size."""
        if not text:
            return
        runs = [(codes, codes.run(part, rtl, size)) for codes, part, rtl
                in self._runs(text, bold)]
        total = sum(run[1] for _codes, run in runs) * size / 1000 / K
        if align == "R":
            left = x + width - C_MARGIN - total
        elif align == "C":
            left = x + (width - total) / 2
        else:
            left = x + C_MARGIN
        baseline = y + 0.5 * height + 0.3 * size / K
        self._fill(gray)
        ops = [f"BT {left * K:.2f} {(self.h - baseline) * K:.2f} Td".encode()]
        used = self._fonts_used
        for codes, (operators, _width) in runs:
            entry = used.get(id(codes))
            if entry is None:
                entry = used[id(codes)] = (len(used) + 1, codes)
            ops.append(b"/F%d %.2f Tf %s" % (entry[0], size, operators))
        ops.append(b"ET")
        self._ops.append(b" ".join(ops))

    def text_lines(self, x: float, y: float, width: float, height: float, text: str, *,
                   size: float, bold: bool = False, gray: float = 0,
                   align: str | None = None) -> float:
        """``text`` wrapped within ``width``, one cell of ``height`` per line, on the
        reading side of the locale unless ``align`` is given; returns the y below it."""
        align = align or ("R" if self.rtl else "L")
        for line in self.lines(text, width, size, bold):
            self.cell(x, y, width, height, line, size=size, bold=bold, align=align, gray=gray)
            y += height
        return y

    # -- graphics --

    def line(self, x1: float, y1: float, x2: float, y2: float, *, gray: float = 0) -> None:
        if gray != self._stroke:
            self._ops.append(f"{gray / 255:.3f} G".encode())
            self._stroke = gray
        self._ops.append(f"{LINE_WIDTH_PT:.2f} w {x1 * K:.2f} {(self.h - y1) * K:.2f} m "
                         f"{x2 * K:.2f} {(self.h - y2) * K:.2f} l S".encode())

    def image(self, image: Any, x: float, y: float, w: float, h: float) -> None:
        """A Pillow image; its PDF form is made once and kept with the image (image.info),
        so documents showing the same image (a logo) only reference it."""
        objects = image.info.get(_IMAGE_KEY)
        if objects is None:
            objects = _ImageObjects(image)
            image.info[_IMAGE_KEY] = objects
        entry = self._images.get(id(objects))
        if entry is None:
            entry = self._images[id(objects)] = (len(self._images) + 1, objects)
        self._ops.append(f"q {w * K:.2f} 0 0 {h * K:.2f} {x * K:.2f} "
                         f"{(self.h - y - h) * K:.2f} cm /I{entry[0]} Do Q".encode())

    def new_page(self) -> float:
        raise DoesNotFit("the content runs past the page")

    # -- output --

    def to_bytes(self, *, title: str = "") -> bytes:
        out = _Output()
        catalog, pages, page, contents, info = (out.reserve() for _ in range(5))
        font_refs = []
        for number, codes in self._fonts_used.values():
            font_refs.append(f"/F{number} {_write_font(out, codes.objects())} 0 R")
        image_refs = [f"/I{number} {objects.write(out)} 0 R"
                      for number, objects in self._images.values()]
        resources = "/Font << " + " ".join(font_refs) + " >>"
        if image_refs:
            resources += " /XObject << " + " ".join(image_refs) + " >>"
        out.obj(catalog, f"<< /Type /Catalog /Pages {pages} 0 R /Lang "
                f"{_text_string(self.locale.replace('_', '-'))} >>".encode())
        out.obj(pages, f"<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>".encode())
        out.obj(page, (f"<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 {self.w * K:.2f} "
                       f"{self.h * K:.2f}] /Resources << {resources} >> "
                       f"/Contents {contents} 0 R >>").encode())
        out.stream(contents, b"", zlib.compress(b"\n".join(self._ops), 6))
        created = datetime.now(timezone.utc).strftime("D:%Y%m%d%H%M%SZ")
        out.obj(info, (f"<< /Title {_text_string(title)} /Creator (cowin-kit) "
                       f"/Producer (cowin-kit) /CreationDate ({created}) >>").encode())
        return out.finish(catalog, info)


def _text_string(text: str) -> str:
    """A PDF text string: literal when ASCII-safe, else UTF-16BE hex with its BOM."""
    if text.isascii() and not any(c in text for c in "()\\\r\n"):
        return f"({text})"
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def _write_font(out: "_Output", objects: _FontObjects) -> int:
    font, cid_font, descriptor, to_unicode, cid_to_gid, program = (
        out.reserve() for _ in range(6))
    out.obj(font, b"<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H "
            b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>"
            % (objects.base_font, cid_font, to_unicode))
    out.obj(cid_font, b"<< /Type /Font %s /FontDescriptor %d 0 R /CIDToGIDMap %d 0 R >>"
            % (objects.cid_font_tail, descriptor, cid_to_gid))
    out.obj(descriptor, b"%s /FontFile2 %d 0 R >>" % (objects.descriptor, program))
    out.stream(to_unicode, b"", objects.to_unicode)
    out.stream(cid_to_gid, b"", objects.cid_to_gid)
    out.stream(program, b"/Length1 %d" % objects.program_length, objects.program)
    return font


def bilevel_image(width: int, height: int, rows: bytes) -> Any:
    """A black-and-white Pillow image (mode "1") from packed rows (a bit a pixel, 1 for
    white, every row padded to whole bytes: Pillow's and PDF's layout both), with its PDF
    form made from the same bytes (no re-encoding of the image when drawn)."""
    from PIL import Image

    image = Image.frombytes("1", (width, height), rows)
    objects = _ImageObjects.__new__(_ImageObjects)
    objects.width, objects.height, objects.mask = width, height, None
    objects.colors, objects.bits = "/DeviceGray", 1
    objects.data = zlib.compress(rows, 1)  # level 6 saves ~10% here for 3x the time
    image.info[_IMAGE_KEY] = objects
    return image


class _ImageObjects:
    """An image XObject (and its soft mask for transparency), compressed once."""

    def __init__(self, image: Any):
        mode = image.mode
        if mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        elif mode in ("LA", "PA"):
            image = image.convert("RGBA")
        elif mode not in ("1", "L", "RGB", "RGBA"):
            image = image.convert("RGB")
        self.width, self.height = image.size
        self.mask: bytes | None = None
        if image.mode == "1":  # packed rows, 1 white, as DeviceGray at 1 bit
            self.colors, self.bits = "/DeviceGray", 1
            self.data = zlib.compress(image.tobytes(), 6)
            return
        if image.mode == "RGBA":
            alpha = image.getchannel("A")
            if alpha.getextrema() != (255, 255):
                self.mask = zlib.compress(alpha.tobytes(), 6)
            image = image.convert("RGB")
        self.colors = "/DeviceGray" if image.mode == "L" else "/DeviceRGB"
        self.bits = 8
        self.data = zlib.compress(image.tobytes(), 6)

    def write(self, out: "_Output") -> int:
        number = out.reserve()
        mask = b""
        if self.mask is not None:
            mask_number = out.reserve()
            out.stream(mask_number, b"/Type /XObject /Subtype /Image /Width %d /Height %d "
                       b"/ColorSpace /DeviceGray /BitsPerComponent 8"
                       % (self.width, self.height), self.mask)
            mask = b" /SMask %d 0 R" % mask_number
        out.stream(number, b"/Type /XObject /Subtype /Image /Width %d /Height %d "
                   b"/ColorSpace %s /BitsPerComponent %d%s"
                   % (self.width, self.height, self.colors.encode(), self.bits, mask),
                   self.data)
        return number


class _Output:
    """Objects appended in any order of number; the xref table sorts them."""

    def __init__(self) -> None:
        self.parts: list[bytes] = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"]
        self.size = len(self.parts[0])
        self.offsets: dict[int, int] = {}
        self.count = 0

    def reserve(self) -> int:
        self.count += 1
        return self.count

    def _append(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def obj(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.size
        self._append(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def stream(self, number: int, extra: bytes, compressed: bytes) -> None:
        self.offsets[number] = self.size
        self._append(b"%d 0 obj\n<< %s /Filter /FlateDecode /Length %d >>\nstream\n"
                     % (number, extra, len(compressed)))
        self._append(compressed)
        self._append(b"\nendstream\nendobj\n")

    def finish(self, root: int, info: int) -> bytes:
        start = self.size
        rows = [b"xref\n0 %d\n0000000000 65535 f \n" % (self.count + 1)]
        rows.extend(b"%010d 00000 n \n" % self.offsets[n] for n in range(1, self.count + 1))
        rows.append(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                    % (self.count + 1, root, info, start))
        self.parts.extend(rows)
        return b"".join(self.parts)

