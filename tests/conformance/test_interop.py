"""The certificates against implementations this project did not write (installed by
the fixtures below): Digital Bazaar's W3C VC 2.0 / Data Integrity libraries (npm) check the
kit's `eddsa-jcs-2022` credentials — the ones an instance issues and publishes the keys
and context of — and the kit checks theirs; pycose checks the kit's EU DCC and the kit
checks pycose's; jwcrypto the same for SMART Health Cards. Tampered ones are refused.

The independent tools are installed once into a cache folder (``COWIN_KIT_TEST_CACHE``,
default ``~/.cache/cowin-kit-tests``), in a sub-folder named by the hash of what it
installs: ``interop/package.json`` with its lock file (npm, run by Node.js) and
``interop/requirements.txt`` (a venv of their own: pycose 1.1 needs cbor2 < 6, the kit
cbor2 >= 6). Offline or without Node.js the tests are skipped on a developer's machine and
fail under CI=true."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cowin_kit.certificates import services
from cowin_kit.certificates.formats import codecs, dcc, keys, shc, vc
from cowin_kit.certificates.record import (
    CertificateInfo, Identifier, PersonName, Vaccination, VaccinationRecord,
)
from cowin_kit.certificates.signing import keystore
from cowin_kit.certificates.signing.trust import TrustStore
from cowin_kit.certificates.verify import verify
from cowin_kit.testing import auth, run_worker

INTEROP = Path(__file__).parent / "interop"


def _cache_root() -> Path:
    root = os.environ.get("COWIN_KIT_TEST_CACHE") or Path.home() / ".cache" / "cowin-kit-tests"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _unavailable(message: str):
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _install(name: str, files: list[str], build) -> Path:
    """The cache folder for ``files`` (built by ``build(folder)`` when absent)."""
    digest = hashlib.sha256(b"".join((INTEROP / f).read_bytes() for f in files)).hexdigest()
    target = _cache_root() / f"{name}-{digest[:16]}"
    if (target / ".complete").is_file():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=target.parent))
    try:
        for f in files:
            shutil.copy(INTEROP / f, staging / f)
        build(staging)
        (staging / ".complete").write_text("ok\n")
        try:
            staging.rename(target)
        except OSError:  # another run finished first: use its folder
            shutil.rmtree(staging, ignore_errors=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        output = (exc.stdout or "") + (exc.stderr or "")
        _unavailable(f"cannot install the {name} interop tools: {output[-1500:]}")
    return target


def _run(command: list[str], cwd: Path | None = None) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def node_vc():
    """``node_vc(request) -> answer``: runs interop/vc_interop.mjs with the request."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable("Node.js and npm are needed for the W3C VC interoperability tests")
    folder = _install("npm-vc", ["package.json", "package-lock.json"],
                      lambda where: _run([npm, "ci", "--no-audit", "--no-fund",
                                          "--ignore-scripts"], cwd=where))
    script = folder / "vc_interop.mjs"
    shutil.copy(INTEROP / "vc_interop.mjs", script)  # not part of the hash: cheap to copy

    def call(request: dict) -> dict:
        done = subprocess.run([node, str(script)], input=json.dumps(request), cwd=folder,
                              capture_output=True, text=True, timeout=120, check=True)
        return json.loads(done.stdout)
    return call


@pytest.fixture(scope="session")
def python_interop():
    """``python_interop(request) -> answer``: runs interop/py_interop.py in its venv."""
    def build(where: Path) -> None:
        _run([sys.executable, "-m", "venv", str(where / "venv")])
        _run([str(where / "venv" / "bin" / "python"), "-m", "pip", "install", "-q",
              "--disable-pip-version-check", "-r", str(where / "requirements.txt")])

    folder = _install("py-interop", ["requirements.txt"], build)
    python = folder / "venv" / "bin" / "python"

    def call(request: dict) -> dict:
        done = subprocess.run([str(python), str(INTEROP / "py_interop.py")],
                              input=json.dumps(request), capture_output=True, text=True,
                              timeout=120, check=True)
        return json.loads(done.stdout)
    return call


ISSUER = "https://vaccination.example.org"
AT = datetime(2021, 7, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def record() -> VaccinationRecord:
    return VaccinationRecord(
        name=PersonName(family="Müller-Lüdenscheidt", given="राहुल Kumar"),
        birth_date=date(1961, 3, 2), identifier=Identifier("Aadhaar", "XXXXXXXX1234"),
        gender="Male",
        certificate=CertificateInfo(
            issuer="Ministry of Health and Family Welfare", issuer_id="IN",
            hcid="123456789012", valid_from=datetime(2021, 6, 1, tzinfo=timezone.utc),
            valid_until=datetime(2022, 6, 1, tzinfo=timezone.utc)),
        vaccination=Vaccination(
            date=date(2021, 5, 20), dose=2, total_doses=2, country="IN",
            product="COVISHIELD", product_code="EU/1/21/1529",
            manufacturer="Serum Institute of India", manufacturer_code="ORG-100001981",
            lot="4121Z005", centre="PHC Rampur", centre_address="Rampur, Uttar Pradesh",
            practitioner="Dr. A. Sharma", next_dose=None, cvx="210"))


def _tampered(credential: dict) -> dict:
    copy = json.loads(json.dumps(credential))
    copy["evidence"][0]["batch"] = "FORGED"
    return copy


# ----------------------------------------------------------------------------- W3C VC

def test_an_independent_vc_library_verifies_our_credential(node_vc, record):
    key = ed25519.Ed25519PrivateKey.generate()
    credential = vc.issue(record, key, issuer=ISSUER)
    decoded = json.loads(codecs.zlib_decompress(codecs.b45decode(
        vc.qr_text(credential)[len(vc.PREFIX):])))
    request = {"mode": "verify", "controller": vc.controller_document(ISSUER, [key]),
               "contexts": {vc.context_url(ISSUER): vc.CONTEXT}, "now": AT.isoformat()}
    answer = node_vc(dict(request, credential=decoded))
    assert answer["verified"], answer["errors"]
    assert set(answer["requested"]) <= {credential["proof"]["verificationMethod"], ISSUER,
                                        vc.MULTIKEY_CONTEXT, vc.SECURITY_V2_CONTEXT}
    refused = node_vc(dict(request, credential=_tampered(credential)))
    assert not refused["verified"] and refused["errors"]
    # a key the controller document does not list is refused too
    other = vc.issue(record, ed25519.Ed25519PrivateKey.generate(), issuer=ISSUER,
                     verification_method=credential["proof"]["verificationMethod"])
    assert not node_vc(dict(request, credential=other))["verified"]


def test_we_verify_what_the_independent_vc_library_issues(node_vc, record):
    unsigned = vc.credential(record, issuer=ISSUER)
    answer = node_vc({"mode": "issue", "credential": unsigned, "issuer": ISSUER,
                      "created": "2021-06-01T00:00:00Z",
                      "contexts": {vc.context_url(ISSUER): vc.CONTEXT}})
    signed = answer["credential"]
    assert signed["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    trust = TrustStore()
    trust.add_public_key(vc.public_key_from_multibase(answer["publicKeyMultibase"])
                         .public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo),
                         kid=answer["verificationMethod"], issuer=ISSUER)
    result = verify(vc.qr_text(signed), trust=trust, at=AT)
    assert result.valid and result.certificate_id == record.certificate.hcid, result.errors
    assert verify(json.dumps(_tampered(signed)), trust=trust, at=AT).errors == \
        ["signature_invalid"]


def test_an_instance_credential_verifies_with_what_the_instance_publishes(
        node_vc, reg_app, vaccinated):
    """The whole published chain: the certificate an instance issued for a recorded dose,
    checked with the controller document of /api/v1/trust/vc and the context the
    instance serves (nothing from the network)."""
    client, citizen, ref = vaccinated
    with reg_app.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    run_worker(reg_app)
    formats = client.get(f"/api/v1/beneficiaries/{ref}/certificate",
                         headers=auth(citizen)).get_json()["formats"]
    credential = json.loads(codecs.zlib_decompress(codecs.b45decode(
        formats["vc"][len(vc.PREFIX):])))
    controller = client.get("/api/v1/trust/vc").get_json()["controller"]
    context_url = credential["@context"][1]
    served = client.get(context_url.split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert served.status_code == 200 and served.mimetype == "application/ld+json"
    request = {"mode": "verify", "controller": controller,
               "contexts": {context_url: served.get_json()}}
    answer = node_vc(dict(request, credential=credential))
    assert answer["verified"], answer["errors"]
    assert not node_vc(dict(request, credential=_tampered(credential)))["verified"]


# ----------------------------------------------------------------------------- EU DCC

@pytest.fixture(scope="module")
def dsc() -> dcc.SigningIdentity:
    csca = dcc.make_csca("IN", "CSCA IN (test)",
                         not_before=datetime(2021, 1, 1, tzinfo=timezone.utc))
    return dcc.make_document_signer("IN", "DSC IN (test)", csca=csca,
                                    not_before=datetime(2021, 1, 1, tzinfo=timezone.utc))


def _pem(dsc: dcc.SigningIdentity) -> tuple[str, str]:
    private = dsc.private_key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
    return private.decode(), dsc.certificate_pem().decode()


def test_pycose_verifies_our_dcc_and_we_verify_pycose_s(python_interop, record, dsc):
    private_pem, certificate_pem = _pem(dsc)
    ours = dcc.issue(record, private_key=dsc.private_key, certificate=dsc.certificate)
    answer = python_interop({"mode": "dcc-verify", "hc1": ours,
                             "certificate_pem": certificate_pem})
    assert answer["verified"] and answer["kid_ok"] and answer["alg"] == "ES256"
    assert answer["dcc"]["v"][0]["mp"] == "EU/1/21/1529"
    other = dcc.make_document_signer("IN", "DSC IN (other)", csca=dcc.make_csca("IN", "X"))
    assert not python_interop({"mode": "dcc-verify", "hc1": ours,
                               "certificate_pem": other.certificate_pem().decode()})[
        "verified"]

    payload = dcc.dcc_payload(record, uvci="URN:UVCI:01:IN:PYCOSE1")
    theirs = python_interop({
        "mode": "dcc-issue", "dcc": payload, "issuer": "IN",
        "iat": int(datetime(2021, 6, 1, tzinfo=timezone.utc).timestamp()),
        "exp": int(datetime(2022, 6, 1, tzinfo=timezone.utc).timestamp()),
        "private_key_pem": private_pem, "certificate_pem": certificate_pem})["hc1"]
    trust = TrustStore()
    trust.add_certificate(dsc.certificate)
    result = verify(theirs, trust=trust, at=AT)
    assert result.valid and result.certificate_id == "URN:UVCI:01:IN:PYCOSE1", result.errors
    forged = python_interop({
        "mode": "dcc-issue", "dcc": payload, "issuer": "IN", "iat": 1622505600,
        "exp": 1654041600, "private_key_pem": _pem(other)[0],
        "certificate_pem": certificate_pem})["hc1"]  # right kid, wrong key
    assert "signature_invalid" in verify(forged, trust=trust, at=AT).errors


# ----------------------------------------------------------------------------- SHC

def test_jwcrypto_verifies_our_health_card_and_we_verify_jwcrypto_s(python_interop, record):
    key = ec.generate_private_key(ec.SECP256R1())
    public = keys.public_jwk(key)
    ours = shc.issue(record, key, issuer=ISSUER)
    answer = python_interop({"mode": "shc-verify", "jws": ours, "jwk": public})
    assert answer["verified"]
    assert answer["header"] == {"alg": "ES256", "zip": "DEF",
                                "kid": keys.jwk_thumbprint(key)} == \
        {"alg": "ES256", "zip": "DEF", "kid": answer["thumbprint"]}
    assert answer["claims"]["iss"] == ISSUER
    header, body, signature = ours.split(".")
    other = shc.issue(record, key, issuer="https://evil.example.org").split(".")[1]
    assert not python_interop({"mode": "shc-verify", "jws": f"{header}.{other}.{signature}",
                               "jwk": public})["verified"]

    private = dict(public, d=codecs.b64url_encode(
        key.private_numbers().private_value.to_bytes(32, "big")))
    claims = shc.payload(record, issuer=ISSUER)
    theirs = python_interop({"mode": "shc-issue", "claims": claims, "jwk": private})["jws"]
    trust = TrustStore()
    trust.add_jwks(keys.jwks([key]), issuer=ISSUER)
    result = verify(theirs, trust=trust, at=AT)
    assert result.valid and result.issuer == ISSUER, result.errors
    assert verify(shc.qr_text(theirs), trust=trust, at=AT).valid
    forged_claims = dict(claims, iss="https://evil.example.org")
    forged = python_interop({"mode": "shc-issue", "claims": forged_claims,
                             "jwk": private})["jws"]
    spliced = ".".join([theirs.split(".")[0], forged.split(".")[1], theirs.split(".")[2]])
    assert "signature_invalid" in verify(spliced, trust=trust, at=AT).errors
