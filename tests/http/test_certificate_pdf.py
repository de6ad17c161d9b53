"""The PDF certificate: in the account's language (shaped Hindi), with the issuer, the
person, the dose and the QR codes of the enabled formats (which decode and verify), on
/api/v1, CoWIN's /api/v2 downloads and `cowin-kit cert export --format pdf`; only for the
account's own members."""

from __future__ import annotations

import subprocess

from click.testing import CliRunner

from cowin_kit.certificates import services
from cowin_kit.certificates.formats import qr
from cowin_kit.certificates.verify import verify
from cowin_kit.cli import main

from cowin_kit.testing import auth, label, need_tool, nfc, pdf_text, run_worker, sign_in

ISSUER_EN = "Ministry of Health and Family Welfare"
ISSUER_HI = "स्वास्थ्य एवं परिवार कल्याण मंत्रालय"


def qr_texts_in(data: bytes, tmp_path) -> list[str]:
    need_tool("pdfimages", "poppler-utils")
    folder = tmp_path / "images"
    folder.mkdir()
    (tmp_path / "cert.pdf").write_bytes(data)
    subprocess.run(["pdfimages", "-png", str(tmp_path / "cert.pdf"), str(folder / "img")],
                   check=True)
    texts = []
    for image in sorted(folder.glob("*.png")):
        texts += qr.read_texts(image.read_bytes())
    return texts


def test_pdf_certificate_shows_the_person_the_dose_and_the_issuer(reg_app, vaccinated,
                                                                   tmp_path):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    response = client.get(f"/api/v1/beneficiaries/{ref}/certificate.pdf", headers=auth(citizen))
    assert response.status_code == 200, response.get_data()
    assert response.mimetype == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]
    data = response.get_data()
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    for expected in ("Asha Devi", ref, "4121Z005", ISSUER_EN, "1980", "1 of 2",
                     "XXXXXXXX", label(reg_app, "en", "Lot number"),
                     label(reg_app, "en", "Manufacturer"), "Medical College PHC"):
        assert expected in text, expected
    assert "Provisional certificate" in text
    # the vaccinator by name, not by user name; each QR code says where it is shown
    assert "Sister Mary Thomas" in text and "vax.cert" not in text
    for use in ("Border control", "Airlines", "Checks in this country"):
        assert use in text, use

    texts = qr_texts_in(data, tmp_path)
    formats = client.get(f"/api/v1/beneficiaries/{ref}/certificate",
                         headers=auth(citizen)).get_json()["formats"]
    assert formats["dcc"] in texts and formats["shc"] in texts
    dcc = next(t for t in texts if t.startswith("HC1:"))
    with reg_app.app_context():
        result = verify(dcc, trust=services.instance_trust_store())
    assert result.valid and result.format == "dcc", result.errors


def test_hindi_certificate_in_the_account_language(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    assert client.put("/api/v1/account/locale", json={"locale": "hi"},
                      headers=auth(citizen)).status_code == 200
    response = client.get(f"/api/v1/beneficiaries/{ref}/certificate.pdf", headers=auth(citizen))
    assert response.status_code == 200
    text = pdf_text(response.get_data())
    for msgid in ("Vaccination certificate", "Beneficiary reference ID", "Lot number",
                  "Vaccination details"):
        translated = label(reg_app, "hi", msgid)
        assert translated != msgid and translated in text, msgid
    assert nfc(ISSUER_HI) in text
    assert ref in text and "4121Z005" in text and "Asha Devi" in text


def test_cowin_v2_downloads_and_other_accounts(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    for path in ("/api/v2/registration/certificate/public/download",
                 "/api/v2/registration/certificate/download"):
        response = client.get(f"{path}?beneficiary_reference_id={ref}", headers=auth(citizen))
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.get_data().startswith(b"%PDF")
        assert ref in pdf_text(response.get_data())
        assert client.get(f"{path}?beneficiary_reference_id={ref}").status_code == 401
        missing = client.get(path, headers=auth(citizen))
        assert missing.status_code == 400 and missing.get_json()["errorCode"] == "USRRES0001"
    other = sign_in(reg_app, client, "9123456789")
    assert client.get(f"/api/v1/beneficiaries/{ref}/certificate.pdf",
                      headers=auth(other)).status_code == 404
    v2 = client.get(f"/api/v2/registration/certificate/download?beneficiary_reference_id={ref}",
                    headers=auth(other))
    assert v2.status_code == 404 and v2.get_json()["errorCode"] == "USRRES0017"


def test_no_certificate_yet_is_404(reg_app, vaccinated):
    client, citizen, ref = vaccinated   # the worker has not run
    response = client.get(f"/api/v1/beneficiaries/{ref}/certificate.pdf", headers=auth(citizen))
    assert response.status_code == 404


def test_cli_export_writes_a_pdf(reg_app, vaccinated, tmp_path, database_url):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    env = {"COWIN_KIT_ENV": "test", "COWIN_KIT_DATABASE_URL": database_url,
           "COWIN_KIT_INSTANCE_PATH": reg_app.config["COWIN_KIT"]["INSTANCE_PATH"]}
    output = tmp_path / "cert.pdf"
    result = CliRunner().invoke(main, ["cert", "export", ref, "--format", "pdf",
                                       "--output", str(output)], env=env)
    assert result.exit_code == 0, result.output
    assert output.read_bytes().startswith(b"%PDF")
    assert ref in pdf_text(output.read_bytes())
    needs_output = CliRunner().invoke(main, ["cert", "export", ref, "--format", "pdf"], env=env)
    assert needs_output.exit_code == 1 and "--output" in needs_output.output


def test_the_pack_logo_is_drawn_from_the_installed_document(reg_app, vaccinated, tmp_path):
    """The pack folder is not on the server: the installed document carries the logo."""
    from PIL import Image

    from cowin_kit.config.runtime import active_pack

    need_tool("pdfimages", "poppler-utils")
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    with reg_app.app_context():
        assert active_pack().document["certificates"]["logo"].startswith("data:image/png;base64,")
    data = client.get(f"/api/v1/beneficiaries/{ref}/certificate.pdf",
                      headers=auth(citizen)).get_data()
    (tmp_path / "cert.pdf").write_bytes(data)
    folder = tmp_path / "images"
    folder.mkdir()
    subprocess.run(["pdfimages", "-png", str(tmp_path / "cert.pdf"), str(folder / "img")],
                   check=True)
    logos = []
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as image:
            if image.size == (240, 240):
                logos.append(image.convert("RGB"))
    # the example logo: a green cross on white in a green ring
    assert any(image.getpixel((120, 120)) == (19, 136, 8)
               and image.getpixel((120, 32)) == (255, 255, 255) for image in logos)
