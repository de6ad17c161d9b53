"""Every UI language can be drawn and laid out: for each catalog in cowin_kit/locales, the
fonts the PDF writer picks cover every character of its translations (Vietnamese
diacritics, Azerbaijani ə, the Sorani letters ڕ ڵ ۆ ێ ە), the certificate and the appointment
slip come out in that language, and right-to-left is decided by CLDR (Babel), not a list."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import pytest
from babel import Locale
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont
from sqlalchemy import select

from cowin_kit.certificates import services
from cowin_kit.certificates.pdf import render_certificate_pdf
from cowin_kit.cli.i18n_cmd import LOCALES_DIR, catalog_locales, po_path
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.core.pdf import DEFAULT_FONT_DIRS, char_script, font_library, is_rtl
from cowin_kit.registration.models import Beneficiary
from cowin_kit.scheduling.slip import render_slip_html, render_slip_pdf
from cowin_kit.web.charts import is_rtl as chart_is_rtl

from cowin_kit.testing import add_members, auth, label, pdf_text, publish, run_worker, sign_in

CATALOGS = catalog_locales(LOCALES_DIR)
CERTIFICATE_LABELS = ("Vaccination certificate", "Beneficiary reference ID", "Lot number",
                      "Vaccination details")
SLIP_LABELS = ("Vaccination appointment slip", "Secret code", "Booking ID")


def catalog_characters(locale: str) -> set[str]:
    with po_path(LOCALES_DIR, locale).open("rb") as stream:
        catalog = read_po(stream, locale=locale)
    found: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        for text in strings:
            found.update(text or "")
    # Spaces, joiners and direction marks are layout, not glyphs to draw.
    return {c for c in found if unicodedata.category(c) not in ("Zs", "Cc", "Cf")}


def flat(text: str) -> str:
    """Text with line breaks as spaces: a long label may wrap in a table cell."""
    return " ".join(text.split())


@lru_cache(maxsize=None)
def font_cmap(path) -> frozenset[int]:
    font = TTFont(str(path), lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


@pytest.mark.parametrize("locale", CATALOGS)
def test_the_pdf_fonts_cover_every_character_of_the_catalog(locale):
    fonts = font_library(DEFAULT_FONT_DIRS)
    missing = {}
    for char in sorted(catalog_characters(locale)):
        script = char_script(char) or "Latn"
        for path in fonts.files_for(script):
            if ord(char) not in font_cmap(path):
                missing.setdefault(path.name, []).append(f"{char} U+{ord(char):04X}")
    assert not missing, f"{locale}: characters without a glyph: {missing}"


def test_right_to_left_comes_from_cldr_for_every_catalog():
    for locale in CATALOGS:
        expected = Locale.parse(locale).character_order == "right-to-left"
        assert is_rtl(locale) is expected and chart_is_rtl(locale) is expected, locale
    assert is_rtl("ckb") and is_rtl("ar") and not is_rtl("vi") and not is_rtl("az")


@pytest.mark.parametrize("locale", CATALOGS)
def test_the_certificate_pdf_in_every_catalog_language(reg_app, vaccinated, locale):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        person = session.scalars(select(Beneficiary).where(Beneficiary.reference_id == ref)).one()
        certificate = services.current_certificate(session, person)
        data = render_certificate_pdf(session, active_pack(), certificate, locale)
    text = flat(pdf_text(data))
    assert label(reg_app, locale, "Vaccination certificate") in text  # the title: one line
    words = set(text.split())
    for msgid in CERTIFICATE_LABELS:  # labels may wrap around their value in the table
        translated = label(reg_app, locale, msgid)
        assert locale == "en" or translated != msgid, (locale, msgid)
        assert set(translated.split()) <= words, (locale, msgid, text)
    assert ref in text and "Asha Devi" in text


@pytest.mark.parametrize("locale", CATALOGS)
def test_the_appointment_slip_in_every_catalog_language(reg_app, locale):
    session_id = publish(reg_app)
    client = reg_app.test_client()
    token = sign_in(reg_app, client, "9876543210")
    refs = add_members(reg_app, client, token, 1)
    booked = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": refs})
    assert booked.status_code == 201, booked.get_json()
    booking_id = booked.get_json()["booking_id"]
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        data = render_slip_pdf(session, booking_id, locale)
        page = render_slip_html(session, booking_id, locale)
    text = flat(pdf_text(data))
    for msgid in SLIP_LABELS:
        assert label(reg_app, locale, msgid) in text, (locale, msgid)
    direction = "rtl" if is_rtl(locale) else "ltr"
    assert f'<html lang="{locale}" dir="{direction}">' in page
