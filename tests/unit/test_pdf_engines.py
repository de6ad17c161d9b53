"""The PDF engines (cowin_kit.core.pdf, cowin_kit.core.pdf_page): both implement the one Canvas that
layouts draw on, and the fpdf2 document's private shortcuts (shared fonts and their
embedded subset, remembered bidi runs: the fpdf2 internals module, core.pdf_fpdf2) give
the page that fpdf2 draws through its public API alone. Fails when an fpdf2 release
changes what that module relies on."""

from __future__ import annotations

import inspect

import pytest
from fpdf import FPDF
from PIL import ImageChops

from cowin_kit.core.pdf import (
    DEFAULT_FONT_DIRS, Canvas, Document, FpdfCanvas, document_families, font_library,
    fpdf2_internals_missing,
)
from cowin_kit.core.pdf_page import PageWriter

from cowin_kit.testing import pixels

LINES = {
    "ar": ["مركز التطعيم", "Asha Devi آشا ديفي 12345", "الرقم المرجعي للمستفيد: 42"],
    # (plain fpdf2 2.8 cannot subset Latin fallback runs in Devanagari documents)
    "hi": ["टीकाकरण प्रमाणपत्र", "आशा देवी 12345", "क्षितिज प्रसाद"],
}


def test_fpdf2_still_has_what_the_fenced_section_relies_on():
    assert fpdf2_internals_missing() == []


@pytest.mark.parametrize("engine", [PageWriter, FpdfCanvas])
def test_both_engines_implement_the_canvas(engine):
    for name, member in inspect.getmembers(Canvas, inspect.isfunction):
        if name.startswith("_"):
            continue
        implemented = getattr(engine, name, None)
        assert implemented is not None, name
        assert (list(inspect.signature(implemented).parameters)
                == list(inspect.signature(member).parameters)), name
    page = engine("en", ["Asha"])
    for edge in ("w", "h", "rtl", "left", "top", "right", "bottom"):
        assert isinstance(getattr(page, edge), (int, float)), edge


def _draw(pdf: FPDF, family: str, lines: list[str]) -> bytes:
    pdf.add_page()
    for index, text in enumerate(lines):
        # a new size or style every line: plain fpdf2 then sets the font itself
        pdf.set_font(family, "B" if index % 2 else "", 11 + 3 * index)
        pdf.set_xy(15, 20 + 15 * index)
        pdf.cell(150, 8, text, align="R" if pdf.text_shaping["direction"] == "rtl" else "L")
    return bytes(pdf.output())


@pytest.mark.parametrize("locale", ["ar", "hi"])
def test_the_fenced_fpdf2_document_draws_as_plain_fpdf2(locale, tmp_path):
    fonts = font_library(DEFAULT_FONT_DIRS)
    lines = LINES[locale]
    document = Document(locale, lines, fonts=fonts)
    plain = FPDF(unit="mm")
    families = document_families(locale, lines, fonts)
    for family, (regular, bold) in families:
        plain.add_font(family, "", str(regular.path))
        plain.add_font(family, "B", str(bold.path))
    plain.set_fallback_fonts([family for family, _faces in families[1:]], exact_match=False)
    plain.set_text_shaping(use_shaping_engine=True, direction="rtl" if document.rtl else "ltr")
    main = families[0][0]

    def ours(pdf: Document) -> bytes:
        _draw(pdf, main, lines)
        return pdf.to_bytes()

    shared = pixels(ours(document), tmp_path, "shared")
    reference = pixels(_draw(plain, main, lines), tmp_path, "plain")
    assert shared.size == reference.size
    different = ImageChops.difference(shared, reference).point(lambda p: 255 if p > 96 else 0)
    assert different.histogram()[255] < 20
    assert shared.getextrema()[0] < 100  # something was drawn
