"""Each example country pack works end to end (issue 18): installed on the test databases
(SQLite, and PostgreSQL when COWIN_KIT_TEST_DATABASE_URL is set), a citizen signs in with a
mobile number of the country, registers a person with a valid national ID, sees an ID with
a wrong check digit (or the wrong form, where the document has no check digit) refused,
books a session, is given a dose, and gets every certificate format the pack declares:
each QR text verifies, and the PDF names the issuer and the person in each of the pack's
languages. India and the UAE have their own, longer tests (test_certificate_pdf.py,
tests/web); this one is one pass per pack, kept cheap."""

from __future__ import annotations

from datetime import datetime, timedelta

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType
from sqlalchemy import select

from cowin_kit.config.packs import load_pack
from cowin_kit.testing import (auth, close_reg_app, make_reg_app, nfc, pdf_text, run_worker,
                               secret_code, sign_in)

from conftest import EXAMPLES

# Per pack: (ID type, a valid number, the same with a wrong check digit or an impossible
# form, COVID-19 product to give, a birth date). Valid numbers are the python-stdnum
# examples (CURP, CUI, cédula) or built by the rule in the pack's comment.
PEOPLE = {
    "mx": ("curp", "BOXW310820HNERXN09", "BOXW310820HNERXN08", "COMIRNATY", "1980-08-20"),
    "pe": ("dni", "101174102", "101174105", "BBIBP_CORV", "1975-05-01"),
    "ng": ("nin", "30145678912", "3014567891", "COVISHIELD", "1985-01-01"),
    "vn": ("can_cuoc", "001185012345", "099185012345", "VAXZEVRIA", "1985-03-02"),
    "do": ("cedula", "00113918205", "00113918204", "CORONAVAC", "1970-06-15"),
    "ug": ("nin", "CF85012345678X", "XF85012345678X", "COVISHIELD", "1985-04-09"),
    "iq": ("national_card", "199012345678", "19901234567", "BBIBP_CORV", "1990-01-01"),
    "pa": ("cedula", "8-123-4567", "X-123-4567", "COMIRNATY", "1980-11-30"),
    "az": ("fin", "5ABC123", "5ABC12", "CORONAVAC", "1988-07-07"),
}


def mobile_of(region: str) -> str:
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    return phonenumbers.national_significant_number(example)


@pytest.fixture
def pack_app(request, database_url, tmp_path):
    app = make_reg_app(database_url, tmp_path, load_pack(EXAMPLES / request.param))
    yield app
    close_reg_app(app)


def publish_here(app, product: str) -> str:
    """A session tomorrow at a facility in the pack's first leaf location; its id."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.geography.models import Location
    from cowin_kit.scheduling import sessions as scheduling
    import zoneinfo

    with app.app_context(), get_database(app).session() as session:
        pack = active_pack()
        leaf = len(pack.document["hierarchy"])
        place = session.scalars(select(Location).where(Location.level == leaf)
                                .order_by(Location.code)).first()
        facility = scheduling.upsert_facility(
            session, code="F-PACK-1", name="Centro de Salud 1", location_code=place.code,
            fee_type="Free")
        day = datetime.now(zoneinfo.ZoneInfo(pack.document["timezone"])).date()
        created = scheduling.publish_session(
            session, facility=facility, session_date=day + timedelta(days=1),
            product_code=product, slots="09:00-11:00;11:00-13:00",
            capacity_by_dose={1: 10, 2: 10}, min_age=12)
        session.commit()
        return created.id


@pytest.mark.parametrize("pack_app", sorted(PEOPLE), indirect=True)
def test_register_book_vaccinate_and_certify(pack_app, request):
    from cowin_kit.certificates import services
    from cowin_kit.certificates.signing import keystore
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.testing import staff_token

    code = request.node.callspec.params["pack_app"]
    id_type, valid, invalid, product, birth_date = PEOPLE[code]
    app, client = pack_app, pack_app.test_client()
    with app.app_context():
        pack = active_pack()
        keystore.generate(services.keystore().keys_dir, pack.code, "Test issuer")
    document = pack.document
    citizen = sign_in(app, client, mobile=mobile_of(document["phone_region"]))
    person = {"name": "Ana Prueba", "birth_date": birth_date, "gender": "F",
              "id_type": id_type, "consent_version": "v1"}

    refused = client.post("/api/v1/beneficiaries", headers=auth(citizen),
                          json={**person, "id_number": invalid})
    assert refused.status_code == 422, refused.get_json()
    assert "id_number" in str(refused.get_json())
    added = client.post("/api/v1/beneficiaries", headers=auth(citizen),
                        json={**person, "id_number": valid})
    assert added.status_code == 201, added.get_json()
    ref = added.get_json()["reference_id"]

    session_id = publish_here(app, product)
    booked = client.post("/api/v1/appointments", headers=auth(citizen), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]})
    assert booked.status_code == 201, booked.get_json()

    vaccinator = staff_token(app, client, "vax.pack", "vaccinator", facility_code="F-PACK-1")
    recorded = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": product, "lot": "LOT-PACK-1",
        "secret_code": secret_code(client, citizen, ref)})
    assert recorded.status_code == 201, recorded.get_json()
    assert run_worker(app) >= 1

    formats = client.get(f"/api/v1/beneficiaries/{ref}/certificate",
                         headers=auth(citizen)).get_json()["formats"]
    declared = [f for f in document["certificates"]["formats"] if f != "pdf"]
    assert sorted(formats) == sorted(declared)
    for name, text in formats.items():
        verified = client.post("/api/v1/certificates/verify", json={"text": text}).get_json()
        assert verified["valid"] and verified["format"] == name, verified

    if "pdf" in document["certificates"]["formats"]:
        for locale in document["locales"]:
            assert client.put("/api/v1/account/locale", json={"locale": locale},
                              headers=auth(citizen)).status_code == 200
            response = client.get(f"/api/v1/beneficiaries/{ref}/certificate.pdf",
                                  headers=auth(citizen))
            assert response.status_code == 200
            text = pdf_text(response.get_data())
            issuer = nfc(document["certificates"]["issuer"][locale])
            assert issuer in text, (locale, issuer)
            assert "Ana Prueba" in text and ref in text and "LOT-PACK-1" in text
            product_name = next(p["name"][locale] for p in load_pack(EXAMPLES / code)
                                .vaccines["products"] if p["code"] == product)
            assert nfc(product_name) in text, (locale, product_name)
