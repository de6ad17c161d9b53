"""The field app checks certificates offline against the trust list of its last
preparation: a real EU DCC (HC1:), W3C credential (VC1:, also in the form issued before
VC 2.0) and SMART Health Card (shc:/) issued by the server's outbox and exported as ``cowin-kit cert export`` does, each
tampered with (not valid), revoked before the preparation (not valid), and text that is
not a certificate (unreadable). The server's own verifier judges each input the same
way, so the tampering really breaks the signature and nothing else."""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone

import cbor2
import pytest
from sqlalchemy import select

from tests.browser.test_field_app import _people_of_the_facility, device  # noqa: F401

COVISHIELD = "COVISHIELD"


def _issue(live, name: str, lot: str) -> dict[str, str]:
    """A COVID-19 dose for ``name`` at the vaccinator's facility, the outbox run as the
    worker does, and the QR texts of the certificate as ``cowin-kit cert export`` gives
    them (``certificate.dcc``, ``certificate.vc``, ``shc.qr_text(certificate.shc)``)."""
    from cowin_kit.certificates import services as certificates
    from cowin_kit.certificates.formats import shc
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.identity import services as identity
    from cowin_kit.registration.models import Beneficiary
    from cowin_kit.vaccination import services as vaccination

    with live.app.test_request_context(), live.session() as session:
        actor = identity.find_staff_user(session, "demo.vaccinator")
        reference_id = session.scalars(select(Beneficiary.reference_id)
                                       .where(Beneficiary.name == name)).one()
        facility = vaccination.staff_facility(session, actor, None)
        vaccination.record_dose(session, active_pack(), actor, facility=facility,
                                reference_id=reference_id, product_code=COVISHIELD, lot=lot,
                                administered_at=datetime.now(timezone.utc))
    with live.app.app_context():
        store = certificates.keystore()
        certificates.process_outbox(get_database(live.app).session_factory, active_pack(),
                                    store.current(), limit=1000)
    with live.session() as session:
        person = session.scalars(select(Beneficiary).where(Beneficiary.name == name)).one()
        certificate = certificates.current_certificate(session, person)
        return {"dcc": certificate.dcc, "vc": certificate.vc,
                "shc": shc.qr_text(certificate.shc),
                "vc-jws2020": _as_jws2020(certificate.vc, store.current().vc_key)}


def _as_jws2020(text: str, key) -> str:
    """The credential in the form issued before VC 2.0, signed with the same key: what a
    certificate issued by an older version of the kit looks like."""
    from cowin_kit.certificates.formats import codecs, vc, vc_jws2020

    document = json.loads(zlib.decompress(codecs.b45decode(text[4:])))
    renamed = {"validFrom": "issuanceDate", "validUntil": "expirationDate"}
    old = {renamed.get(k, k): v for k, v in document.items() if k != "proof"}
    old["@context"] = [vc_jws2020.W3C_CREDENTIALS_V1, vc_jws2020.JWS_2020_CONTEXT]
    return vc.qr_text(vc_jws2020.sign(old, key, created=datetime.now(timezone.utc),
                                      verification_method=document["proof"]
                                      ["verificationMethod"]))


def _revoke(live, name: str) -> None:
    from cowin_kit.certificates import services as certificates
    from cowin_kit.registration.models import Beneficiary

    with live.app.test_request_context(), live.session() as session:
        person = session.scalars(select(Beneficiary).where(Beneficiary.name == name)).one()
        assert certificates.revoke_for_correction(session, person, reason="test") >= 1
        session.commit()


def _tampered(fmt: str, text: str, name: str, other: str) -> str:
    """The same certificate with the holder's name changed and the signature kept."""
    from cowin_kit.certificates.formats import codecs, shc

    if fmt == "dcc":
        tag = cbor2.loads(zlib.decompress(codecs.b45decode(text[4:])))
        protected, unprotected, payload, signature = tag.value
        claims = cbor2.loads(payload)
        nam = claims[-260][1]["nam"]
        nam["fn"] = other
        tag = cbor2.CBORTag(tag.tag, [protected, unprotected, cbor2.dumps(claims), signature])
        return "HC1:" + codecs.b45encode(zlib.compress(cbor2.dumps(tag), 9))
    if fmt.startswith("vc"):
        document = json.loads(zlib.decompress(codecs.b45decode(text[4:])))
        document["credentialSubject"]["name"] = document["credentialSubject"]["name"] \
            .replace(name.split()[-1], other)
        return "VC1:" + codecs.b45encode(zlib.compress(json.dumps(document).encode(), 9))
    header, payload, signature = shc.jws_from_qr([text]).split(".")
    claims = json.loads(codecs.inflate_raw(codecs.b64url_decode(payload)))
    patient = next(e["resource"] for e in claims["vc"]["credentialSubject"]["fhirBundle"]["entry"]
                   if e["resource"]["resourceType"] == "Patient")
    patient["name"][0]["family"] = other
    body = codecs.b64url_encode(codecs.deflate_raw(json.dumps(claims, separators=(",", ":")).encode()))
    return shc.qr_text(f"{header}.{body}.{signature}")


def _server_says(live, text: str):
    from cowin_kit.certificates import services as certificates
    from cowin_kit.certificates.verify import verify

    with live.session() as session:
        return verify(text, trust=certificates.instance_trust_store(),
                      revoked=set(certificates.revoked_ids(session)))


def _check(page, text: str) -> tuple[str, str]:
    page.evaluate("location.hash = '#verify'")
    page.fill("#f-qr", text)
    page.click("form button[type=submit]")
    page.wait_for_selector("#verdict .verdict")
    verdict = page.get_attribute("#verdict .verdict", "data-verdict")
    shown = page.inner_text("#verdict")
    page.evaluate("location.hash = '#home'")
    page.wait_for_selector("#waiting")
    return verdict, shown


def test_real_certificates_are_checked_offline(device, live_server):  # noqa: F811
    good_name, revoked_name = _people_of_the_facility(live_server, 2, "Certified", first=900)
    good = _issue(live_server, good_name, "CERT-LOT-1")
    revoked = _issue(live_server, revoked_name, "CERT-LOT-2")
    _revoke(live_server, revoked_name)
    tampered = {fmt: _tampered(fmt, text, good_name, "Impostor") for fmt, text in good.items()}
    for fmt in good:  # the server's verifier agrees with what the test expects
        assert _server_says(live_server, good[fmt]).valid, fmt
        assert "signature_invalid" in _server_says(live_server, tampered[fmt]).errors, fmt
        assert "revoked" in _server_says(live_server, revoked[fmt]).errors, fmt

    phone = device()
    page = phone.open()
    phone.sign_in()
    phone.prepare()  # the trust list and the revocation list come with the bundle
    phone.context.set_offline(True)
    phone.reload()
    phone.unlock()
    assert page.inner_text("#net") == "Offline"

    formats = {"dcc": "EU Digital COVID Certificate", "vc": "W3C verifiable credential",
               "vc-jws2020": "W3C verifiable credential", "shc": "SMART Health Card"}
    for fmt, text in good.items():
        verdict, shown = _check(page, text)
        assert verdict == "valid", (fmt, shown)
        assert "Signed by a trusted issuer" in shown and formats[fmt] in shown
        assert f"Holder: {good_name}" in shown, shown
        if fmt != "shc":  # the DCC and the credential say which dose of how many
            assert "dose 1 of 2" in shown, shown
        assert datetime.now(timezone.utc).date().isoformat()[:7] in shown

        verdict, shown = _check(page, tampered[fmt])
        assert verdict == "invalid", (fmt, shown)
        assert "The signature does not match" in shown and "Impostor" not in shown

        verdict, shown = _check(page, revoked[fmt])
        assert verdict == "invalid", (fmt, shown)
        assert "The certificate has been revoked." in shown

    for junk in ("HC1:NOT BASE45!", "VC1:6BFOXN", "shc:/56762909524", "hello"):
        verdict, shown = _check(page, junk)
        assert verdict == "unreadable", (junk, shown)


@pytest.mark.parametrize("fmt", ["dcc", "vc"])
def test_a_certificate_signed_by_an_unknown_key_is_not_valid(device, live_server, fmt):  # noqa: F811
    """A DCC or credential with a valid signature by a key the trust list does not hold."""
    from cowin_kit.certificates.formats import dcc, vc
    from cryptography.hazmat.primitives.asymmetric import ed25519

    now = datetime.now(timezone.utc)
    if fmt == "dcc":
        signer = dcc.make_document_signer("IN", "Stranger DSC")
        payload = {"ver": "1.3.0", "nam": {"fn": "Stranger", "fnt": "STRANGER"},
                   "dob": "1980-01-01",
                   "v": [{"tg": "840539006", "vp": "J07BX03", "mp": "Covishield",
                          "ma": "ORG-100001981", "dn": 1, "sd": 2, "dt": now.date().isoformat(),
                          "co": "IN", "is": "Stranger", "ci": dcc.make_uvci("IN", "X1")}]}
        text = dcc.encode(payload, private_key=signer.private_key,
                          certificate=signer.certificate, issuer="IN", issued_at=now,
                          expires_at=now.replace(year=now.year + 1))
    else:
        document = {"@context": [vc.W3C_CREDENTIALS_V2], "type": ["VerifiableCredential"],
                    "issuer": live_server.app.config["COWIN_KIT"]["PUBLIC_URL"].rstrip("/"),
                    "validFrom": "2020-01-01T00:00:00Z",
                    "credentialSubject": {"type": "Person", "name": "Stranger"}}
        text = vc.qr_text(vc.sign(document, ed25519.Ed25519PrivateKey.generate()))
    assert "kid_unknown" in _server_says(live_server, text).errors
    phone = device()
    page = phone.open()
    phone.sign_in()
    phone.prepare()
    phone.context.set_offline(True)
    verdict, shown = _check(page, text)
    assert verdict == "invalid" and "not on the trust list" in shown
    assert "Stranger" not in shown
