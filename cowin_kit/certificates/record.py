"""The kit's internal vaccination certificate record, modelled on the WHO DDCC:VS core
data set (Digital Documentation of COVID-19 Certificates: Vaccination Status). It is the
single source from which every encoded format (EU DCC, SMART Health Card, W3C VC) is
derived; each encoder picks the fields its format carries.

Codes are kept as the systems name them:
- `disease`: SNOMED CT (840539006 = COVID-19), as the DCC `tg` value set;
- `vaccine_code`: ICD-11 MMS (XM68M6 = COVID-19 vaccines; XM0GQ8 mRNA; ...), the DDCC
  vaccine field;
- `prophylaxis`: the EU DCC `vp` value set (1119349007 mRNA, 1119305005 antigen,
  J07BX03 other COVID-19 vaccines);
- `product_code`: EU `mp` (EU/1/20/1528, or a national product code), `product` its name;
- `manufacturer_code`: EU `ma` (ORG-100030215 ...), `manufacturer` its name;
- `cvx`: the optional CDC CVX code the SMART Health Card prefers (207, 208, 210, 212...).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timezone

COVID19_SNOMED = "840539006"
ICD11_COVID19_VACCINES = "XM68M6"


@dataclass(frozen=True)
class PersonName:
    """A name as written (any script). `family_icao`/`given_icao` override the ICAO 9303
    transliteration the DCC derives when the issuer already holds the document form."""

    family: str
    given: str = ""
    family_icao: str | None = None
    given_icao: str | None = None

    @property
    def full(self) -> str:
        return " ".join(part for part in (self.given, self.family) if part)


@dataclass(frozen=True)
class Identifier:
    """An identity document, stored masked (e.g. 'XXXXXXXX1234') — certificates never
    carry the full number."""

    type: str
    value: str


@dataclass(frozen=True)
class CertificateInfo:
    """DDCC `certificate`: who issued it and which certificate this is."""

    issuer: str  # display name, e.g. "Ministry of Health and Family Welfare"
    issuer_id: str  # issuer country (ISO alpha-2) for the DCC, the issuer URL for SHC/VC
    hcid: str  # health certificate identifier, unique per certificate
    valid_from: datetime
    valid_until: datetime | None = None
    version: str = "1"

    def __post_init__(self) -> None:
        for name in ("valid_from", "valid_until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"certificate.{name} must be timezone-aware")


@dataclass(frozen=True)
class Vaccination:
    """DDCC `vaccination`: one dose event."""

    date: date
    dose: int
    total_doses: int
    country: str  # ISO 3166-1 alpha-2
    product: str  # brand name, e.g. "COVISHIELD"
    product_code: str  # EU mp, e.g. "EU/1/21/1529" or a national code
    manufacturer: str  # name, e.g. "Serum Institute of India"
    manufacturer_code: str  # EU ma, e.g. "ORG-100001981"
    lot: str = ""
    centre: str = ""
    centre_address: str = ""
    practitioner: str = ""
    next_dose: date | None = None
    disease: str = COVID19_SNOMED
    vaccine_code: str = ICD11_COVID19_VACCINES
    prophylaxis: str = "J07BX03"
    cvx: str | None = None
    antigens: tuple[str, ...] = ()  # routine products: the antigens it protects against

    def __post_init__(self) -> None:
        if not (1 <= self.dose <= 99 and 1 <= self.total_doses <= 99):
            raise ValueError("dose and total_doses must be 1..99")
        if len(self.country) != 2 or not self.country.isalpha() or not self.country.isupper():
            raise ValueError("vaccination.country must be an ISO 3166-1 alpha-2 code")


@dataclass(frozen=True)
class VaccinationRecord:
    """One person's vaccination certificate content (WHO DDCC:VS core data set)."""

    name: PersonName
    certificate: CertificateInfo
    vaccination: Vaccination
    birth_date: date | None = None
    birth_year: int | None = None
    identifier: Identifier | None = None
    gender: str | None = None

    def __post_init__(self) -> None:
        if self.birth_date is not None and self.birth_year is not None \
                and self.birth_date.year != self.birth_year:
            raise ValueError("birth_date and birth_year disagree")

    @property
    def birth(self) -> str:
        """The birth date as ISO 8601 at the precision known ('1961-03-02', '1961' or '')."""
        if self.birth_date is not None:
            return self.birth_date.isoformat()
        if self.birth_year is not None:
            return f"{self.birth_year:04d}"
        return ""

    @property
    def vaccinations(self) -> tuple[Vaccination, ...]:
        """Every dose the record holds (one: a per-dose certificate)."""
        return (self.vaccination,)

    def evolve(self, **changes) -> "VaccinationRecord":
        return replace(self, **changes)


@dataclass(frozen=True)
class ImmunizationHistory:
    """One person's life-long immunization record as a credential: the person, the
    certificate facts, and every dose (any series, routine or not) in date order. The SMART
    Health Card and W3C encoders read it as they read a :class:`VaccinationRecord`
    (``vaccinations``, ``name``, ``birth``...); the DCC carries one dose and does not."""

    name: PersonName
    certificate: CertificateInfo
    vaccinations: tuple[Vaccination, ...]
    birth_date: date | None = None
    birth_year: int | None = None
    identifier: Identifier | None = None
    gender: str | None = None

    def __post_init__(self) -> None:
        if not self.vaccinations:
            raise ValueError("an immunization history holds at least one dose")

    birth = VaccinationRecord.birth


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
