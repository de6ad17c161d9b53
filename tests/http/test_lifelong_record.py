"""A person's life-long immunization record over HTTP: a child registered without an ID
document by a health worker, with birth doses, 6-week doses and a pentavalent dose given too
early; the record (dose labels from the due rules, not-counted doses, next doses due), for
the guardian (their household only) and for staff (within their area only); the PDF card
in English and Hindi; the SMART Health Card and the W3C credential holding every dose,
verified by the project's verifier (and `cowin-kit cert verify`)."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import select

from cowin_kit.certificates import services
from cowin_kit.certificates.formats import codecs, shc
from cowin_kit.certificates.signing import keystore
from cowin_kit.certificates.verify import verify
from cowin_kit.cli import main
from cowin_kit.core.db import get_database
from cowin_kit.geography.models import Facility
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.testing import (
    auth, label, member, nfc, pdf_text, publish, record_first_dose, sign_in,
    staff_token, today, valid_aadhaar,
)

PEOPLE = "/api/v1/staff/people"
MOBILE = "9876500001"
AGE_DAYS = 100  # 14 weeks and 2 days


def give(app, ref, series, product, days_after_birth, lot, facility="F-TVM-1"):
    """A routine dose written as the visit services write them (series = schedule code,
    dose_number = order in the series)."""
    with app.app_context(), get_database(app).session() as session:
        person = session.scalars(select(Beneficiary).where(Beneficiary.reference_id == ref)).one()
        product_id = session.scalars(select(VaccineProduct.id)
                                     .where(VaccineProduct.code == product)).one()
        facility_id = session.scalars(select(Facility.id).where(Facility.code == facility)).one()
        number = 1 + len(session.scalars(select(Dose.id).where(
            Dose.beneficiary_id == person.id, Dose.series == series)).all())
        day = person.birth_date + timedelta(days=days_after_birth)
        session.add(Dose(beneficiary_id=person.id, series=series, dose_number=number,
                         product_id=product_id, lot=lot, facility_id=facility_id,
                         administered_at=datetime.combine(day, time(6), timezone.utc),
                         vaccinator="anm.tvm"))
        session.commit()


def child_with_doses(app, client):
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
    give(app, ref, "dtp", "PENTA", 52, "PENTA-X")   # 10 days later: too early for dose 2
    return worker, ref


def test_the_record_labels_every_dose_and_lists_the_next_doses(reg_app):
    client = reg_app.test_client()
    worker, ref = child_with_doses(reg_app, client)
    guardian = sign_in(reg_app, client, mobile=MOBILE)
    response = client.get(f"/api/v1/beneficiaries/{ref}/record", headers=auth(guardian))
    assert response.status_code == 200, response.get_json()
    record = response.get_json()
    doses = [(d["product"], d["lot"], d["status"], d["dose"], d["label"])
             for d in record["doses"]]
    assert ("BCG", "BCG-1", "counted", 1, "Dose 1 of 1") in doses
    assert ("BOPV", "OPV-0", "counted", 1, "Dose 1 of 5") in doses
    assert ("BOPV", "OPV-1", "counted", 2, "Dose 2 of 5") in doses
    assert ("PENTA", "PENTA-1", "counted", 1, "Dose 1 of 5") in doses
    assert ("PENTA", "PENTA-X", "not_counted", None, "Not counted") in doses
    assert len(doses) == 6
    penta = next(d for d in record["doses"] if d["lot"] == "PENTA-1")
    assert penta["antigens"] == ["DTP", "HepB", "Hib"] and penta["facility"]
    assert penta["codes"]["icd11"] == "XM7JP3"
    upcoming = {n["schedule"]: n for n in record["next"]}
    # dose 2 of DTP is still due (the early dose did not count), OPV-2 too; fIPV-1 overdue
    assert upcoming["dtp"]["dose"] == 2 and upcoming["dtp"]["status"] in ("due", "overdue")
    assert upcoming["opv"]["dose"] == 3
    assert upcoming["fipv"]["dose"] == 1 and upcoming["fipv"]["status"] == "overdue"
    assert "bcg" not in upcoming and "hepb-birth" not in upcoming
    assert all(n["due"] for n in record["next"])
    # as of an earlier day: the 6-week doses are not yet given
    early = client.get(f"/api/v1/beneficiaries/{ref}/record?on="
                       + (today() - timedelta(days=AGE_DAYS - 20)).isoformat(),
                       headers=auth(guardian)).get_json()
    assert {n["schedule"]: n["dose"] for n in early["next"]}["dtp"] == 1
    bad = client.get(f"/api/v1/beneficiaries/{ref}/record?on=yesterday",
                     headers=auth(guardian))
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_date"
    # staff of the area see the same record
    staff_view = client.get(f"{PEOPLE}/{ref}/record", headers=auth(worker)).get_json()
    assert staff_view["doses"] == record["doses"]


def test_only_the_household_and_staff_whose_grants_reach_the_person(reg_app):
    client = reg_app.test_client()
    _worker, ref = child_with_doses(reg_app, client)
    stranger = sign_in(reg_app, client, mobile="9876500099")
    for suffix in ("", ".pdf", ".smart-health-card", ".vc.json"):
        response = client.get(f"/api/v1/beneficiaries/{ref}/record{suffix}",
                              headers=auth(stranger))
        assert response.status_code == 404, suffix
        assert response.get_json()["code"] == "beneficiary_not_found"
    publish(reg_app, code="F-TVM-2")  # another facility: its vaccinator needs a reason
    elsewhere = staff_token(reg_app, client, "vax.other", "vaccinator", facility_code="F-TVM-2")
    response = client.get(f"{PEOPLE}/{ref}/record", headers=auth(elsewhere))
    assert response.status_code == 403 and response.get_json()["code"] == "reason_required"
    verifier = staff_token(reg_app, client, "verifier.1", "verifier")
    assert client.get(f"{PEOPLE}/{ref}/record", headers=auth(verifier)).status_code == 403
    district = staff_token(reg_app, client, "admin.tvm", "district_admin",
                           location_code="IN-KL-TVM")
    assert client.get(f"{PEOPLE}/{ref}/record", headers=auth(district)).status_code == 200
    assert client.get(f"{PEOPLE}/{ref}/record").status_code == 401


def test_the_pdf_card_in_english_and_hindi(reg_app):
    client = reg_app.test_client()
    worker, ref = child_with_doses(reg_app, client)
    guardian = sign_in(reg_app, client, mobile=MOBILE)
    response = client.get(f"/api/v1/beneficiaries/{ref}/record.pdf", headers=auth(guardian))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.get_data())
    for expected in ("Baby of Meena", ref, "PENTA-1", "PENTA-X", "OPV-0",
                     label(reg_app, "en", "Immunization record"),
                     label(reg_app, "en", "Next doses"), "Not counted", "Dose 2 of 5"):
        assert expected in text, expected
    assert client.put("/api/v1/account/locale", json={"locale": "hi"},
                      headers=auth(guardian)).status_code == 200
    hindi = pdf_text(client.get(f"/api/v1/beneficiaries/{ref}/record.pdf",
                                headers=auth(guardian)).get_data())
    for msgid in ("Immunization record", "Next doses", "Vaccinations given", "Not counted"):
        translated = label(reg_app, "hi", msgid)
        assert translated != msgid and translated in hindi, msgid
    assert nfc("पोलियो") in hindi and "PENTA-X" in hindi
    # staff download it in the person's account language
    staff_pdf = client.get(f"{PEOPLE}/{ref}/record.pdf", headers=auth(worker))
    assert staff_pdf.status_code == 200
    assert label(reg_app, "hi", "Immunization record") in pdf_text(staff_pdf.get_data())


def test_the_signed_credentials_hold_every_dose_and_verify(reg_app, tmp_path):
    client = reg_app.test_client()
    worker, ref = child_with_doses(reg_app, client)
    guardian = sign_in(reg_app, client, mobile=MOBILE)
    card = client.get(f"/api/v1/beneficiaries/{ref}/record.smart-health-card",
                      headers=auth(guardian))
    assert card.status_code == 200 and card.mimetype == "application/smart-health-card"
    with reg_app.app_context():
        trust = services.instance_trust_store()
        result = verify(card.get_data(as_text=True), trust=trust)
        assert result.valid and result.format == "shc", result.errors
        bundle = result.payload["vc"]["credentialSubject"]["fhirBundle"]
        entries = bundle["entry"]
        assert [e["fullUrl"] for e in entries] == [f"resource:{i}" for i in range(7)]
        immunizations = [e["resource"] for e in entries[1:]]
        assert all(i["resourceType"] == "Immunization" and i["status"] == "completed"
                   and i["patient"] == {"reference": "resource:0"} for i in immunizations)
        assert sorted(i["lotNumber"] for i in immunizations) == sorted(
            ["BCG-1", "HB-1", "OPV-0", "OPV-1", "PENTA-1", "PENTA-X"])
        penta = next(i for i in immunizations if i["lotNumber"] == "PENTA-1")
        assert penta["vaccineCode"]["coding"][0] == {"system": shc.ICD11, "code": "XM7JP3"}
        assert entries[0]["resource"]["birthDate"] == (today() - timedelta(
            days=AGE_DAYS)).isoformat()
        # a changed byte breaks the signature
        document = json.loads(card.get_data(as_text=True))
        header, body, signature = document["verifiableCredential"][0].split(".")
        claims = json.loads(codecs.inflate_raw(codecs.b64url_decode(body)))
        claims["vc"]["credentialSubject"]["fhirBundle"]["entry"][1]["resource"][
            "lotNumber"] = "FORGED"
        forged = ".".join([header, codecs.b64url_encode(codecs.deflate_raw(
            json.dumps(claims).encode())), signature])
        assert not verify(shc.card_file([forged]), trust=trust).valid

        credential = client.get(f"{PEOPLE}/{ref}/record.vc.json", headers=auth(worker))
        assert credential.status_code == 200
        signed = credential.get_json()
        result = verify(credential.get_data(as_text=True), trust=trust)
        assert result.valid and result.format == "vc", result.errors
        evidence = signed["evidence"]
        assert len(evidence) == 6
        penta = next(e for e in evidence if e["batch"] == "PENTA-1")
        assert penta["antigens"] == ["DTP", "HepB", "Hib"] and penta["dose"] == 1
        assert "prophylaxis" not in penta  # a COVID-19 code is never put on a routine dose
    # the command-line verifier accepts both files, with the keys the instance publishes
    (tmp_path / "card.smart-health-card").write_bytes(card.get_data())
    (tmp_path / "record.vc.json").write_bytes(credential.get_data())
    (tmp_path / "jwks.json").write_bytes(client.get("/.well-known/jwks.json").get_data())
    published = client.get("/api/v1/trust/vc").get_json()["keys"]
    (tmp_path / "vc-keys.json").write_text(json.dumps({"keys": [
        dict(key["publicKeyJwk"], kid=key["thumbprint"]) for key in published]}))
    for name, keys in (("card.smart-health-card", "jwks.json"),
                       ("record.vc.json", "vc-keys.json")):
        outcome = CliRunner().invoke(main, ["cert", "verify", "--trust", str(tmp_path / keys),
                                            str(tmp_path / name)])
        assert outcome.exit_code == 0, outcome.output


def test_a_booked_covid_dose_sits_in_the_record_and_its_certificate_is_unchanged(reg_app):
    client = reg_app.test_client()
    with reg_app.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    citizen, ref, _recorded = record_first_dose(reg_app, client)
    record = client.get(f"/api/v1/beneficiaries/{ref}/record", headers=auth(citizen)).get_json()
    (dose,) = record["doses"]
    assert dose["series"] == "" and dose["product"] == "COVISHIELD"
    assert dose["label"] == "Dose 1 of 2" and dose["status"] == "counted"
    card = client.get(f"/api/v1/beneficiaries/{ref}/record.smart-health-card",
                      headers=auth(citizen))
    with reg_app.app_context():
        result = verify(card.get_data(as_text=True), trust=services.instance_trust_store())
    assert result.valid, result.errors
    immunization = result.payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][1]
    assert immunization["resource"]["vaccineCode"]["coding"][0]["code"] == "210"
    # someone with nothing recorded has an empty record and no credential
    other = client.post("/api/v1/beneficiaries", headers=auth(citizen), json=member(
        valid_aadhaar(2)[1], name="Ravi Kumar")).get_json()["reference_id"]
    empty = client.get(f"/api/v1/beneficiaries/{other}/record", headers=auth(citizen))
    assert empty.status_code == 200 and empty.get_json()["doses"] == []
    refused = client.get(f"/api/v1/beneficiaries/{other}/record.vc.json",
                         headers=auth(citizen))
    assert refused.status_code == 404 and refused.get_json()["code"] == "record_empty"


def test_schedules_limited_to_a_sex_or_to_areas_follow_the_person(reg_app):
    """India's pack gives HPV to girls only and JE in its endemic districts only: a girl in
    Thiruvananthapuram has both ahead of her, a boy in Delhi neither."""
    client = reg_app.test_client()
    _worker, girl = child_with_doses(reg_app, client)
    admin = staff_token(reg_app, client, "nat.admin", "national_admin")
    response = client.post(PEOPLE, headers=auth(admin), json={
        "name": "Baby of Asha", "birth_date": (today() - timedelta(days=AGE_DAYS)).isoformat(),
        "gender": "M", "mobile": "9876500002", "location": "IN-DL-ND", "facility": "",
        "guardian_name": "Asha Devi", "guardian_relation": "mother"})
    assert response.status_code == 201, response.get_json()
    boy = response.get_json()["reference_id"]

    def ahead(ref):
        record = client.get(f"{PEOPLE}/{ref}/record", headers=auth(admin)).get_json()
        return {n["schedule"] for n in record["next"]}

    assert {"hpv", "je", "mr", "dtp"} <= ahead(girl)
    assert "mr" in ahead(boy) and "dtp" in ahead(boy)
    assert not {"hpv", "je"} & ahead(boy)
