"""The verifier's trust store: public keys it accepts, indexed for constant-time lookup.

Sources: X.509 certificates (DER or PEM — EU document signers), JWKS documents (SMART
Health Card issuers, W3C VC issuers), bare public keys (PEM/DER) and the EU-style trust
list JSON `[{"kid": <base64>, "certificate": <base64 DER>}]`. Everything is parsed once
when added (public key objects, DCC key usages, validity) so a verification does no
parsing of trust material."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..formats.dcc import certificate_dcc_key_usages, dcc_entry_types_allowed
from ..formats.keys import dcc_kid, jwk_thumbprint, public_key_from_jwk


@dataclass(frozen=True)
class TrustedKey:
    """One accepted public key. `kid` is bytes for DCC signers, text for JOSE keys.
    `key_usages` holds the DCC EKUs its certificate allows (None: unrestricted); `issuer`
    the issuer URL/DID the key may sign for, when known."""

    kid: bytes | str
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
    certificate: x509.Certificate | None = None
    key_usages: frozenset[str] | None = None
    issuer: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    # The DCC entry types (v, t, r) `key_usages` lets it sign, None: any. Derived here,
    # once per key, so that a verification only compares sets.
    dcc_entry_types: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dcc_entry_types", dcc_entry_types_allowed(self.key_usages))


def _read(source) -> bytes:
    if isinstance(source, Path):
        return source.read_bytes()
    if isinstance(source, str):
        return source.encode("utf-8")
    return bytes(source)


def _parse_certificate(source) -> x509.Certificate:
    if isinstance(source, x509.Certificate):
        return source
    data = _read(source)
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(stripped)
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        return x509.load_der_x509_certificate(base64.b64decode(stripped, validate=True))


def _parse_public_key(source):
    if isinstance(source, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey,
                           ed25519.Ed25519PublicKey)):
        return source
    data = _read(source).strip()
    if data.startswith(b"-----BEGIN"):
        return serialization.load_pem_public_key(data)
    return serialization.load_der_public_key(data)


class TrustStore:
    """Accepted signing keys. `dcc_keys(kid)` and `jose_key(kid)` are dictionary
    lookups."""

    def __init__(self) -> None:
        self._dcc: dict[bytes, list[TrustedKey]] = {}
        self._jose: dict[str, TrustedKey] = {}

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._dcc.values()) + len(self._jose)

    # ---------------------------------------------------------------- adding

    def add_certificate(self, certificate, *, kid: bytes | str | None = None,
                        issuer: str | None = None) -> TrustedKey:
        """A signer certificate (x509 object, DER, PEM or base64 DER). It is indexed by
        its DCC kid (SHA-256 of the DER, first 8 bytes, unless `kid` is given) and, for EC
        and Ed25519 keys, by its RFC 7638 thumbprint for JOSE formats."""
        cert = _parse_certificate(certificate)
        der = cert.public_bytes(serialization.Encoding.DER)
        if isinstance(kid, str):
            kid = base64.b64decode(kid)
        public_key = cert.public_key()
        entry = TrustedKey(kid or dcc_kid(der), public_key, cert,
                           certificate_dcc_key_usages(cert), issuer,
                           cert.not_valid_before_utc, cert.not_valid_after_utc)
        self._add_dcc(entry)
        if isinstance(public_key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
            thumb = jwk_thumbprint(public_key)
            self._jose.setdefault(thumb, TrustedKey(thumb, public_key, cert, issuer=issuer))
        return entry

    def add_public_key(self, key, *, kid: str | None = None, dcc_kid: bytes | None = None,
                       issuer: str | None = None) -> TrustedKey:
        """A bare public key (object, PEM or DER). JOSE formats find it by `kid` (default:
        its RFC 7638 thumbprint); pass `dcc_kid` to also accept it for DCCs."""
        public_key = _parse_public_key(key)
        if dcc_kid is not None:
            self._add_dcc(TrustedKey(bytes(dcc_kid), public_key, issuer=issuer))
        kid = kid or jwk_thumbprint(public_key)
        entry = TrustedKey(kid, public_key, issuer=issuer)
        self._jose[kid] = entry
        return entry

    def add_jwks(self, jwks, *, issuer: str | None = None) -> list[TrustedKey]:
        """Every signing key of a JWKS (dict, JSON text/bytes or a file path). A key
        without `kid` is indexed by its thumbprint."""
        if isinstance(jwks, Path):
            jwks = jwks.read_text(encoding="utf-8")
        if isinstance(jwks, (str, bytes)):
            jwks = json.loads(jwks)
        added = []
        for jwk in jwks.get("keys", []):
            if jwk.get("use", "sig") != "sig":
                continue
            public_key = public_key_from_jwk(jwk)
            kid = jwk.get("kid") or jwk_thumbprint(jwk)
            cert = None
            if jwk.get("x5c"):
                cert = x509.load_der_x509_certificate(base64.b64decode(jwk["x5c"][0]))
            entry = TrustedKey(kid, public_key, cert, issuer=issuer)
            self._jose[kid] = entry
            added.append(entry)
        return added

    def add_trust_list(self, entries) -> list[TrustedKey]:
        """The EU-style list `[{"kid": base64, "certificate": base64 DER}, ...]` (list,
        JSON text/bytes or a file path)."""
        if isinstance(entries, Path):
            entries = entries.read_text(encoding="utf-8")
        if isinstance(entries, (str, bytes)):
            entries = json.loads(entries)
        return [self.add_certificate(base64.b64decode(item["certificate"]),
                                     kid=base64.b64decode(item["kid"]))
                for item in entries]

    def add_file(self, path: str | Path, *, issuer: str | None = None) -> None:
        """Add whatever `path` holds: a trust list or JWKS (JSON), PEM certificates or
        public keys, or one DER certificate."""
        path = Path(path)
        data = path.read_bytes()
        stripped = data.strip()
        if stripped.startswith((b"[", b"{")):
            document = json.loads(data)
            if isinstance(document, list):
                self.add_trust_list(document)
            else:
                self.add_jwks(document, issuer=issuer)
        elif stripped.startswith(b"-----BEGIN"):
            for block in _pem_blocks(stripped):
                if b"CERTIFICATE" in block.split(b"\n", 1)[0]:
                    self.add_certificate(block, issuer=issuer)
                else:
                    self.add_public_key(block, issuer=issuer)
        else:
            self.add_certificate(data, issuer=issuer)

    @classmethod
    def from_files(cls, *paths: str | Path) -> "TrustStore":
        store = cls()
        for path in paths:
            store.add_file(path)
        return store

    def _add_dcc(self, entry: TrustedKey) -> None:
        keys = self._dcc.setdefault(entry.kid, [])
        spki = _spki(entry.public_key)
        if all(_spki(existing.public_key) != spki for existing in keys):
            keys.append(entry)

    # ---------------------------------------------------------------- lookup

    def dcc_keys(self, kid: bytes) -> list[TrustedKey]:
        return self._dcc.get(kid, [])

    def jose_key(self, kid: str) -> TrustedKey | None:
        return self._jose.get(kid)


def _pem_blocks(data: bytes) -> list[bytes]:
    blocks, current = [], []
    for line in data.splitlines():
        if line.startswith(b"-----BEGIN"):
            current = [line]
        elif line.startswith(b"-----END"):
            current.append(line)
            blocks.append(b"\n".join(current) + b"\n")
            current = []
        elif current:
            current.append(line)
    return blocks


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
