"""W3C Verifiable Credential in the DIVOC style (the form CoWIN certificates use):
a `ProofOfVaccinationCredential` whose `credentialSubject` is the person and whose
`evidence` is the vaccination, signed with Ed25519.

What is signed (exactly): the credential with `proof.jws` removed — so `proof.type`,
`created`, `verificationMethod` and `proofPurpose` are covered — serialised as canonical
JSON: UTF-8, object keys sorted, separators "," and ":" without whitespace, non-ASCII
characters as themselves. The signature is a detached JWS (RFC 7797, unencoded payload):

    header  = {"alg":"EdDSA","b64":false,"crit":["b64"],"kid":<verificationMethod>}
    signing input = ASCII(base64url(header)) || "." || canonical-JSON bytes
    proof.jws = base64url(header) || ".." || base64url(Ed25519 signature)

This is not a JSON-LD (URDNA2015) canonicalisation: verifiers must use this module's
rule, which the `JsonWebSignature2020` proof type with a detached JWS allows us to state.

QR text: "VC1:" + Base45(zlib(canonical JSON of the signed credential)) — the prefix lets
the verifier recognise it; Base45 keeps the QR in alphanumeric mode."""

from __future__ import annotations

import functools
import json
import zlib
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric import ed25519

from .codecs import b45encode, b64url_encode
from .keys import jwk_thumbprint
from ..record import ImmunizationHistory, Vaccination, VaccinationRecord

PREFIX = "VC1:"
W3C_CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"
JWS_2020_CONTEXT = "https://w3id.org/security/suites/jws-2020/v1"
DEFAULT_VACCINATION_CONTEXT = "https://cowin.gov.in/credentials/vaccination/v1"
CREDENTIAL_TYPE = "ProofOfVaccinationCredential"
PROOF_TYPE = "JsonWebSignature2020"
JWS_HEADER_BASE = {"alg": "EdDSA", "b64": False, "crit": ["b64"]}


def canonical_json(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; same bytes, only slower
    _canonical_issued = canonical_json
else:
    def _canonical_issued(document: dict) -> bytes:
        """``canonical_json`` of a credential this module built (strings, integers,
        booleans, lists, objects: no floats, whose exponent form orjson writes
        differently): orjson writes the same bytes (code-point key order, no whitespace,
        UTF-8, the same escapes) several times faster. Verification keeps
        ``canonical_json``: a document read from a QR code may hold anything."""
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def credential(record: VaccinationRecord | ImmunizationHistory, *, issuer: str,
               vaccination_context: str = DEFAULT_VACCINATION_CONTEXT,
               issued_at: datetime | None = None,
               expires_at: datetime | None = None) -> dict:
    """The unsigned credential for `record`: one `evidence` item per dose it holds."""
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
    document = {
        "@context": [W3C_CREDENTIALS_V1, JWS_2020_CONTEXT, vaccination_context],
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer,
        "issuanceDate": _iso(issued_at),
    }
    if expires_at is not None:
        document["expirationDate"] = _iso(expires_at)
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


def verification_method_for(issuer: str, private_key: ed25519.Ed25519PrivateKey) -> str:
    """The default key id: `<issuer>#<RFC 7638 thumbprint>`."""
    return f"{issuer}#{jwk_thumbprint(private_key)}"


def signing_input(document: dict, header_b64: str) -> bytes:
    """The bytes the detached JWS signs: see the module docstring."""
    unsigned = dict(document)
    proof = {k: v for k, v in unsigned.get("proof", {}).items() if k != "jws"}
    unsigned["proof"] = proof
    return header_b64.encode("ascii") + b"." + canonical_json(unsigned)


def sign(document: dict, private_key: ed25519.Ed25519PrivateKey, *,
         verification_method: str | None = None, created: datetime | None = None) -> dict:
    """A copy of `document` with an Ed25519 `proof`."""
    if not isinstance(private_key, ed25519.Ed25519PrivateKey):
        raise TypeError("the W3C credential is signed with an Ed25519 key")
    method = verification_method or verification_method_for(document["issuer"], private_key)
    signed = {k: v for k, v in document.items() if k != "proof"}
    signed["proof"] = {
        "type": PROOF_TYPE,
        "created": _iso(created or datetime.now(timezone.utc)),
        "verificationMethod": method,
        "proofPurpose": "assertionMethod",
    }
    header_b64 = _header_b64(method)
    # = signing_input(signed, header_b64): the proof has no jws yet
    signature = private_key.sign(header_b64.encode("ascii") + b"." + _canonical_issued(signed))
    signed["proof"]["jws"] = f"{header_b64}..{b64url_encode(signature)}"
    return signed


@functools.lru_cache(maxsize=32)
def _header_b64(verification_method: str) -> str:
    """The encoded detached-JWS header: the same for every credential one key signs."""
    header = dict(JWS_HEADER_BASE, kid=verification_method)
    return b64url_encode(json.dumps(header, separators=(",", ":")).encode("utf-8"))


def issue(record: VaccinationRecord | ImmunizationHistory,
          private_key: ed25519.Ed25519PrivateKey, *, issuer: str,
          verification_method: str | None = None, **options) -> dict:
    """`record` as a signed credential (a JSON-ready dict)."""
    document = credential(record, issuer=issuer, **options)
    return sign(document, private_key, verification_method=verification_method,
                created=options.get("issued_at") or record.certificate.valid_from)


def qr_text(signed: dict) -> str:
    """The QR text of a credential ``issue`` signed."""
    return PREFIX + b45encode(zlib.compress(_canonical_issued(signed), 9))
