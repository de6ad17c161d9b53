"""The W3C credential form the kit issued before `vc` (VC 1.1 with a
`JsonWebSignature2020` proof), still read by the verifier for certificates already
issued; `issue` makes one (tests, and tools that must reproduce the old form).

What was signed (exactly): the credential with `proof.jws` removed — so `proof.type`,
`created`, `verificationMethod` and `proofPurpose` are covered — serialised as sorted-key
JSON: UTF-8, object keys sorted, separators "," and ":" without whitespace, non-ASCII
characters as themselves. The signature is a detached JWS (RFC 7797, unencoded payload):

    header  = {"alg":"EdDSA","b64":false,"crit":["b64"],"kid":<verificationMethod>}
    signing input = ASCII(base64url(header)) || "." || sorted-key JSON bytes
    proof.jws = base64url(header) || ".." || base64url(Ed25519 signature)

The QR text is the same as `vc`'s ("VC1:" + Base45(zlib(JSON)))."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric import ed25519

from . import vc
from .codecs import b64url_encode
from ..record import ImmunizationHistory, VaccinationRecord

W3C_CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"
JWS_2020_CONTEXT = "https://w3id.org/security/suites/jws-2020/v1"
LEGACY_VACCINATION_CONTEXT = "https://cowin.gov.in/credentials/vaccination/v1"
PROOF_TYPE = "JsonWebSignature2020"
JWS_HEADER_BASE = {"alg": "EdDSA", "b64": False, "crit": ["b64"]}


def canonical_json(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def credential(record: VaccinationRecord | ImmunizationHistory, *, issuer: str,
               **options) -> dict:
    """The unsigned VC 1.1 credential: `vc.credential`'s content with the 1.1 contexts
    and date names."""
    document = vc.credential(record, issuer=issuer, **options)
    renamed = {"validFrom": "issuanceDate", "validUntil": "expirationDate"}
    out = {renamed.get(k, k): v for k, v in document.items()}
    out["@context"] = [W3C_CREDENTIALS_V1, JWS_2020_CONTEXT, LEGACY_VACCINATION_CONTEXT]
    return out


def signing_input(document: dict, header_b64: str) -> bytes:
    """The bytes the detached JWS signs: see the module docstring."""
    unsigned = dict(document)
    proof = {k: v for k, v in unsigned.get("proof", {}).items() if k != "jws"}
    unsigned["proof"] = proof
    return header_b64.encode("ascii") + b"." + canonical_json(unsigned)


def sign(document: dict, private_key: ed25519.Ed25519PrivateKey, *,
         verification_method: str | None = None, created: datetime | None = None) -> dict:
    """A copy of `document` with a `JsonWebSignature2020` proof."""
    method = verification_method or vc.verification_method_for(document["issuer"],
                                                               private_key)
    signed = {k: v for k, v in document.items() if k != "proof"}
    signed["proof"] = {
        "type": PROOF_TYPE,
        "created": (created or datetime.now(timezone.utc)).astimezone(timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verificationMethod": method,
        "proofPurpose": "assertionMethod",
    }
    header = dict(JWS_HEADER_BASE, kid=method)
    header_b64 = b64url_encode(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    signature = private_key.sign(signing_input(signed, header_b64))
    signed["proof"]["jws"] = f"{header_b64}..{b64url_encode(signature)}"
    return signed


def issue(record: VaccinationRecord | ImmunizationHistory,
          private_key: ed25519.Ed25519PrivateKey, *, issuer: str,
          verification_method: str | None = None, **options) -> dict:
    """`record` as a credential of the old form."""
    document = credential(record, issuer=issuer, **options)
    return sign(document, private_key, verification_method=verification_method,
                created=options.get("issued_at") or record.certificate.valid_from)
