"""W3C Verifiable Credential 2.0 in the DIVOC style (the form CoWIN certificates use):
a `ProofOfVaccinationCredential` whose `credentialSubject` is the person and whose
`evidence` is the vaccination, secured with a Data Integrity proof of the registered
cryptosuite `eddsa-jcs-2022` (W3C "Data Integrity EdDSA Cryptosuites v1.0", §3.3), so
that any Data Integrity verifier checks it with the issuer's Ed25519 key:

    proof = {"@context": the credential's @context, "type": "DataIntegrityProof",
             "cryptosuite": "eddsa-jcs-2022", "created", "verificationMethod",
             "proofPurpose": "assertionMethod",
             "proofValue": multibase base58btc of the Ed25519 signature}
    proof configuration = the proof without proofValue
    signed bytes = SHA-256(JCS(proof configuration)) || SHA-256(JCS(credential without proof))

JCS is RFC 8785 (`jcs.canonicalize`): no JSON-LD processing, so neither the issuer nor a
verifier needs the @context documents to sign or check the proof; a JSON-LD processor
finds the kit's terms in `CONTEXT` (served at `<issuer>/credentials/vaccination/v1`).

The verification method is `<issuer>#<RFC 7638 thumbprint of the key>`, a `Multikey`
whose controller is the issuer; `controller_document` lists every key generation (the
instance publishes it at /api/v1/trust/vc).

QR text: "VC1:" + Base45(zlib(JSON of the signed credential)) — the prefix lets the
verifier recognise it; Base45 keeps the QR in alphanumeric mode. Credentials issued
before this form (a `JsonWebSignature2020` proof over sorted-key JSON) are read by
`vc_jws2020`."""

from __future__ import annotations

import hashlib
import zlib
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .codecs import b45encode, multibase_b58decode, multibase_b58encode
from .jcs import canonicalize
from .keys import jwk_thumbprint
from ..record import ImmunizationHistory, Vaccination, VaccinationRecord

PREFIX = "VC1:"
W3C_CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
SECURITY_V2_CONTEXT = "https://w3id.org/security/v2"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
CONTEXT_PATH = "/credentials/vaccination/v1"
CREDENTIAL_TYPE = "ProofOfVaccinationCredential"
PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
_ED25519_MULTICODEC = b"\xed\x01"

# The JSON-LD context of the kit's own terms (JSON-LD 1.1; the credentials v2 context's
# protected terms such as `name` and `type` are not redefined).
VOCABULARY = "urn:cowin-kit:vaccination:"
CONTEXT = {"@context": {"@version": 1.1, "@protected": True, **{
    term: {"@id": VOCABULARY + term} for term in (
        "ProofOfVaccinationCredential", "Vaccination", "Person", "gender", "dob",
        "certificateId", "vaccine", "icd11Code", "prophylaxis", "manufacturer", "batch",
        "date", "dose", "totalDoses", "facility", "address", "streetAddress",
        "addressCountry", "verifier", "antigens", "nextDose")}}}


class ProofError(ValueError):
    """A proof this module cannot check; `code` is the verifier's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def context_url(issuer: str) -> str:
    return issuer.rstrip("/") + CONTEXT_PATH


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def credential(record: VaccinationRecord | ImmunizationHistory, *, issuer: str,
               vaccination_context: str | None = None,
               issued_at: datetime | None = None,
               expires_at: datetime | None = None) -> dict:
    """The unsigned credential for `record`: one `evidence` item per dose it holds. The
    kit's context follows the credentials v2 context: `vaccination_context`, else the
    issuer's `context_url` when the issuer is a URL (for another issuer, such as a DID,
    without one the terms fall to the v2 context's issuer-dependent vocabulary)."""
    cert = record.certificate
    issued_at = issued_at or cert.valid_from
    expires_at = expires_at if expires_at is not None else cert.valid_until
    subject: dict = {"type": "Person", "name": record.name.full}
    if record.identifier is not None:
        subject["id"] = f"did:{record.identifier.type}:{record.identifier.value}"
    if record.gender:
        subject["gender"] = record.gender
    if record.birth:
        subject["dob"] = record.birth
    if vaccination_context is None and issuer.startswith(("https://", "http://")):
        vaccination_context = context_url(issuer)
    contexts = [W3C_CREDENTIALS_V2] + ([vaccination_context] if vaccination_context else [])
    document = {
        "@context": contexts,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": _iso(issued_at),
    }
    if expires_at is not None:
        document["validUntil"] = _iso(expires_at)
    document["credentialSubject"] = subject
    document["evidence"] = [_evidence(vac, cert.hcid) for vac in record.vaccinations]
    return document


def _evidence(vac: Vaccination, hcid: str) -> dict:
    """One dose as an `evidence` item. The ICD-11 code and the prophylaxis are left out
    when the pack gives none for the product (routine vaccines without a code)."""
    facility: dict = {"name": vac.centre,
                      "address": {"addressCountry": vac.country}}
    if vac.centre_address:
        facility["address"]["streetAddress"] = vac.centre_address
    evidence: dict = {
        "type": ["Vaccination"],
        "certificateId": hcid,
        "vaccine": vac.product,
        "icd11Code": vac.vaccine_code,
        "prophylaxis": vac.prophylaxis,
        "manufacturer": vac.manufacturer,
        "batch": vac.lot,
        "date": vac.date.isoformat(),
        "dose": vac.dose,
        "totalDoses": vac.total_doses,
        "facility": facility,
        "verifier": {"name": vac.practitioner},
    }
    for key in ("icd11Code", "prophylaxis"):
        if not evidence[key]:
            del evidence[key]
    if vac.antigens:
        evidence["antigens"] = list(vac.antigens)
    if vac.next_dose is not None:
        evidence["nextDose"] = vac.next_dose.isoformat()
    return evidence


def verification_method_for(issuer: str, private_key) -> str:
    """The default key id: `<issuer>#<RFC 7638 thumbprint>`."""
    return f"{issuer}#{jwk_thumbprint(private_key)}"


def public_key_multibase(key: ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey) -> str:
    """The Multikey `publicKeyMultibase` of an Ed25519 key ("z6Mk...")."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        key = key.public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return multibase_b58encode(_ED25519_MULTICODEC + raw)


def public_key_from_multibase(text: str) -> ed25519.Ed25519PublicKey:
    data = multibase_b58decode(text)
    if len(data) != 34 or not data.startswith(_ED25519_MULTICODEC):
        raise ValueError("not an Ed25519 Multikey")
    return ed25519.Ed25519PublicKey.from_public_bytes(data[2:])


def multikey(issuer: str, key) -> dict:
    """`key` as the `Multikey` verification method its credentials name."""
    return {"id": verification_method_for(issuer, key), "type": "Multikey",
            "controller": issuer, "publicKeyMultibase": public_key_multibase(key)}


def controller_document(issuer: str, keys: list) -> dict:
    """The issuer's controller document: every key as an assertion method (Controlled
    Identifiers v1.0), what a Data Integrity verifier resolves `verificationMethod` with."""
    methods = [multikey(issuer, key) for key in keys]
    return {"@context": [SECURITY_V2_CONTEXT, MULTIKEY_CONTEXT], "id": issuer,
            "verificationMethod": methods,
            "assertionMethod": [method["id"] for method in methods]}


def hash_data(document: dict, proof: dict, *, canonical=canonicalize) -> bytes:
    """The bytes an `eddsa-jcs-2022` proof signs (§3.3.4 hashing of the transformed
    document and of the §3.3.5 proof configuration). A proof holding an ``@context``
    (the form this kit and other implementations issue) must name the credential's first
    contexts, and that is the context both hashes cover (§3.3.2)."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in config:
        contexts = _as_list(config["@context"])
        if _as_list(unsecured.get("@context"))[:len(contexts)] != contexts:
            raise ProofError("proof_invalid",
                             "the credential's @context does not start with the proof's")
        unsecured["@context"] = config["@context"]
    elif "@context" in unsecured:
        config["@context"] = unsecured["@context"]
    return (hashlib.sha256(canonical(config)).digest()
            + hashlib.sha256(canonical(unsecured)).digest())


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def sign(document: dict, private_key: ed25519.Ed25519PrivateKey, *,
         verification_method: str | None = None, created: datetime | None = None) -> dict:
    """A copy of `document` with an `eddsa-jcs-2022` proof (which carries the
    credential's ``@context``, §3.3.1 step 2)."""
    if not isinstance(private_key, ed25519.Ed25519PrivateKey):
        raise TypeError("the W3C credential is signed with an Ed25519 key")
    method = verification_method or verification_method_for(document["issuer"], private_key)
    signed = {k: v for k, v in document.items() if k != "proof"}
    proof = {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE,
             "created": _iso(created or datetime.now(timezone.utc)),
             "verificationMethod": method, "proofPurpose": "assertionMethod"}
    if "@context" in signed:
        proof["@context"] = signed["@context"]
    signature = private_key.sign(hash_data(signed, proof, canonical=_canonical_issued))
    signed["proof"] = dict(proof, proofValue=multibase_b58encode(signature))
    return signed


def check_proof(document: dict, public_key: ed25519.Ed25519PublicKey) -> None:
    """Check the `eddsa-jcs-2022` proof of `document` with `public_key`; raises
    ProofError (code `alg_unsupported`, `proof_invalid`, `signature_invalid`) when it
    does not hold."""
    proof = document.get("proof")
    if not isinstance(proof, dict) or proof.get("type") != PROOF_TYPE \
            or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError("alg_unsupported", f"the proof is not a {CRYPTOSUITE} proof")
    value = proof.get("proofValue")
    try:
        signature = multibase_b58decode(value) if isinstance(value, str) else b""
        data = hash_data(document, proof)
    except ProofError:
        raise
    except (ValueError, TypeError) as exc:
        raise ProofError("proof_invalid", f"the proof cannot be read: {exc}") from None
    if len(signature) != 64:
        raise ProofError("proof_invalid", "proofValue is not a multibase Ed25519 signature")
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        raise ProofError("signature_invalid",
                         "the credential signature does not verify") from None


def issue(record: VaccinationRecord | ImmunizationHistory,
          private_key: ed25519.Ed25519PrivateKey, *, issuer: str,
          verification_method: str | None = None, **options) -> dict:
    """`record` as a signed credential (a JSON-ready dict)."""
    document = credential(record, issuer=issuer, **options)
    return sign(document, private_key, verification_method=verification_method,
                created=options.get("issued_at") or record.certificate.valid_from)


def qr_text(signed: dict) -> str:
    """The QR text of a signed credential."""
    return PREFIX + b45encode(zlib.compress(_compact(signed), 9))


try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; same bytes, only slower
    import json

    _canonical_issued = canonicalize

    def _compact(document: dict) -> bytes:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
else:
    def _canonical_issued(document: dict) -> bytes:
        """``canonicalize`` of a credential this module built (ASCII member names, so
        code-point and UTF-16 order agree; strings, integers, booleans: no floats, whose
        form orjson writes differently): orjson writes the same bytes several times
        faster. Verification keeps ``canonicalize``: a credential read may hold anything."""
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)

    def _compact(document: dict) -> bytes:
        """The QR's JSON: any compact form will do (the proof covers the JCS form of the
        values, not these bytes)."""
        return orjson.dumps(document)
