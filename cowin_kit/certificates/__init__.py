"""Vaccination certificates.

Without database or web layer, over keys and records passed in:
- `record`: the internal record (WHO DDCC:VS core data set) every format derives from;
- `formats/`: its encoded forms (EU DCC/HCERT, SMART Health Card, W3C Verifiable
  Credential), their codecs and key encodings, and QR images;
- `signing/`: the issuer's signing keys (a folder of files) and the verifier's trust store;
- `verify`: the one verifier of every form.

The database side: `models` (issued certificates), `services` (issuing from the outbox,
revocation, the current certificate, this instance's keystore), `receivers` (other
domains' signals), `schemas` (API and CLI) and `pdf` (the certificate as a PDF)."""

from .formats.dcc_schema import DccSchema
from .record import (
    CertificateInfo,
    Identifier,
    PersonName,
    Vaccination,
    VaccinationRecord,
)
from .signing.trust import TrustedKey, TrustStore
from .verify import VerificationResult, verify

__all__ = [
    "CertificateInfo", "DccSchema", "Identifier", "PersonName", "TrustStore", "TrustedKey",
    "Vaccination", "VaccinationRecord", "VerificationResult", "verify",
]
