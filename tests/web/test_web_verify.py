"""The public verification page: pasted QR text, an uploaded QR picture (rendered with
segno from an issued certificate), a forged signature, unreadable input, the answer in
the visitor's language, and no inline script (the camera scan is a first-party file)."""

from __future__ import annotations

import base64
import io
import re

import segno

from cowin_kit.certificates.formats import shc
from cowin_kit.testing import auth, run_worker, text, token_of


def issued_formats(app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(app)
    return client.get(f"/api/v1/beneficiaries/{ref}/certificate",
                      headers=auth(citizen)).get_json()["formats"]


def post(client, lang="en", **data):
    token = token_of(text(client.get(f"/verify?lang={lang}")))
    return client.post(f"/verify?lang={lang}", data={"csrf_token": token, **data},
                       content_type="multipart/form-data")


def verdict(page: str) -> str:
    return re.search(r'<h2 id="verdict"[^>]*>([^<]+)</h2>', page).group(1)


def test_pasted_text_and_uploaded_qr_picture(reg_app, vaccinated):
    formats = issued_formats(reg_app, vaccinated)
    client = reg_app.test_client()
    page = client.get("/verify")
    assert page.status_code == 200
    body = text(page)
    assert "<script>" not in body and "verify-camera.js" in body
    with client.get("/web-static/verify-camera.js") as script:
        assert script.status_code == 200 and "BarcodeDetector" in text(script)
    pasted = text(post(client, text=formats["dcc"] + "\r\n"))
    assert verdict(pasted) == "Valid certificate"
    assert "Asha" in pasted and "Dose 1 of 2" in pasted
    png = io.BytesIO()
    segno.make(formats["shc"], error="l").save(png, kind="png", scale=4)
    uploaded = text(post(client, image=(io.BytesIO(png.getvalue()), "card.png")))
    assert verdict(uploaded) == "Valid certificate" and "SMART Health Card" in uploaded
    png = io.BytesIO()
    segno.make(formats["vc"], error="m").save(png, kind="png", scale=3)
    assert verdict(text(post(client, image=(io.BytesIO(png.getvalue()), "vc.png")))) == \
        "Valid certificate"


def test_forged_unreadable_and_empty_input_in_the_visitors_language(reg_app, vaccinated):
    formats = issued_formats(reg_app, vaccinated)
    client = reg_app.test_client()
    header, payload, _signature = shc.jws_from_qr([formats["shc"]]).split(".")
    forged = shc.qr_text(".".join([header, payload,
                                   base64.urlsafe_b64encode(bytes(64)).decode().rstrip("=")]))
    page = text(post(client, text=forged))
    assert verdict(page) == "Not valid" and "signature does not match" in page
    assert "Asha" not in page  # an unsigned claim is not read out
    photo = text(post(client, image=(io.BytesIO(b"\x89PNG\r\n\x1a\nnot really"), "x.png")))
    assert verdict(photo) == "Not valid" and "No QR code could be read" in photo
    empty = post(client, text="  ")
    assert empty.status_code == 422 and 'id="text-error"' in text(empty)
    hindi = text(post(client, lang="hi", text=formats["dcc"]))
    assert 'lang="hi"' in hindi
    no_csrf = client.post("/verify", data={"text": formats["dcc"]})
    assert no_csrf.status_code == 400


def test_pictures_in_any_format_and_a_pixel_bomb(reg_app, vaccinated):
    from cowin_kit.testing import huge_png, qr_picture

    formats = issued_formats(reg_app, vaccinated)
    client = reg_app.test_client()
    for name, data in [("card.tiff", qr_picture(formats["shc"], "TIFF")),
                       ("card.gif", qr_picture(formats["shc"], "GIF", frames=3))]:
        page = post(client, image=(io.BytesIO(data), name))
        assert page.status_code == 200 and verdict(text(page)) == "Valid certificate", name
    bomb = post(client, image=(io.BytesIO(huge_png(9_000, 9_000)), "bomb.png"))
    assert bomb.status_code == 200 and verdict(text(bomb)) == "Not valid"
    assert "too many pixels" in text(bomb)
    other = post(client, image=(io.BytesIO(bytes(range(128, 256)) * 8), "x.dat"))
    assert other.status_code == 200 and "could not be read" in text(other)


def _css_rule(css: str, selector: str) -> dict[str, str]:
    body = re.search(re.escape(selector) + r"\{([^}]*)\}", css).group(1)
    return dict(part.split(":", 1) for part in body.split(";") if ":" in part)


def test_verdicts_look_different_and_name_things_in_local_words(reg_app, vaccinated):
    """"Valid" and "Not valid" differ in colour, border and icon shape, not only in their
    words; dates are the visitor's local format, the issuer and vaccine are named."""
    formats = issued_formats(reg_app, vaccinated)
    client = reg_app.test_client()
    good = text(post(client, text=formats["dcc"]))
    header, payload, _signature = shc.jws_from_qr([formats["shc"]]).split(".")
    bad = text(post(client, text=shc.qr_text(".".join(
        [header, payload, base64.urlsafe_b64encode(bytes(64)).decode().rstrip("=")]))))
    assert 'class="card verdict verdict-ok"' in good and "verdict-bad" not in good
    assert 'class="card verdict verdict-bad"' in bad and "verdict-ok" not in bad
    # a tick in a circle against a cross in a square (shape, not only colour)
    assert 'class="verdict-icon"' in good and "<circle" in good and "<rect" not in good
    assert 'class="verdict-icon"' in bad and "<rect" in bad and "<circle" not in bad
    with client.get("/web-static/site.css") as response:
        css = text(response)
    ok, no = _css_rule(css, ".verdict-ok"), _css_rule(css, ".verdict-bad")
    assert ok["background"] != no["background"] and ok["border"] != no["border"]
    assert _css_rule(css, ".verdict-ok h2")["color"] != _css_rule(css, ".verdict-bad h2")["color"]
    section = good[good.index('class="card verdict'):good.index("</section>")]
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", section), section  # no ISO dates
    assert "Ministry of Health and Family Welfare" in section and ">IN<" not in section
    assert "Covishield" in section and "EU/1/" not in section
    hindi = text(post(client, lang="hi", text=formats["dcc"]))
    assert "कोविशील्ड" in hindi and "स्वास्थ्य एवं परिवार कल्याण मंत्रालय" in hindi
