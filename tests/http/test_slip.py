"""Appointment slips: PDF (v1 and CoWIN v2) and printable page, in the account's language,
with shaped Devanagari and right-to-left Arabic, only for the booking's own account; and
the PDF renderer's font handling."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import select

from cowin_kit.core.db import get_database
from cowin_kit.core.pdf import DEFAULT_FONT_DIRS, Document, FontLibrary, FontMissing, font_library
from cowin_kit.registration.models import Beneficiary
from cowin_kit.geography.models import Facility
from cowin_kit.scheduling.slip import render_slip_html, render_slip_pdf
from cowin_kit.core.security import keyring

from cowin_kit.testing import add_members, auth, label, nfc, pdf_text, publish, sign_in, today

CENTRE_HI = "मेडिकल कॉलेज प्राथमिक स्वास्थ्य केंद्र"   # conjuncts: प्र, स्व, स्थ्य, न्द्र
CENTRE_AR = "مركز الكلية الطبية الصحي"


def booked(app, *, members=1, mobile="9876543210", locale=None):
    """A published centre with Hindi and Arabic names, and a booking of ``members``."""
    session_id = publish(app)
    with app.app_context(), get_database(app).session() as session:
        facility = session.scalars(select(Facility).where(Facility.code == "F-TVM-1")).one()
        facility.names = {"hi": CENTRE_HI, "ar": CENTRE_AR}
        facility.address = "Medical College Road"
        session.commit()
    client = app.test_client()
    token = sign_in(app, client, mobile)
    if locale:
        assert client.put("/api/v1/account/locale", json={"locale": locale},
                          headers=auth(token)).status_code == 200
    refs = add_members(app, client, token, members)
    response = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": refs})
    assert response.status_code == 201, response.get_json()
    return client, token, refs, response.get_json()["booking_id"]


def secret_codes(app, refs):
    with app.app_context(), get_database(app).session() as session:
        rows = session.scalars(select(Beneficiary).where(Beneficiary.reference_id.in_(refs)))
        return {b.reference_id: keyring().decrypt(b.secret_code_encrypted) for b in rows}


def test_pdf_slip_shows_the_booking_codes_centre_and_slot(reg_app):
    client, token, refs, booking_id = booked(reg_app, members=2)
    response = client.get(f"/api/v1/appointments/{booking_id}/slip.pdf", headers=auth(token))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response.headers["Cache-Control"]
    data = response.get_data()
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    codes = secret_codes(reg_app, refs)
    for ref in refs:
        assert ref in text and codes[ref] in text
    assert booking_id in text
    assert "Medical College PHC" in text and "09:00-11:00" in text
    # English dates as India writes them (the pack's country): en_IN
    assert format_date(today() + timedelta(days=3), format="full", locale="en_IN") in text
    assert label(reg_app, "en", "Secret code") in text
    assert "Thiruvananthapuram, Kerala, 695001" in text


def test_hindi_slip_in_the_account_language_with_conjuncts_intact(reg_app):
    client, token, refs, booking_id = booked(reg_app, locale="hi")
    response = client.get(f"/api/v1/appointments/{booking_id}/slip.pdf", headers=auth(token))
    assert response.status_code == 200
    text = pdf_text(response.get_data())
    for msgid in ("Vaccination appointment slip", "Secret code", "Beneficiary reference ID"):
        assert label(reg_app, "hi", msgid) in text
    assert nfc(CENTRE_HI) in text
    assert nfc("तिरुवनंतपुरम, केरल") in text                     # the pack's Hindi names
    assert nfc("स्वास्थ्य एवं परिवार कल्याण मंत्रालय") in text   # the issuer
    assert nfc("कोविशील्ड") in text
    assert nfc(format_date(today() + timedelta(days=3), format="full", locale="hi")) in text
    assert refs[0] in text and secret_codes(reg_app, refs)[refs[0]] in text


def test_arabic_slip_is_right_to_left_and_joined(reg_app):
    client, token, refs, booking_id = booked(reg_app)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        data = render_slip_pdf(session, booking_id, "ar")
        page = render_slip_html(session, booking_id, "ar")
    text = pdf_text(data)
    assert nfc(CENTRE_AR) in text
    assert label(reg_app, "ar", "Secret code") in text
    assert refs[0] in text and secret_codes(reg_app, refs)[refs[0]] in text
    assert '<html lang="ar" dir="rtl">' in page and CENTRE_AR in page


def test_another_account_gets_404_and_no_token_401(reg_app):
    client, token, refs, booking_id = booked(reg_app)
    other = sign_in(reg_app, client, "9876543211")
    for path in (f"/api/v1/appointments/{booking_id}/slip.pdf",
                 f"/api/v1/appointments/{booking_id}/slip"):
        response = client.get(path, headers=auth(other))
        assert response.status_code == 404
        assert response.get_json()["code"] == "appointment_not_found"
        assert client.get(path).status_code == 401
    v2 = client.get(f"/api/v2/appointment/appointmentslip/download?appointment_id={booking_id}",
                    headers=auth(other))
    assert v2.status_code == 404 and v2.get_json()["errorCode"] == "APPOIN0044"
    assert client.get("/api/v1/appointments/not-a-booking/slip.pdf",
                      headers=auth(token)).status_code == 404


def test_cowin_v2_slip_download(reg_app):
    client, token, refs, booking_id = booked(reg_app)
    confirmation = client.get("/api/v2/appointment/beneficiaries", headers=auth(token)).get_json()
    appointment_id = confirmation["beneficiaries"][0]["appointments"][0]["appointment_id"]
    assert appointment_id == booking_id
    response = client.get(
        f"/api/v2/appointment/appointmentslip/download?appointment_id={appointment_id}",
        headers=auth(token))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF")
    assert refs[0] in pdf_text(response.get_data())
    missing = client.get("/api/v2/appointment/appointmentslip/download", headers=auth(token))
    assert missing.status_code == 400 and missing.get_json()["errorCode"] == "USRRES0001"


def test_cancelled_booking_has_no_slip(reg_app):
    client, token, refs, booking_id = booked(reg_app)
    assert client.post(f"/api/v1/appointments/{booking_id}/cancel", json={},
                       headers=auth(token)).status_code == 200
    response = client.get(f"/api/v1/appointments/{booking_id}/slip.pdf", headers=auth(token))
    assert response.status_code == 404


def test_html_slip_has_lang_and_dir_and_no_external_resources(reg_app):
    client, token, refs, booking_id = booked(reg_app, locale="hi")
    response = client.get(f"/api/v1/appointments/{booking_id}/slip", headers=auth(token))
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "no-store" in response.headers["Cache-Control"]
    page = response.get_data(as_text=True)
    assert '<html lang="hi" dir="ltr">' in page
    assert 'name="viewport"' in page
    assert CENTRE_HI in page and refs[0] in page
    assert secret_codes(reg_app, refs)[refs[0]] in page
    assert label(reg_app, "hi", "Secret code") in page
    assert "http://" not in page and "https://" not in page and "<script src" not in page


# --- the renderer ------------------------------------------------------------------------

def shaped_glyphs(locale: str, family: str, text: str) -> tuple[Document, set[str]]:
    """The document, and the glyphs drawn for ``text`` that are not the characters' own
    (nominal) glyphs: conjuncts, joined forms."""
    document = Document(locale, [text], fonts=font_library(DEFAULT_FONT_DIRS))
    document.add_page()
    document.use()
    document.cell(text=text)
    font = document.fonts[family]
    nominal = {font.cmap[ord(c)] for c in text if ord(c) in font.cmap}
    reserved = {font.cmap.get(0x20), ".notdef", "uni0000"}
    return document, set(font.subset.get_all_glyph_names()) - nominal - reserved


def test_shaping_forms_conjuncts_and_joined_arabic():
    hindi, conjuncts = shaped_glyphs("hi", "notosansdevanagari", "क्षेत्र प्रमाण")
    assert conjuncts, "क्ष, त्र and प्र should be drawn as conjunct glyphs"
    arabic, joined = shaped_glyphs("ar", "notonaskharabic", "مركز")
    assert arabic.rtl and arabic.families[0] == "notonaskharabic"
    assert joined, "م and ك should take their joined (initial/final) forms"
    assert hindi.to_bytes().startswith(b"%PDF") and arabic.to_bytes().startswith(b"%PDF")


def test_fonts_are_parsed_once_and_the_embedded_subset_is_reused():
    fonts = font_library(DEFAULT_FONT_DIRS)
    assert font_library(list(DEFAULT_FONT_DIRS)) is fonts

    def render(name):
        document = Document("en", [name], fonts=fonts)
        document.add_page()
        document.use()
        document.cell(text=name)
        return document, document.to_bytes()

    first, _data = render("Asha Devi")
    face = first.fonts["notosans"].face
    embedding = face._embedding
    second, _data = render("Ravi Kumar")
    assert second.fonts["notosans"].face is face and face._embedding is embedding


def test_a_missing_font_is_a_clear_error_and_dejavu_is_the_latin_fallback(tmp_path):
    nowhere = FontLibrary([str(tmp_path)])
    with pytest.raises(FontMissing) as missing:
        Document("hi", fonts=nowhere)
    message = str(missing.value)
    assert "NotoSansDevanagari-Regular.ttf" in message and "FONT_DIRS" in message
    assert str(tmp_path) in message
    dejavu = "/usr/share/fonts/truetype/dejavu"
    if not os.path.isdir(dejavu):
        pytest.skip("DejaVu fonts are not installed")
    latin_only = FontLibrary([str(tmp_path), dejavu])
    regular, bold = latin_only.files_for("Latn")
    assert regular.name == "DejaVuSans.ttf" and bold.name == "DejaVuSans-Bold.ttf"
    document = Document("uk", ["Оксана"], fonts=latin_only)
    document.add_page()
    document.use()
    document.cell(text="Оксана Коваленко")
    assert "Оксана Коваленко" in pdf_text(document.to_bytes())
    with pytest.raises(FontMissing):
        Document("ar", fonts=latin_only)


