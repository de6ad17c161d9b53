"""Key helpers shared by the formats: JWK import/export (EC P-256, Ed25519, RSA), the
RFC 7638 thumbprint, ECDSA signature encodings and the DCC key identifier. Keys are
`cryptography` objects throughout; storing them is the caller's business."""

from __future__ import annotations

import hashlib
import json

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .codecs import b64url_decode, b64url_encode

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
_CURVE_NAMES = {cls.name: name for name, cls in _CURVES.items()}
_COORD = {"P-256": 32, "P-384": 48, "P-521": 66}


def _int_b64(value: int, length: int | None = None) -> str:
    length = length or max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(length, "big"))


def _b64_int(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")


def public_jwk(key: PublicKey | PrivateKey) -> dict:
    """The required public members of `key` as a JWK (RFC 7517/7518/8037)."""
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey,
                            ed25519.Ed25519PublicKey)):
        key = key.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        crv = _CURVE_NAMES[key.curve.name]
        numbers = key.public_numbers()
        size = _COORD[crv]
        return {"kty": "EC", "crv": crv, "x": _int_b64(numbers.x, size),
                "y": _int_b64(numbers.y, size)}
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}


def jwk_thumbprint(key: PublicKey | PrivateKey | dict) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) of a key or JWK: the SMART Health Card
    `kid`."""
    jwk = key if isinstance(key, dict) else public_jwk(key)
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"),
                           sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_key_from_jwk(jwk: dict) -> PublicKey:
    kty = jwk.get("kty")
    if kty == "EC":
        curve = _CURVES[jwk["crv"]]()
        return ec.EllipticCurvePublicNumbers(_b64_int(jwk["x"]), _b64_int(jwk["y"]),
                                             curve).public_key()
    if kty == "RSA":
        return rsa.RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"])).public_key()
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    raise ValueError(f"unsupported JWK key type {kty!r}")


def private_key_from_jwk(jwk: dict) -> PrivateKey:
    kty = jwk.get("kty")
    if kty == "EC":
        public = public_key_from_jwk(jwk)
        return ec.EllipticCurvePrivateNumbers(_b64_int(jwk["d"]),
                                              public.public_numbers()).private_key()
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        return ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"]))
    if kty == "RSA":
        public = rsa.RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"]))
        p, q, d = _b64_int(jwk["p"]), _b64_int(jwk["q"]), _b64_int(jwk["d"])
        return rsa.RSAPrivateNumbers(
            p, q, d, _b64_int(jwk["dp"]), _b64_int(jwk["dq"]), _b64_int(jwk["qi"]),
            public).private_key()
    raise ValueError(f"unsupported JWK key type {kty!r}")


def jwks(keys: list[PublicKey | PrivateKey], *, alg: str | None = None) -> dict:
    """A JWKS document publishing the public halves of `keys`, each with `kid` = its
    RFC 7638 thumbprint and `use` = 'sig'. For SMART Health Cards serve it at
    `<iss>/.well-known/jwks.json`."""
    out = []
    for key in keys:
        jwk = public_jwk(key)
        jwk["kid"] = jwk_thumbprint(jwk)
        jwk["use"] = "sig"
        key_alg = alg or {"EC": "ES256", "OKP": "EdDSA", "RSA": "PS256"}[jwk["kty"]]
        jwk["alg"] = key_alg
        out.append(jwk)
    return {"keys": out}


def ecdsa_der_to_raw(signature: bytes, size: int = 32) -> bytes:
    r, s = decode_dss_signature(signature)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_raw_to_der(signature: bytes) -> bytes:
    half = len(signature) // 2
    return encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                int.from_bytes(signature[half:], "big"))


def dcc_kid(certificate: x509.Certificate | bytes) -> bytes:
    """The DCC key identifier: the first 8 bytes of SHA-256 over the DER certificate."""
    if isinstance(certificate, x509.Certificate):
        der = certificate.public_bytes(serialization.Encoding.DER)
    else:
        der = certificate
    return hashlib.sha256(der).digest()[:8]


def new_p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())

