"""One verifier for every certificate form the kit meets:

- EU DCC QR text (`HC1:...`);
- SMART Health Card QR text (`shc:/...`, also the deprecated chunked `shc:/i/n/...` given
  as a list of chunks or one chunk per line), a compact JWS, or a `.smart-health-card`
  file's content;
- the kit's W3C credential QR text (`VC1:...`) or the signed credential JSON (VC 2.0
  with an `eddsa-jcs-2022` Data Integrity proof, or the older JsonWebSignature2020 form);
- image bytes (any format Pillow opens; of an animation, the first frame) holding any of
  these QR codes.

`verify()` never raises on bad input: it returns a `VerificationResult` whose `errors`
lists stable codes (below) and whose `details` explains each. `valid` is true only when
the signature checks against a trusted key and no check failed.

Error codes
    format_unknown, encoding_invalid, qr_unreadable, image_too_large (more pixels than
    formats.qr.MAX_PIXELS: refused before decoding), json_too_deep (JSON nested deeper
    than core.jsonio.MAX_DEPTH)
    DCC: unprefix_failed, base45_invalid, zlib_invalid, cose_invalid, cwt_invalid,
         claims_missing, kid_missing, kid_unknown, alg_unsupported, signature_invalid,
         key_usage_invalid, schema_invalid, signer_not_valid (issued outside the
         validity period of the document signer's certificate)
    SHC: bad_header, odd_digits, digit_out_of_range, not_numeric, chunk_missing,
         chunk_invalid, trailing_characters, file_invalid, jws_invalid, alg_unsupported,
         not_deflated, deflate_invalid, kid_missing, kid_unknown, der_signature,
         signature_invalid, payload_invalid, issuer_mismatch
    VC:  vc_invalid, proof_missing, proof_invalid, jws_invalid (the old JWS form),
         alg_unsupported, kid_unknown, signature_invalid, issuer_mismatch
    all: expired, not_yet_valid, revoked
"""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from cowin_kit.core import jsonio

from .formats import dcc as dcc_format
from .formats import shc as shc_format
from .formats import vc as vc_format
from .formats import vc_jws2020
from .formats.codecs import BASE45_ALPHABET, CodecError, b45decode, b64url_decode, epoch_time, \
    inflate_raw, zlib_decompress
from .formats.dcc_schema import DccSchema
from .formats.keys import ecdsa_raw_to_der
from .signing.trust import TrustStore

_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF", b"II*\x00",
                b"MM\x00*")
_BASE45_SET = frozenset(BASE45_ALPHABET)
_JWS = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*")


@dataclass
class VerificationResult:
    format: str = "unknown"  # "dcc" | "shc" | "vc" | "unknown"
    valid: bool = False
    signature_valid: bool = False
    kid: str | None = None  # DCC: base64 of the 8 bytes; JOSE: the kid text
    issuer: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    expired: bool = False
    not_yet_valid: bool = False
    revoked: bool = False
    key_usage_ok: bool | None = None  # None: no trusted key to judge by
    certificate_id: str | None = None  # DCC `ci`, SHC `vc.rid`, VC evidence certificateId
    payload: dict | None = None
    errors: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)

    def fail(self, code: str, message: str) -> None:
        if code not in self.details:
            self.errors.append(code)
            self.details[code] = message


def verify(input: str | bytes | list[str], *, trust: TrustStore,
           revoked: set[str] | frozenset[str] = frozenset(), at: datetime | None = None,
           schema: DccSchema | str | Path | None = None,
           shc_revocations: Iterable[shc_format.RevocationList] = ()) -> VerificationResult:
    """Verify a certificate (see the module docstring). `at` is the moment to judge
    validity at (default: now; naive means UTC). `revoked` holds certificate ids (DCC
    UVCIs, SHC rids, VC certificate ids); `shc_revocations` SMART Health Cards revocation
    lists in the spec's format. `schema` (a `DccSchema` or the path of a combined schema
    file or folder) turns on DCC JSON schema validation."""
    at = _moment(at)
    shc_lists = tuple(shc_revocations)
    result = VerificationResult()
    if isinstance(input, str) and input.startswith(dcc_format.PREFIX):  # the usual case
        result.format = "dcc"
        _dcc(input, result, trust, revoked, at, schema)
        return _finish(result)
    texts = _texts(input, result)
    if texts is None:
        return _finish(result)
    if len(texts) > 1:
        if all(text.strip().startswith("shc:/") for text in texts):
            result.format = "shc"
            _shc_qr([text.strip() for text in texts], result, trust, revoked, at, shc_lists)
        else:
            result.fail("format_unknown", "several QR codes that are not one chunked card")
        return _finish(result)
    text = texts[0]
    stripped = text.strip()
    if text.startswith(dcc_format.PREFIX):
        result.format = "dcc"
        _dcc(text, result, trust, revoked, at, schema)
    elif stripped.startswith("shc:"):
        result.format = "shc"
        if stripped != text:
            result.fail("trailing_characters", "whitespace around the QR text")
        lines = stripped.split()
        _shc_qr(lines, result, trust, revoked, at, shc_lists)
    elif stripped.startswith(vc_format.PREFIX):
        result.format = "vc"
        _vc_qr(stripped, result, trust, revoked, at)
    elif stripped.startswith("{"):
        _json_document(stripped, result, trust, revoked, at, shc_lists)
    elif _JWS.fullmatch(stripped):
        result.format = "shc"
        if stripped != text:
            result.fail("trailing_characters", "characters around the JWS")
        _shc_jws(stripped, result, trust, revoked, at, shc_lists)
    elif text and set(text) <= _BASE45_SET:
        result.format = "dcc"
        result.fail("unprefix_failed", "Base45 text without the 'HC1:' context prefix")
    else:
        result.fail("format_unknown", "not a DCC, SMART Health Card or W3C credential")
    return _finish(result)


def _picture_texts(data: bytes, result: VerificationResult, image: bool) -> list[str] | None:
    from .formats.qr import ImageTooLarge, read_texts

    try:
        texts = read_texts(data)
    except ImageTooLarge as exc:
        result.fail("image_too_large", str(exc))
        return None
    except ValueError as exc:
        if image:
            result.fail("qr_unreadable", f"cannot read the image: {exc}")
        else:
            result.fail("encoding_invalid", "the input is neither an image nor UTF-8 text")
        return None
    if not texts:
        result.fail("qr_unreadable", "no QR code found in the image")
        return None
    return texts


def input_from_file(raw: bytes) -> str | bytes:
    """What :func:`verify` is given for a file's content: text (UTF-8, stripped) or, for a
    picture or anything else that is not UTF-8, the bytes."""
    if raw.startswith(_IMAGE_MAGIC):
        return raw
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(timezone.utc)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _finish(result: VerificationResult) -> VerificationResult:
    result.valid = result.signature_valid and not result.errors
    return result


def _texts(input, result: VerificationResult) -> list[str] | None:
    if isinstance(input, (list, tuple)):
        if not input or not all(isinstance(item, str) for item in input):
            result.fail("format_unknown", "a list input must hold QR texts")
            return None
        return list(input)
    if isinstance(input, (bytes, bytearray, memoryview)):
        data = bytes(input)
        if not data.startswith(_IMAGE_MAGIC):
            try:
                return [data.decode("utf-8")]
            except UnicodeDecodeError:
                pass  # perhaps a picture in a format without a magic number listed here
        return _picture_texts(data, result, data.startswith(_IMAGE_MAGIC))
    if isinstance(input, str):
        return [input]
    result.fail("format_unknown", f"cannot verify a {type(input).__name__}")
    return None


def _check_times(result: VerificationResult, at: datetime) -> None:
    if result.expires_at is not None and at > result.expires_at:
        result.expired = True
        result.fail("expired", f"expired at {result.expires_at.isoformat()}")
    if result.issued_at is not None and at < result.issued_at:
        result.not_yet_valid = True
        result.fail("not_yet_valid", f"not valid before {result.issued_at.isoformat()}")


def _check_revoked(result: VerificationResult, ids: list[str], revoked) -> None:
    if revoked and any(item in revoked for item in ids if item):
        result.revoked = True
        result.fail("revoked", "the certificate has been revoked")


# --------------------------------------------------------------------------- DCC

def _dcc(text: str, result: VerificationResult, trust: TrustStore, revoked,
         at: datetime, schema) -> None:
    try:
        compressed = dcc_format.base45_decode(dcc_format.unprefix(text))
        cose = dcc_format.decode_cose(dcc_format.decompress(compressed))
    except dcc_format.DccError as exc:
        result.fail(exc.code, str(exc))
        return
    verify_dcc_cose(cose, result, trust, revoked, at, schema)


def verify_dcc_cose(cose: "dcc_format.CoseSign1", result: VerificationResult,
                    trust: TrustStore, revoked, at: datetime, schema=None) -> None:
    """The DCC checks after transport decoding (signature, key usage, times, revocation,
    schema) — also usable on a COSE message obtained another way."""
    result.format = "dcc"
    cwt = None
    try:
        cwt = dcc_format.decode_cwt(cose.payload)
    except dcc_format.DccError as exc:
        result.fail(exc.code, str(exc))
    if cwt is not None:
        result.payload = dcc = cwt.dcc
        result.issuer = cwt.issuer
        result.issued_at = cwt.issued_at
        result.expires_at = cwt.expires_at
    kid = cose.kid
    matched = None
    if kid is None:
        result.fail("kid_missing", "the COSE headers carry no kid")
    else:
        result.kid = _kid_text(kid)
        candidates = trust.dcc_keys(kid)
        alg = cose.alg
        if not candidates:
            result.fail("kid_unknown", f"no trusted document signer with kid {result.kid}")
        elif alg not in dcc_format.SUPPORTED_ALGS:
            result.fail("alg_unsupported", f"COSE algorithm {alg!r} is not ES256/PS256")
        else:
            tbs = cose.to_be_signed()
            for candidate in candidates:
                if dcc_format.verify_cose_signature(cose, candidate.public_key, tbs):
                    matched = candidate
                    break
            if matched is None:
                result.fail("signature_invalid", "the COSE signature does not verify")
    if matched is not None:
        result.signature_valid = True
        if cwt is not None:
            # what the signer may sign was worked out once, when it was trusted
            result.key_usage_ok = dcc_format.entry_types_allowed(matched.dcc_entry_types, dcc)
            if not result.key_usage_ok:
                result.fail("key_usage_invalid",
                            "the document signer may not sign this certificate type")
    if cwt is None:
        return
    if matched is not None and cwt.issued_at is not None:
        _check_signer_period(result, matched, cwt.issued_at)
    if cwt.issued_at is None or cwt.expires_at is None:
        result.fail("claims_missing", "the CWT lacks a numeric iat or exp claim")
    _check_times(result, at)
    ids = []
    for kind in ("v", "t", "r"):
        entries = dcc.get(kind)
        if isinstance(entries, list):
            for entry in entries:
                ci = entry.get("ci") if isinstance(entry, dict) else None
                if isinstance(ci, str):
                    ids.extend((ci, ci.split("#", 1)[0]))
    result.certificate_id = ids[0] if ids else None
    _check_revoked(result, ids, revoked)
    if schema is not None:
        validator = schema if isinstance(schema, DccSchema) else DccSchema.load(schema)
        problems = validator.validate(dcc)
        if problems:
            result.fail("schema_invalid", "; ".join(problems[:5]))


def _check_signer_period(result: VerificationResult, signer, issued_at: datetime) -> None:
    """The document signer's certificate must have been valid when it signed (the
    DCC's iat within the DSC's notBefore..notAfter)."""
    starts, ends = signer.not_before, signer.not_after
    if (starts is not None and issued_at < starts) or (ends is not None and issued_at > ends):
        period = f"{starts.isoformat() if starts else '-'} to {ends.isoformat() if ends else '-'}"
        result.fail("signer_not_valid", f"issued at {issued_at.isoformat()}, outside the "
                                        f"signing certificate's validity ({period})")


@functools.lru_cache(maxsize=256)
def _kid_text(kid: bytes) -> str:
    """The reported form of a DCC kid (base64); the few kids met are encoded once."""
    return base64.b64encode(kid).decode("ascii")


# --------------------------------------------------------------------------- SHC

ShcLists = tuple[shc_format.RevocationList, ...]


def _shc_qr(texts: list[str], result: VerificationResult, trust, revoked, at,
            shc_lists: ShcLists) -> None:
    try:
        jws = shc_format.jws_from_qr(texts)
    except shc_format.ShcError as exc:
        result.fail(exc.code, str(exc))
        return
    _shc_jws(jws, result, trust, revoked, at, shc_lists)


def _shc_file(document: dict, result: VerificationResult, trust, revoked, at,
              shc_lists: ShcLists) -> None:
    try:
        credentials = shc_format.card_file_jws(document)
    except shc_format.ShcError as exc:
        result.fail(exc.code, str(exc))
        return
    if len(credentials) > 1:
        # A file may hold several cards; all must verify, the first one is reported.
        for extra in credentials[1:]:
            other = VerificationResult(format="shc")
            _shc_jws(extra, other, trust, revoked, at, shc_lists)
            for code in other.errors:
                result.fail(code, other.details[code])
    _shc_jws(credentials[0], result, trust, revoked, at, shc_lists)


def _signature_kind(signature: bytes) -> str:
    if len(signature) == 64:
        return "raw"
    try:
        decode_dss_signature(signature)
        return "der"
    except ValueError:
        return "bad"


def _shc_jws(text: str, result: VerificationResult, trust: TrustStore, revoked,
             at: datetime, shc_lists: ShcLists) -> None:
    result.format = "shc"
    if text != text.strip():
        result.fail("trailing_characters", "characters around the JWS")
        text = text.strip()
    try:
        jws = shc_format.parse_jws(text)
    except shc_format.ShcError as exc:
        result.fail(exc.code, str(exc))
        return
    header = jws.header
    deflated = header.get("zip") == "DEF"
    if not deflated:
        result.fail("not_deflated", "the JWS header lacks zip: DEF")
    kid = header.get("kid")
    key = None
    if header.get("alg") != "ES256":
        result.fail("alg_unsupported", f"JWS alg {header.get('alg')!r} is not ES256")
    if not isinstance(kid, str) or not kid:
        result.fail("kid_missing", "the JWS header has no kid")
    else:
        result.kid = kid
        key = trust.jose_key(kid)
        if key is None:
            result.fail("kid_unknown", f"no trusted key with kid {kid}")
    kind = _signature_kind(jws.signature)
    if kind == "der":
        result.fail("der_signature", "the ES256 signature is DER-encoded, not r||s")
    elif kind == "bad":
        result.fail("signature_invalid", "the signature is not 64 bytes")
    elif key is not None and header.get("alg") == "ES256":
        if isinstance(key.public_key, ec.EllipticCurvePublicKey) and _es256_ok(
                key.public_key, jws.signature, jws.signing_input):
            result.signature_valid = True
        else:
            result.fail("signature_invalid", "the JWS signature does not verify")
    body = jws.payload
    if deflated:
        try:
            body = inflate_raw(body)
        except CodecError as exc:
            result.fail(exc.code, str(exc))
            return
    try:
        claims = jsonio.loads(body)
    except jsonio.JSONTooDeep as exc:
        result.fail("json_too_deep", str(exc))
        return
    except (ValueError, UnicodeDecodeError):
        result.fail("payload_invalid", "the JWS payload is not JSON")
        return
    _shc_claims(claims, result, key, revoked, at, shc_lists)


def _es256_ok(public_key, signature: bytes, signing_input: bytes) -> bool:
    try:
        public_key.verify(ecdsa_raw_to_der(signature), signing_input, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False



def _shc_claims(claims, result: VerificationResult, key, revoked, at,
                shc_lists: ShcLists) -> None:
    if not isinstance(claims, dict):
        result.fail("payload_invalid", "the JWS payload is not a JSON object")
        return
    result.payload = claims
    iss = claims.get("iss")
    result.issuer = iss if isinstance(iss, str) else None
    vc = claims.get("vc")
    types = vc.get("type") if isinstance(vc, dict) else None
    subject = vc.get("credentialSubject") if isinstance(vc, dict) else None
    if not isinstance(types, list) or shc_format.HEALTH_CARD not in types \
            or not isinstance(subject, dict) or not isinstance(subject.get("fhirBundle"), dict) \
            or result.issuer is None:
        result.fail("payload_invalid", "not a SMART Health Card payload (iss, vc.type, "
                                       "vc.credentialSubject.fhirBundle)")
    if key is not None and key.issuer and result.issuer != key.issuer:
        result.fail("issuer_mismatch", f"key {key.kid} belongs to {key.issuer}")
    result.issued_at = epoch_time(claims.get("nbf"))
    result.expires_at = epoch_time(claims.get("exp"))
    if "nbf" in claims and result.issued_at is None:
        result.fail("payload_invalid", "nbf is not a number")
    _check_times(result, at)
    rid = vc.get("rid") if isinstance(vc, dict) else None
    if isinstance(rid, str):
        result.certificate_id = rid
        rid_base = rid.split(".", 1)[0]  # rid may carry a ".<timestamp>" suffix
        _check_revoked(result, [rid, rid_base], revoked)
        if any(crl.revokes(result.kid, rid, result.issued_at) for crl in shc_lists):
            result.revoked = True
            result.fail("revoked", "the certificate has been revoked")
    if result.signature_valid:
        result.key_usage_ok = True


# --------------------------------------------------------------------------- VC

def _json_document(text: str, result: VerificationResult, trust, revoked, at,
                   shc_lists: ShcLists) -> None:
    try:
        document = jsonio.loads(text)
    except jsonio.JSONTooDeep as exc:
        result.fail("json_too_deep", str(exc))
        return
    except ValueError:
        result.fail("format_unknown", "JSON input that does not parse")
        return
    if isinstance(document, dict) and "verifiableCredential" in document:
        result.format = "shc"
        _shc_file(document, result, trust, revoked, at, shc_lists)
    elif isinstance(document, dict) and "proof" in document and "@context" in document:
        result.format = "vc"
        _vc(document, result, trust, revoked, at)
    else:
        result.fail("format_unknown", "JSON that is neither a health card file nor a credential")


def _vc_qr(text: str, result: VerificationResult, trust, revoked, at) -> None:
    try:
        data = zlib_decompress(b45decode(text[len(vc_format.PREFIX):]))
        document = jsonio.loads(data)
    except CodecError as exc:
        result.fail(exc.code, str(exc))
        return
    except jsonio.JSONTooDeep as exc:
        result.fail("json_too_deep", str(exc))
        return
    except (ValueError, UnicodeDecodeError):
        result.fail("vc_invalid", "the credential is not JSON")
        return
    if not isinstance(document, dict):
        result.fail("vc_invalid", "the credential is not a JSON object")
        return
    _vc(document, result, trust, revoked, at)


def _iso_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _vc(document: dict, result: VerificationResult, trust: TrustStore, revoked, at) -> None:
    result.format = "vc"
    result.payload = document
    issuer = document.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    result.issuer = issuer if isinstance(issuer, str) else None
    types = document.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types \
            or result.issuer is None:
        result.fail("vc_invalid", "not a VerifiableCredential with an issuer")
    proof = document.get("proof")
    if isinstance(proof, dict) and proof.get("type") == vc_format.PROOF_TYPE:
        _vc_data_integrity(document, proof, result, trust)
    elif isinstance(proof, dict) and isinstance(proof.get("jws"), str):
        _vc_jws2020(document, proof, result, trust)
    else:
        result.fail("proof_missing", "the credential has no DataIntegrityProof or proof.jws")
        return
    # VC 2.0 names the validity period validFrom/validUntil; VC 1.1 (the old form)
    # issuanceDate/expirationDate.
    result.issued_at = _iso_time(document.get("validFrom", document.get("issuanceDate")))
    result.expires_at = _iso_time(document.get("validUntil",
                                               document.get("expirationDate")))
    _check_times(result, at)
    ids = [item.get("certificateId") for item in document.get("evidence") or []
           if isinstance(item, dict) and isinstance(item.get("certificateId"), str)]
    result.certificate_id = ids[0] if ids else None
    _check_revoked(result, ids, revoked)


def _vc_key(method, result: VerificationResult, trust: TrustStore):
    """The trusted Ed25519 key of verification method ``method``, else None (failed)."""
    result.kid = method if isinstance(method, str) else None
    key = None
    if isinstance(method, str):
        # Registered under the full method id, or under its fragment (a JWKS `kid`).
        key = trust.jose_key(method) or (trust.jose_key(method.rsplit("#", 1)[1])
                                         if "#" in method else None)
    if key is None:
        result.fail("kid_unknown", f"no trusted key for {method!r}")
        return None
    if not isinstance(key.public_key, ed25519.Ed25519PublicKey):
        result.fail("alg_unsupported", "the verification method is not an Ed25519 key")
        return None
    if key.issuer and key.issuer != result.issuer:
        result.fail("issuer_mismatch", f"key {key.kid} belongs to {key.issuer}")
    return key


def _vc_data_integrity(document: dict, proof: dict, result: VerificationResult,
                       trust: TrustStore) -> None:
    """A VC 2.0 credential with an `eddsa-jcs-2022` Data Integrity proof."""
    if proof.get("cryptosuite") != vc_format.CRYPTOSUITE:
        result.fail("alg_unsupported",
                    f"the proof's cryptosuite must be {vc_format.CRYPTOSUITE}")
        return
    if proof.get("proofPurpose") != "assertionMethod":
        result.fail("proof_invalid", "the proof's purpose is not assertionMethod")
        return
    key = _vc_key(proof.get("verificationMethod"), result, trust)
    if key is None:
        return
    try:
        vc_format.check_proof(document, key.public_key)
    except vc_format.ProofError as exc:
        result.fail(exc.code, str(exc))
        return
    result.signature_valid = True
    result.key_usage_ok = True


def _vc_jws2020(document: dict, proof: dict, result: VerificationResult,
                trust: TrustStore) -> None:
    """A credential of the form issued before VC 2.0 (`vc_jws2020`)."""
    parts = proof["jws"].split(".")
    header = None
    signature = b""
    if len(parts) == 3 and parts[1] == "":
        try:
            header = jsonio.loads(b64url_decode(parts[0]))
            signature = b64url_decode(parts[2])
        except jsonio.JSONTooDeep as exc:
            result.fail("json_too_deep", str(exc))
            return
        except (ValueError, UnicodeDecodeError):
            header = None
    if not isinstance(header, dict):
        result.fail("jws_invalid", "proof.jws is not a detached JWS")
        return
    if header.get("alg") != "EdDSA" or header.get("b64") is not False \
            or "b64" not in (header.get("crit") or []):
        result.fail("alg_unsupported", "proof.jws must be EdDSA with an unencoded payload")
        return
    key = _vc_key(proof.get("verificationMethod") or header.get("kid"), result, trust)
    if key is None:
        return
    try:
        key.public_key.verify(signature, vc_jws2020.signing_input(document, parts[0]))
    except InvalidSignature:
        result.fail("signature_invalid", "the credential signature does not verify")
        return
    result.signature_valid = True
    result.key_usage_ok = True

