"""The life-long immunization record pages through Flask's test client: a guardian sees
their child's record (every dose with its label, the not-counted dose, the next doses with
their status and dates, the downloads the pack issues) and not another household's
people; staff look a person up by reference ID within their grants (404 outside their
area, 403 without a role that reads records); the pages in Hindi and, right to left, in
Arabic."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from cowin_kit.certificates import services
from cowin_kit.certificates.signing import keystore
from cowin_kit.certificates.verify import verify
from cowin_kit.core.db import get_database
from cowin_kit.geography.models import Facility
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.testing import (
    auth, close_reg_app, create_staff, field_error, form_post, label, last_otp, make_reg_app,
    nfc, pdf_text, publish, record_dose, sign_in, staff_token, text, today,
    valid_aadhaar, web_staff_sign_in,
)

PEOPLE = "/api/v1/staff/people"
MOBILE = "9876500001"
AGE_DAYS = 100  # 14 weeks and 2 days


def give(app, ref, series, product, days_after_birth, lot, facility="F-TVM-1"):
    """A routine dose as the visit services write it (series = the schedule's code,
    dose_number = its order in the series), given at ``facility``."""
    with app.app_context(), get_database(app).session() as session:
        person = session.scalars(select(Beneficiary)
                                 .where(Beneficiary.reference_id == ref)).one()
        product_id = session.scalars(select(VaccineProduct.id)
                                     .where(VaccineProduct.code == product)).one()
        facility_id = session.scalars(select(Facility.id)
                                      .where(Facility.code == facility)).one()
        number = 1 + len(session.scalars(select(Dose.id).where(
            Dose.beneficiary_id == person.id, Dose.series == series)).all())
        day = person.birth_date + timedelta(days=days_after_birth)
        session.add(Dose(beneficiary_id=person.id, series=series, dose_number=number,
                         product_id=product_id, lot=lot, facility_id=facility_id,
                         administered_at=datetime.combine(day, time(6), timezone.utc),
                         vaccinator="anm.tvm"))
        session.commit()


def child_with_doses(app, client) -> str:
    """A 14-week-old registered without an ID by a health worker at F-TVM-1 (guardian's
    mobile MOBILE), given her birth doses, the 6-week doses and a pentavalent dose 10 days
    too early; her reference ID."""
    with app.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    publish(app, code="F-TVM-1")
    worker = staff_token(app, client, "anm.tvm", "vaccinator", facility_code="F-TVM-1")
    born = today() - timedelta(days=AGE_DAYS)
    response = client.post(PEOPLE, headers=auth(worker), json={
        "name": "Baby of Meena", "birth_date": born.isoformat(), "gender": "F",
        "mobile": MOBILE, "location": "IN-KL-TVM", "guardian_name": "Meena Kumari",
        "guardian_relation": "mother"})
    assert response.status_code == 201, response.get_json()
    ref = response.get_json()["reference_id"]
    give(app, ref, "bcg", "BCG", 0, "BCG-1")
    give(app, ref, "hepb-birth", "HEPB", 0, "HB-1")
    give(app, ref, "opv", "BOPV", 0, "OPV-0")
    give(app, ref, "opv", "BOPV", 42, "OPV-1")
    give(app, ref, "dtp", "PENTA", 42, "PENTA-1")
    give(app, ref, "dtp", "PENTA", 52, "PENTA-X")
    return ref


def web_sign_in(app, client, mobile):
    response = form_post(client, "/sign-in", mobile=mobile)
    assert response.status_code == 303, text(response)
    response = form_post(client, "/sign-in/otp", otp=last_otp(app, mobile))
    assert response.status_code == 303, text(response)


def items(page: str, css_class: str) -> list[str]:
    """The <li> items (tags stripped, spaces folded) of the list with ``css_class``."""
    found = re.search(rf'<o?u?l class="list {css_class}"[^>]*>(.*?)</[ou]l>', page, re.S)
    assert found, f"no list {css_class}"
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split())
            for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def test_the_guardian_sees_the_childs_record_next_doses_and_downloads(reg_app):
    client = reg_app.test_client()
    ref = child_with_doses(reg_app, client)
    web_sign_in(reg_app, client, MOBILE)
    home = text(client.get("/"))
    assert f'href="/members/{ref}/record"' in home and "Immunization record" in home

    response = client.get(f"/members/{ref}/record")
    assert response.status_code == 200
    page = text(response)
    assert "no-store" in response.headers["Cache-Control"]
    assert "Baby of Meena" in page and ref in page
    doses = items(page, "record-doses")
    assert len(doses) == 6
    assert any("BCG-1" in d and "Dose 1 of 1" in d for d in doses)
    assert any("OPV-1" in d and "Dose 2 of 5" in d for d in doses)
    (early,) = [d for d in doses if "PENTA-X" in d]
    assert "Not counted" in early
    assert 'class="badge status-not-counted"' in page
    assert "6 doses recorded." in page and "given too early or twice" in page
    # the dates in the locale's format, the facility by name
    born = today() - timedelta(days=AGE_DAYS)
    assert any((born + timedelta(days=42)).strftime("%b") in d
               and str((born + timedelta(days=42)).day) in d for d in doses)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        facility = session.scalars(select(Facility).where(Facility.code == "F-TVM-1")).one()
        assert all(facility.name in d for d in doses)

    upcoming = items(page, "record-next")
    (dtp,) = [n for n in upcoming if "Pentavalent" in n]
    assert dtp.startswith(("Due ", "Overdue ")) and "Dose 2 of 5" in dtp  # PENTA-X did not count
    (fipv,) = [n for n in upcoming if "Fractional IPV" in n]
    assert fipv.startswith("Overdue Polio: Dose 1 of 3")
    due_day = (born + timedelta(days=42)).strftime("%-d %b %Y")  # English as India writes it
    assert f"Earliest {due_day} Due date {due_day} Latest" in fipv
    (measles,) = [n for n in upcoming if "Measles" in n]
    assert measles.startswith("Upcoming ")
    assert not any("BCG" in n or "birth dose" in n for n in upcoming)
    assert "status-overdue" in page
    statuses = re.findall(r'class="badge status-(due|overdue|upcoming)">([^<]+)<', page)
    assert statuses and {word for kind, word in statuses} <= {"Due", "Overdue", "Upcoming"}
    assert all(word == kind.capitalize() for kind, word in statuses)

    # downloads: the India pack issues SHC and W3C credentials, and the PDF card
    links = re.findall(r'<a class="button[^"]*" href="([^"]+)" download>', page)
    assert links == [f"/members/{ref}/record.pdf", f"/members/{ref}/record.smart-health-card",
                     f"/members/{ref}/record.vc.json"]
    pdf = client.get(links[0])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "PENTA-X" in pdf_text(pdf.get_data()) and "Not counted" in pdf_text(pdf.get_data())
    card = client.get(links[1])
    assert card.status_code == 200 and card.mimetype == "application/smart-health-card"
    assert card.headers["Content-Disposition"] == (
        f'attachment; filename="immunization-record-{ref}.smart-health-card"')
    credential = client.get(links[2])
    assert credential.status_code == 200
    assert len(json.loads(credential.get_data(as_text=True))["evidence"]) == 6
    with reg_app.app_context():
        trust = services.instance_trust_store()
        for download in (card, credential):
            result = verify(download.get_data(as_text=True), trust=trust)
            assert result.valid, result.errors


def test_an_empty_record_offers_no_credential_and_a_pack_without_them_none(reg_app):
    client = reg_app.test_client()
    token = sign_in(reg_app, client, mobile=MOBILE)
    response = client.post("/api/v1/beneficiaries", headers=auth(token), json={
        "name": "Ravi Kumar", "birth_year": 1990, "gender": "M", "id_type": "aadhaar",
        "id_number": valid_aadhaar(1)[0], "consent_version": "v1"})
    assert response.status_code == 201, response.get_json()
    ref = response.get_json()["reference_id"]
    web_sign_in(reg_app, client, MOBILE)
    page = text(client.get(f"/members/{ref}/record"))
    assert "No vaccination has been recorded yet." in page
    links = re.findall(r'href="([^"]+)" download>', page)
    assert links == [f"/members/{ref}/record.pdf"]
    assert client.get(f"/members/{ref}/record.pdf").status_code == 200
    refused = client.get(f"/members/{ref}/record.vc.json")
    assert refused.status_code == 404
    assert "No dose has been recorded for this person yet." in text(refused)


def test_another_households_person_is_not_found(reg_app):
    client = reg_app.test_client()
    ref = child_with_doses(reg_app, client)
    assert client.get(f"/members/{ref}/record").status_code == 302  # to the sign-in
    web_sign_in(reg_app, client, "9876500099")
    for suffix in ("", ".pdf", ".smart-health-card", ".vc.json"):
        response = client.get(f"/members/{ref}/record{suffix}")
        assert response.status_code == 404, suffix
        body = text(response)
        assert "No such person in this account." in body and "Baby of Meena" not in body


def test_staff_look_a_person_up_within_their_grants(reg_app):
    client = reg_app.test_client()
    ref = child_with_doses(reg_app, client)
    # not signed in: to the staff sign-in
    assert "/staff/sign-in" in client.get(f"/staff/records/{ref}").headers["Location"]
    web_staff_sign_in(client, "anm.tvm")
    assert 'href="/staff/records"' in text(client.get("/staff"))
    form = client.get("/staff/records")
    assert form.status_code == 200 and 'name="reference_id"' in text(form)
    found = client.get(f"/staff/records?reference_id=+{ref}+")
    assert found.status_code == 303 and found.headers["Location"].endswith(
        f"/staff/records/{ref}")
    page = text(client.get(found.headers["Location"]))
    assert "Baby of Meena" in page and len(items(page, "record-doses")) == 6
    assert 'href="/staff/records"' in page  # back to the look-up
    links = re.findall(r'href="([^"]+)" download>', page)
    assert links == [f"/staff/records/{ref}.pdf", f"/staff/records/{ref}.smart-health-card",
                     f"/staff/records/{ref}.vc.json"]
    for link in links:
        assert client.get(link).status_code == 200, link
    unknown = client.get("/staff/records?reference_id=12345678901234", follow_redirects=True)
    assert unknown.status_code == 404
    assert field_error(text(unknown), "reference_id") == (
        "No one is registered with this reference ID.")

    publish(reg_app, code="F-TVM-2")  # a vaccinator of another facility: a reason first
    elsewhere = reg_app.test_client()
    create_staff(reg_app, "vax.other", "vaccinator", facility_code="F-TVM-2")
    web_staff_sign_in(elsewhere, "vax.other")
    response = elsewhere.get(f"/staff/records?reference_id={ref}", follow_redirects=True)
    assert response.status_code == 403 and "Baby of Meena" not in text(response)
    assert "not in your area" in field_error(text(response), "reason")
    opened = elsewhere.get(f"/staff/records?reference_id={ref}&reason=referred+here",
                           follow_redirects=True)
    assert opened.status_code == 200 and "Baby of Meena" in text(opened)
    links = re.findall(r'href="([^"]+)" download>', text(opened))
    assert links and all("reason=referred" in link for link in links)
    assert elsewhere.get(links[0].replace("&amp;", "&")).status_code == 200
    for suffix in ("", ".pdf", ".smart-health-card", ".vc.json"):  # no reason given
        assert elsewhere.get(f"/staff/records/{ref}{suffix}").status_code == 403, suffix

    verifier = reg_app.test_client()  # a role that reads no records
    create_staff(reg_app, "verifier.1", "verifier")
    web_staff_sign_in(verifier, "verifier.1")
    assert 'href="/staff/records"' not in text(verifier.get("/staff"))
    assert verifier.get(f"/staff/records/{ref}").status_code == 403
    assert verifier.get(f"/staff/records?reference_id={ref}",
                        follow_redirects=True).status_code == 403

    district = reg_app.test_client()  # an administrator of the district: reads reports
    create_staff(reg_app, "admin.tvm", "district_admin", location_code="IN-KL-TVM")
    web_staff_sign_in(district, "admin.tvm")
    assert 'href="/staff/records"' in text(district.get("/staff"))
    assert 'href="/staff/records"' in text(district.get("/admin/dashboard"))
    assert district.get(f"/staff/records/{ref}").status_code == 200


def test_the_record_page_in_hindi(reg_app):
    client = reg_app.test_client()
    ref = child_with_doses(reg_app, client)
    web_sign_in(reg_app, client, MOBILE)
    page = text(client.get(f"/members/{ref}/record?lang=hi"))
    assert '<html lang="hi" dir="ltr">' in page
    for msgid in ("Next doses", "Vaccinations given", "Not counted", "Due date",
                  "Record card (PDF)", "W3C verifiable credential"):
        translated = label(reg_app, "hi", msgid)
        assert translated != msgid and html.escape(translated, quote=False) in page, msgid
    assert nfc("पोलियो") in nfc(page)
    assert "Vaccinations given" not in page and "Dose 2 of 5" not in page
    home = text(client.get("/?lang=hi"))
    assert label(reg_app, "hi", "Immunization record") in home


@pytest.fixture
def ae_app(database_url, tmp_path):
    from cowin_kit.config.packs import load_pack
    from conftest import EXAMPLES

    app = make_reg_app(database_url, tmp_path, load_pack(EXAMPLES / "ae"))
    yield app
    close_reg_app(app)


def test_the_record_page_in_arabic_is_right_to_left(ae_app):
    client = ae_app.test_client()
    mobile = "501234567"
    token = sign_in(ae_app, client, mobile=mobile)
    response = client.post("/api/v1/beneficiaries", headers=auth(token), json={
        "name": "Fatima Ali", "birth_date": "1990-03-04", "gender": "F",
        "id_type": "passport", "id_number": "P1234567", "consent_version": "v1"})
    assert response.status_code == 201, response.get_json()
    ref = response.get_json()["reference_id"]
    record_dose(ae_app, ref, 1, "COMIRNATY", days_ago=30)
    web_sign_in(ae_app, client, mobile)
    page = text(client.get(f"/members/{ref}/record?lang=ar"))
    assert '<html lang="ar" dir="rtl">' in page
    for msgid in ("Vaccinations given", "Next doses", "Lot number"):
        translated = label(ae_app, "ar", msgid)
        assert translated != msgid and translated in page, msgid
    assert label(ae_app, "ar", "Dose %(dose)s of %(total)s") != "Dose %(dose)s of %(total)s"
    assert "LOT1" in page and "Fatima Ali" in page
    assert "Vaccinations given" not in page
