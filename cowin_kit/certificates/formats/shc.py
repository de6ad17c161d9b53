"""SMART Health Cards (spec.smarthealth.cards): encoder and the parsing stages the
verifier runs.

    FHIR R4 bundle (minimised: `resource:N` references, no ids/meta/text)
    -> JWT payload {iss, nbf, [exp], vc: {type, credentialSubject: {fhirVersion, fhirBundle}}}
    -> minified JSON -> raw DEFLATE -> JWS compact, header {"alg":"ES256","zip":"DEF","kid"}
       with kid = RFC 7638 thumbprint of the P-256 key
    -> QR: "shc:/" then every JWS character c as two digits ord(c) - 45

Files: `.smart-health-card` = {"verifiableCredential": [jws, ...]}. The issuer publishes
its keys (`keys.jwks`) at `<iss>/.well-known/jwks.json`."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from cowin_kit.core import jsonio

from .codecs import (
    SHC_PREFIX,
    CodecError,
    b64url_decode,
    b64url_encode,
    deflate_raw,
    shc_numeric_decode,
    shc_numeric_encode,
)
from .keys import ecdsa_der_to_raw, jwk_thumbprint
from ..record import ImmunizationHistory, Vaccination, VaccinationRecord

HEALTH_CARD = "https://smarthealth.cards#health-card"
IMMUNIZATION = "https://smarthealth.cards#immunization"
FHIR_VERSION = "4.0.1"
CVX = "http://hl7.org/fhir/sid/cvx"
ICD11 = "http://id.who.int/icd/release/11/mms"
FILE_EXTENSION = ".smart-health-card"
MAX_SINGLE_QR_JWS = 1195  # the spec's limit for one V22 QR code


class ShcError(ValueError):
    """A SMART Health Card parsing stage failed; `code` is the verifier's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RevocationList:
    """A SMART Health Cards revocation list as the spec publishes it (one per key, at
    ``<iss>/.well-known/crl/<kid>.json``): ``{"kid", "method": "rid", "ctr", "rids"}``.
    Each entry of ``rids`` is a revoked ``vc.rid``, optionally ``rid.<timestamp>``: then only
    the cards with that rid issued (``nbf``) before the timestamp are revoked."""

    kid: str
    ctr: int
    rids: dict[str, int | None]  # rid -> revoked before this time (None: always)

    @classmethod
    def parse(cls, document: object) -> "RevocationList":
        """ShcError("crl_invalid") unless ``document`` is such a list."""
        if not isinstance(document, dict) or not isinstance(document.get("kid"), str) \
                or document.get("method", "rid") != "rid" \
                or not isinstance(document.get("rids"), list) \
                or not all(isinstance(item, str) for item in document["rids"]):
            raise ShcError("crl_invalid", "not a SMART Health Cards revocation list "
                                          "(kid, method rid, ctr, rids)")
        ctr = document.get("ctr", 1)
        rids: dict[str, int | None] = {}
        for entry in document["rids"]:
            rid, dot, stamp = entry.partition(".")
            if dot and not stamp.isdigit():
                raise ShcError("crl_invalid", f"rids entry {entry!r}: not rid.<timestamp>")
            before = int(stamp) if dot else None
            known = rids.get(rid, 0)
            # a plain rid revokes every card; else the latest timestamp wins
            rids[rid] = None if known is None or before is None else max(known, before)
        return cls(document["kid"], ctr if isinstance(ctr, int) else 1, rids)

    def revokes(self, kid: str | None, rid: str | None, nbf: datetime | None) -> bool:
        if kid != self.kid or rid is None or rid not in self.rids:
            return False
        before = self.rids[rid]
        return before is None or nbf is None or nbf.timestamp() < before


# --------------------------------------------------------------------------- encoding

def fhir_bundle(record: VaccinationRecord | ImmunizationHistory) -> dict:
    """A minimised FHIR R4 collection bundle: Patient (resource:0) and one Immunization per
    dose of the record (resource:1, resource:2... in the record's order)."""
    name: dict = {"family": record.name.family}
    if record.name.given:
        name["given"] = record.name.given.split()
    patient: dict = {"resourceType": "Patient", "name": [name]}
    if record.birth:
        patient["birthDate"] = record.birth
    entries = [{"fullUrl": "resource:0", "resource": patient}]
    for index, vac in enumerate(record.vaccinations, 1):
        entries.append({"fullUrl": f"resource:{index}", "resource": _immunization(vac)})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _immunization(vac: Vaccination) -> dict:
    """One dose as a minimised Immunization: the vaccine as CVX when known, else ICD-11,
    else (a product no standard code is given for in the pack) the product's name as text."""
    if vac.cvx:
        code: dict = {"coding": [{"system": CVX, "code": vac.cvx}]}
    elif vac.vaccine_code:
        code = {"coding": [{"system": ICD11, "code": vac.vaccine_code}]}
    else:
        code = {"text": vac.product}
    immunization: dict = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": code,
        "patient": {"reference": "resource:0"},
        "occurrenceDateTime": vac.date.isoformat(),
    }
    if vac.centre:
        immunization["performer"] = [{"actor": {"display": vac.centre}}]
    if vac.lot:
        immunization["lotNumber"] = vac.lot
    return immunization


def revocation_id(hcid: str, secret: bytes | None = None) -> str:
    """The card's `vc.rid`: base64url of the first 8 bytes of HMAC-SHA-256(secret, hcid)
    (plain SHA-256 without a secret). Publish revoked rids; the verifier matches them."""
    data = hcid.encode("utf-8")
    digest = (hmac.new(secret, data, hashlib.sha256).digest() if secret
              else hashlib.sha256(data).digest())
    return b64url_encode(digest[:8])


def payload(record: VaccinationRecord | ImmunizationHistory, *, issuer: str,
            issued_at: datetime | None = None, expires_at: datetime | None = None, rid_secret: bytes | None = None) -> dict:
    """The JWT claims for `record`. `issuer` is the `iss` URL (no trailing slash)."""
    cert = record.certificate
    issued_at = issued_at or cert.valid_from
    expires_at = expires_at if expires_at is not None else cert.valid_until
    claims: dict = {"iss": issuer.rstrip("/"), "nbf": int(issued_at.timestamp())}
    if expires_at is not None:
        claims["exp"] = int(expires_at.timestamp())
    claims["vc"] = {
        "type": [HEALTH_CARD, IMMUNIZATION],
        "credentialSubject": {"fhirVersion": FHIR_VERSION, "fhirBundle": fhir_bundle(record)},
        "rid": revocation_id(cert.hcid, rid_secret),
    }
    return claims


def _json_minified(claims: dict) -> bytes:
    return json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; same bytes, only slower
    _minified = _json_minified
else:
    def _minified(claims: dict) -> bytes:
        """The claims as minified UTF-8 JSON in their key order: orjson writes the same
        bytes as ``_json_minified`` for claims ``payload`` builds (no floats), faster."""
        return orjson.dumps(claims)


def sign(claims: dict, private_key: ec.EllipticCurvePrivateKey, *, kid: str | None = None) -> str:
    """A compact JWS (ES256, raw-DEFLATEd payload) over `claims`."""
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) \
            or private_key.curve.name != "secp256r1":
        raise TypeError("SMART Health Cards are signed with a P-256 key (ES256)")
    signing_input = (_header_b64(kid or jwk_thumbprint(private_key))
                     + "." + b64url_encode(deflate_raw(_minified(claims))))
    signature = private_key.sign(signing_input.encode("ascii"), _ES256)
    return signing_input + "." + b64url_encode(ecdsa_der_to_raw(signature))


_ES256 = ec.ECDSA(hashes.SHA256())


@functools.lru_cache(maxsize=32)
def _header_b64(kid: str) -> str:
    """The encoded JWS header: the same for every card one key signs."""
    header = {"zip": "DEF", "alg": "ES256", "kid": kid}
    return b64url_encode(json.dumps(header, separators=(",", ":")).encode("utf-8"))


def issue(record: VaccinationRecord | ImmunizationHistory,
          private_key: ec.EllipticCurvePrivateKey, *,
          issuer: str, issued_at: datetime | None = None,
          expires_at: datetime | None = None, rid_secret: bytes | None = None,
          kid: str | None = None) -> str:
    """`record` as a signed SMART Health Card JWS. `kid`: the key's RFC 7638 thumbprint
    when the caller has it (derived once for many cards)."""
    return sign(payload(record, issuer=issuer, issued_at=issued_at, expires_at=expires_at,
                        rid_secret=rid_secret), private_key, kid=kid)


def qr_text(jws: str) -> str:
    """The single QR's content, `shc:/` + digits."""
    return SHC_PREFIX + shc_numeric_encode(jws)


def qr_chunks(jws: str, count: int) -> list[str]:
    """The deprecated chunked form `shc:/<i>/<n>/<digits>` (JWS split into `count` nearly
    equal parts). New cards should fit one QR; verifiers still reassemble chunks."""
    size = -(-len(jws) // count)
    parts = [jws[i:i + size] for i in range(0, len(jws), size)]
    return [f"{SHC_PREFIX}{i}/{len(parts)}/{shc_numeric_encode(part)}"
            for i, part in enumerate(parts, 1)]


def card_file(jws_list: list[str]) -> str:
    """A `.smart-health-card` file's content."""
    return json.dumps({"verifiableCredential": list(jws_list)})


# --------------------------------------------------------------------------- decoding

_CHUNK = re.compile(r"shc:/(\d+)/(\d+)/(.*)", re.DOTALL)
_JWS_CHARS = re.compile(r"[A-Za-z0-9_\-]*")


def jws_from_qr(texts: list[str]) -> str:
    """Reassemble and decode `shc:/` QR contents (one, or every chunk of a chunked card
    in any order) into the JWS."""
    if len(texts) == 1 and not _CHUNK.fullmatch(texts[0]):
        text = texts[0]
        if not text.startswith(SHC_PREFIX):
            raise ShcError("bad_header", "SMART Health Card QR content must start 'shc:/'")
        return _decode_digits(text[len(SHC_PREFIX):])
    chunks: dict[int, str] = {}
    total = None
    for text in texts:
        match = _CHUNK.fullmatch(text)
        if not match:
            raise ShcError("bad_header", "a chunk must start 'shc:/<index>/<count>/'")
        index, count, digits = int(match[1]), int(match[2]), match[3]
        if total is not None and count != total or not 1 <= index <= count:
            raise ShcError("chunk_invalid", "inconsistent chunk numbering")
        total = count
        chunks[index] = digits
    if total is None or len(chunks) != total:
        raise ShcError("chunk_missing", f"have {len(chunks)} of {total} chunks")
    return _decode_digits("".join(chunks[i] for i in range(1, total + 1)))


def _decode_digits(digits: str) -> str:
    if digits != digits.strip():
        raise ShcError("trailing_characters", "whitespace around the QR digits")
    try:
        return shc_numeric_decode(digits)
    except CodecError as exc:
        raise ShcError(exc.code, str(exc)) from None


@dataclass(frozen=True)
class Jws:
    header: dict
    payload: bytes  # as transported (DEFLATEd when header zip = DEF)
    signature: bytes
    signing_input: bytes


def parse_jws(text: str) -> Jws:
    parts = text.split(".")
    if len(parts) != 3 or not all(_JWS_CHARS.fullmatch(part) for part in parts):
        raise ShcError("jws_invalid", "not a compact JWS (three base64url parts)")
    try:
        header = jsonio.loads(b64url_decode(parts[0]))
        body = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except jsonio.JSONTooDeep as exc:
        raise ShcError("json_too_deep", str(exc)) from None
    except ValueError as exc:
        raise ShcError("jws_invalid", f"JWS part is not base64url/JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ShcError("jws_invalid", "the JWS header is not a JSON object")
    return Jws(header, body, signature, (parts[0] + "." + parts[1]).encode("ascii"))


def card_file_jws(document: dict) -> list[str]:
    credentials = document.get("verifiableCredential")
    if not isinstance(credentials, list) or not credentials \
            or not all(isinstance(item, str) for item in credentials):
        raise ShcError("file_invalid", "verifiableCredential must be a list of JWS strings")
    return credentials
