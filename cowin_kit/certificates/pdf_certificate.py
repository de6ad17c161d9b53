"""The vaccination certificate as a PDF, in the beneficiary's language: the issuer, the
person (name, birth date or year, masked ID, reference ID), the dose (vaccine,
manufacturer, lot, dose x of y, date, centre, vaccinator), the certificate id, the
provisional or final wording, and the QR code of every enabled format (EU DCC, SMART
Health Card, W3C VC) — the signed texts stored with the certificate, so the QR codes are
exactly what was signed.

Fonts, shaping and the embedded font programs come from :mod:`cowin_kit.pdf` (parsed and
subset once per process); a certificate costs its QR images and its own objects.

The pack's logo (``certificates.logo``) travels inside the installed pack document (the
installer inlines it), so every process can draw it; it is decoded once per process."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache

from babel.dates import format_date
from flask_babel import force_locale
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.certificates import shc
from cowin_kit.certificates.qr import module_matrix
from cowin_kit.certificates.models import Certificate
from cowin_kit.config.packs import logo_bytes
from cowin_kit.config.runtime import ActivePack
from cowin_kit.i18n import gettext as _
from cowin_kit.identity.models import IdDocumentType
from cowin_kit.pdf import Document, is_rtl
from cowin_kit.registration.models import Beneficiary
from cowin_kit.scheduling.models import Facility
from cowin_kit.vaccination.models import Dose
from cowin_kit.vaccination.services import vaccine_product

QR_SIZE_MM = 58
# QR images: pixels per module and quiet zone (modules). The mask pattern is fixed: segno's
# search for the best of the 8 masks (pure Python) costs ~80 ms per code, most of a
# certificate's time; every mask gives a valid code that readers decode.
QR_SCALE = 3
QR_BORDER = 4
QR_MASK = 2
QR_IMAGE_MODE = "1"


def _localized(names: dict[str, str] | None, locale: str, default: str = "") -> str:
    names = names or {}
    return (names.get(locale) or names.get(locale.split("_")[0]) or default
            or next(iter(names.values()), ""))


@dataclass(frozen=True)
class CertificateView:
    """Everything the PDF shows, already in its language."""

    locale: str
    rtl: bool
    issuer: str
    title: str
    status: str
    person: list[tuple[str, str]]
    vaccination: list[tuple[str, str]]
    codes: list[tuple[str, Image.Image]]  # (caption, QR image)
    labels: dict[str, str] = field(default_factory=dict)
    logo: Image.Image | None = None

    def texts(self) -> list[str]:
        return [self.issuer, self.title, self.status, *self.labels.values(),
                *(t for pair in self.person + self.vaccination for t in pair),
                *(caption for caption, _png in self.codes)]


LOGO_MM = 20


@lru_cache(maxsize=4)
def _logo_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pack_logo(pack: ActivePack) -> Image.Image | None:
    data = logo_bytes(pack.document)
    return _logo_image(data) if data else None


@lru_cache(maxsize=512)
def qr_image(kind: str, text: str) -> Image.Image:
    """The QR code of ``text`` as a black-and-white image: the module matrix of
    :func:`cowin_kit.certificates.qr.module_matrix` (exactly segno's, fixed mask), a quiet
    zone, QR_SCALE pixels per module. Signed texts never change, so a certificate
    downloaded again reuses its image (and its PDF encoding, see Document.shared_image)."""
    width, cells = module_matrix(kind, text, QR_MASK)
    modules = Image.frombytes("L", (width, width), cells.translate(_CELL_TO_GRAY))
    side = width + 2 * QR_BORDER
    image = Image.new("L", (side, side), 255)
    image.paste(modules, (QR_BORDER, QR_BORDER))
    return image.resize((side * QR_SCALE, side * QR_SCALE), Image.NEAREST).convert(
        QR_IMAGE_MODE, dither=Image.Dither.NONE)


_CELL_TO_GRAY = bytes.maketrans(b"\x00\x01", b"\xff\x00")


def _labels(locale: str) -> dict[str, str]:
    """The page's fixed texts in ``locale`` (remembered per snapshot of the pack)."""
    with force_locale(locale):
        return _label_texts()


def _label_texts() -> dict[str, str]:
    return {
        "title": _("Vaccination certificate"),
        "person": _("Beneficiary details"),
        "vaccination": _("Vaccination details"),
        "name": _("Name"),
        "birth_date": _("Date of birth"),
        "birth_year": _("Year of birth"),
        "id": _("Photo ID"),
        "reference_id": _("Beneficiary reference ID"),
        "vaccine": _("Vaccine"),
        "manufacturer": _("Manufacturer"),
        "lot": _("Lot number"),
        "dose": _("Dose"),
        "date": _("Date of dose"),
        "centre": _("Vaccination centre"),
        "vaccinator": _("Vaccinated by"),
        "certificate_id": _("Certificate ID"),
        "issued": _("Issued on"),
        "codes": _("Scan to verify"),
        "dcc": _("EU Digital COVID Certificate"),
        "shc": _("SMART Health Card"),
        "vc": _("W3C Verifiable Credential"),
    }


@dataclass(frozen=True)
class _IdType:
    code: str
    labels: dict[str, str] | None


def _id_type(session: Session, pack: ActivePack, id_type_id: int | None) -> _IdType | None:
    """An ID document type's code and labels (pack-installed rows: read once per
    snapshot of the pack)."""
    if id_type_id is None:
        return None
    types = pack.memo(("certificates", "id_types_for_pdf"), lambda: {
        row.id: _IdType(row.code, dict(row.labels or {}))
        for row in session.scalars(select(IdDocumentType))} or None)
    if types and id_type_id in types:
        return types[id_type_id]
    row = session.get(IdDocumentType, id_type_id)
    return _IdType(row.code, row.labels) if row is not None else None


def build_view(session: Session, pack: ActivePack, certificate: Certificate,
               locale: str) -> CertificateView:
    from cowin_kit.certificates.services import build_record

    dose = session.get(Dose, certificate.dose_id)
    record = build_record(session, pack, dose, certificate.id, certificate.issued_at,
                          certificate.expires_at)
    beneficiary = session.get(Beneficiary, certificate.beneficiary_id)
    # pack-installed rows, read once per snapshot of the pack (as build_record does)
    product = vaccine_product(session, pack, product_id=dose.product_id)
    facility = session.get(Facility, dose.facility_id) if dose.facility_id else None
    id_type = _id_type(session, pack, beneficiary.id_type_id)
    issuer = _localized(pack.document.get("certificates", {}).get("issuer"), locale) \
        or _localized(pack.document.get("name"), locale)
    vaccination = record.vaccination
    labels = dict(pack.memo(("certificates", "pdf_labels", locale), lambda: _labels(locale)))
    with force_locale(locale):
        status = (_("Provisional certificate: dose %(dose)s of %(total)s. A final certificate "
                    "is issued when the schedule is complete.",
                    dose=vaccination.dose, total=vaccination.total_doses)
                  if certificate.provisional else
                  _("Final certificate: the vaccination schedule is complete."))
        dose_text = _("%(dose)s of %(total)s", dose=vaccination.dose,
                      total=vaccination.total_doses)
    birth = ((labels["birth_date"], format_date(beneficiary.birth_date, format="long",
                                                locale=locale))
             if beneficiary.birth_date else (labels["birth_year"], str(beneficiary.birth_year)))
    id_label = (_localized(id_type.labels, locale) or id_type.code) if id_type else labels["id"]
    person = [(labels["name"], beneficiary.name), birth,
              (id_label, record.identifier.value if record.identifier else ""),
              (labels["reference_id"], beneficiary.reference_id)]
    centre = ""
    if facility is not None:
        centre = _localized(facility.names, locale, facility.name)
        if facility.address:
            centre = f"{centre}, {facility.address}"
    rows = [(labels["vaccine"], _localized(product.names, locale, product.code)),
            (labels["manufacturer"], product.manufacturer or ""),
            (labels["lot"], dose.lot),
            (labels["dose"], dose_text),
            (labels["date"], format_date(vaccination.date, format="long", locale=locale)),
            (labels["centre"], centre),
            (labels["vaccinator"], dose.vaccinator or ""),
            (labels["certificate_id"], certificate.id),
            (labels["issued"], format_date(certificate.issued_at.date(), format="long",
                                           locale=locale))]
    codes = []
    if certificate.dcc:
        codes.append((labels["dcc"], qr_image("dcc", certificate.dcc)))
    if certificate.shc:
        codes.append((labels["shc"], qr_image("shc", shc.qr_text(certificate.shc))))
    if certificate.vc:
        codes.append((labels["vc"], qr_image("vc", certificate.vc)))
    return CertificateView(locale=locale, rtl=is_rtl(locale), issuer=issuer,
                           title=labels["title"], status=status, person=person,
                           vaccination=[row for row in rows if row[1]], codes=codes,
                           labels=labels, logo=pack_logo(pack))


def certificate_pdf(view: CertificateView) -> bytes:
    labels = view.labels
    pdf = Document(view.locale, view.texts())
    pdf.set_title(view.title)
    pdf.set_margins(15, 12, 15)
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    logo_bottom = None
    if view.logo is not None:
        # The logo on the reading side; the heading beside it.
        top = pdf.y
        x = pdf.w - pdf.r_margin - LOGO_MM if view.rtl else pdf.l_margin
        pdf.shared_image(view.logo, x=x, y=top, w=LOGO_MM, h=LOGO_MM)
        logo_bottom = top + LOGO_MM + 2
        if view.rtl:
            pdf.set_right_margin(pdf.r_margin + LOGO_MM + 4)
        else:
            pdf.set_left_margin(pdf.l_margin + LOGO_MM + 4)
    if view.issuer:
        pdf.paragraph(view.issuer, size=11, bold=True, gap=1)
    pdf.paragraph(view.title, size=18, bold=True, gap=2)
    if logo_bottom is not None:
        pdf.set_margins(15, 12, 15)
        pdf.set_y(max(pdf.y, logo_bottom))
    pdf.paragraph(view.status, size=10, gap=3)

    def section(heading: str, rows: list[tuple[str, str]]) -> None:
        pdf.set_draw_color(180)
        pdf.line(pdf.l_margin, pdf.y, pdf.w - pdf.r_margin, pdf.y)
        pdf.ln(2)
        pdf.paragraph(heading, size=12, bold=True, gap=1)
        for index, (label, value) in enumerate(rows):
            pdf.field(label, value, size=11, bold_value=index == 0)
        pdf.ln(2)

    section(labels["person"], view.person)
    section(labels["vaccination"], view.vaccination)
    if view.codes:
        pdf.set_draw_color(180)
        pdf.line(pdf.l_margin, pdf.y, pdf.w - pdf.r_margin, pdf.y)
        pdf.ln(2)
        pdf.paragraph(labels["codes"], size=12, bold=True, gap=2)
        count = len(view.codes)
        width = pdf.w - pdf.l_margin - pdf.r_margin
        size = min(QR_SIZE_MM, (width - 6 * (count - 1)) / count)
        if pdf.page_break_trigger - pdf.y < size + 12:
            pdf.add_page()
        gap = (width - count * size) / max(count - 1, 1) if count > 1 else 0
        top = pdf.y
        order = list(reversed(view.codes)) if view.rtl else view.codes
        start = pdf.l_margin + ((width - size) / 2 if count == 1 else 0)
        for index, (caption, png) in enumerate(order):
            x = start + index * (size + gap)
            pdf.shared_image(png, x=x, y=top, w=size, h=size)
            pdf.use(size=9)
            pdf.set_xy(x, top + size + 1)
            pdf.cell(size, 4.5, caption, align="C")
        pdf.set_y(top + size + 7)
    return pdf.to_bytes()


def render_certificate_pdf(session: Session, pack: ActivePack, certificate: Certificate,
                           locale: str) -> bytes:
    """The certificate as PDF bytes in ``locale`` (callers check it is the citizen's own),
    drawn by an enabled plugin's PDF template if one is registered."""
    from cowin_kit.plugins import render_pdf

    return render_pdf(build_view(session, pack, certificate, locale), certificate_pdf)
