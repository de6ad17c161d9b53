"""The certificate's PDF page writer (cowin_kit.core.pdf_page, through
certificates.pdf.certificate_pdf): text extraction in English, Hindi and Arabic (names in
Devanagari and Arabic, a Latin name on a Hindi certificate), the QR images decode, long
values wrap as fpdf2 wraps them, the page looks as the fpdf2 drawing does, and what the
writer cannot draw falls back to fpdf2."""

from __future__ import annotations

import subprocess

import pytest
from PIL import Image, ImageChops

from cowin_kit.certificates.formats import qr
from cowin_kit.certificates.pdf import (
    CertificateView, certificate_pdf, fpdf_certificate_pdf, qr_image,
)
from cowin_kit.core.pdf import Document
from cowin_kit.core.pdf_page import C_MARGIN, PageWriter

from cowin_kit.testing import need_tool, nfc, pdf_text, pixels

DCC = "HC1:" + "6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N" * 8
SHC = "shc:/" + "5676290952432060346029243740" * 30
VC = "VC1:" + "ABCDEFGH12345678" * 40
LABELS = {
    "en": {"title": "Vaccination certificate", "person": "Beneficiary details",
           "vaccination": "Vaccination details", "name": "Name", "year": "Year of birth",
           "reference_id": "Beneficiary reference ID", "vaccine": "Vaccine",
           "centre": "Vaccination centre", "codes": "Scan to verify",
           "status": "Provisional certificate: dose 1 of 2. A final certificate is issued "
                     "when the schedule is complete."},
    "hi": {"title": "टीकाकरण प्रमाणपत्र", "person": "लाभार्थी का विवरण",
           "vaccination": "टीकाकरण का विवरण", "name": "नाम", "year": "जन्म का वर्ष",
           "reference_id": "लाभार्थी संदर्भ आईडी", "vaccine": "टीका",
           "centre": "टीकाकरण केंद्र", "codes": "सत्यापन के लिए स्कैन करें",
           "status": "अनंतिम प्रमाणपत्र: 2 में से खुराक 1।"},
    "ar": {"title": "شهادة التطعيم", "person": "بيانات المستفيد",
           "vaccination": "بيانات التطعيم", "name": "الاسم", "year": "سنة الميلاد",
           "reference_id": "الرقم المرجعي للمستفيد", "vaccine": "اللقاح",
           "centre": "مركز التطعيم", "codes": "امسح الرمز للتحقق",
           "status": "شهادة مؤقتة: الجرعة 1 من 2."},
}
ISSUER = "Ministry of Health and Family Welfare"


def view(locale: str, name: str, *, centre: str = "Medical College PHC, Kerala",
         logo: bool = True) -> CertificateView:
    words = LABELS[locale]
    qr_image.cache_clear()
    codes = [("EU DCC", qr_image("dcc", DCC)), ("SMART Health Card", qr_image("shc", SHC)),
             ("W3C VC", qr_image("vc", VC))]
    mark = None
    if logo:
        mark = Image.new("RGBA", (60, 60), (19, 136, 8, 255))
        mark.putpixel((0, 0), (0, 0, 0, 0))  # some transparency: a soft mask
    return CertificateView(
        locale=locale, rtl=locale == "ar", issuer=ISSUER, title=words["title"],
        status=words["status"],
        person=[(words["name"], name), (words["year"], "1980"),
                (words["reference_id"], "12345678901234")],
        vaccination=[(words["vaccine"], "Covishield"), (words["centre"], centre),
                     ("Certificate ID", "0f0e6a5c-1d2b-4c6e-9d2a-123456789abc")],
        codes=codes, labels={"person": words["person"], "vaccination": words["vaccination"],
                             "codes": words["codes"]},
        logo=mark)


def is_fast(data: bytes) -> bool:
    return b"/Producer (cowin-kit)" in data


def qr_texts(data: bytes, tmp_path) -> list[str]:
    need_tool("pdfimages", "poppler-utils")
    (tmp_path / "c.pdf").write_bytes(data)
    folder = tmp_path / "images"
    folder.mkdir()
    subprocess.run(["pdfimages", "-png", str(tmp_path / "c.pdf"), str(folder / "i")],
                   check=True)
    texts: list[str] = []
    for image in sorted(folder.glob("*.png")):
        texts += qr.read_texts(image.read_bytes())
    return texts


def test_english_certificate_text_and_qr_codes(tmp_path):
    data = certificate_pdf(view("en", "Asha Devi"))
    assert data.startswith(b"%PDF") and is_fast(data)
    text = pdf_text(data)
    for expected in ("Asha Devi", "12345678901234", ISSUER, "Vaccination certificate",
                     "Beneficiary reference ID", "Provisional certificate: dose 1 of 2",
                     "0f0e6a5c-1d2b-4c6e-9d2a-123456789abc", "SMART Health Card"):
        assert expected in text, expected
    assert sorted(qr_texts(data, tmp_path)) == sorted([DCC, SHC, VC])


@pytest.mark.parametrize("name", ["आशा देवी", "Ravi Kumar Sharma", "क्षितिज प्रसाद"])
def test_hindi_certificate_with_devanagari_and_latin_names(name, tmp_path):
    data = certificate_pdf(view("hi", name))
    assert is_fast(data)
    text = pdf_text(data)
    for expected in (name, "12345678901234", "टीकाकरण प्रमाणपत्र", "लाभार्थी संदर्भ आईडी",
                     "सत्यापन के लिए स्कैन करें", ISSUER):
        assert nfc(expected) in text, expected
    assert sorted(qr_texts(data, tmp_path)) == sorted([DCC, SHC, VC])


@pytest.mark.parametrize("name", ["آشا ديفي", "Asha Devi"])
def test_arabic_certificate_is_right_to_left(name, tmp_path):
    data = certificate_pdf(view("ar", name))
    assert is_fast(data)
    text = pdf_text(data)
    for expected in (name, "12345678901234", "شهادة التطعيم", "الرقم المرجعي للمستفيد"):
        assert nfc(expected) in text, expected
    assert sorted(qr_texts(data, tmp_path)) == sorted([DCC, SHC, VC])


@pytest.mark.parametrize("locale, text", [
    ("en", "Government Medical College Primary Health Centre, Thiruvananthapuram, "
           "Kerala 695011, India, near the bus stand, opposite the district court"),
    ("hi", "मेडिकल कॉलेज प्राथमिक स्वास्थ्य केंद्र, तिरुवनंतपुरम, केरल, भारत, बस स्टैंड के "
           "पास, जिला न्यायालय के सामने"),
    ("ar", "مركز الكلية الطبية الصحي، تيروفانانثابورام، كيرالا، الهند، بالقرب من موقف "
           "الحافلات، مقابل محكمة المقاطعة"),
])
def test_long_values_wrap_as_fpdf2_wraps_them(locale, text):
    width = 125  # the value column
    page = PageWriter(locale, [text])
    lines = page.lines(text, width, 11)
    assert len(lines) > 1 and " ".join(lines) == text
    document = Document(locale, [text])
    document.add_page()
    document.use(size=11)
    expected = document.multi_cell(width, 5.5, text, dry_run=True, output="LINES")
    assert [line.strip() for line in lines] == [line.strip() for line in expected]
    for line in lines:
        assert page.text_width(line, 11) <= width - 2 * C_MARGIN
    certificate = view(locale, "Asha Devi", centre=text)
    data = certificate_pdf(certificate)
    assert is_fast(data)
    extracted = pdf_text(data)
    # pdftotext reads the page as it reads fpdf2's (it rebuilds Arabic lines its own way)
    assert extracted == pdf_text(fpdf_certificate_pdf(certificate))
    if locale != "ar":
        for line in lines:
            assert nfc(line.strip()) in extracted


@pytest.mark.slow
@pytest.mark.parametrize("locale, name", [("en", "Asha Devi"), ("hi", "आशा देवी"),
                                          ("ar", "آشا ديفي")])
def test_the_page_looks_as_the_fpdf2_drawing(locale, name, tmp_path):
    certificate = view(locale, name)
    fast = pixels(certificate_pdf(certificate), tmp_path, "fast")
    slow = pixels(fpdf_certificate_pdf(certificate), tmp_path, "fpdf")
    assert fast.size == slow.size
    different = ImageChops.difference(fast, slow).point(lambda p: 255 if p > 96 else 0)
    # the same positions: at most a few anti-aliased pixels differ (a mark of a letter)
    assert different.histogram()[255] < 100


def test_what_the_writer_cannot_draw_falls_back_to_fpdf2(tmp_path):
    # a character none of the fonts has: fpdf2 draws it (as it always did)
    missing = certificate_pdf(view("en", "Asha \u4e2d Devi"))
    assert missing.startswith(b"%PDF") and not is_fast(missing)
    assert "Asha" in pdf_text(missing)
    # a line break inside a value: fpdf2 breaks the line there
    newline = certificate_pdf(view("en", "Asha Devi", centre="Medical College PHC\nKerala"))
    assert not is_fast(newline) and "Kerala" in pdf_text(newline)
    # a word wider than its column
    long_word = certificate_pdf(view("en", "Asha Devi", centre="X" * 120))
    assert not is_fast(long_word) and "Asha Devi" in pdf_text(long_word)
    # more rows than the page holds: fpdf2 continues on a second page
    crowded = view("en", "Asha Devi")
    crowded.vaccination.extend((f"Row {i}", f"Value {i}") for i in range(30))
    data = certificate_pdf(crowded)
    assert not is_fast(data)
    text = pdf_text(data)
    assert "Value 29" in text and "\f" in text.rstrip("\f")  # two pages
    assert sorted(qr_texts(data, tmp_path)) == sorted([DCC, SHC, VC])


def test_a_certificate_without_logo_or_codes():
    bare = view("en", "Asha Devi", logo=False)
    data = certificate_pdf(CertificateView(**{**bare.__dict__, "codes": []}))
    assert is_fast(data) and "Asha Devi" in pdf_text(data)
