"""EU Digital COVID Certificate (HCERT): encoder, document-signer helpers and the
decoding stages the verifier runs.

The pipeline (hcert spec, eHealth Network guidelines):

    DCC JSON (schema 1.3.x) -> CWT claims {1: iss, 6: iat, 4: exp, -260: {1: dcc}}
    -> CBOR -> COSE_Sign1 (tag 18; protected {1: alg, 4: kid}; ES256 raw r||s or PS256)
    -> zlib -> Base45 -> "HC1:" -> QR (alphanumeric, error correction Q)

kid = the first 8 bytes of SHA-256 over the document signer certificate (DER). Document
signer certificates may restrict what they sign with the extended key usages
1.3.6.1.4.1.1847.2021.1.1 (test), .2 (vaccination) and .3 (recovery).

UVCI check character: the guidelines (Annex 2 of "Guidelines on verifiable vaccination
certificates — basic interoperability elements") append `#` and a Luhn mod N character.
We compute it over the whole UVCI before the `#` (including `URN:UVCI:`), with N = 38 and
the code-point order `A-Z`, `0-9`, `/`, `:`; this is the reading that reproduces the
check characters of the Austrian, Danish and Icelandic test certificates."""

from __future__ import annotations

import functools
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .codecs import CodecError, b45decode, b45encode, epoch_time, zlib_decompress
from .icao import transliterate
# ecdsa_raw_to_der: no longer used here, still read as dcc.ecdsa_raw_to_der (bench/certificates.py)
from .keys import dcc_kid, ecdsa_der_to_raw, ecdsa_raw_to_der  # noqa: F401
from ..record import VaccinationRecord

PREFIX = "HC1:"
SCHEMA_VERSION = "1.3.0"

EKU_TEST = "1.3.6.1.4.1.1847.2021.1.1"
EKU_VACCINATION = "1.3.6.1.4.1.1847.2021.1.2"
EKU_RECOVERY = "1.3.6.1.4.1.1847.2021.1.3"
DCC_EKUS = frozenset({EKU_TEST, EKU_VACCINATION, EKU_RECOVERY})
EKU_FOR_TYPE = {"t": EKU_TEST, "v": EKU_VACCINATION, "r": EKU_RECOVERY}

ALG_ES256 = -7
ALG_PS256 = -37
CWT_ISS, CWT_EXP, CWT_IAT, CWT_HCERT = 1, 4, 6, -260
COSE_ALG, COSE_KID = 1, 4
TAG_COSE_SIGN1, TAG_CWT = 18, 61


class DccError(ValueError):
    """A DCC decoding stage failed; `code` is the verifier's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- UVCI

_UVCI_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"
_UVCI_INDEX = {char: i for i, char in enumerate(_UVCI_CHARSET)}


def uvci_check_character(text: str) -> str:
    """Luhn mod 38 check character over `text` (see the module docstring)."""
    n = len(_UVCI_CHARSET)
    factor, total = 2, 0
    for char in reversed(text.upper()):
        try:
            addend = factor * _UVCI_INDEX[char]
        except KeyError:
            raise ValueError(f"{char!r} cannot appear in a UVCI") from None
        factor = 3 - factor
        total += addend // n + addend % n
    return _UVCI_CHARSET[(n - total % n) % n]


def make_uvci(country: str, opaque: str, *, checksum: bool = True) -> str:
    """`URN:UVCI:01:<CC>:<opaque>#<check>`: version 01, schema option 3 (opaque id).
    The opaque part keeps A-Z, 0-9 and '/' of `opaque` (so a UUID loses its hyphens)."""
    cleaned = re.sub(r"[^0-9A-Z/]", "", opaque.upper())
    if not cleaned:
        raise ValueError("the UVCI needs a non-empty opaque identifier")
    body = f"URN:UVCI:01:{country.upper()}:{cleaned}"
    uvci = f"{body}#{uvci_check_character(body)}" if checksum else body
    if len(uvci) > 80:
        raise ValueError("a UVCI is at most 80 characters")
    return uvci


def uvci_checksum_ok(uvci: str) -> bool | None:
    """True/False for a UVCI with a `#` check character, None when it has none."""
    if "#" not in uvci:
        return None
    body, check = uvci.rsplit("#", 1)
    try:
        return len(check) == 1 and uvci_check_character(body) == check.upper()
    except ValueError:
        return False


# --------------------------------------------------------------------------- encoding

def dcc_payload(record: VaccinationRecord, *, uvci: str | None = None) -> dict:
    """The DCC JSON (schema 1.3.0, vaccination entry) for `record`."""
    name, vac, cert = record.name, record.vaccination, record.certificate
    nam = {"fn": name.family[:80],
           "fnt": name.family_icao or transliterate(name.family)}
    if name.given:
        nam["gn"] = name.given[:80]
        nam["gnt"] = name.given_icao or transliterate(name.given)
    entry = {
        "tg": vac.disease,
        "vp": vac.prophylaxis,
        "mp": vac.product_code,
        "ma": vac.manufacturer_code,
        "dn": vac.dose,
        "sd": vac.total_doses,
        "dt": vac.date.isoformat(),
        "co": vac.country,
        "is": cert.issuer[:80],
        "ci": uvci or make_uvci(issuing_country(record), cert.hcid),
    }
    return {"ver": SCHEMA_VERSION, "nam": nam, "dob": record.birth, "v": [entry]}


def issuing_country(record: VaccinationRecord) -> str:
    """The CWT `iss`: the issuer's country — `certificate.issuer_id` when it is an alpha-2
    code, else the country of vaccination."""
    issuer_id = record.certificate.issuer_id
    if len(issuer_id) == 2 and issuer_id.isalpha():
        return issuer_id.upper()
    return record.vaccination.country


def cwt_claims(dcc: dict, *, issuer: str, issued_at: datetime, expires_at: datetime) -> dict:
    return {CWT_ISS: issuer, CWT_IAT: int(issued_at.timestamp()),
            CWT_EXP: int(expires_at.timestamp()), CWT_HCERT: {1: dcc}}


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The COSE Sig_structure ["Signature1", protected, b"", payload] as CBOR, written
    out directly (the bytes cbor2.dumps gives: minimal-length heads)."""
    return b"".join((_SIG1_HEAD, _bstr_head(len(protected)), protected, b"\x40",
                     _bstr_head(len(payload)), payload))


_SIG1_HEAD = b"\x84\x6aSignature1"  # an array of four items, then the 10-character text


def _bstr_head(length: int) -> bytes:
    """The CBOR head of a byte string of `length` bytes (major type 2)."""
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    if length < 0x100000000:
        return b"\x5a" + length.to_bytes(4, "big")
    return b"\x5b" + length.to_bytes(8, "big")


_ES256 = ec.ECDSA(hashes.SHA256())


@functools.lru_cache(maxsize=32)
def _protected_header(alg: int, kid: bytes) -> bytes:
    """The COSE protected header: the same for every certificate one key signs."""
    return cbor2.dumps({COSE_ALG: alg, COSE_KID: kid})


def sign_cose(payload: bytes, private_key, kid: bytes) -> bytes:
    """COSE_Sign1 (tag 18) over `payload`; ES256 for a P-256 key (raw r||s signature),
    PS256 for an RSA key. The kid sits in the protected header."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        alg = ALG_ES256
    elif isinstance(private_key, rsa.RSAPrivateKey):
        alg = ALG_PS256
    else:
        raise TypeError("a DCC is signed with a P-256 or RSA key")
    protected = _protected_header(alg, kid)
    tbs = _sig_structure(protected, payload)
    if alg == ALG_ES256:
        signature = ecdsa_der_to_raw(private_key.sign(tbs, _ES256))
    else:
        signature = private_key.sign(tbs, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                                     hashes.SHA256())
    return cbor2.dumps(cbor2.CBORTag(TAG_COSE_SIGN1, [protected, {}, payload, signature]))


def encode_hc1(cose: bytes) -> str:
    return PREFIX + b45encode(zlib.compress(cose, 9))


def encode(dcc: dict, *, private_key, certificate: x509.Certificate, issuer: str,
           issued_at: datetime, expires_at: datetime, kid: bytes | None = None) -> str:
    """Sign a DCC JSON object and return the `HC1:` QR text. `kid`: `dcc_kid(certificate)`
    when the caller has it (an issuer signing many certificates derives it once)."""
    claims = cwt_claims(dcc, issuer=issuer, issued_at=issued_at, expires_at=expires_at)
    return encode_hc1(sign_cose(cbor2.dumps(claims), private_key,
                                kid if kid is not None else dcc_kid(certificate)))


def issue(record: VaccinationRecord, *, private_key, certificate: x509.Certificate,
          issued_at: datetime | None = None, expires_at: datetime | None = None) -> str:
    """`record` as an EU DCC `HC1:` string. iat defaults to `certificate.valid_from`,
    exp to `certificate.valid_until` or one year after iat."""
    cert = record.certificate
    issued_at = issued_at or cert.valid_from
    expires_at = expires_at or cert.valid_until or issued_at + timedelta(days=365)
    return encode(dcc_payload(record), private_key=private_key, certificate=certificate,
                  issuer=issuing_country(record), issued_at=issued_at, expires_at=expires_at)


# --------------------------------------------------------------------------- signers

@dataclass(frozen=True)
class SigningIdentity:
    """A private key with its certificate (and the chain above it, CSCA last)."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = field(default=())

    @property
    def kid(self) -> bytes:
        return dcc_kid(self.certificate)

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _name(country: str, common_name: str, organisation: str | None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, country.upper())]
    if organisation:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(parts)


def make_csca(country: str, common_name: str, *, organisation: str | None = None,
              days: int = 3650, private_key=None,
              not_before: datetime | None = None) -> SigningIdentity:
    """A self-signed Country Signing CA for development and tests (production CSCAs live
    in an HSM; pass their certificate and key in instead)."""
    key = private_key or ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.now(timezone.utc) - timedelta(minutes=5)
    name = _name(country, common_name, organisation)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                         False, False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return SigningIdentity(key, cert)


def make_document_signer(country: str, common_name: str, *,
                         csca: SigningIdentity | None = None,
                         organisation: str | None = None, days: int = 730,
                         key_usages: tuple[str, ...] = (EKU_VACCINATION,),
                         private_key=None,
                         not_before: datetime | None = None) -> SigningIdentity:
    """A Document Signer Certificate carrying the DCC extended key usages `key_usages`
    (vaccination by default). Signed by `csca` when given, else self-signed (dev only)."""
    key = private_key or ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.now(timezone.utc) - timedelta(minutes=5)
    subject = _name(country, common_name, organisation)
    issuer_key = csca.private_key if csca else key
    issuer_name = csca.certificate.subject if csca else subject
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                            False, False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if key_usages:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(oid) for oid in key_usages]),
            critical=False)
    if csca:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca.private_key.public_key()),
            critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    chain = (csca.certificate,) if csca else ()
    return SigningIdentity(key, cert, chain)


def certificate_dcc_key_usages(certificate: x509.Certificate) -> frozenset[str] | None:
    """What a signer certificate may sign, as the canonical DCC EKU OIDs; None when it
    is unrestricted (no extended key usage extension, or anyExtendedKeyUsage).

    An EKU extension restricts the key to the purposes it lists (X.509): a certificate
    whose EKU names none of the DCC purposes may sign no DCC — the Icelandic test
    certificate with only an ICAO document-signer EKU is expected to fail key usage.
    The early hcert drafts' OIDs 1.3.6.1.4.1.0.1847.2021.1.x, still in issued test
    certificates, count as the current 1.3.6.1.4.1.1847.2021.1.x. An empty EKU extension
    (which strict DER forbids) restricts nothing.

    Some issued signer certificates are not strict DER (e.g. an explicit BasicConstraints
    default), which `cryptography` refuses to parse as extensions; their EKU is then
    read from the DER directly."""
    try:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        oids = {oid.dotted_string for oid in eku}
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        oids = _der_extended_key_usages(certificate.public_bytes(serialization.Encoding.DER))
    if not oids or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string in oids:
        return None
    return frozenset(_LEGACY_EKUS.get(oid, oid) for oid in oids) & DCC_EKUS


_LEGACY_EKUS = {oid.replace(".1847.", ".0.1847."): oid for oid in DCC_EKUS}


def key_usage_allows(usages: frozenset[str] | None, dcc: dict) -> bool:
    """Whether a signer with `usages` (see certificate_dcc_key_usages) may sign `dcc`:
    every entry type it holds (v, t, r) must be among them."""
    return entry_types_allowed(dcc_entry_types_allowed(usages), dcc)


def dcc_entry_types_allowed(usages: frozenset[str] | None) -> frozenset[str] | None:
    """The DCC entry types (v, t, r) a signer with `usages` may sign; None: any."""
    if usages is None:
        return None
    return frozenset(kind for kind, eku in EKU_FOR_TYPE.items() if eku in usages)


def entry_types_allowed(allowed: frozenset[str] | None, dcc: dict) -> bool:
    """Whether `dcc` holds entries (v, t, r) and only of the `allowed` types (None: any
    type, and no entry needed)."""
    if allowed is None:
        return True
    kinds = entry_types(dcc)
    return bool(kinds) and allowed.issuperset(kinds)


def _tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER item at `offset`."""
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    return tag, offset, offset + length


def _children(data: bytes, start: int, end: int):
    while start < end:
        tag, content, stop = _tlv(data, start)
        yield tag, content, stop
        start = stop


def _oid_text(raw: bytes) -> str:
    parts, value = [], 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    first = min(parts[0] // 40, 2)
    return ".".join(str(n) for n in [first, parts[0] - 40 * first, *parts[1:]])


_EKU_EXTENSION = "2.5.29.37"


def _der_extended_key_usages(der: bytes) -> set[str] | None:
    _, cert_start, cert_end = _tlv(der, 0)
    _, tbs_start, tbs_end = _tlv(der, cert_start)
    for tag, start, end in _children(der, tbs_start, tbs_end):
        if tag != 0xA3:  # [3] extensions
            continue
        _, seq_start, seq_end = _tlv(der, start)
        for _, ext_start, ext_end in _children(der, seq_start, seq_end):
            items = list(_children(der, ext_start, ext_end))
            if _oid_text(der[items[0][1]:items[0][2]]) != _EKU_EXTENSION:
                continue
            _, value_start, value_end = items[-1]  # the extnValue OCTET STRING
            _, usages_start, usages_end = _tlv(der, value_start)
            return {_oid_text(der[s:e]) for _, s, e in _children(der, usages_start, usages_end)}
    return None


# --------------------------------------------------------------------------- decoding

def unprefix(text: str) -> str:
    if not text.startswith(PREFIX):
        raise DccError("unprefix_failed", "the text does not start with 'HC1:'")
    return text[len(PREFIX):]


def decompress(data: bytes) -> bytes:
    try:
        return zlib_decompress(data)
    except CodecError as exc:
        raise DccError("zlib_invalid", str(exc)) from None


def base45_decode(text: str) -> bytes:
    try:
        return b45decode(text)
    except CodecError as exc:
        raise DccError("base45_invalid", str(exc)) from None


@dataclass(frozen=True)
class CoseSign1:
    protected_bytes: bytes
    protected: dict
    unprotected: dict
    payload: bytes
    signature: bytes

    @property
    def alg(self):
        """The algorithm from the protected header, else (tolerated) the unprotected."""
        if COSE_ALG in self.protected:
            return self.protected[COSE_ALG]
        return self.unprotected.get(COSE_ALG)

    @property
    def kid(self) -> bytes | None:
        """The kid from the protected header; only when it has none, the unprotected."""
        if COSE_KID in self.protected:
            kid = self.protected[COSE_KID]
        else:
            kid = self.unprotected.get(COSE_KID)
        return bytes(kid) if isinstance(kid, (bytes, bytearray)) else None

    def to_be_signed(self) -> bytes:
        return _sig_structure(self.protected_bytes, self.payload)


def _decode_tag_date(value, immutable):  # CBOR tag 0: keep the RFC 3339 text
    return value


def _decode_tag_epoch(value, immutable):  # CBOR tag 1: as RFC 3339 text, like the JSON
    try:
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError):
        return value


_SEMANTIC = {0: _decode_tag_date, 1: _decode_tag_epoch}


def decode_cose(data: bytes) -> CoseSign1:
    """Parse a COSE_Sign1 message: tagged (18), untagged, wrapped in a CWT tag (61) or
    tagged twice."""
    message = _usual_cose(data)
    if message is None:
        try:
            message = cbor2.loads(data)
        except Exception as exc:  # cbor2 raises several types on malformed input
            raise DccError("cose_invalid", f"not CBOR: {exc}") from None
    for _ in range(3):
        if isinstance(message, cbor2.CBORTag) and message.tag in (TAG_COSE_SIGN1, TAG_CWT):
            message = message.value
    if isinstance(message, cbor2.CBORTag):
        raise DccError("cose_invalid", f"unexpected CBOR tag {message.tag}")
    if not isinstance(message, (list, tuple)) or len(message) != 4:
        raise DccError("cose_invalid", "not a COSE_Sign1 array of four items")
    protected_bytes, unprotected, payload, signature = message
    if not isinstance(protected_bytes, bytes) or not isinstance(payload, bytes) \
            or not isinstance(signature, bytes) or not hasattr(unprotected, "items"):
        raise DccError("cose_invalid", "COSE_Sign1 items have the wrong types")
    protected = _read_protected_header(protected_bytes) if protected_bytes else {}
    return CoseSign1(protected_bytes, protected, dict(unprotected), payload, signature)


def _read_protected_header(protected_bytes: bytes) -> dict:
    """The decoded protected header (a new map each time). Every certificate of one
    signer carries the same bytes, so a header of plain values is decoded once."""
    items = _plain_protected_items(protected_bytes)
    return dict(items) if items is not None else _decode_protected_header(protected_bytes)


_PLAIN = (int, float, str, bytes, type(None))


@functools.lru_cache(maxsize=64)
def _plain_protected_items(protected_bytes: bytes) -> tuple | None:
    """The header's items when no value is mutable (safe to share), else None."""
    header = _decode_protected_header(protected_bytes)
    if all(isinstance(value, _PLAIN) for value in header.values()):
        return tuple(header.items())
    return None


def _decode_protected_header(protected_bytes: bytes) -> dict:
    try:
        decoded = cbor2.loads(protected_bytes)
    except Exception:
        raise DccError("cose_invalid", "the protected header is not CBOR") from None
    if not hasattr(decoded, "items"):
        raise DccError("cose_invalid", "the protected header is not a map")
    return dict(decoded)


def _usual_cose(data: bytes) -> list | None:
    """The four items of a COSE_Sign1 in the shape issuers write (tag 18, byte strings of
    definite length, an empty unprotected map, nothing after), read without a CBOR
    decoder; None for any other shape, which cbor2 then decodes."""
    if data[:2] != b"\xd2\x84":
        return None
    items: list = []
    offset, size = 2, len(data)
    while len(items) < 4 and offset < size:
        head = data[offset]
        if len(items) == 1:  # the unprotected header
            if head != 0xA0:
                return None
            items.append({})
            offset += 1
            continue
        info = head & 0x1F
        if head >> 5 != 2 or info > 27:  # not a byte string of definite length
            return None
        if info < 24:
            start, length = offset + 1, info
        else:
            start = offset + 1 + (1 << (info - 24))
            length = int.from_bytes(data[offset + 1:start], "big")
        offset = start + length
        if offset > size:
            return None
        items.append(data[start:offset])
    return items if len(items) == 4 and offset == size else None


@dataclass(frozen=True)
class Cwt:
    issuer: str | None
    issued_at: datetime | None
    expires_at: datetime | None
    dcc: dict



def decode_cwt(payload: bytes) -> Cwt:
    try:
        claims = cbor2.loads(payload, semantic_decoders=_SEMANTIC)
    except Exception as exc:
        raise DccError("cwt_invalid", f"the COSE payload is not CBOR: {exc}") from None
    if not hasattr(claims, "get"):
        raise DccError("cwt_invalid", "the COSE payload is not a CWT claims map")
    hcert = claims.get(CWT_HCERT)
    dcc = hcert.get(1) if hasattr(hcert, "get") else None
    if not hasattr(dcc, "items"):
        raise DccError("cwt_invalid", "the CWT has no health certificate (-260: {1: ...})")
    issuer = claims.get(CWT_ISS)
    return Cwt(issuer if isinstance(issuer, str) else None, epoch_time(claims.get(CWT_IAT)),
               epoch_time(claims.get(CWT_EXP)), dcc)


def verify_cose_signature(cose: CoseSign1, public_key, to_be_signed: bytes | None = None
                          ) -> bool:
    """Check the COSE signature with `public_key` (ES256 raw r||s, or PS256).
    `to_be_signed`: `cose.to_be_signed()` when the caller has it."""
    alg = cose.alg
    tbs = to_be_signed if to_be_signed is not None else cose.to_be_signed()
    try:
        if alg == ALG_ES256 and _is_ec_key(public_key):
            if len(cose.signature) != 64:
                return False
            public_key.verify(_es256_der(cose.signature), tbs, _ES256)
            return True
        if alg == ALG_PS256 and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(cose.signature, tbs,
                              padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO),
                              hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    return False


_EC_KEY_TYPES: set[type] = set()


def _is_ec_key(public_key) -> bool:
    """isinstance(public_key, EllipticCurvePublicKey), remembering the concrete classes
    met (an ABC check costs about as much as the rest of the signature's set-up)."""
    if type(public_key) in _EC_KEY_TYPES:
        return True
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        _EC_KEY_TYPES.add(type(public_key))
        return True
    return False


def _es256_der(signature: bytes) -> bytes:
    """A 64-byte ES256 signature r || s as the DER SEQUENCE of two INTEGERs that
    `cryptography` takes (ecdsa_raw_to_der's bytes, written out: always short lengths)."""
    r = _der_integer(signature[:32])
    s = _der_integer(signature[32:])
    return b"".join((b"\x30", _DER_LENGTHS[len(r) + len(s)], r, s))


def _der_integer(magnitude: bytes) -> bytes:
    """A DER INTEGER of the unsigned big-endian `magnitude` (at most 32 bytes)."""
    first = magnitude[0]
    if first & 0x80:  # half of all values: a zero byte keeps them positive
        return b"\x02\x21\x00" + magnitude
    if first:
        return b"\x02\x20" + magnitude
    value = magnitude.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value
    return b"\x02" + _DER_LENGTHS[len(value)] + value


_DER_LENGTHS = [bytes((n,)) for n in range(128)]


SUPPORTED_ALGS = {ALG_ES256: ec.EllipticCurvePublicKey, ALG_PS256: rsa.RSAPublicKey}


def entry_types(dcc: dict) -> list[str]:
    return [kind for kind in ("v", "t", "r") if dcc.get(kind)]
