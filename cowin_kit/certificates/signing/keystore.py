"""Signing keys from files (a Kubernetes Secret mounted as a folder, or the instance's
keys/ folder) — never from the database. Each generation of keys lives in its own
sub-folder named by its id; the newest signs, every generation stays published so that
certificates signed before a rotation keep verifying.

    <CERT_KEYS_DIR>/<key id>/dcc_key.pem   P-256 document-signer key
                             dcc_cert.pem  its X.509 certificate (vaccination EKU)
                             csca_cert.pem the country signing CA that signed it
                             shc_key.pem   P-256 key of SMART Health Cards
                             vc_key.pem    Ed25519 key of W3C credentials
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cowin_kit.certificates.formats import dcc
from cowin_kit.certificates.formats.keys import jwk_thumbprint, jwks, public_jwk
from cowin_kit.certificates.signing.trust import TrustStore

FILES = ("dcc_key.pem", "dcc_cert.pem", "csca_cert.pem", "shc_key.pem", "vc_key.pem")


def _pem_private(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, secret: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as stream:
        stream.write(data)


def generate(keys_dir: Path, country: str, issuer_name: str) -> "KeyGeneration":
    """A new generation of keys (a rotation when others exist)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    key_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    folder = keys_dir / key_id
    folder.mkdir(mode=0o700)
    csca = dcc.make_csca(country, f"{issuer_name} CSCA")
    signer = dcc.make_document_signer(country, f"{issuer_name} DSC", csca=csca)
    _write(folder / "dcc_key.pem", _pem_private(signer.private_key), True)
    _write(folder / "dcc_cert.pem", signer.certificate_pem(), False)
    _write(folder / "csca_cert.pem", csca.certificate_pem(), False)
    _write(folder / "shc_key.pem", _pem_private(ec.generate_private_key(ec.SECP256R1())), True)
    _write(folder / "vc_key.pem", _pem_private(ed25519.Ed25519PrivateKey.generate()), True)
    return KeyGeneration(folder)


@dataclass(frozen=True)
class KeyGeneration:
    folder: Path

    @property
    def key_id(self) -> str:
        return self.folder.name

    def _private(self, name: str):
        return serialization.load_pem_private_key((self.folder / name).read_bytes(), None)

    @cached_property
    def dcc_signer(self) -> dcc.SigningIdentity:
        cert = x509.load_pem_x509_certificate((self.folder / "dcc_cert.pem").read_bytes())
        return dcc.SigningIdentity(self._private("dcc_key.pem"), cert)

    @cached_property
    def shc_key(self) -> ec.EllipticCurvePrivateKey:
        return self._private("shc_key.pem")

    @cached_property
    def vc_key(self) -> ed25519.Ed25519PrivateKey:
        return self._private("vc_key.pem")


class Keystore:
    def __init__(self, keys_dir: Path):
        self.keys_dir = keys_dir

    def generations(self) -> list[KeyGeneration]:
        if not self.keys_dir.is_dir():
            return []
        return [KeyGeneration(folder) for folder in sorted(self.keys_dir.iterdir())
                if folder.is_dir() and all((folder / name).is_file() for name in FILES)]

    def current(self) -> KeyGeneration:
        generations = self.generations()
        if not generations:
            raise LookupError(f"no signing keys in {self.keys_dir}: run `cowin-kit keys generate`")
        return generations[-1]

    def shc_jwks(self) -> dict:
        return jwks([g.shc_key for g in self.generations()], alg="ES256")

    def dcc_trust_list(self) -> list[dict]:
        import base64

        return [{"kid": base64.b64encode(g.dcc_signer.kid).decode(),
                 "certificate": base64.b64encode(g.dcc_signer.certificate_der).decode()}
                for g in self.generations()]

    def vc_public_keys(self) -> list[dict]:
        return [{"id": g.key_id, "publicKeyJwk": public_jwk(g.vc_key),
                 "thumbprint": jwk_thumbprint(g.vc_key)} for g in self.generations()]

    def trust_store(self, shc_issuer: str, vc_issuer: str) -> TrustStore:
        """Everything this instance ever signed with, for its own verifier."""
        store = TrustStore()
        for generation in self.generations():
            store.add_certificate(generation.dcc_signer.certificate)
            store.add_public_key(generation.shc_key.public_key(), issuer=shc_issuer)
            store.add_public_key(generation.vc_key.public_key(), issuer=vc_issuer)
        return store
