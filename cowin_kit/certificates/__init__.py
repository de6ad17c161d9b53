"""Vaccination certificates: one internal record (WHO DDCC:VS core data set), three
encoded formats (EU DCC/HCERT, SMART Health Card, W3C Verifiable Credential), QR images,
and one verifier. Pure functions over keys passed in: no database, no web layer."""

from .record import (
    CertificateInfo,
    Identifier,
    PersonName,
    Vaccination,
    VaccinationRecord,
)
from .formats.dcc_schema import DccSchema
from .signing.trust import TrustedKey, TrustStore
from .verify import VerificationResult, verify

__all__ = [
    "CertificateInfo", "DccSchema", "Identifier", "PersonName", "TrustStore", "TrustedKey",
    "Vaccination", "VaccinationRecord", "VerificationResult", "verify",
]
