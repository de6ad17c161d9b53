"""fpdf2 internals: the one module that uses fpdf2's private API, for speed only (the
documents of :mod:`cowin_kit.core.pdf`). Fonts parsed once per process and shared by
documents (TTFFont internals, :func:`font_prototype`, :func:`shared_font`), their embedded
subset made once (the OutputProducer's font output), bidi runs remembered, and a font
state fix (:class:`Fpdf2Base`). Everything relied on is listed in
:data:`FPDF2_INTERNALS`; tests/unit/test_pdf_engines.py fails when an fpdf2 release changes
it (setup.cfg pins fpdf2 to one minor version)."""

from __future__ import annotations

import copy
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.bidi import BidiParagraph, auto_detect_base_direction
from fpdf.enums import PDFResourceType, TextEmphasis
from fpdf.fonts import HarfBuzzFont, SubsetMap, TTFFont
from fpdf.output import CIDSystemInfo, OutputProducer, PDFFont, _build_cmap_blocks, _tt_font_widths
from fpdf.syntax import Name, PDFArray, PDFContentStream, PDFObject

from cowin_kit.core.pdf_scripts import cluster_texts

__all__ = ["BIDI_CACHE_SIZE", "FPDF2_INTERNALS", "Fpdf2Base", "SHAPING_CACHE_SIZE",
           "WIDTH_CACHE_SIZE", "font_prototype", "fpdf2_internals_missing", "shared_font"]

# Shaped text widths and shaped glyphs remembered per font face, bidi runs of texts (each
# cache is forgotten all at once when full).
WIDTH_CACHE_SIZE = 20_000
SHAPING_CACHE_SIZE = 20_000
BIDI_CACHE_SIZE = 5_000
_BIDI_CACHE: dict[tuple[str, Any, Any], tuple[tuple[str, Any], ...]] = {}

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
    """The names of FPDF2_INTERNALS that the installed fpdf2 lacks: none, or this module
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


def font_prototype(path: Path, raw: bytes) -> TTFFont:
    """fpdf2's parse of a font file (cmap, scale, descriptor), made without a document."""
    stand_in = SimpleNamespace(fonts={}, render_color_fonts=False)
    prototype = TTFFont(stand_in, path, "prototype", "")  # type: ignore[arg-type]
    prototype.ttfont.close()  # no open file per face: anything still read comes from memory
    prototype.ttfont = TTFont(BytesIO(raw), recalcTimestamp=False, lazy=True)
    return prototype


def shared_font(face: Any, index: int, fontkey: str, style: str) -> "_SharedFont":
    """A per-document font object that shares everything immutable with the prototype of
    ``face`` (a :class:`cowin_kit.core.pdf_fonts.FontFace`, which calls this)."""
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


class Fpdf2Base(FPDF):
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
